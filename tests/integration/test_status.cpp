// Operations against the rig: `status` (text, --json, the Nagios/Icinga --check), `sync --metrics-file`
// (Prometheus text, replaced atomically, the last success carried over a failed run), progress on a
// terminal only, journald priority prefixes, and the global --batch-size flag.
#include "support/rig.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using rig::with_env;
using rig::now_ms;
using rig::insert_lease;

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A directory of its own under /tmp, removed with everything in it at the end.
struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = "/tmp/m2m_status_XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::set<std::string> entries() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(path)) out.insert(e.path().filename().string());
    return out;
  }
};

// A port nothing listens on (bound, then released).
unsigned closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const unsigned port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// The environment of a scratch database with MongoDB unreachable (a closed port, a short timeout).
std::map<std::string, std::string> mongo_down(const rig::Scratch& db) {
  return with_env(db.env(), {{"MONGODB_URL", "mongodb://127.0.0.1:" + std::to_string(closed_port())},
                             {"MONGODB_CONNECT_TIMEOUT", "2s"}});
}

// The environment of a scratch database with MySQL unreachable.
std::map<std::string, std::string> mysql_down(const rig::Scratch& db) {
  return with_env(db.env(), {{"MYSQL_HOST", "127.0.0.1"}, {"MYSQL_PORT", "1"}, {"MYSQL_CONNECT_TIMEOUT", "2s"}});
}

// `sync [extra...]` with exit 0 required; returns the --json report.
json sync_ok(rig::Scratch& db, const std::vector<std::string>& extra = {},
             const std::map<std::string, std::string>& env_extra = {}) {
  std::vector<std::string> args{"--json", "sync"};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = rig::run(args, with_env(db.env(), env_extra));
  INFO("sync stderr: " << r.err);
  REQUIRE(r.code == 0);
  return r.json();
}

// A table whose first sync fails: its collection already holds two documents with the same key, so the
// unique key index cannot be built.
void make_unsyncable(rig::Scratch& db, const std::string& table) {
  db.sql("CREATE TABLE `" + table + "` (id INT PRIMARY KEY, v INT); INSERT INTO `" + table + "` VALUES (1, 1), (2, 2)");
  const auto ins = db.command(R"({"insert": ")" + table +
                              R"(", "documents": [{"id": 1, "v": 0}, {"id": 1, "v": 0}]})");
  REQUIRE_FALSE(ins.contains("_error"));
}

const std::regex kIsoTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");

// ---- Prometheus text format -------------------------------------------------------------------------

struct Prometheus {
  std::map<std::string, double> samples;  // "name" or "name{labels}" exactly as written -> value
  std::vector<std::string> problems;      // empty: the text is valid
  std::set<std::string> typed;            // metric names with a # TYPE line
  bool ok() const { return problems.empty(); }
  std::optional<double> get(const std::string& series) const {
    const auto it = samples.find(series);
    if (it == samples.end()) return std::nullopt;
    return it->second;
  }
};

// Checks the text exposition format strictly: every line is `# HELP name text`, `# TYPE name type` or a
// sample `name value` / `name{label="value",...} value [timestamp]` with a numeric value; the file ends
// with a newline; a family's TYPE comes before its samples, once; a family's samples are contiguous;
// no series twice.
Prometheus parse_prometheus(const std::string& text) {
  static const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*)");
  static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::regex sample(
      R"re(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")re"
      R"re((?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*,?)?\})? (\S+)(?: -?[0-9]+)?)re");
  static const std::regex number(R"([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[-+]?Inf|NaN)");
  Prometheus p;
  if (text.empty()) {
    p.problems.push_back("empty");
    return p;
  }
  if (text.back() != '\n') p.problems.push_back("does not end with a newline");
  std::set<std::string> helped, closed;
  std::string current;  // the family whose samples are being read
  int n = 0;
  for (const auto& line : lines_of(text)) {
    ++n;
    std::smatch m;
    const std::string where = "line " + std::to_string(n) + " '" + line + "': ";
    if (std::regex_match(line, m, help)) {
      if (!helped.insert(m[1]).second) p.problems.push_back(where + "second HELP");
    } else if (std::regex_match(line, m, type)) {
      if (!p.typed.insert(m[1]).second) p.problems.push_back(where + "second TYPE");
      if (closed.count(m[1]) || current == m[1]) p.problems.push_back(where + "TYPE after the samples");
    } else if (std::regex_match(line, m, sample)) {
      const std::string name = m[1];
      if (!std::regex_match(m[3].str(), number)) p.problems.push_back(where + "the value is not a number");
      if (!p.typed.count(name)) p.problems.push_back(where + "no TYPE line before it");
      if (name != current) {
        if (closed.count(name)) p.problems.push_back(where + "the family's samples are not contiguous");
        if (!current.empty()) closed.insert(current);
        current = name;
      }
      const std::string series = name + m[2].str();
      if (p.samples.count(series)) p.problems.push_back(where + "series repeated");
      p.samples[series] = std::strtod(m[3].str().c_str(), nullptr);
    } else {
      p.problems.push_back(where + "neither a HELP/TYPE comment nor a sample");
    }
  }
  return p;
}

std::string describe(const Prometheus& p) {
  std::string out;
  for (const auto& s : p.problems) out += s + "\n";
  return out;
}

Prometheus read_metrics(const std::string& path) {
  const std::string text = slurp(path);
  INFO("metrics file " << path << ":\n" << text);
  auto p = parse_prometheus(text);
  INFO("problems:\n" << describe(p));
  REQUIRE(p.ok());
  return p;
}

const std::vector<std::string> kRunMetrics = {
    "mysql2mongo_last_run_timestamp_seconds", "mysql2mongo_last_run_duration_seconds",
    "mysql2mongo_last_run_exit_code", "mysql2mongo_last_success_timestamp_seconds"};
const std::vector<std::string> kTableMetrics = {
    "mysql2mongo_table_rows_synced", "mysql2mongo_table_rows_deleted", "mysql2mongo_table_lossy_values",
    "mysql2mongo_table_last_success_timestamp_seconds", "mysql2mongo_table_up"};

double value(const Prometheus& p, const std::string& series) {
  const auto v = p.get(series);
  INFO("series " << series);
  REQUIRE(v.has_value());
  return *v;
}

std::string per_table(const std::string& metric, const std::string& label_value) {
  return metric + "{table=\"" + label_value + "\"}";
}

