// Inputs a user can get wrong at the command line and in the configuration, and what the tool shows:
// secrets never, usage errors with the right flag, files that are not files, TLS as negotiated, the
// --json envelope, the log file's lines, status --check's time bound.
#include "support/net.hpp"
#include "support/rig.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

using rig::contains;
using rig::lower;
using rig::SilentPort;
using rig::slurp;
using rig::TempDir;

}  // namespace

// ---- item: secrets ---------------------------------------------------------------------------------------

TEST_CASE("secrets: a MongoDB URL holding a password, from every source and malformed every way, shows in no "
          "output: stderr, stdout, --json, the log file, the metrics file",
          "[cli][secrets]") {
  rig::Scratch db("sec");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  // The secret is "SeCr3tPw" or a piece of it; each URL is wrong in its own way.
  struct Url {
    std::string url;
    int code;           // from a file or the environment (the flag refuses any password: 64)
    std::string says;   // part of the error line
  };
  const std::vector<Url> urls = {
      {"muser:SeCr3tPw@127.0.0.1:27017/", 78, "it must start with mongodb:// or mongodb+srv://"},
      {"mongodb://u:SeCr3t?Pw@127.0.0.1/", 78, "percent-encode them"},
      {"mongodb://u:SeCr3t/Pw@127.0.0.1/", 78, "percent-encode them"},
      {"mongodb://u:SeCr3t@Pw@127.0.0.1/", 78, "percent-encode them"},
      {"mongodb://u:SeCr3tPw@127.0.0.1:27o17/", 78, "is not a number from 1 to 65535"},
      {"mongodb://u:SeCr3tPw@127.0.0.1/?connectTimeoutMS=soon", 78, "Unsupported value for \"connecttimeoutms\""},
      {"mongodb://u:SeCr3tPw@127.0.0.1/?tls=true&tlsCertificateKeyFilePassword=SeCr3tPw&tlsInsecure=maybe", 78,
       "invalid MongoDB URL"},
      {"mongodb+srv://u:SeCr3tPw@m2m-test.nowhere.invalid/", 69, "cannot resolve the mongodb+srv:// host name ("},
  };
  TempDir dir;
  struct Source {
    std::string name;
    std::function<void(std::vector<std::string>&, std::map<std::string, std::string>&, const std::string&)> apply;
  };
  const std::vector<Source> sources = {
      {"MONGODB_URL", [](auto&, auto& env, const auto& u) { env["MONGODB_URL"] = u; }},
      {"--env-file", [&](auto& args, auto&, const auto& u) {
         args.insert(args.begin(), {"--env-file", dir.write("sync.env", "MONGODB_URL='" + u + "'\n")});
       }},
      {"TOML", [&](auto& args, auto&, const auto& u) {
         args.insert(args.begin(), {"--config", dir.write("c.toml", "[mongodb]\nurl = '" + u + "'\n")});
       }},
      {"MONGODB_URL_FILE", [&](auto&, auto& env, const auto& u) { env["MONGODB_URL_FILE"] = dir.write("url", u + "\n"); }},
      {"credential", [&](auto&, auto& env, const auto& u) {
         dir.write("creds/mongodb_url", u);
         env["CREDENTIALS_DIRECTORY"] = dir.path + "/creds";
       }},
      {"--mongodb-url", [](auto& args, auto&, const auto& u) { args.insert(args.begin(), {"--mongodb-url", u}); }},
  };
  for (const auto& src : sources) {
    for (const auto& u : urls) {
      auto env = db.env();
      env.erase("MONGODB_URL");
      const std::string log = dir.path + "/run.log", metrics = dir.path + "/m.prom";
      std::vector<std::string> args = {"-v", "--json", "--log-file", log, "sync", "--metrics-file", metrics};
      src.apply(args, env, u.url);
      const auto r = rig::run(args, env);
      const std::string all = r.out + r.err + slurp(log) + slurp(metrics);
      INFO(src.name << ": " << u.url << "\nstderr: " << r.err << "\nstdout: " << r.out << "\nlog: " << slurp(log));
      CHECK(r.code == (src.name == "--mongodb-url" ? 64 : u.code));
      if (src.name == "--mongodb-url") CHECK(contains(r.err, "--mongodb-url must not contain a password"));
      else CHECK(contains(r.err, u.says));
      CHECK(r.json()["exit_code"] == r.code);
      CHECK_FALSE(contains(lower(all), "secr3t"));
      CHECK_FALSE(contains(all, "Pw@"));
      fs::remove(log);
      fs::remove(metrics);
      fs::remove_all(dir.path + "/creds");
    }
  }
  CHECK(db.collections().empty());  // nothing was written by any of them
}

