// `mysql2mongo test-connection` against the rig: success, each failure's exit code and message, secrets.
#include "support/net.hpp"
#include "support/rig.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using rig::closed_port;
using rig::SilentPort;

void check_no_secret(const rig::Result& r, const std::string& secret) {
  CHECK(r.out.find(secret) == std::string::npos);
  CHECK(r.err.find(secret) == std::string::npos);
}

}  // namespace

TEST_CASE("test-connection succeeds and lists the tables (text)", "[test-connection]") {
  rig::Scratch db;
  db.sql("CREATE TABLE orders (id INT PRIMARY KEY); CREATE TABLE products (id INT PRIMARY KEY); "
         "CREATE VIEW order_ids AS SELECT id FROM orders");
  const auto r = rig::run({"test-connection"}, db.env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("MySQL    ok: " + db.name()) != std::string::npos);
  CHECK(r.out.find("2 tables, 1 views") != std::string::npos);
  CHECK(r.out.find("MongoDB  ok: " + db.name()) != std::string::npos);
  CHECK(r.out.find("Tables:  orders, products") != std::string::npos);
  CHECK(r.err.empty());  // quiet on success, as under cron
  check_no_secret(r, rig::servers().mysql_password);
}

TEST_CASE("test-connection --json prints the seed's response plus a mongodb section", "[test-connection]") {
  rig::Scratch db;
  db.sql("CREATE TABLE orders (id INT PRIMARY KEY); CREATE TABLE `weird name` (id INT PRIMARY KEY); "
         "CREATE VIEW v AS SELECT id FROM orders");
  const auto r = rig::run({"--json", "test-connection"}, db.env());
  REQUIRE(r.code == 0);
  const auto j = r.json();
  CHECK(j["status"] == "success");
  CHECK(j["connected"] == true);
  CHECK(j["database"] == db.name());
  CHECK(j["host"] == rig::servers().mysql_host);
  CHECK(j["tables_count"] == 2);
  CHECK(j["tables"] == nlohmann::json::array({"orders", "weird name"}));
  CHECK(j["mysql"]["views"] == nlohmann::json::array({"v"}));
  CHECK(j["mongodb"]["reachable"] == true);
  CHECK(j["mongodb"]["database"] == db.name());
  CHECK(j["mongodb"]["server_version"].is_string());
  CHECK(j["mongodb"]["url"] == rig::servers().mongodb_url);
  CHECK_FALSE(j.contains("error"));
}

TEST_CASE("global options are accepted after the subcommand too", "[test-connection]") {
  rig::Scratch db;
  const auto r = rig::run({"test-connection", "--json"}, db.env());
  REQUIRE(r.code == 0);
  CHECK(r.json()["status"] == "success");
}

TEST_CASE("wrong MySQL password: exit 77, the password appears nowhere", "[test-connection]") {
  rig::Scratch db;
  auto env = db.env();
  env["MYSQL_PASSWORD"] = "Wr0ng-Pa55word-xyzzy";
  const auto r = rig::run({"--json", "test-connection"}, env);
  CHECK(r.code == 77);
  CHECK(r.err.find("Access denied for user") != std::string::npos);
  CHECK(r.err.find("check MYSQL_USER and MYSQL_PASSWORD") != std::string::npos);
  const auto j = r.json();
  CHECK(j["status"] == "error");
  CHECK(j["connected"] == false);
  CHECK(j["exit_code"] == 77);
  check_no_secret(r, "Wr0ng-Pa55word-xyzzy");
  check_no_secret(r, rig::servers().mysql_password);
}

TEST_CASE("closed MySQL port: exit 69 at once", "[test-connection]") {
  rig::Scratch db;
  auto env = db.env();
  env["MYSQL_PORT"] = std::to_string(closed_port());
  const auto r = rig::run({"test-connection"}, env);
  CHECK(r.code == 69);
  CHECK(r.err.find("mysql2mongo: error: MySQL at " + rig::servers().mysql_host) == 0);
  CHECK(r.err.find("check MYSQL_HOST and MYSQL_PORT") != std::string::npos);
  CHECK(r.seconds < 10);
}