// ---- A pseudo-terminal: the binary run through util-linux script(1) ---------------------------------

struct PtyResult {
  int code = -1;
  std::string output;  // stdout and stderr as the terminal saw them (\n arrives as \r\n)
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

bool have_script() { return ::access("/usr/bin/script", X_OK) == 0; }

// Runs `mysql2mongo args...` with stdout and stderr on a pseudo-terminal: script -qec CMD /dev/null,
// stdin /dev/null. The environment goes to script, which hands it to the command.
PtyResult run_in_pty(const std::vector<std::string>& args, std::map<std::string, std::string> env,
                     std::chrono::seconds timeout = 300s) {
  std::string cmd = shell_quote(MYSQL2MONGO_BINARY);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  env.emplace("PATH", "/usr/local/bin:/usr/bin:/bin");
  env.emplace("HOME", "/nonexistent");
  env["SHELL"] = "/bin/sh";
  std::vector<std::string> argv_s{"/usr/bin/script", "-qec", cmd, "/dev/null"};
  std::vector<std::string> env_s;
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2];
  REQUIRE(pipe2(out_pipe, O_CLOEXEC) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    const int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(out_pipe[1], 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  PtyResult r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  while (true) {
    pollfd pfd{out_pipe[0], POLLIN, 0};
    if (poll(&pfd, 1, 200) > 0) {
      char buf[65536];
      const ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
      if (n > 0) r.output.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) break;
    }
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (killed) FAIL("script " << cmd << " timed out; output: " << r.output);
  return r;
}

std::size_t occurrences(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// `big (id INT PRIMARY KEY, v INT)` with rows 1..n, statistics fresh (the progress total is
// InnoDB's estimate).
void make_big(rig::Scratch& db, long long n) {
  db.sql("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL)");
  db.sql("INSERT INTO big SELECT seq, seq % 1000 FROM seq_1_to_" + std::to_string(n));
  db.query("ANALYZE TABLE big");
}

// Two tables: `orders` with a change column (incremental after the first sync), `items` without one
// (copied in full every run, the seed's "no timestamp columns" fallback).
void make_shop(rig::Scratch& db) {
  db.sql("CREATE TABLE orders (id INT PRIMARY KEY, v INT NOT NULL, "
         "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);"
         "INSERT INTO orders (id, v) SELECT seq, seq FROM seq_1_to_5;"
         "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);"
         "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
}

}  // namespace

// ---- status --------------------------------------------------------------------------------------------

TEST_CASE("status: the text table and the summary line after a sync, then after an incremental one",
          "[status]") {
  rig::Scratch db("st");
  make_shop(db);
  sync_ok(db);

  const auto r = rig::run({"status"}, db.env());
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 4);  // header, items, orders, summary

  // The header: the columns in this order.
  std::size_t at = 0;
  for (const char* col : {"TABLE", "LAST SYNC", "AGE", "TYPE", "RECORDS", "STATUS", "DURATION", "LAST ERROR"}) {
    const auto pos = lines[0].find(col, at);
    INFO("header column " << col);
    CHECK(pos != std::string::npos);
    if (pos != std::string::npos) at = pos + 1;
  }
  // One row per table, by name: name, last sync time, age, type, records, status, duration, error.
  const std::map<std::string, std::string> records = {{"items", "3"}, {"orders", "5"}};
  std::size_t row = 1;
  for (const auto& [table, count] : records) {
    const auto w = words_of(lines[row++]);
    INFO("row: " << lines[row - 1]);
    REQUIRE(w.size() == 8);
    CHECK(w[0] == table);
    CHECK(std::regex_match(w[1], kIsoTime));
    CHECK(std::regex_match(w[2], std::regex(R"(\d+(ms|s))")));  // seconds old at most
    CHECK(w[3] == "full");
    CHECK(w[4] == count);
    CHECK(w[5] == "success");
    CHECK(std::regex_match(w[6], std::regex(R"(\d+\.\ds)")));
    CHECK(w[7] == "-");
  }
  CHECK(std::regex_match(lines[3], std::regex(R"(2 tables: 2 ok, 0 failed; oldest successful sync \S+ ago)")));

  // An incremental run that copies one changed order: the type and the count follow.
  db.sql("UPDATE orders SET v = 99, updated_at = NOW() + INTERVAL 1 MINUTE WHERE id = 1");
  const auto second = sync_ok(db);
  REQUIRE(second["tables"]["orders"]["sync_type"] == "incremental");
  // (The lookback window may re-read recent rows: what counts is that status shows the run's figure.)
  const auto incremental_records = second["tables"]["orders"]["records_synced"].get<long long>();
  const auto r2 = rig::run({"status"}, db.env());
  REQUIRE(r2.code == 0);
  lines = lines_of(r2.out);
  REQUIRE(lines.size() == 4);
  const auto orders = words_of(lines[2]);
  REQUIRE(orders.size() == 8);
  CHECK(orders[0] == "orders");
  CHECK(orders[3] == "incremental");
  CHECK(orders[4] == std::to_string(incremental_records));
  const auto items = words_of(lines[1]);
  REQUIRE(items.size() == 8);
  CHECK(items[3] == "full");
  CHECK(items[4] == "3");
  CHECK_FALSE(contains(r2.out, "a run is working now"));

  // A live run lock: the summary names its holder, and --json says the scheduler is running.
  insert_lease(db, "otherhost:4242", now_ms() + 600000);
  const auto r3 = rig::run({"status"}, db.env());
  REQUIRE(r3.code == 0);
  CHECK(contains(lines_of(r3.out).back(), "; a run is working now (otherhost:4242)"));
  const auto j = rig::run({"--json", "status"}, db.env());
  REQUIRE(j.code == 0);
  CHECK(j.json()["scheduler"]["running"] == true);
  CHECK(j.json()["scheduler"]["lock_holder"] == "otherhost:4242");
}

TEST_CASE("status --json: the seed's scheduler and sync_data shape, extended, with a failed table", "[status]") {
  rig::Scratch db("stj");
  make_shop(db);
  db.sql("CREATE TABLE lossy (id INT PRIMARY KEY, dt DATETIME(6)); "
         "INSERT INTO lossy VALUES (1, '2020-01-01 00:00:00.123456'), (2, '2020-01-01 00:00:00')");
  make_unsyncable(db, "bad");
  const auto env = with_env(db.env(), {{"SYNC_INTERVAL", "10m"}});
  const auto s = rig::run({"--json", "sync"}, env);
  INFO("sync stderr: " << s.err);
  REQUIRE(s.code == 3);
  const auto report = s.json();

  const auto r = rig::run({"--json", "status"}, env);
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  const auto j = r.json();
  REQUIRE(j.is_object());
  CHECK(j.size() == 4);
  CHECK(j["schema_version"] == 1);
  CHECK(j["exit_code"] == 0);
  REQUIRE(j.contains("scheduler"));
  REQUIRE(j.contains("sync_data"));

  const auto& sch = j["scheduler"];
  CHECK(sch["running"] == false);
  CHECK(sch["type"].is_string());
  CHECK(sch["interval_seconds"] == 600);  // SYNC_INTERVAL, the timer's interval
  CHECK(sch.contains("lock_holder"));
  CHECK(sch["lock_holder"].is_null());

  const auto& data = j["sync_data"];
  CHECK(data["total_tables"] == 4);
  CHECK(data["failed_tables"] == 1);
  REQUIRE(data["tables"].is_object());
  std::set<std::string> names;
  for (const auto& [k, v] : data["tables"].items()) names.insert(k);
  CHECK(names == std::set<std::string>{"bad", "items", "lossy", "orders"});

  const std::vector<std::string> fields = {"last_sync_time", "sync_type",      "records_synced", "status",
                                           "duration_seconds", "collection",   "last_success_time", "age_seconds",
                                           "rows_deleted",   "lossy_total",    "error"};
  for (const auto& [name, t] : data["tables"].items()) {
    INFO("table " << name << ": " << t.dump());
    for (const auto& f : fields) {
      INFO("field " << f);
      CHECK(t.contains(f));
    }
    // The seed's fields with the seed's types.
    CHECK(t["last_sync_time"].is_string());
    CHECK(std::regex_match(t["last_sync_time"].get<std::string>(), kIsoTime));
    CHECK(t["sync_type"] == "full");
    CHECK(t["records_synced"].is_number_integer());
    CHECK(t["duration_seconds"].is_number());
    CHECK(t["duration_seconds"].get<double>() >= 0);
    CHECK(t["duration_seconds"].get<double>() < 60);
    CHECK(t["collection"] == name);
    CHECK(t["rows_deleted"] == 0);
    // The counts are those of the run's own report.
    CHECK(t["records_synced"] == report["tables"][name]["records_synced"]);
    CHECK(t["status"] == report["tables"][name]["status"]);
  }
  for (const char* name : {"items", "orders", "lossy"}) {
    const auto& t = data["tables"][name];
    INFO("table " << name << ": " << t.dump());
    CHECK(t["status"] == "success");
    CHECK(t["error"].is_null());
    CHECK(t["last_success_time"] == t["last_sync_time"]);
    REQUIRE(t["age_seconds"].is_number_integer());
    CHECK(t["age_seconds"].get<long long>() >= 0);
    CHECK(t["age_seconds"].get<long long>() < 60);
  }
  CHECK(data["tables"]["items"]["records_synced"] == 3);
  CHECK(data["tables"]["orders"]["records_synced"] == 5);
  CHECK(data["tables"]["lossy"]["records_synced"] == 2);
  CHECK(data["tables"]["lossy"]["lossy_total"] == 1);
  CHECK(data["tables"]["orders"]["lossy_total"] == 0);
  const auto& bad = data["tables"]["bad"];
  CHECK(bad["status"] == "failed");
  CHECK(bad["records_synced"] == 0);
  REQUIRE(bad["error"].is_string());
  CHECK(contains(bad["error"].get<std::string>(), "cannot create the unique index"));
  CHECK(bad["last_success_time"].is_null());
  CHECK(bad["age_seconds"].is_null());

  // The text table says the same: the failed table with its error, and the summary counts it.
  const auto text = rig::run({"status"}, env);
  REQUIRE(text.code == 0);
  const auto lines = lines_of(text.out);
  REQUIRE(lines.size() == 6);
  const auto w = words_of(lines[1]);  // "bad" sorts first
  REQUIRE(w.size() >= 8);
  CHECK(w[0] == "bad");
  CHECK(w[5] == "failed");
  CHECK(contains(lines[1], "cannot create the unique index"));
  CHECK(lines.back() == "4 tables: 3 ok, 1 failed; 1 never synced successfully");
}

TEST_CASE("status before any sync: an empty table and exit 0", "[status]") {
  rig::Scratch db("st0");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
  const auto r = rig::run({"status"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 0);
  CHECK(contains(r.out, "0 tables: 0 ok, 0 failed"));
  const auto j = rig::run({"--json", "status"}, db.env());
  REQUIRE(j.code == 0);
  CHECK(j.json()["sync_data"]["total_tables"] == 0);
  CHECK(j.json()["sync_data"]["tables"] == json::object());
}

TEST_CASE("status reads MongoDB only: it works while MySQL is unreachable", "[status]") {
  rig::Scratch db("stmy");
  make_shop(db);
  sync_ok(db);
  const auto env = mysql_down(db);
  // MySQL really is unreachable with this environment.
  const auto s = rig::run({"sync"}, env);
  REQUIRE(s.code == 69);

  const auto r = rig::run({"status"}, env);
  INFO("stderr: " << r.err);
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  CHECK(contains(r.out, "2 tables: 2 ok, 0 failed"));
  const auto j = rig::run({"--json", "status"}, env);
  REQUIRE(j.code == 0);
  CHECK(j.json()["sync_data"]["total_tables"] == 2);
  const auto c = rig::run({"status", "--check"}, env);
  CHECK(c.code == 0);
  CHECK(starts_with(c.out, "MYSQL2MONGO OK - 2 tables"));
}

TEST_CASE("status with MongoDB unreachable: exit 69, --json an error document", "[status]") {
  rig::Scratch db("stmg");
  const auto env = mongo_down(db);
  const auto r = rig::run({"status"}, env);
  CHECK(r.code == 69);
  CHECK(starts_with(r.err, "mysql2mongo: error: MongoDB at mongodb://127.0.0.1:"));
  CHECK(r.out.empty());
  CHECK(r.seconds < 15);
  const auto j = rig::run({"--json", "status"}, env);
  CHECK(j.code == 69);
  CHECK(j.json()["status"] == "error");
  CHECK(j.json()["exit_code"] == 69);
}

// ---- status --check --------------------------------------------------------------------------------------

TEST_CASE("status --check: UNKNOWN (3) before any sync", "[status][check]") {
  rig::Scratch db("ck3");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
  const auto r = rig::run({"status", "--check"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 3);
  CHECK(starts_with(r.out, "MYSQL2MONGO UNKNOWN - "));
  CHECK(contains(r.out, "no sync recorded"));
  CHECK(lines_of(r.out).size() == 1);
  CHECK(r.out.back() == '\n');
}

TEST_CASE("status --check: UNKNOWN (3) when MongoDB is unreachable, one line, no crash", "[status][check]") {
  rig::Scratch db("ck3m");
  const auto r = rig::run({"status", "--check"}, mongo_down(db));
  INFO("stderr: " << r.err);
  CHECK(r.code == 3);
  CHECK(starts_with(r.out, "MYSQL2MONGO UNKNOWN - cannot read the sync metadata: "));
  CHECK(contains(r.out, "MongoDB at mongodb://127.0.0.1:"));
  CHECK(lines_of(r.out).size() == 1);
  CHECK(r.seconds < 15);
}

TEST_CASE("status --check: OK (0) after a fresh sync, WARNING (1) and CRITICAL (2) by age, with perfdata",
          "[status][check]") {
  rig::Scratch db("ck");
  make_shop(db);
  sync_ok(db);

  const auto ok = rig::run({"status", "--check"}, db.env());
  INFO("stdout: " << ok.out << "stderr: " << ok.err);
  CHECK(ok.code == 0);
  CHECK(std::regex_match(ok.out, std::regex(R"(MYSQL2MONGO OK - 2 tables, oldest sync \S+ ago \| )"
                                            R"(age=\d+s;3600;10800 tables=2 failed=0\n)")));

  std::this_thread::sleep_for(1100ms);
  const auto warn = rig::run({"status", "--check", "--warn", "0s", "--crit", "1h"}, db.env());
  INFO("stdout: " << warn.out);
  CHECK(warn.code == 1);
  CHECK(std::regex_match(warn.out, std::regex(R"(MYSQL2MONGO WARNING - 2 tables, oldest sync \S+ ago \| )"
                                              R"(age=[1-9]\d*s;0;3600 tables=2 failed=0\n)")));

  const auto crit = rig::run({"status", "--check", "--warn=0s", "--crit=0s"}, db.env());
  INFO("stdout: " << crit.out);
  CHECK(crit.code == 2);
  CHECK(std::regex_match(crit.out, std::regex(R"(MYSQL2MONGO CRITICAL - 2 tables, oldest sync \S+ ago \| )"
                                              R"(age=[1-9]\d*s;0;0 tables=2 failed=0\n)")));

  // Thresholds in other units land in the perfdata as seconds.
  const auto wide = rig::run({"status", "--check", "--warn", "2h", "--crit", "1d"}, db.env());
  CHECK(wide.code == 0);
  CHECK(contains(wide.out, ";7200;86400 tables=2 failed=0"));
  // Global options after the subcommand, --json makes no difference to the check line.
  const auto j = rig::run({"status", "--check", "--json"}, db.env());
  CHECK(j.code == 0);
  CHECK(starts_with(j.out, "MYSQL2MONGO OK - "));
}

TEST_CASE("status --check: WARNING (1) when a table's last run failed, CRITICAL (2) when one never succeeded",
          "[status][check]") {
  rig::Scratch db("ckf");
  db.sql("CREATE TABLE g (id INT PRIMARY KEY); INSERT INTO g SELECT seq FROM seq_1_to_10;"
         "CREATE TABLE h (id INT PRIMARY KEY); INSERT INTO h SELECT seq FROM seq_1_to_10");
  sync_ok(db);
  // g loses 60 % of its rows: the delete guard fails the table (exit 3), h succeeds.
  db.sql("DELETE FROM g WHERE id <= 6");
  const auto failing = rig::run({"sync", "--full"}, db.env());
  INFO("sync stderr: " << failing.err);
  REQUIRE(failing.code == 3);

  const auto warn = rig::run({"status", "--check"}, db.env());
  INFO("stdout: " << warn.out);
  CHECK(warn.code == 1);
  CHECK(starts_with(warn.out, "MYSQL2MONGO WARNING - 2 tables, oldest sync "));
  CHECK(contains(warn.out, "last run failed for g"));
  CHECK(contains(warn.out, " tables=2 failed=1\n"));
  CHECK(lines_of(warn.out).size() == 1);

  // A table whose first sync fails has never succeeded: CRITICAL, whatever the age thresholds.
  make_unsyncable(db, "never");
  const auto s = rig::run({"sync"}, db.env());
  REQUIRE(s.code == 3);
  const auto crit = rig::run({"status", "--check", "--warn", "1d", "--crit", "2d"}, db.env());
  INFO("stdout: " << crit.out);
  CHECK(crit.code == 2);
  CHECK(starts_with(crit.out, "MYSQL2MONGO CRITICAL - "));
  CHECK(contains(crit.out, "never synced successfully (never)"));
  CHECK(contains(crit.out, "| age="));
  CHECK(contains(crit.out, "tables=3 failed="));
  CHECK(lines_of(crit.out).size() == 1);

  // Once every table has synced again: OK.
  REQUIRE_FALSE(db.command(R"({"drop": "never"})").contains("_error"));
  sync_ok(db, {"--full", "--force-deletes"});
  const auto ok = rig::run({"status", "--check"}, db.env());
  INFO("stdout: " << ok.out);
  CHECK(ok.code == 0);
  CHECK(contains(ok.out, "tables=3 failed=0"));
}

TEST_CASE("status --check: --warn/--crit without --check, a bad duration, --crit below --warn: usage error 64",
          "[status][check]") {
  rig::Scratch db("cku");
  const auto env = db.env();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"status", "--warn", "1h"}, "--warn requires --check"},
      {{"status", "--crit", "1h"}, "--crit requires --check"},
      {{"status", "--check", "--warn", "soon"}, "--warn soon: not a duration"},
      {{"status", "--check", "--crit", "-5m"}, "--crit"},
      {{"status", "--check", "--warn", "2h", "--crit", "1h"}, "--crit must not be shorter than --warn"},
  };
  for (const auto& c : cases) {
    const auto r = rig::run(c.args, env);
    INFO("args: " << c.args.back() << " stderr: " << r.err);
    CHECK(r.code == 64);
    CHECK(starts_with(r.err, "mysql2mongo: error: "));
    CHECK(contains(r.err, c.message));
    CHECK(r.out.empty());
  }
}

// ---- sync --metrics-file -------------------------------------------------------------------------------

TEST_CASE("the test's Prometheus text check accepts the format and rejects partial or malformed text",
          "[status][metrics]") {
  const std::string good =
      "# HELP a_total Things.\n# TYPE a_total counter\na_total 3\n"
      "# HELP b Per table.\n# TYPE b gauge\nb{table=\"x\"} 1.5\nb{table=\"we\\\"ird\\\\x\",k=\"v\"} -2e3\n"
      "b{table=\"y\"} NaN 1700000000000\n";
  const auto p = parse_prometheus(good);
  INFO(describe(p));
  CHECK(p.ok());
  CHECK(p.get("a_total") == 3.0);
  CHECK(p.get(R"(b{table="we\"ird\\x",k="v"})") == -2000.0);
  for (const std::string& bad : {
           std::string(""),                                          // empty
           good.substr(0, good.size() - 1),                          // no final newline
           good.substr(0, good.find("1.5")),                         // cut in the middle of a sample
           std::string("# TYPE a gauge\na\n"),                     // no value
           std::string("# TYPE a gauge\na one\n"),                 // not a number
           std::string("# TYPE a gauge\na{table=x} 1\n"),          // unquoted label value
           std::string("# TYPE a gauge\na{table=\"x\\y\"} 1\n"),  // bad escape
           std::string("a 1\n"),                                    // no TYPE
           std::string("# TYPE a gauge\n\na 1\n"),                // empty line (allowed by the format; not here)
           std::string("# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na 2\n"),  // family split
           std::string("# TYPE a gauge\na 1\na 1\n"),             // series twice
           std::string("# comment\n# TYPE a gauge\na 1\n"),       // a free comment (likewise)
       }) {
    INFO("text: " << bad);
    CHECK_FALSE(parse_prometheus(bad).ok());
  }
}

TEST_CASE("sync --metrics-file: Prometheus text with run and per-table metrics, and a failed run carries the "
          "last success over",
          "[status][metrics]") {
  rig::Scratch db("met");
  TempDir dir;
  const std::string file = dir.path + "/mysql2mongo.prom";
  db.sql("CREATE TABLE g (id INT PRIMARY KEY); INSERT INTO g SELECT seq FROM seq_1_to_10;"
         "CREATE TABLE lossy (id INT PRIMARY KEY, dt DATETIME(6)); "
         "INSERT INTO lossy VALUES (1, '2020-01-01 00:00:00.123456'), (2, '2020-01-01 00:00:00');"
         "CREATE TABLE `we\"ird\\x` (id INT PRIMARY KEY); INSERT INTO `we\"ird\\x` VALUES (1)");
  const std::string weird = R"(we\"ird\\x)";  // the label value, escaped as the format requires

  // 1. A successful run.
  const double before = now_s();
  const auto first = rig::run({"sync", "--metrics-file", file}, db.env());
  INFO("stderr: " << first.err);
  REQUIRE(first.code == 0);
  const auto m1 = read_metrics(file);
  for (const auto& name : kRunMetrics) {
    INFO("metric " << name);
    CHECK(m1.typed.count(name));
    CHECK(m1.get(name).has_value());
  }
  for (const auto& name : kTableMetrics) {
    INFO("metric " << name);
    CHECK(m1.typed.count(name));
    for (const std::string& t : {std::string("g"), std::string("lossy"), weird}) {
      INFO("table " << t);
      CHECK(m1.get(per_table(name, t)).has_value());
    }
  }
  const double run1 = value(m1, "mysql2mongo_last_run_timestamp_seconds");
  CHECK(run1 >= std::floor(before));
  CHECK(run1 <= now_s() + 1);
  CHECK(value(m1, "mysql2mongo_last_run_exit_code") == 0);
  CHECK(value(m1, "mysql2mongo_last_success_timestamp_seconds") == run1);
  CHECK(value(m1, "mysql2mongo_last_run_duration_seconds") >= 0);
  CHECK(value(m1, "mysql2mongo_last_run_duration_seconds") < 60);
  CHECK(value(m1, "mysql2mongo_last_run_records_synced") == 13);
  CHECK(value(m1, "mysql2mongo_last_run_failed_tables") == 0);
  CHECK(value(m1, per_table("mysql2mongo_table_rows_synced", "g")) == 10);
  CHECK(value(m1, per_table("mysql2mongo_table_rows_synced", "lossy")) == 2);
  CHECK(value(m1, per_table("mysql2mongo_table_rows_synced", weird)) == 1);
  CHECK(value(m1, per_table("mysql2mongo_table_lossy_values", "lossy")) == 1);
  CHECK(value(m1, per_table("mysql2mongo_table_lossy_values", "g")) == 0);
  CHECK(value(m1, per_table("mysql2mongo_table_rows_deleted", "g")) == 0);
  CHECK(value(m1, per_table("mysql2mongo_table_up", "g")) == 1);
  const double g_success = value(m1, per_table("mysql2mongo_table_last_success_timestamp_seconds", "g"));
  CHECK(g_success >= std::floor(before));
  CHECK(g_success <= run1 + 0.001);
  // Readable by a collector running as another user; nothing else left in the directory.
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0044) == 0044);
  CHECK(dir.entries() == std::set<std::string>{"mysql2mongo.prom"});

  // 2. A run in which g fails (the delete guard): exit 3 is recorded, the last success is carried over,
  // g is down and keeps its own last success time.
  db.sql("DELETE FROM g WHERE id <= 6");
  std::this_thread::sleep_for(20ms);
  const auto failed = rig::run({"sync", "--full", "--metrics-file", file}, db.env());
  INFO("stderr: " << failed.err);
  REQUIRE(failed.code == 3);
  const auto m2 = read_metrics(file);
  const double run2 = value(m2, "mysql2mongo_last_run_timestamp_seconds");
  CHECK(run2 > run1);
  CHECK(value(m2, "mysql2mongo_last_run_exit_code") == 3);
  CHECK(value(m2, "mysql2mongo_last_success_timestamp_seconds") == run1);
  CHECK(value(m2, "mysql2mongo_last_run_failed_tables") == 1);
  CHECK(value(m2, per_table("mysql2mongo_table_up", "g")) == 0);
  CHECK(value(m2, per_table("mysql2mongo_table_up", "lossy")) == 1);
  CHECK(value(m2, per_table("mysql2mongo_table_last_success_timestamp_seconds", "g")) == g_success);
  CHECK(value(m2, per_table("mysql2mongo_table_last_success_timestamp_seconds", "lossy")) > run1 - 0.001);
  CHECK(dir.entries() == std::set<std::string>{"mysql2mongo.prom"});

  // 3. A run that cannot reach MySQL at all (exit 69): still recorded, still carrying the last success.
  const auto down = rig::run({"sync", "--metrics-file", file}, mysql_down(db));
  INFO("stderr: " << down.err);
  REQUIRE(down.code == 69);
  const auto m3 = read_metrics(file);
  CHECK(value(m3, "mysql2mongo_last_run_exit_code") == 69);
  CHECK(value(m3, "mysql2mongo_last_run_timestamp_seconds") >= run2);
  CHECK(value(m3, "mysql2mongo_last_success_timestamp_seconds") == run1);
  CHECK(m3.get(per_table("mysql2mongo_table_up", "g")).has_value());  // from MongoDB, which is up

  // 4. Success again: the last success moves to this run.
  const auto again = rig::run({"sync", "--full", "--force-deletes", "--metrics-file", file}, db.env());
  INFO("stderr: " << again.err);
  REQUIRE(again.code == 0);
  const auto m4 = read_metrics(file);
  const double run4 = value(m4, "mysql2mongo_last_run_timestamp_seconds");
  CHECK(run4 > run2);
  CHECK(value(m4, "mysql2mongo_last_run_exit_code") == 0);
  CHECK(value(m4, "mysql2mongo_last_success_timestamp_seconds") == run4);
  CHECK(value(m4, per_table("mysql2mongo_table_up", "g")) == 1);
  CHECK(value(m4, per_table("mysql2mongo_table_rows_deleted", "g")) == 6);
  CHECK(dir.entries() == std::set<std::string>{"mysql2mongo.prom"});
}