TEST_CASE("secrets: driver messages about a reachable-looking URL are scrubbed of the password, whole or in pieces",
          "[cli][secrets]") {
  rig::Scratch db("sec2");
  TempDir dir;
  SilentPort silent;
  // Valid syntax: the failure comes from the network, and the driver's words about it.
  for (const std::string& url : std::vector<std::string>{"mongodb://user:SeCr3tPw@127.0.0.1:" + std::to_string(silent.port) + "/",
                                "mongodb://user:SeCr3t%40Pw@localhost:1/?authSource=admin"}) {
    auto env = db.env();
    env["MONGODB_URL"] = url;
    env["MONGODB_CONNECT_TIMEOUT"] = "1s";
    const std::string log = dir.path + "/run.log";
    const auto r = rig::run({"-vv", "--json", "--log-file", log, "test-connection"}, env);
    const std::string all = r.out + r.err + slurp(log);
    INFO(url << "\n" << all);
    CHECK(r.code == 69);
    CHECK(contains(r.err, "MongoDB at mongodb://user:***@"));
    CHECK_FALSE(contains(lower(all), "secr3t"));
    CHECK_FALSE(contains(lower(all), "secr3t@pw"));
    fs::remove(log);
  }
}

// ---- item: files named by settings ----------------------------------------------------------------------

