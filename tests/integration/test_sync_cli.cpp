// `sync` and `tables` inputs a user can get wrong, and SYNC_ENABLED.
#include "support/rig.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <unistd.h>

namespace {

std::string write_temp(const std::string& content) {
  char path[] = "/tmp/m2m-cli-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
  ::close(fd);
  return path;
}

}  // namespace

TEST_CASE("SYNC_ENABLED=false: sync says so, writes nothing, exits 0", "[sync][cli]") {
  rig::Scratch db;
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  auto env = db.env();
  env["SYNC_ENABLED"] = "false";
  const auto r = rig::run({"--json", "sync", "--full"}, env);
  CHECK(r.code == 0);
  CHECK(r.json()["status"] == "disabled");
  CHECK(r.err.find("sync is disabled") != std::string::npos);
  CHECK(db.collections().empty());
}

TEST_CASE("a per-table section for a table that does not exist is a config error", "[sync][cli]") {
  rig::Scratch db;
  db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
  const auto cfg = write_temp("[tables.ordrs]\ncollection = \"orders\"\n");
  const auto r = rig::run({"--config", cfg, "sync", "--full"}, db.env());
  CHECK(r.code == 78);
  CHECK(r.err == "mysql2mongo: error: [tables.ordrs]: no such table in MySQL database '" + db.name() +
                     "'; fix the section name\n");
  CHECK(db.collections().empty());
  std::remove(cfg.c_str());
}

TEST_CASE("unknown tables in SYNC_TABLES are config errors, in --tables usage errors", "[sync][cli]") {
  rig::Scratch db;
  db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
  auto env = db.env();
  env["SYNC_TABLES"] = "t,nope";
  auto r = rig::run({"sync"}, env);
  CHECK(r.code == 78);
  CHECK(r.err.find("SYNC_TABLES (environment): no table 'nope' in MySQL database") != std::string::npos);
  r = rig::run({"tables", "--tables", "nope*"}, db.env());
  CHECK(r.code == 64);
  CHECK(r.err.find("--tables: no table 'nope*'") != std::string::npos);
  CHECK(db.collections().empty());
}

TEST_CASE("a bad --wait duration is a usage error", "[sync][cli]") {
  rig::Scratch db;
  const auto r = rig::run({"sync", "--wait=soon"}, db.env());
  CHECK(r.code == 64);
  CHECK(r.err == "mysql2mongo: error: --wait soon: not a duration; use e.g. 30s, 10m or 1h\n");
}

TEST_CASE("a bad change_column or key_columns setting names the table and the column", "[sync][cli]") {
  rig::Scratch db;
  db.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT)");
  auto cfg = write_temp("[tables.t]\nchange_column = \"changed\"\n");
  auto r = rig::run({"--config", cfg, "tables"}, db.env());
  CHECK(r.code == 78);
  CHECK(r.err.find("[tables.t] change_column: no column 'changed' in table 't'") != std::string::npos);
  std::remove(cfg.c_str());
  cfg = write_temp("[tables.t]\nkey_columns = [\"idx\"]\n");
  r = rig::run({"--config", cfg, "tables"}, db.env());
  CHECK(r.code == 78);
  CHECK(r.err.find("[tables.t] key_columns: no column 'idx' in table 't'") != std::string::npos);
  std::remove(cfg.c_str());
}

TEST_CASE("status --check turns a configuration error into UNKNOWN, as monitoring expects", "[status][cli]") {
  auto env = std::map<std::string, std::string>{{"MONGODB_URL", rig::servers().mongodb_url}};
  const auto r = rig::run({"status", "--check"}, env);
  CHECK(r.code == 3);
  CHECK(r.out.rfind("MYSQL2MONGO UNKNOWN - no MySQL database configured", 0) == 0);
}