TEST_CASE("sync --metrics-file: the file is replaced atomically and a reader never sees it empty or partial",
          "[status][metrics]") {
  rig::Scratch db("meta");
  TempDir dir;
  const std::string file = dir.path + "/m2m.prom";
  // Many tables, so the file is large enough (tens of kilobytes) for a non-atomic write to be caught.
  constexpr int kTables = 60;
  std::string sql;
  for (int i = 1; i <= kTables; ++i)
    sql += "CREATE TABLE t" + std::to_string(i) + " (id INT PRIMARY KEY); INSERT INTO t" + std::to_string(i) +
           " VALUES (1), (2);";
  db.sql(sql);
  const std::string last_series = per_table("mysql2mongo_table_up", "t" + std::to_string(kTables));

  std::atomic<bool> stop{false};
  std::atomic<long> reads{0}, missing{0}, bad{0};
  std::string first_bad;
  std::thread reader([&] {
    while (!stop.load()) {
      const int fd = ::open(file.c_str(), O_RDONLY);
      if (fd < 0) {
        ++missing;  // before the first run wrote it
        std::this_thread::sleep_for(1ms);
        continue;
      }
      std::string text;
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
      ::close(fd);
      ++reads;
      const auto p = parse_prometheus(text);
      if (!p.ok() || !p.get(last_series) || !p.get("mysql2mongo_last_run_exit_code")) {
        if (bad++ == 0) first_bad = text.size() < 400 ? text : text.substr(0, 200) + "..." + text.substr(text.size() - 200);
      }
    }
  });

  // Each version of the file is held open, so an inode number cannot be reused while the test runs.
  std::vector<int> held;
  std::set<ino_t> inodes;
  constexpr int kRuns = 6;
  for (int i = 0; i < kRuns; ++i) {
    const auto r = rig::run({"sync", i % 2 ? "--full" : "--incremental", "--metrics-file", file}, db.env());
    INFO("run " << i << " stderr: " << r.err);
    CHECK(r.code == 0);
    const int fd = ::open(file.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    held.push_back(fd);
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    inodes.insert(st.st_ino);
    // No temporary file left behind.
    CHECK(dir.entries() == std::set<std::string>{"m2m.prom"});
  }
  stop = true;
  reader.join();
  for (int fd : held) ::close(fd);
  INFO("reads " << reads << ", before the first write " << missing << ", bad " << bad << "; first bad:\n" << first_bad);
  CHECK(bad == 0);
  CHECK(reads > 20);
  // Each run put a new file in place (written aside, then renamed over the old one), not rewrote it.
  CHECK(inodes.size() == static_cast<std::size_t>(kRuns));
  read_metrics(file);
}

TEST_CASE("sync --metrics-file in a directory that does not exist: the error is logged, the exit code is the run's",
          "[status][metrics]") {
  rig::Scratch db("metx");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  const auto r = rig::run({"sync", "--metrics-file", "/nonexistent/m2m/metrics.prom"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 0);
  CHECK(contains(r.err, "mysql2mongo: error: --metrics-file /nonexistent/m2m/metrics.prom"));
  CHECK(db.count("t") == 1);
  // --dry-run writes nothing, the metrics file neither.
  TempDir dir;
  const auto dry = rig::run({"sync", "--dry-run", "--metrics-file", dir.path + "/m.prom"}, db.env());
  CHECK(dry.code == 0);
  CHECK(dir.entries().empty());
}

// ---- progress --------------------------------------------------------------------------------------------

TEST_CASE("progress: nothing of it when stderr is not a terminal", "[status][progress]") {
  rig::Scratch db("prog");
  make_big(db, 60000);
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "1000"}, {"TERM", "xterm"}});
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"sync", "--full"}, std::vector<std::string>{"-v", "sync", "--full"}}) {
    const auto r = rig::run(args, env);
    INFO("args " << args[0] << " stderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.find('\r') == std::string::npos);
    CHECK(r.err.find('\x1b') == std::string::npos);
    CHECK_FALSE(contains(r.err, "rows/s"));
    CHECK_FALSE(contains(r.err, "ETA"));
    CHECK(r.out.find('\r') == std::string::npos);
  }
  // Without -v a successful run stays silent, as under cron.
  CHECK(rig::run({"sync", "--full"}, env).err.empty());
}