TEST_CASE("files: a config, env-file, password-file or credential path that is a directory, empty or not a file "
          "exits 78 with one line and writes nothing",
          "[cli][files]") {
  rig::Scratch db("files");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  TempDir dir;
  fs::create_directories(dir.path + "/adir");
  const std::string a_dir = dir.path + "/adir", empty = dir.write("empty", "");
  const std::vector<std::tuple<std::string, std::vector<std::string>, std::map<std::string, std::string>>> cases = {
      {"--config " + a_dir + ": is a directory", {"--config", a_dir}, {}},
      {"--config /dev/null: is not a regular file", {"--config", "/dev/null"}, {}},
      {"--env-file " + a_dir + ": is a directory", {"--env-file", a_dir}, {}},
      {"MYSQL_PASSWORD_FILE (environment): " + a_dir + ": is a directory", {}, {{"MYSQL_PASSWORD_FILE", a_dir}}},
      {"MONGODB_URL_FILE (environment): " + empty + ": is empty", {}, {{"MONGODB_URL_FILE", empty}}},
      {"MONGODB_URL_FILE (environment): " + a_dir + ": is a directory", {}, {{"MONGODB_URL_FILE", a_dir}}},
      {"MYSQL_SSL_CA (environment): " + a_dir + ": is a directory", {}, {{"MYSQL_SSL_CA", a_dir}}},
  };
  for (const auto& [says, extra_args, extra_env] : cases) {
    auto env = rig::with_env(db.env(), extra_env);
    if (extra_env.count("MYSQL_PASSWORD_FILE") || extra_env.count("MONGODB_URL_FILE")) {
      env.erase("MYSQL_PASSWORD");
      env.erase("MONGODB_URL");
    }
    std::vector<std::string> args = extra_args;
    args.push_back("sync");
    const auto r = rig::run(args, env);
    INFO(says << "\nstderr: " << r.err);
    CHECK(r.code == 78);
    CHECK(r.err.rfind("mysql2mongo: error: " + says, 0) == 0);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  SECTION("systemd credentials") {
    fs::create_directories(dir.path + "/creds/mysql_password");
    auto env = db.env();
    env.erase("MYSQL_PASSWORD");
    env["CREDENTIALS_DIRECTORY"] = dir.path + "/creds";
    const auto r = rig::run({"sync"}, env);
    CHECK(r.code == 78);
    CHECK(contains(r.err, "$CREDENTIALS_DIRECTORY/mysql_password: " + dir.path + "/creds/mysql_password: is a directory"));
  }
  CHECK(db.collections().empty());
}

TEST_CASE("mongodb.write_concern is rejected at load, before any connection or lock", "[cli][files]") {
  rig::Scratch db("wc");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  TempDir dir;
  const auto cfg = dir.write("c.toml", "[mongodb]\nwrite_concern = \"most\"\n");
  const auto bad = rig::run({"--config", cfg, "sync", "--full"}, db.env());
  CHECK(bad.code == 78);
  CHECK(bad.err == "mysql2mongo: error: " + cfg + ":2: mongodb.write_concern 'most' is not valid; use \"majority\" or a "
                       "number of nodes from 0 to 50\n");
  CHECK(db.collections().empty());  // no lock document, no metadata, no data
}

// ---- item: the command line ------------------------------------------------------------------------------

TEST_CASE("usage: -h with anything after it, the mysql client's short flags, misspelt commands and flags exit 64 "
          "naming the right one",
          "[cli][usage]") {
  rig::Scratch db("usage");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"-h", "db1", "sync"}, "-h is not a flag of mysql2mongo; did you mean --mysql-host HOST? (-h alone shows the help)"},
      {{"-hdb1", "sync"}, "did you mean --mysql-host HOST?"},
      {{"sync", "-h", "db1"}, "did you mean --mysql-host HOST?"},
      {{"-u", "root", "sync"}, "-u is not a flag of mysql2mongo; did you mean --mysql-user USER?"},
      {{"-uroot", "sync"}, "did you mean --mysql-user USER?"},
      {{"-P", "3306", "sync"}, "-P is not a flag of mysql2mongo; did you mean --mysql-port PORT?"},
      {{"-S", "/run/mysqld/mysqld.sock", "sync"}, "-S is not a flag of mysql2mongo; did you mean --mysql-socket PATH?"},
      {{"-D", "shop", "sync"}, "did you mean --mysql-database NAME?"},
      {{"-V"}, "-V is not a flag of mysql2mongo; did you mean --version?"},
      {{"-p", "sync"}, "passwords are not accepted as command-line values"},
      {{"-psecret", "sync"}, "passwords are not accepted as command-line values"},
      {{"synk"}, "unknown command 'synk'; did you mean 'sync'?"},
      {{"stauts"}, "unknown command 'stauts'; did you mean 'status'?"},
      {{"test-conection"}, "unknown command 'test-conection'; did you mean 'test-connection'?"},
      {{"--mysql-hots", "db1", "sync"}, "unknown flag --mysql-hots; did you mean --mysql-host?"},
      {{"sync", "--ful"}, "unknown flag --ful; did you mean --full?"},
      {{"--mongodb-databse=x", "sync"}, "unknown flag --mongodb-databse; did you mean --mongodb-database?"},
      {{"status", "--chek"}, "unknown flag --chek; did you mean --check?"},
  };
  for (const auto& [args, says] : cases) {
    const auto r = rig::run(args, db.env());
    INFO(args[0] << " ...: " << r.err);
    CHECK(r.code == 64);
    CHECK(r.out.empty());
    CHECK(contains(r.err, says));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
  CHECK(db.collections().empty());

  // -h or --help alone, or after a command alone: the help, exit 0.
  for (const auto& args : std::vector<std::vector<std::string>>{{"-h"}, {"--help"}, {"sync", "-h"}, {"sync", "--help"},
                                                                {"status", "--help"}}) {
    const auto r = rig::run(args, {});
    INFO(args[0]);
    CHECK(r.code == 0);
    CHECK(contains(r.out, "Usage: mysql2mongo"));
  }
  CHECK(contains(rig::run({"sync", "-h"}, {}).out, "--full"));
}