TEST_CASE("a MySQL server that never answers: exit 69 within the connect timeout", "[test-connection]") {
  rig::Scratch db;
  SilentPort silent;
  auto env = db.env();
  env["MYSQL_PORT"] = std::to_string(silent.port);
  env["MYSQL_CONNECT_TIMEOUT"] = "2s";
  const auto r = rig::run({"test-connection"}, env);
  CHECK(r.code == 69);
  CHECK(r.seconds < 8);
}

TEST_CASE("unknown MySQL database: exit 69 naming it", "[test-connection]") {
  rig::Scratch db;
  auto env = db.env();
  env["MYSQL_DATABASE"] = "no_such_db_here";
  const auto r = rig::run({"test-connection"}, env);
  CHECK(r.code == 69);
  CHECK(r.err.find("Unknown database 'no_such_db_here'; check MYSQL_DATABASE") != std::string::npos);
}

TEST_CASE("MongoDB unreachable: exit 69 naming MongoDB, within the connect timeout", "[test-connection]") {
  rig::Scratch db;
  SECTION("closed port") {
    auto env = db.env();
    env["MONGODB_URL"] = "mongodb://127.0.0.1:" + std::to_string(closed_port());
    env["MONGODB_CONNECT_TIMEOUT"] = "2s";
    const auto r = rig::run({"--json", "test-connection"}, env);
    CHECK(r.code == 69);
    CHECK(r.err.find("MongoDB at mongodb://127.0.0.1:") != std::string::npos);
    const auto j = r.json();
    CHECK(j["connected"] == true);  // MySQL was fine
    CHECK(j["mongodb"]["reachable"] == false);
    CHECK(r.seconds < 8);
  }
  SECTION("silent server") {
    SilentPort silent;
    auto env = db.env();
    env["MONGODB_URL"] = "mongodb://127.0.0.1:" + std::to_string(silent.port);
    env["MONGODB_CONNECT_TIMEOUT"] = "2s";
    const auto r = rig::run({"test-connection"}, env);
    CHECK(r.code == 69);
    CHECK(r.seconds < 8);
  }
}

TEST_CASE("malformed MONGODB_URL: exit 78, credentials redacted, stdout still JSON", "[test-connection]") {
  rig::Scratch db;
  auto env = db.env();
  env["MONGODB_URL"] = "mongodb://admin:Sup3rSecret@";
  const auto r = rig::run({"--json", "test-connection"}, env);
  CHECK(r.code == 78);
  CHECK(r.err == "mysql2mongo: error: MONGODB_URL (environment): invalid MongoDB URL mongodb://admin:***@: no host; "
                 "use mongodb://[user@]host[:port][,host...][/database][?options]\n");
  CHECK(r.json()["exit_code"] == 78);
  check_no_secret(r, "Sup3rSecret");
}

TEST_CASE("a password passed as a flag value is refused with exit 64", "[test-connection]") {
  rig::Scratch db;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"test-connection", "--password", "Fl4gSecret"},
           {"test-connection", "--mysql-password=Fl4gSecret"},
           {"-pFl4gSecret", "test-connection"}}) {
    const auto r = rig::run(args, db.env());
    CHECK(r.code == 64);
    CHECK(r.err.find("mysql2mongo: error: passwords are not accepted as command-line values") == 0);
    check_no_secret(r, "Fl4gSecret");
  }
  const auto r = rig::run({"test-connection", "--mongodb-url", "mongodb://u:Fl4gSecret@localhost"}, db.env());
  CHECK(r.code == 64);
  check_no_secret(r, "Fl4gSecret");
}

TEST_CASE("usage errors: exit 64 with a hint to --help", "[test-connection]") {
  const auto r = rig::run({"test-connection", "--no-such-flag"}, {});
  CHECK(r.code == 64);
  CHECK(r.err.find("run 'mysql2mongo --help' for usage") != std::string::npos);
  const auto none = rig::run({}, {});
  CHECK(none.code == 64);
  const auto help = rig::run({"--help"}, {});
  CHECK(help.code == 0);
  CHECK(help.out.find("test-connection") != std::string::npos);
}