TEST_CASE("progress: on a terminal, rows done / total, rate and ETA, without escapes under NO_COLOR and "
          "TERM=dumb, none with -q or --json",
          "[status][progress]") {
  if (!have_script()) {
    WARN("skipped: /usr/bin/script (util-linux) is not installed, no pseudo-terminal to run under");
    return;
  }
  rig::Scratch db("progt");
  make_big(db, 60000);
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "1000"}, {"TERM", "xterm"}});

  const auto r = run_in_pty({"sync", "--full"}, env);
  INFO("output: " << r.output);
  REQUIRE(r.code == 0);
  CHECK(contains(r.output, "\rbig: "));
  CHECK(contains(r.output, " rows"));
  CHECK(contains(r.output, "rows/s"));
  CHECK(contains(r.output, "\x1b[K"));  // clears what a longer previous line left
  if (occurrences(r.output, "\rbig: ") >= 2) {
    // After the first draw the rate is known: total (InnoDB's estimate), share and ETA.
    CHECK(std::regex_search(r.output, std::regex(R"(big: \d+ / ~\d+ rows \(\d+%\), \d+ rows/s, ETA )")));
  } else {
    WARN("only one progress line was drawn; the ETA form was not checked");
  }
  CHECK(db.count("big") == 60000);

  for (const auto& [var, val] : std::vector<std::pair<std::string, std::string>>{{"NO_COLOR", "1"}, {"TERM", "dumb"}}) {
    const auto plain = run_in_pty({"sync", "--full"}, with_env(env, {{var, val}}));
    INFO(var << "=" << val << " output: " << plain.output);
    REQUIRE(plain.code == 0);
    CHECK(contains(plain.output, "\rbig: "));
    CHECK(plain.output.find('\x1b') == std::string::npos);
  }

  const auto quiet = run_in_pty({"-q", "sync", "--full"}, env);
  INFO("-q output: " << quiet.output);
  REQUIRE(quiet.code == 0);
  CHECK_FALSE(contains(quiet.output, "\rbig: "));
  CHECK_FALSE(contains(quiet.output, "rows/s"));

  const auto js = run_in_pty({"--json", "sync", "--full"}, env);
  INFO("--json output: " << js.output);
  REQUIRE(js.code == 0);
  CHECK_FALSE(contains(js.output, "\rbig: "));
  CHECK_FALSE(contains(js.output, "rows/s"));
  CHECK(contains(js.output, "\"records_synced\": 60000"));
}