TEST_CASE("version: --version names the tool and the client libraries it runs with", "[cli][usage]") {
  const auto r = rig::run({"--version"}, {});
  CHECK(r.code == 0);
  CHECK(std::regex_search(r.out, std::regex(R"(^mysql2mongo \d+\.\d+\.\d+\n)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\n(MariaDB Connector/C|MySQL client library) \d+\.\d+\.\d+\n)")));
  CHECK(std::regex_search(r.out, std::regex(R"(\nmongo-c-driver \d+\.\d+\.\d+\n?$)")));
}

TEST_CASE("MYSQL_PWD, read by the client library, is a password source", "[cli][usage]") {
  rig::Scratch db("pwd");
  auto env = db.env();
  const auto pw = env.at("MYSQL_PASSWORD");
  env.erase("MYSQL_PASSWORD");
  CHECK(rig::run({"test-connection"}, env).code == 77);
  env["MYSQL_PWD"] = pw;
  const auto r = rig::run({"-v", "test-connection"}, env);
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK_FALSE(contains(r.out + r.err, pw));
}

// ---- item: --json ----------------------------------------------------------------------------------------

TEST_CASE("json: every --json document carries schema_version 1 and the exit code", "[cli][json]") {
  rig::Scratch db("json");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  auto check = [](const rig::Result& r, int code) {
    INFO(r.err << r.out);
    CHECK(r.code == code);
    const auto j = r.json();
    CHECK(j["schema_version"] == 1);
    CHECK(j["exit_code"] == code);
    CHECK(r.out.rfind("{\n  \"schema_version\": 1,\n", 0) == 0);  // first, for readers that stream
  };
  check(rig::run({"--json", "test-connection"}, db.env()), 0);
  check(rig::run({"--json", "tables"}, db.env()), 0);
  check(rig::run({"--json", "sync", "--dry-run"}, db.env()), 0);
  check(rig::run({"--json", "sync"}, db.env()), 0);
  check(rig::run({"--json", "status"}, db.env()), 0);
  check(rig::run({"--json", "sync"}, rig::with_env(db.env(), {{"SYNC_ENABLED", "false"}})), 0);
  check(rig::run({"--json", "test-connection"}, rig::with_env(db.env(), {{"MYSQL_DATABASE", "no_such_db"}})), 69);
  check(rig::run({"--json", "sync"}, rig::with_env(db.env(), {{"SYNC_BATCH_SIZE", "x"}})), 78);
  check(rig::run({"--json", "sync", "--wait=soon"}, db.env()), 64);
}

// ---- item: the log file ----------------------------------------------------------------------------------

TEST_CASE("log file: every line has an RFC 3339 timestamp with the UTC offset and the pid, so runs sharing a file "
          "are told apart",
          "[cli][log]") {
  rig::Scratch db("logf");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE "
         "CURRENT_TIMESTAMP); INSERT INTO t (id) VALUES (1)");
  TempDir dir;
  const std::string log = dir.path + "/m2m.log";
  const auto a = rig::run({"--log-file", log, "sync"}, rig::with_env(db.env(), {{"TZ", "Europe/Berlin"}}));
  const auto b = rig::run({"--log-file", log, "sync"}, rig::with_env(db.env(), {{"TZ", "UTC"}}));
  REQUIRE(a.code == 0);
  REQUIRE(b.code == 0);
  const auto text = slurp(log);
  INFO(text);
  const std::regex line_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d \[(\d+)\] (debug|info|warning|error) .+)");
  std::set<std::string> pids;
  std::istringstream in(text);
  std::string line;
  int summaries = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    INFO(line);
    REQUIRE(std::regex_match(line, m, line_re));
    pids.insert(m[1]);
    summaries += contains(line, " info sync success: 1 tables ok, 0 failed, ");
  }
  CHECK(pids.size() == 2);
  CHECK(summaries == 2);  // the run summary is in the file, though not on stderr without -v
  CHECK(a.err.empty());
  CHECK(contains(text, "+00:00 ["));
  if (::access("/usr/share/zoneinfo/Europe/Berlin", R_OK) == 0)
    CHECK(std::regex_search(text, std::regex(R"(\+0[12]:00 \[)")));  // Berlin: +01:00 or +02:00
  else
    WARN("tzdata is not installed: the local offset was not checked");
}

