#include "support/rig.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <mongoc/mongoc.h>
#include <mysql.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <poll.h>
#include <random>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rig {

const Servers& servers() {
  static const Servers s = [] {
    Servers out;
    const std::string path = std::string(MYSQL2MONGO_RIG_DIR) + "/rig.env";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path + ": is the rig running? (ctest starts it as a fixture)");
    std::map<std::string, std::string> kv;
    std::string line;
    while (std::getline(in, line)) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    out.mysql_host = kv["RIG_MYSQL_HOST"];
    out.mysql_port = static_cast<unsigned>(std::stoul(kv["RIG_MYSQL_PORT"]));
    out.mysql_socket = kv["RIG_MYSQL_SOCKET"];
    out.mysql_user = kv["RIG_MYSQL_USER"];
    out.mysql_password = kv["RIG_MYSQL_PASSWORD"];
    out.tls_ca = kv["RIG_MYSQL_TLS_CA"];
    out.tls_wrong_ca = kv["RIG_MYSQL_TLS_WRONG_CA"];
    out.mongodb_url = kv["RIG_MONGODB_URL"];
    return out;
  }();
  return s;
}

nlohmann::json Result::json() const {
  INFO("stdout: " << out << "\nstderr: " << err);
  try {
    return nlohmann::json::parse(out);
  } catch (const std::exception& e) {
    FAIL("stdout is not one JSON document: " << e.what());
  }
  return {};
}

namespace {

void read_into(int fd, std::string& sink, bool& open) {
  char buf[65536];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n > 0) sink.append(buf, static_cast<size_t>(n));
  else if (n == 0 || (errno != EINTR && errno != EAGAIN)) open = false;
}

// A process's peak resident set so far (VmHWM in /proc/PID/status), in KiB, once it runs `name` (the
// kernel's 15-byte command name): before its exec the forked child is a copy of this process. 0 when
// it cannot be read.
long vm_hwm_kb(pid_t pid, const std::string& name) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Name:", 0) == 0 && line.find(name) == std::string::npos) return 0;
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

}  // namespace

void remove_driver_leftovers(pid_t pid) {
  std::error_code ec;
  std::filesystem::remove("/dev/shm/mongoc-" + std::to_string(pid), ec);
}

Result run(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
           std::chrono::seconds timeout) {
  int out_pipe[2], err_pipe[2];
  REQUIRE(pipe2(out_pipe, O_CLOEXEC) == 0);
  REQUIRE(pipe2(err_pipe, O_CLOEXEC) == 0);
  std::vector<std::string> argv_s{MYSQL2MONGO_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  if (!env.count("PATH")) env_s.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  if (!env.count("HOME")) env_s.push_back("HOME=/nonexistent");  // no ~/.my.cnf from the developer
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    setpgid(0, 0);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  Result r;
  bool out_open = true, err_open = true;
  bool killed = false;
  // The peak RSS of the binary itself: getrusage's ru_maxrss of a child also counts what the forked copy
  // of this (test) process held before exec, so a test process grown big by earlier tests would show
  // there. VmHWM belongs to the binary's own memory; it is read while the binary runs.
  long hwm_kb = 0;
  const std::string name = argv_s[0].substr(argv_s[0].rfind('/') + 1).substr(0, 15);
  while (out_open || err_open) {
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    const int n = poll(fds, 2, 50);
    hwm_kb = std::max(hwm_kb, vm_hwm_kb(pid, name));
    if (n > 0) {
      if (out_open && (fds[0].revents & (POLLIN | POLLHUP))) read_into(out_pipe[0], r.out, out_open);
      if (err_open && (fds[1].revents & (POLLIN | POLLHUP))) read_into(err_pipe[0], r.err, err_open);
    }
    if (!killed && std::chrono::steady_clock::now() - start > timeout) {
      kill(-pid, SIGKILL);
      killed = true;
    }
  }
  close(out_pipe[0]);
  close(err_pipe[0]);
  siginfo_t exited{};
  waitid(P_PID, static_cast<id_t>(pid), &exited, WEXITED | WNOWAIT);
  remove_driver_leftovers(pid);
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  r.max_rss_kb = hwm_kb > 0 ? hwm_kb : usage.ru_maxrss;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (killed) FAIL("mysql2mongo " << fmt::format("{}", fmt::join(args, " ")) << " timed out; stderr: " << r.err);
  return r;
}

struct Scratch::Impl {
  MYSQL* mysql = nullptr;
  mongoc_client_t* mongo = nullptr;
  ~Impl() {
    if (mysql) mysql_close(mysql);
    if (mongo) mongoc_client_destroy(mongo);
  }
};

namespace {

std::string unique_name(const std::string& tag) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return fmt::format("m2m_{}_{}_{:x}", tag, ++counter, rd() & 0xffffff);
}

MYSQL* connect_admin(const char* database) {
  const auto& s = servers();
  MYSQL* m = mysql_init(nullptr);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!mysql_real_connect(m, s.mysql_host.c_str(), s.mysql_user.c_str(), s.mysql_password.c_str(), database,
                          s.mysql_port, nullptr, CLIENT_MULTI_STATEMENTS)) {
    const std::string err = mysql_error(m);
    mysql_close(m);
    throw std::runtime_error("rig: cannot connect to MySQL: " + err);
  }
  return m;
}