// What a terminal finally shows: each line's text after its last carriage return, without the
// erase-line sequence that may open it.
std::vector<std::string> visible_lines(const std::string& output) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= output.size()) {
    auto e = output.find('\n', b);
    if (e == std::string::npos) e = output.size();
    std::string line = output.substr(b, e - b);
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the pty's \r\n
    if (const auto cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
    if (line.rfind("\x1b[K", 0) == 0) line = line.substr(3);
    if (!line.empty()) out.push_back(line);
    b = e + 1;
  }
  return out;
}

TEST_CASE("progress: log lines never land on the progress line, each table ends with its final count, and the run "
          "summary closes the run without -v",
          "[status][progress]") {
  if (!have_script()) {
    WARN("skipped: /usr/bin/script (util-linux) is not installed, no pseudo-terminal to run under");
    return;
  }
  rig::Scratch db("progl");
  make_big(db, 60000);
  // No change column: the incremental run warns for each table just before copying it, right after the
  // previous table's progress line; `zlossy` also warns in the middle of its copy.
  db.sql("CREATE TABLE small (id INT PRIMARY KEY); INSERT INTO small SELECT seq FROM seq_1_to_30");
  db.sql("CREATE TABLE zlossy (id INT PRIMARY KEY, dt DATETIME(6)); "
         "INSERT INTO zlossy SELECT seq, '2020-01-01 00:00:00.123456' FROM seq_1_to_3000");
  for (const auto& term : std::vector<std::map<std::string, std::string>>{{{"TERM", "xterm"}}, {{"TERM", "dumb"}}}) {
    const auto env = with_env(with_env(db.env(), {{"SYNC_BATCH_SIZE", "1000"}}), term);
    const auto r = run_in_pty({"sync"}, env);
    INFO("TERM=" << term.at("TERM") << " output: " << r.output);
    REQUIRE(r.code == 0);
    const auto lines = visible_lines(r.output);
    for (const auto& line : lines) {
      INFO("visible line: " << line);
      // A warning glued to a progress line, or a progress line left behind.
      CHECK_FALSE((contains(line, "mysql2mongo:") && line.rfind("mysql2mongo:", 0) != 0));
      CHECK_FALSE(contains(line, "rows/s"));
      CHECK_FALSE(contains(line, "~"));
    }
    // Each table's final count on its own line, in order, and the summary last.
    std::vector<std::string> finals;
    for (const auto& line : lines)
      if (std::regex_match(line, std::regex(R"((big|small|zlossy): \d+ rows in \S+\s*)"))) finals.push_back(line.substr(0, line.find(':')));
    CHECK(finals == std::vector<std::string>{"big", "small", "zlossy"});
    CHECK(std::find_if(lines.begin(), lines.end(), [](const auto& l) { return starts_with(l, "big: 60000 rows in "); }) != lines.end());
    CHECK(std::find_if(lines.begin(), lines.end(), [](const auto& l) {
            return starts_with(l, "mysql2mongo: warning: table small: Table has no timestamp columns");
          }) != lines.end());
    REQUIRE_FALSE(lines.empty());
    CHECK(starts_with(lines.back(), "sync success: 3 tables ok, 0 failed, "));
    db.command(R"({"dropDatabase": 1})");
  }
}