// ---- item: status --check --------------------------------------------------------------------------------

TEST_CASE("status --check answers within -t/--timeout (default 8s) when MongoDB hangs, in one UNKNOWN line under "
          "120 characters, and -w/-c are --warn/--crit",
          "[cli][check]") {
  rig::Scratch db("chk");
  SilentPort silent;
  auto env = db.env();
  env["MONGODB_URL"] = "mongodb://127.0.0.1:" + std::to_string(silent.port) + "/";
  auto r = rig::run({"status", "--check"}, env);
  INFO(r.out << r.err);
  CHECK(r.code == 3);
  CHECK(r.seconds < 8.5);
  CHECK(r.out.rfind("MYSQL2MONGO UNKNOWN - ", 0) == 0);
  CHECK(r.out.size() <= 120);  // 119 characters and the newline
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 1);

  // The URL's own timeouts are longer than the check's: the check's bound still holds.
  env["MONGODB_URL"] += "?connectTimeoutMS=60000&serverSelectionTimeoutMS=60000";
  r = rig::run({"status", "--check", "-t", "2s"}, env);
  INFO(r.out << r.err);
  CHECK(r.code == 3);
  CHECK(r.seconds < 3);
  CHECK(r.out == "MYSQL2MONGO UNKNOWN - no answer from MongoDB within 2s (--timeout)\n");

  // A long reason is cut to one short line.
  env["MONGODB_URL"] = "mongodb://" + std::string(150, 'h') + ".invalid:1/";
  env["MONGODB_CONNECT_TIMEOUT"] = "1s";
  r = rig::run({"status", "--check", "--timeout=3s"}, env);
  INFO(r.out << r.err);
  CHECK(r.code == 3);
  CHECK(r.out.size() <= 120);
  CHECK(r.out.substr(r.out.size() - 4) == "...\n");

  // A configuration error under --check is UNKNOWN too, short and on one line.
  r = rig::run({"status", "--check"}, {{"MONGODB_URL", "mongodb://h:99999/"}, {"MONGODB_DATABASE", "x"}});
  CHECK(r.code == 3);
  CHECK(r.out.rfind("MYSQL2MONGO UNKNOWN - MONGODB_URL (environment): invalid MongoDB URL", 0) == 0);
  CHECK(r.out.size() <= 120);

  // -w/-c: the short forms of --warn/--crit.
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  REQUIRE(rig::run({"sync"}, db.env()).code == 0);
  r = rig::run({"status", "--check", "-w", "1h", "-c", "3h"}, db.env());
  CHECK(r.code == 0);
  CHECK(contains(r.out, "age=0s;3600;10800"));
  r = rig::run({"status", "--check", "-w", "2h", "-c", "1h"}, db.env());
  CHECK(r.code == 64);
  r = rig::run({"status", "-t", "5s"}, db.env());
  CHECK(r.code == 64);  // --timeout needs --check
}

// ---- item: TLS with ssl_mode = preferred -----------------------------------------------------------------