void exec(MYSQL* m, const std::string& sql) {
  if (mysql_real_query(m, sql.data(), sql.size()) != 0)
    throw std::runtime_error(fmt::format("rig: SQL failed: {}: {}", mysql_error(m), sql.substr(0, 300)));
  do {
    if (MYSQL_RES* r = mysql_store_result(m)) mysql_free_result(r);
    else if (mysql_errno(m)) throw std::runtime_error(fmt::format("rig: SQL failed: {}", mysql_error(m)));
  } while (mysql_next_result(m) == 0);
  if (mysql_errno(m)) throw std::runtime_error(fmt::format("rig: SQL failed: {}: {}", mysql_error(m), sql.substr(0, 300)));
}

nlohmann::json to_json(const bson_t* doc) {
  size_t len = 0;
  char* s = bson_as_canonical_extended_json(doc, &len);
  auto j = nlohmann::json::parse(std::string(s, len));
  bson_free(s);
  return j;
}

bson_t* from_json(const std::string& json) {
  bson_error_t error;
  bson_t* b = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()), static_cast<ssize_t>(json.size()), &error);
  if (!b) throw std::runtime_error(std::string("rig: bad JSON: ") + error.message);
  return b;
}

}  // namespace

Scratch::Scratch(const std::string& tag) : name_(unique_name(tag)), impl_(std::make_unique<Impl>()) {
  MYSQL* admin = connect_admin(nullptr);
  exec(admin, fmt::format("CREATE DATABASE `{}` CHARACTER SET utf8mb4", name_));
  mysql_close(admin);
  impl_->mysql = connect_admin(name_.c_str());
  exec(impl_->mysql, "SET time_zone = '+00:00'");
  impl_->mongo = mongoc_client_new(servers().mongodb_url.c_str());
  if (!impl_->mongo) throw std::runtime_error("rig: bad MongoDB URL " + servers().mongodb_url);
}

Scratch::~Scratch() {
  try {
    exec(impl_->mysql, fmt::format("DROP DATABASE IF EXISTS `{}`", name_));
    mongoc_database_t* db = mongoc_client_get_database(impl_->mongo, name_.c_str());
    mongoc_database_drop(db, nullptr);
    mongoc_database_destroy(db);
  } catch (...) {
  }
}

std::map<std::string, std::string> Scratch::env() const {
  const auto& s = servers();
  return {{"MYSQL_HOST", s.mysql_host},
          {"MYSQL_PORT", std::to_string(s.mysql_port)},
          {"MYSQL_USER", s.mysql_user},
          {"MYSQL_PASSWORD", s.mysql_password},
          {"MYSQL_DATABASE", name_},
          {"MONGODB_URL", s.mongodb_url},
          {"MONGODB_DATABASE", name_},
          // The rig's MariaDB offers its binlog, so auto would read it: the tests of the change column
          // say which they test; the binlog tests set SYNC_CHANGES themselves.
          {"SYNC_CHANGES", "timestamp"}};
}

void Scratch::sql(const std::string& statements) { exec(impl_->mysql, statements); }