// ---- journald --------------------------------------------------------------------------------------------

TEST_CASE("journald: with JOURNAL_STREAM set, log lines carry sd-daemon priority prefixes and no timestamps",
          "[status][journald]") {
  rig::Scratch db("jrn");
  // No change column (the seed's "falling back to full sync" warning) and a lossy value (a warning).
  db.sql("CREATE TABLE t (id INT PRIMARY KEY, dt DATETIME(6)); INSERT INTO t VALUES (1, '2020-01-01 00:00:00.123456')");
  const auto journal = with_env(db.env(), {{"JOURNAL_STREAM", "1:1"}});
  const std::regex prefixed(R"(<[0-7]>.*)");
  const std::regex timestamp(R"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)");

  const auto r = rig::run({"sync"}, journal);
  INFO("stderr:\n" << r.err);
  REQUIRE(r.code == 0);
  const auto lines = lines_of(r.err);
  REQUIRE_FALSE(lines.empty());
  bool lossy_warning = false;
  for (const auto& line : lines) {
    INFO("line: " << line);
    CHECK(std::regex_match(line, prefixed));
    CHECK_FALSE(std::regex_search(line, timestamp));
    CHECK_FALSE(contains(line, "mysql2mongo:"));
    lossy_warning |= starts_with(line, "<4>table t: column dt: 1 value fractional seconds");
  }
  CHECK(lossy_warning);

  // -v: information at <6>, warnings still at <4>.
  const auto v = rig::run({"-v", "sync", "--full"}, journal);
  INFO("-v stderr:\n" << v.err);
  REQUIRE(v.code == 0);
  CHECK(contains(v.err, "<6>table t: "));
  CHECK(contains(v.err, "<4>table t: column dt"));
  CHECK_FALSE(contains(v.err, "mysql2mongo: info:"));
  CHECK_FALSE(contains(v.err, "mysql2mongo: warning:"));

  // A failing table: its error at <3>.
  make_unsyncable(db, "bad");
  const auto f = rig::run({"sync"}, journal);
  INFO("failing stderr:\n" << f.err);
  REQUIRE(f.code == 3);
  CHECK(contains(f.err, "<3>table bad: "));

  // Without JOURNAL_STREAM: the usual "mysql2mongo: LEVEL: " prefix and no priorities.
  const auto plain = rig::run({"sync", "--full"}, db.env());
  INFO("plain stderr:\n" << plain.err);
  CHECK(contains(plain.err, "mysql2mongo: warning: table t: column dt"));
  CHECK_FALSE(contains(plain.err, "<4>"));
}