namespace {

// A throwaway MariaDB without TLS (what many servers are), started for one test and always stopped.
class PlainMariaDb {
public:
  PlainMariaDb() {
    std::string bin = "/usr/sbin/mariadbd";
    if (::access(bin.c_str(), X_OK) != 0) bin = "/usr/bin/mariadbd";
    if (::access(bin.c_str(), X_OK) != 0 || ::access("/usr/bin/mariadb-install-db", X_OK) != 0) return;
    const std::string user = ::geteuid() == 0 ? "root" : std::to_string(::geteuid());
    const std::string data = dir_.path + "/data";
    const std::string install = "mariadb-install-db --no-defaults --datadir=" + data + " --user=" + user +
                                " --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve >" +
                                dir_.path + "/install.log 2>&1";
    if (std::system(install.c_str()) != 0) FAIL("mariadb-install-db failed: " << slurp(dir_.path + "/install.log"));
    // The port: one the kernel had free a moment ago.
    { SilentPort p; port_ = p.port; }
    socket_ = dir_.path + "/s.sock";
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::setsid();
      const std::string log = dir_.path + "/error.log";
      std::freopen("/dev/null", "r", stdin);
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      const std::string a1 = "--datadir=" + data, a2 = "--socket=" + socket_, a3 = "--port=" + std::to_string(port_),
                        a4 = "--user=" + user, a5 = "--pid-file=" + dir_.path + "/pid";
      ::execl(bin.c_str(), "mariadbd", "--no-defaults", a1.c_str(), a2.c_str(), a3.c_str(), a4.c_str(), a5.c_str(),
              "--bind-address=127.0.0.1", "--skip-name-resolve", "--skip-ssl", "--skip-log-bin",
              "--innodb-buffer-pool-size=8M", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int i = 0; i < 300; ++i) {
      if (client("SELECT 1") == 0) break;
      std::this_thread::sleep_for(100ms);
    }
    REQUIRE(client("CREATE USER m2m@'%' IDENTIFIED BY 'plain-pw'; GRANT ALL ON *.* TO m2m@'%'; "
                   "CREATE DATABASE plain; CREATE TABLE plain.t (id INT PRIMARY KEY)") == 0);
    ready_ = true;
  }
  ~PlainMariaDb() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(100ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool ready() const { return ready_; }
  unsigned port() const { return port_; }

private:
  int client(const std::string& sql) const {
    return std::system(("mariadb --no-defaults -S " + socket_ + " -uroot -e \"" + sql + "\" >/dev/null 2>&1").c_str());
  }
  TempDir dir_;  // removed after the server stopped (members are destroyed after the destructor body)
  pid_t pid_ = -1;
  unsigned port_ = 0;
  std::string socket_;
  bool ready_ = false;
};

}  // namespace

TEST_CASE("MySQL TLS, ssl_mode preferred (the default): encrypted when the server offers TLS, plain text with an "
          "info line when it has none, and required refuses a server without TLS",
          "[cli][tls]") {
  const auto& s = rig::servers();
  rig::Scratch db("tlsp");
  if (s.tls_ca.empty()) {
    WARN("the rig's MySQL server has no TLS: the encrypted half is skipped");
  } else {
    auto env = db.env();
    env.erase("MYSQL_SSL_MODE");  // the default
    auto r = rig::run({"--json", "test-connection"}, env);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(r.json()["mysql"]["tls_cipher"].is_string());
    CHECK_FALSE(r.json()["mysql"]["tls_cipher"].get<std::string>().empty());
    r = rig::run({"test-connection"}, env);
    CHECK(std::regex_search(r.out, std::regex(R"(MySQL    ok: .*, TLS TLS_\w+\))")));
  }

  PlainMariaDb plain;
  if (!plain.ready()) {
    WARN("mariadbd or mariadb-install-db is not installed: the plain-text half is skipped");
    return;
  }
  std::map<std::string, std::string> env = {{"MYSQL_HOST", "127.0.0.1"},
                                            {"MYSQL_PORT", std::to_string(plain.port())},
                                            {"MYSQL_USER", "m2m"},
                                            {"MYSQL_PASSWORD", "plain-pw"},
                                            {"MYSQL_DATABASE", "plain"},
                                            {"MONGODB_URL", s.mongodb_url}};
  auto r = rig::run({"-v", "--json", "test-connection"}, env);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.json()["mysql"]["tls_cipher"].is_null());
  CHECK(contains(r.err, "mysql2mongo: info: MySQL at 127.0.0.1:" + std::to_string(plain.port()) +
                            ": the server offers no TLS; connected in plain text (mysql.ssl_mode = preferred"));
  r = rig::run({"test-connection"}, env);
  CHECK(r.code == 0);
  CHECK(r.err.empty());  // not a warning: cron stays quiet
  CHECK(contains(r.out, ", no TLS)"));

  env["MYSQL_SSL_MODE"] = "required";
  r = rig::run({"test-connection"}, env);
  CHECK(r.code == 69);
  CHECK(contains(r.err, "TLS failed: the server offers no TLS but mysql.ssl_mode is required"));
}