std::vector<std::vector<std::string>> Scratch::query(const std::string& sql) {
  MYSQL* m = impl_->mysql;
  if (mysql_real_query(m, sql.data(), sql.size()) != 0)
    throw std::runtime_error(fmt::format("rig: query failed: {}: {}", mysql_error(m), sql));
  MYSQL_RES* r = mysql_store_result(m);
  std::vector<std::vector<std::string>> out;
  if (!r) return out;
  const unsigned n = mysql_num_fields(r);
  while (MYSQL_ROW row = mysql_fetch_row(r)) {
    const unsigned long* len = mysql_fetch_lengths(r);
    std::vector<std::string> cols;
    for (unsigned i = 0; i < n; ++i) cols.push_back(row[i] ? std::string(row[i], len[i]) : "NULL");
    out.push_back(std::move(cols));
  }
  mysql_free_result(r);
  return out;
}

std::vector<nlohmann::json> Scratch::find(const std::string& collection, const std::string& filter_json,
                                          const std::string& sort_json) {
  mongoc_collection_t* coll = mongoc_client_get_collection(impl_->mongo, name_.c_str(), collection.c_str());
  bson_t* filter = from_json(filter_json);
  bson_t* opts = bson_new();
  bson_t* sort = from_json(sort_json);
  if (!bson_empty(sort)) BSON_APPEND_DOCUMENT(opts, "sort", sort);
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll, filter, opts, nullptr);
  std::vector<nlohmann::json> out;
  const bson_t* doc;
  while (mongoc_cursor_next(cursor, &doc)) out.push_back(to_json(doc));
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(sort);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(coll);
  if (failed) throw std::runtime_error(std::string("rig: find failed: ") + error.message);
  return out;
}

long long Scratch::count(const std::string& collection, const std::string& filter_json) {
  mongoc_collection_t* coll = mongoc_client_get_collection(impl_->mongo, name_.c_str(), collection.c_str());
  bson_t* filter = from_json(filter_json);
  bson_error_t error;
  const int64_t n = mongoc_collection_count_documents(coll, filter, nullptr, nullptr, nullptr, &error);
  bson_destroy(filter);
  mongoc_collection_destroy(coll);
  if (n < 0) throw std::runtime_error(std::string("rig: count failed: ") + error.message);
  return n;
}

std::vector<std::string> Scratch::collections() {
  mongoc_database_t* db = mongoc_client_get_database(impl_->mongo, name_.c_str());
  bson_error_t error;
  char** names = mongoc_database_get_collection_names_with_opts(db, nullptr, &error);
  std::vector<std::string> out;
  if (names) {
    for (char** n = names; *n; ++n) out.emplace_back(*n);
    bson_strfreev(names);
  }
  mongoc_database_destroy(db);
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json Scratch::command(const std::string& command_json) {
  bson_t* cmd = from_json(command_json);
  bson_t reply;
  bson_error_t error;
  const bool ok = mongoc_client_command_simple(impl_->mongo, name_.c_str(), cmd, nullptr, &reply, &error);
  auto j = to_json(&reply);
  bson_destroy(&reply);
  bson_destroy(cmd);
  if (!ok) j["_error"] = error.message;
  return j;
}

std::vector<nlohmann::json> mongo_find(const std::string& database, const std::string& collection,
                                       const std::string& filter_json) {
  mongoc_client_t* client = mongoc_client_new(servers().mongodb_url.c_str());
  REQUIRE(client != nullptr);
  mongoc_collection_t* coll = mongoc_client_get_collection(client, database.c_str(), collection.c_str());
  bson_t* filter = from_json(filter_json);
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll, filter, nullptr, nullptr);
  std::vector<nlohmann::json> out;
  const bson_t* doc;
  while (mongoc_cursor_next(cursor, &doc)) out.push_back(to_json(doc));
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(filter);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  if (failed) throw std::runtime_error(std::string("rig: find failed: ") + error.message);
  return out;
}

void drop_mongo_database(const std::string& database) {
  mongoc_client_t* client = mongoc_client_new(servers().mongodb_url.c_str());
  if (!client) return;
  mongoc_database_t* db = mongoc_client_get_database(client, database.c_str());
  mongoc_database_drop(db, nullptr);
  mongoc_database_destroy(db);
  mongoc_client_destroy(client);
}