TEST_CASE("journald: every stderr line carries a priority, the fatal error and the run summary included",
          "[status][journald]") {
  rig::Scratch db("jrn2");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  make_unsyncable(db, "bad");
  const auto journal = with_env(db.env(), {{"JOURNAL_STREAM", "1:1"}});
  const std::regex prefixed(R"(<[0-7]>.*)");

  // A run with a failed table prints a summary line on stderr: under journald it needs a priority too,
  // or it is stored at the unit's default (info) and `journalctl -p warning` misses it.
  const auto partial = rig::run({"sync"}, journal);
  INFO("partial stderr:\n" << partial.err);
  REQUIRE(partial.code == 3);
  for (const auto& line : lines_of(partial.err)) {
    INFO("line: " << line);
    CHECK(std::regex_match(line, prefixed));
  }

  // A fatal error (MySQL unreachable, exit 69) is an error: <3>, not "mysql2mongo: error: ".
  const auto fatal = rig::run({"sync"}, with_env(mysql_down(db), {{"JOURNAL_STREAM", "1:1"}}));
  INFO("fatal stderr:\n" << fatal.err);
  REQUIRE(fatal.code == 69);
  CHECK(starts_with(fatal.err, "<3>"));
  for (const auto& line : lines_of(fatal.err)) {
    INFO("line: " << line);
    CHECK(std::regex_match(line, prefixed));
  }
}