TEST_CASE("the password can come from a file and from --env-file", "[test-connection]") {
  rig::Scratch db;
  auto env = db.env();
  const std::string pw = env["MYSQL_PASSWORD"];
  env.erase("MYSQL_PASSWORD");
  char dir[] = "/tmp/m2m-tc-XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string pwfile = std::string(dir) + "/pw";
  FILE* f = std::fopen(pwfile.c_str(), "w");
  std::fprintf(f, "%s\n", pw.c_str());
  std::fclose(f);
  SECTION("MYSQL_PASSWORD_FILE") {
    env["MYSQL_PASSWORD_FILE"] = pwfile;
    CHECK(rig::run({"test-connection"}, env).code == 0);
  }
  SECTION("systemd credentials") {
    std::rename(pwfile.c_str(), (std::string(dir) + "/mysql_password").c_str());
    env["CREDENTIALS_DIRECTORY"] = dir;
    CHECK(rig::run({"test-connection"}, env).code == 0);
  }
  SECTION(".env file") {
    const std::string envfile = std::string(dir) + "/sync.env";
    FILE* e = std::fopen(envfile.c_str(), "w");
    std::fprintf(e, "MYSQL_PASSWORD=%s\n", pw.c_str());
    std::fclose(e);
    CHECK(rig::run({"--env-file", envfile, "test-connection"}, env).code == 0);
  }
  std::system((std::string("rm -rf ") + dir).c_str());
}

TEST_CASE("log file: the run is recorded, and an unwritable log file is a config error", "[test-connection]") {
  rig::Scratch db;
  char dir[] = "/tmp/m2m-log-XXXXXX";
  REQUIRE(mkdtemp(dir));
  const std::string log = std::string(dir) + "/app.log";
  auto r = rig::run({"-v", "--log-file", log, "test-connection"}, db.env());
  CHECK(r.code == 0);
  std::ifstream in(log);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_FALSE(content.empty());
  CHECK(content.find(rig::servers().mysql_password) == std::string::npos);
  auto env = db.env();
  env["MYSQL_DATABASE"] = "no_such_db_here";
  r = rig::run({"--log-file", "/nonexistent-dir/x.log", "test-connection"}, env);
  CHECK(r.code == 78);
  CHECK(r.err.find("cannot open log file /nonexistent-dir/x.log") != std::string::npos);
  std::system((std::string("rm -rf ") + dir).c_str());
}

TEST_CASE("MySQL TLS: verification with the right CA succeeds, with a wrong CA fails with exit 69", "[test-connection][tls]") {
  const auto& s = rig::servers();
  if (s.tls_ca.empty()) {
    WARN("the MySQL server has no TLS certificate configured; skipping");
    return;
  }
  rig::Scratch db;
  auto env = db.env();
  env["MYSQL_SSL_MODE"] = "verify_identity";
  env["MYSQL_SSL_CA"] = s.tls_ca;
  auto r = rig::run({"--json", "test-connection"}, env);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.json()["mysql"]["tls_cipher"].is_string());

  env["MYSQL_SSL_CA"] = s.tls_wrong_ca;
  r = rig::run({"test-connection"}, env);
  CHECK(r.code == 69);
  CHECK(r.err.find("TLS failed") != std::string::npos);
  CHECK(r.err.find("check mysql.ssl_mode and mysql.ssl_ca") != std::string::npos);

  env["MYSQL_SSL_MODE"] = "required";
  env.erase("MYSQL_SSL_CA");
  r = rig::run({"--json", "test-connection"}, env);
  CHECK(r.code == 0);
  CHECK(r.json()["mysql"]["tls_cipher"].is_string());
}

TEST_CASE("MYSQL_SOCKET: connecting through the Unix socket", "[test-connection]") {
  const auto& s = rig::servers();
  if (s.mysql_socket.empty()) {
    WARN("the MySQL server under test has no local socket; skipping");
    return;
  }
  rig::Scratch db;
  auto env = db.env();
  env.erase("MYSQL_PORT");
  env["MYSQL_HOST"] = "localhost";
  env["MYSQL_SOCKET"] = s.mysql_socket;
  auto r = rig::run({"--json", "test-connection"}, env);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.json()["connected"] == true);
  env["MYSQL_SOCKET"] = "/nonexistent/mysql.sock";
  r = rig::run({"test-connection"}, env);
  CHECK(r.code == 69);
  CHECK(r.err.find("MySQL at /nonexistent/mysql.sock") != std::string::npos);
}