void load_sql_file(const std::string& database, const std::string& path) {
  const auto& s = servers();
  // The password goes through the environment, never argv.
  const std::string cmd = fmt::format("MYSQL_PWD='{}' mariadb --protocol=TCP -h{} -P{} -u{} {} < '{}'", s.mysql_password,
                                      s.mysql_host, s.mysql_port, s.mysql_user, database, path);
  const int rc = std::system(cmd.c_str());
  if (rc != 0) throw std::runtime_error("rig: loading " + path + " failed");
}

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size())) s.replace(p, from.size(), to);
}

}  // namespace

TempFile::TempFile(const std::string& name, const std::string& text) : path("/tmp/" + name) {
  std::ofstream(path) << text;
}
TempFile::~TempFile() { std::remove(path.c_str()); }

TempDir::TempDir(const std::string& tag) {
  std::string tmpl = "/tmp/m2m-" + tag + "-XXXXXX";
  REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
  path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::set<std::string> TempDir::entries() const {
  std::set<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(path)) out.insert(e.path().filename().string());
  return out;
}

std::string TempDir::write(const std::string& name, const std::string& text) const {
  const auto p = path + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << text;
  return p;
}

std::map<std::string, std::string> with_env(std::map<std::string, std::string> env,
                                            const std::map<std::string, std::string>& extra) {
  for (const auto& [k, v] : extra) env[k] = v;
  return env;
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

nlohmann::json metadata_for(Scratch& db, const std::string& table) {
  const auto docs = db.find("_sync_metadata", nlohmann::json{{"table_name", table}}.dump());
  INFO("_sync_metadata for " << table);
  REQUIRE(docs.size() == 1);
  return docs[0];
}

void insert_lease(Scratch& db, const std::string& owner, long long expires_at_ms) {
  // An upsert: after a run the lease document stays (released, with its fencing token). The command name
  // must come first: an ordered object.
  nlohmann::ordered_json set;
  set["owner"] = owner;
  set["expires_at"] = {{"$date", {{"$numberLong", std::to_string(expires_at_ms)}}}};
  set["acquired_at"] = {{"$date", {{"$numberLong", std::to_string(now_ms() - 60000)}}}};
  nlohmann::ordered_json update;
  update["q"] = {{"_id", "sync"}};
  update["u"] = {{"$set", set}, {"$inc", {{"token", 1}}}};
  update["upsert"] = true;
  nlohmann::ordered_json cmd;
  cmd["update"] = "_sync_lock";
  cmd["updates"] = nlohmann::ordered_json::array({update});
  const auto reply = db.command(cmd.dump());
  INFO("update reply: " << reply.dump());
  REQUIRE_FALSE(reply.contains("_error"));
  REQUIRE_FALSE(reply.contains("writeErrors"));
}

void load_sakila(Scratch& db) {
  const std::string dir = std::string(MYSQL2MONGO_SOURCE_DIR) + "/tests/fixtures/sakila/";
  // Drop the DROP/CREATE SCHEMA and USE lines and the explicit `sakila.` qualifiers of the views.
  std::string schema = read_file(dir + "sakila-schema.sql");
  for (const char* line : {"DROP SCHEMA IF EXISTS sakila;", "CREATE SCHEMA sakila;", "USE sakila;"}) {
    INFO("schema line " << line);
    REQUIRE(schema.find(line) != std::string::npos);
    replace_all(schema, line, "");
  }
  replace_all(schema, "sakila.", "");
  REQUIRE(schema.find("sakila.") == std::string::npos);
  std::string data = read_file(dir + "sakila-data.sql");
  REQUIRE(data.find("USE sakila;") != std::string::npos);
  replace_all(data, "USE sakila;", "");

  const std::string schema_path = "/tmp/" + db.name() + "-schema.sql";
  const std::string data_path = "/tmp/" + db.name() + "-data.sql";
  std::ofstream(schema_path, std::ios::binary) << schema;
  std::ofstream(data_path, std::ios::binary) << data;
  struct Cleanup {
    std::vector<std::string> paths;
    ~Cleanup() {
      for (const auto& p : paths) std::remove(p.c_str());
    }
  } cleanup{{schema_path, data_path}};
  load_sql_file(db.name(), schema_path);
  load_sql_file(db.name(), data_path);
}

}  // namespace rig