// ---- --batch-size ----------------------------------------------------------------------------------------

TEST_CASE("global flag --batch-size: before or after the subcommand, and out of range a usage error naming it",
          "[status][batch-size]") {
  rig::Scratch db("bs");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t SELECT seq FROM seq_1_to_2500");
  const auto before = rig::run({"--batch-size", "1000", "--json", "sync"}, db.env());
  INFO("stderr: " << before.err);
  REQUIRE(before.code == 0);
  CHECK(before.json()["tables"]["t"]["records_synced"] == 2500);
  const auto after = rig::run({"sync", "--full", "--batch-size=7"}, db.env());
  INFO("stderr: " << after.err);
  CHECK(after.code == 0);
  CHECK(db.count("t") == 2500);

  // A wrong flag value is a usage error (64); SYNC_BATCH_SIZE=0 would be a configuration error (78).
  const auto zero = rig::run({"--batch-size", "0", "sync"}, db.env());
  INFO("stderr: " << zero.err);
  CHECK(zero.code == 64);
  CHECK(contains(zero.err, "sync.batch_size"));
  // The message names the flag the user typed.
  CHECK(starts_with(zero.err, "mysql2mongo: error: --batch-size: "));
}

TEST_CASE("progress: verify on a terminal draws each table's rows as it reads them, then their count, and prints "
          "its report there even when all is equal",
          "[status][progress][verify]") {
  if (!have_script()) {
    WARN("skipped: /usr/bin/script (util-linux) is not installed, no pseudo-terminal to run under");
    return;
  }
  rig::Scratch db("progv");
  make_big(db, 60000);
  sync_ok(db, {"--full"});
  const auto env = with_env(db.env(), {{"TERM", "xterm"}});
  const auto r = run_in_pty({"verify"}, env);
  INFO("output: " << r.output);
  REQUIRE(r.code == 0);
  CHECK(std::regex_search(r.output, std::regex("\rbig: \\d+ (/ ~\\d+ )?rows")));
  CHECK(contains(r.output, "\x1b[K"));
  const auto lines = visible_lines(r.output);
  REQUIRE(lines.size() == 4);  // the table's final count, then the report: header, table, summary
  CHECK(std::regex_match(lines[0], std::regex(R"(big: 60000 rows compared in \S+)")));
  CHECK(words_of(lines[2]) == std::vector<std::string>{"big", "60000", "60000", "60000", "0", "0", "0", "equal"});
  CHECK(std::regex_match(lines[3], std::regex(R"(verify: 1 tables: 1 equal, 0 different, 0 failed; 0 missing, 0 extra, )"
                                              R"(0 different in \d+\.\ds)")));
  // Not with -q or --json; and under cron (no terminal) an equal verify prints nothing at all.
  for (const char* flag : {"-q", "--json"}) {
    const auto quiet = run_in_pty({flag, "verify"}, env);
    INFO(flag << " output: " << quiet.output);
    REQUIRE(quiet.code == 0);
    CHECK_FALSE(contains(quiet.output, "\rbig: "));
  }
  const auto cron = rig::run({"verify"}, env);
  CHECK(cron.code == 0);
  CHECK(cron.out.empty());
  CHECK(cron.err.empty());
}
