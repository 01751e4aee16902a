// `sync` and `tables` inputs a user can get wrong (--wait, --tables, per-table settings, --batch-size), and
// SYNC_ENABLED.
#include "support/rig.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <unistd.h>

namespace {

using rig::contains;
using rig::starts_with;

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
  CHECK(r.err.empty());  // switched off on purpose: nothing for cron to mail on every run
  const auto v = rig::run({"-v", "sync", "--full"}, env);
  CHECK(v.code == 0);
  CHECK(v.err.find("mysql2mongo: info: sync is disabled (SYNC_ENABLED=false, from SYNC_ENABLED (environment)); "
                   "nothing done") != std::string::npos);
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
  db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
  for (const std::vector<std::string>& args : {std::vector<std::string>{"sync", "--wait=soon"},
                                              std::vector<std::string>{"verify", "--repair", "--wait=soon"}}) {
    const auto r = rig::run(args, db.env());
    INFO(args[0]);
    CHECK(r.code == 64);
    CHECK(r.err == "mysql2mongo: error: --wait soon: not a duration; use e.g. 30s, 10m or 1h\n");
  }
  CHECK(db.count("_sync_metadata") == 0);  // nothing written
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
  CHECK(r.out.rfind("MYSQL2MONGO UNKNOWN - no database configured; set MONGODB_DATABASE or MYSQL_DATABASE", 0) == 0);
}

TEST_CASE("status needs only MongoDB settings: no MySQL database, host or password", "[status][cli]") {
  rig::Scratch db;
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  REQUIRE(rig::run({"sync", "--full"}, db.env()).code == 0);
  const std::map<std::string, std::string> env{{"MONGODB_URL", rig::servers().mongodb_url},
                                               {"MONGODB_DATABASE", db.name()}};
  const auto r = rig::run({"--json", "status"}, env);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.json()["sync_data"]["total_tables"] == 1);
  CHECK(rig::run({"status", "--check"}, env).code == 0);
}

TEST_CASE("key_as_id: the MySQL key is _id, single or composite, through full, incremental and deletes",
          "[sync][key_as_id]") {
  rig::Scratch db;
  db.sql("CREATE TABLE one (id INT PRIMARY KEY, v INT NOT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT "
         "CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));"
         "CREATE TABLE two (a INT, b VARCHAR(8), v INT NOT NULL, PRIMARY KEY (a, b));"
         "INSERT INTO one (id, v) VALUES (1, 10), (2, 20), (3, 30);"
         "INSERT INTO two VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3)");
  const auto cfg = write_temp("[sync]\nkey_as_id = true\nmax_delete_fraction = 1.0\n");
  auto r = rig::run({"--config", cfg, "sync", "--full"}, db.env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto docs = db.find("one", "{}", R"({"_id": 1})");
  REQUIRE(docs.size() == 3);
  CHECK(docs[0]["_id"] == nlohmann::json{{"$numberInt", "1"}});
  CHECK(docs[0]["id"] == nlohmann::json{{"$numberInt", "1"}});
  const auto two = db.find("two", R"({"_id": {"a": 1, "b": "y"}})");
  REQUIRE(two.size() == 1);
  CHECK(two[0]["v"] == nlohmann::json{{"$numberInt", "2"}});
  // No separate unique index is needed: _id is unique already.
  const auto indexes = db.command(R"({"listIndexes": "one"})");
  CHECK(indexes.dump().find("m2m_key") == std::string::npos);

  db.sql("UPDATE one SET v = 21 WHERE id = 2; DELETE FROM one WHERE id = 3; DELETE FROM two WHERE a = 2");
  r = rig::run({"--json", "--config", cfg, "sync", "--reconcile"}, db.env());
  REQUIRE(r.code == 0);
  const auto j = r.json();
  CHECK(j["tables"]["one"]["sync_type"] == "incremental");
  CHECK(j["tables"]["one"]["deleted"] == 1);
  CHECK(j["tables"]["two"]["deleted"] == 1);
  CHECK(db.find("one", R"({"_id": 2})")[0]["v"] == nlohmann::json{{"$numberInt", "21"}});
  CHECK(db.count("one") == 2);
  CHECK(db.count("two") == 2);
  std::remove(cfg.c_str());
}

TEST_CASE("global flag --batch-size: before or after the subcommand, and out of range a usage error naming it",
          "[sync][cli]") {
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
