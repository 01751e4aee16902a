#include "support/extra_server.hpp"

#include "support/rig.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <mysql.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <unistd.h>

namespace rig {

namespace {

std::string rig_script() { return std::string(MYSQL2MONGO_SOURCE_DIR) + "/tests/support/rig.sh"; }

MYSQL* connect(const std::string& host, unsigned port, const std::string& user, const std::string& password,
               const char* database) {
  MYSQL* m = mysql_init(nullptr);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!mysql_real_connect(m, host.c_str(), user.c_str(), password.c_str(), database, port, nullptr,
                          CLIENT_MULTI_STATEMENTS)) {
    const std::string err = mysql_error(m);
    mysql_close(m);
    FAIL("extra server: cannot connect: " << err);
  }
  return m;
}

void run_all(MYSQL* m, const std::string& sql) {
  INFO("SQL: " << sql);
  const bool ok = mysql_real_query(m, sql.data(), sql.size()) == 0;
  INFO("error: " << (ok ? "" : mysql_error(m)));
  REQUIRE(ok);
  do {
    if (MYSQL_RES* r = mysql_store_result(m)) mysql_free_result(r);
  } while (mysql_next_result(m) == 0);
  INFO("error: " << mysql_error(m));
  REQUIRE(mysql_errno(m) == 0);
}

}  // namespace

bool external_mysql() {
  const char* host = std::getenv("MYSQL2MONGO_TEST_MYSQL_HOST");
  return host && *host;
}

ExtraServer::ExtraServer(const Options& o) {
  static std::atomic<int> counter{0};
  dir_ = fmt::format("{}/extra_{}_{}", MYSQL2MONGO_RIG_DIR, getpid(), ++counter);
  clock_file_ = dir_ + ".clock";
  std::string env = "MYSQL2MONGO_RIG_MYSQL_ONLY=1 ";
  if (!o.tls) env += "MYSQL2MONGO_RIG_NO_TLS=1 ";
  if (!o.system_tz.empty()) env += "MYSQL2MONGO_RIG_SYSTEM_TZ=" + o.system_tz + " ";
  if (!o.tz_tables.empty()) {
    std::string zones;
    for (const auto& z : o.tz_tables) zones += (zones.empty() ? "" : " ") + z;
    env += "MYSQL2MONGO_RIG_TZ_TABLES='" + zones + "' ";
  }
  if (o.fake_clock) {
    std::ofstream(clock_file_) << "+0\n";
    env += "MYSQL2MONGO_RIG_FAKETIME_FILE=" + clock_file_ + " ";
  }
  // The shared rig's MySQL settings must not leak in: this server is the rig's own.
  const std::string cmd = fmt::format("env -u MYSQL2MONGO_TEST_MYSQL_HOST {} {} start {} >{}.log 2>&1", env, rig_script(),
                                      dir_, dir_);
  const int rc = std::system(cmd.c_str());
  std::ifstream log(dir_ + ".log");
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  INFO("rig.sh start: " << text);
  REQUIRE(rc == 0);
  started_ = true;
  std::ifstream in(dir_ + "/rig.env");
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "RIG_MYSQL_HOST") host_ = v;
    else if (k == "RIG_MYSQL_PORT") port_ = static_cast<unsigned>(std::stoul(v));
    else if (k == "RIG_MYSQL_USER") user_ = v;
    else if (k == "RIG_MYSQL_PASSWORD") password_ = v;
  }
  REQUIRE(port_ != 0);
}

ExtraServer::~ExtraServer() {
  if (started_) std::system(fmt::format("{} stop {} >/dev/null 2>&1", rig_script(), dir_).c_str());
  std::remove(clock_file_.c_str());
  std::remove((dir_ + ".log").c_str());
}

void ExtraServer::set_clock(const std::string& utc) {
  std::tm tm{};
  REQUIRE(strptime(utc.c_str(), "%Y-%m-%d %H:%M:%S", &tm) != nullptr);
  const long long target = static_cast<long long>(timegm(&tm));
  const long long offset = target - static_cast<long long>(std::time(nullptr));
  std::ofstream(clock_file_ + ".tmp") << (offset >= 0 ? "+" : "") << offset << "\n";
  REQUIRE(std::rename((clock_file_ + ".tmp").c_str(), clock_file_.c_str()) == 0);
}

ExtraServer::Database::Database(ExtraServer& server, const std::string& tag) : server_(server) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  name_ = fmt::format("m2m_x{}_{}_{:x}", tag, ++counter, rd() & 0xffffff);
  MYSQL* m = connect(server_.host_, server_.port_, server_.user_, server_.password_, nullptr);
  run_all(m, fmt::format("CREATE DATABASE `{}` CHARACTER SET utf8mb4", name_));
  mysql_close(m);
}

ExtraServer::Database::~Database() {
  // The MongoDB side lives in the shared rig's endpoint.
  try {
    drop_mongo_database(name_);
  } catch (...) {
  }
}

std::map<std::string, std::string> ExtraServer::Database::env() const {
  return {{"MYSQL_HOST", server_.host_},         {"MYSQL_PORT", std::to_string(server_.port_)},
          {"MYSQL_USER", server_.user_},         {"MYSQL_PASSWORD", server_.password_},
          {"MYSQL_DATABASE", name_},             {"MONGODB_URL", servers().mongodb_url},
          {"MONGODB_DATABASE", name_},
          // As for a Scratch: the tests say which change source they test.
          {"SYNC_CHANGES", "timestamp"}};
}

void ExtraServer::Database::sql(const std::string& statements, const std::string& zone) {
  MYSQL* m = connect(server_.host_, server_.port_, server_.user_, server_.password_, name_.c_str());
  if (!zone.empty()) run_all(m, "SET time_zone = '" + zone + "'");
  run_all(m, statements);
  mysql_close(m);
}

std::vector<std::vector<std::string>> ExtraServer::Database::query(const std::string& sql) {
  MYSQL* m = connect(server_.host_, server_.port_, server_.user_, server_.password_, name_.c_str());
  REQUIRE(mysql_real_query(m, sql.data(), sql.size()) == 0);
  MYSQL_RES* r = mysql_store_result(m);
  std::vector<std::vector<std::string>> out;
  const unsigned n = r ? mysql_num_fields(r) : 0;
  while (MYSQL_ROW row = r ? mysql_fetch_row(r) : nullptr) {
    std::vector<std::string> cols;
    for (unsigned i = 0; i < n; ++i) cols.push_back(row[i] ? row[i] : "NULL");
    out.push_back(std::move(cols));
  }
  if (r) mysql_free_result(r);
  mysql_close(m);
  return out;
}

}  // namespace rig
