// Change capture from the binlog (sync.changes = binlog), against the rig's MariaDB and its ROW binlog:
// tables with and without a change column, key updates, transactions, big deletes, DDL, rotation and
// purge, a run killed mid-apply, MINIMAL row images, partitions, other databases, every key type, grants
// and bounded runs. The oracle of every check is a full sync of the same tables into another MongoDB
// database: what the binlog runs built must be exactly what a fresh copy builds.
#include "support/child.hpp"
#include "support/extra_server.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <iterator>
#include <string>

namespace {

using rig::json;
using rig::TempFile;
using rig::with_env;

std::map<std::string, std::string> binlog_env(const std::map<std::string, std::string>& base,
                                              const std::map<std::string, std::string>& extra = {}) {
  auto env = with_env(base, {{"SYNC_CHANGES", "binlog"}});
  return with_env(env, extra);
}

// `sync` with --json and the binlog; requires exit 0 and success; returns the report.
json binlog_sync(rig::Scratch& db, const std::map<std::string, std::string>& extra = {},
                 const std::vector<std::string>& args = {}) {
  std::vector<std::string> argv{"--json", "sync"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = rig::run(argv, binlog_env(db.env(), extra));
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.code == 0);
  auto j = r.json();
  REQUIRE(j["status"] == "success");
  return j;
}

// A collection's documents without their _id, each dumped, sorted: comparable across databases.
std::vector<std::string> comparable(std::vector<json> docs) {
  std::vector<std::string> out;
  for (auto& d : docs) {
    d.erase("_id");
    out.push_back(d.dump());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out;
}

// The oracle: a fresh full sync of `tables` from the same MySQL database into another MongoDB database;
// every collection the binlog runs built must hold exactly the same documents.
void check_like_full_copy(const std::map<std::string, std::string>& env, const std::string& mongo_db,
                          const std::vector<std::string>& tables,
                          const std::function<std::vector<json>(const std::string&)>& find,
                          const std::string& config = {}) {
  const std::string ref = mongo_db + "_ref";
  rig::drop_mongo_database(ref);
  std::vector<std::string> argv{"--json", "sync", "--full"};
  if (!config.empty()) argv.insert(argv.begin(), {"--config", config});
  const auto r = rig::run(argv,
                          with_env(env, {{"MONGODB_DATABASE", ref}, {"SYNC_TABLES", joined(tables)},
                                         {"SYNC_CHANGES", "timestamp"}}));
  INFO("reference run: " << r.err);
  REQUIRE(r.code == 0);
  for (const auto& t : tables) {
    INFO("table " << t);
    const auto got = comparable(find(t));
    const auto want = comparable(rig::mongo_find(ref, t));
    CHECK(got.size() == want.size());
    CHECK(got == want);
  }
  rig::drop_mongo_database(ref);
}

void check_like_full_copy(rig::Scratch& db, const std::vector<std::string>& tables, const std::string& config = {}) {
  check_like_full_copy(db.env(), db.name(), tables, [&](const std::string& t) { return db.find(t); }, config);
}

const json& table_of(const json& report, const std::string& table) {
  INFO("report: " << report.dump());
  REQUIRE(report["tables"].contains(table));
  return report["tables"][table];
}

long long as_int(const json& v) { return v.get<long long>(); }

}  // namespace

TEST_CASE("binlog: a table without a change column gets its inserts, updates and deletes from plain runs, "
          "reading only the changed rows",
          "[sync][binlog]") {
  rig::Scratch db("blplain");
  db.sql("CREATE TABLE plain (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL, n INT);"
         "CREATE TABLE stamped (id INT PRIMARY KEY, v INT NOT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT "
         "CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));"
         "CREATE TABLE keyless (a INT, b VARCHAR(10))");
  rig::insert_rows(db, "plain", 1, 2000, [](long long i) { return fmt::format("({}, 'v{}', {})", i, i, i % 7); });
  rig::insert_rows(db, "stamped", 1, 500, [](long long i) { return fmt::format("({}, {}, DEFAULT)", i, i); });
  db.sql("INSERT INTO keyless VALUES (1, 'a'), (2, 'b')");

  // The first binlog run: a full copy, and the position read before it.
  auto first = binlog_sync(db);
  CHECK(first["binlog"]["fallback"].get<std::string>().find("first binlog run") != std::string::npos);
  CHECK(table_of(first, "plain")["sync_type"] == "full");
  CHECK(table_of(first, "plain")["change_source"] == "binlog");
  CHECK(table_of(first, "stamped")["change_source"] == "binlog");
  // No key: the staging copy, every run.
  CHECK(table_of(first, "keyless")["change_source"] == "full");

  // Nothing changed: nothing read.
  auto quiet = binlog_sync(db);
  CHECK(table_of(quiet, "plain")["sync_type"] == "incremental");
  CHECK(table_of(quiet, "plain")["records_synced"] == 0);
  CHECK(table_of(quiet, "stamped")["records_synced"] == 0);
  CHECK(quiet["binlog"]["changed_keys"] == 0);
  CHECK(quiet["binlog"]["fallback"].is_null());
  // A second quiet run writes no record for the tables (the first wrote "0 rows"); the position's as_of
  // time tells status that they were synced.
  const auto record_before = rig::metadata_for(db, "plain");
  auto quiet_again = binlog_sync(db);
  CHECK(table_of(quiet_again, "plain")["status"] == "success");
  const auto record_after = rig::metadata_for(db, "plain");
  CHECK(record_after["timestamp"] == record_before["timestamp"]);
  const auto quiet_status = rig::run({"--json", "status"}, binlog_env(db.env())).json();
  CHECK(quiet_status["sync_data"]["tables"]["plain"]["last_sync_time"].get<std::string>() >
        record_before["last_sync_time"].get<std::string>());
  CHECK(quiet_status["sync_data"]["tables"]["plain"]["records_synced"] == 0);

  // Three updated, two deleted, four inserted; in `stamped` an UPDATE that keeps updated_at and a row
  // written with an old timestamp, both invisible to a change column.
  db.sql("UPDATE plain SET v = 'changed', n = NULL WHERE id IN (5, 500, 1999);"
         "DELETE FROM plain WHERE id IN (7, 1000);"
         "INSERT INTO plain VALUES (3001, 'new', 1), (3002, 'new', 2), (3003, 'new', 3), (3004, 'new', 4);"
         "UPDATE stamped SET v = -v, updated_at = updated_at WHERE id <= 3;"
         "INSERT INTO stamped VALUES (9000, 9, '2001-01-01 00:00:00')");
  auto changed = binlog_sync(db);
  const auto& plain = table_of(changed, "plain");
  CHECK(plain["sync_type"] == "incremental");
  CHECK(plain["change_source"] == "binlog");
  CHECK(plain["records_synced"] == 7);  // the changed rows, read by key: not the 2,000
  CHECK(plain["deleted"] == 2);
  CHECK(table_of(changed, "stamped")["records_synced"] == 4);
  CHECK(changed["binlog"]["changed_keys"] == 13);
  CHECK(db.count("stamped", R"({"v": {"$numberInt": "-2"}})") == 1);
  CHECK(db.count("stamped", R"({"id": {"$numberInt": "9000"}})") == 1);
  check_like_full_copy(db, {"plain", "stamped", "keyless"});

  // status: the change source per table and the position with its lag; the metrics file too.
  const auto st = rig::run({"--json", "status"}, binlog_env(db.env()));
  REQUIRE(st.code == 0);
  const auto sj = st.json();
  CHECK(sj["sync_data"]["tables"]["plain"]["change_source"] == "binlog");
  CHECK(sj["sync_data"]["tables"]["keyless"]["change_source"] == "full");
  CHECK(changed["binlog"]["to"] ==
        sj["binlog"]["file"].get<std::string>() + ":" + std::to_string(as_int(sj["binlog"]["position"])));
  CHECK(sj["binlog"]["lag_bytes"].is_number());
  CHECK(sj["binlog"]["server"]["file_present"] == true);
  const auto text = rig::run({"status"}, binlog_env(db.env()));
  CHECK(text.out.find("binlog position " + sj["binlog"]["file"].get<std::string>()) != std::string::npos);
  const auto check = rig::run({"status", "--check"}, binlog_env(db.env()));
  INFO(check.out);
  CHECK(check.out.find("binlog_lag=") != std::string::npos);

  TempFile metrics("blplain.prom", "");
  const auto m = rig::run({"sync", "--metrics-file", metrics.path}, binlog_env(db.env()));
  REQUIRE(m.code == 0);
  std::ifstream in(metrics.path);
  const std::string prom{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  CHECK(prom.find("\nmysql2mongo_binlog_lag_bytes ") != std::string::npos);
  CHECK(prom.find("\nmysql2mongo_binlog_lag_seconds 0\n") != std::string::npos);
}

TEST_CASE("binlog: key updates, a multi-statement transaction, a rolled-back one and a 10,000-row delete applied as it comes",
          "[sync][binlog]") {
  rig::Scratch db("blkeys");
  db.sql("CREATE TABLE k (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(30))");
  rig::insert_rows(db, "k", 1, 12000, [](long long i) { return fmt::format("({}, {}, 's{}')", i, i % 13, i); });
  binlog_sync(db);

  // Every row's key moves: old documents go, new ones come.
  db.sql("UPDATE k SET id = id + 100000 WHERE id <= 300");
  auto moved = binlog_sync(db);
  CHECK(table_of(moved, "k")["records_synced"] == 300);
  CHECK(table_of(moved, "k")["deleted"] == 300);
  CHECK(db.count("k", R"({"id": {"$numberInt": "1"}})") == 0);
  CHECK(db.count("k", R"({"id": {"$numberInt": "100001"}})") == 1);

  {
    rig::Session s(db.name());
    s.exec("BEGIN");
    s.exec("INSERT INTO k VALUES (200001, 1, 'in trx')");
    s.exec("UPDATE k SET s = 'trx' WHERE id BETWEEN 301 AND 310");
    s.exec("DELETE FROM k WHERE id = 311");
    s.exec("UPDATE k SET id = 200002 WHERE id = 200001");
    s.exec("COMMIT");
    s.exec("BEGIN");
    s.exec("INSERT INTO k VALUES (300001, 1, 'rolled back')");
    s.exec("DELETE FROM k WHERE id = 312");
    s.exec("ROLLBACK");
  }
  auto trx = binlog_sync(db);
  CHECK(table_of(trx, "k")["records_synced"] == 11);  // 301..310 and 200002
  CHECK(table_of(trx, "k")["deleted"] == 1);          // 311 (200001 never reached MongoDB)
  CHECK(db.count("k", R"({"id": {"$numberInt": "300001"}})") == 0);
  CHECK(db.count("k", R"({"id": {"$numberInt": "312"}})") == 1);

  // One statement, one transaction, 10,000 keys: applied every 4 batches as they come, not held to its end.
  db.sql("DELETE FROM k WHERE id BETWEEN 1001 AND 11000");
  auto deleted = binlog_sync(db, {{"SYNC_BATCH_SIZE", "500"}});
  CHECK(table_of(deleted, "k")["deleted"] == 10000);
  CHECK(table_of(deleted, "k")["records_synced"] == 0);
  CHECK(db.count("k") == 12000 - 300 + 300 + 1 - 1 - 10000);
  check_like_full_copy(db, {"k"});
}

TEST_CASE("binlog: TRUNCATE, ALTER TABLE between runs and between a run's events, and statement-based "
          "changes resync the table in full, saying why",
          "[sync][binlog]") {
  rig::Scratch db("blddl");
  db.sql("CREATE TABLE d (id INT PRIMARY KEY, v INT NOT NULL);"
         "CREATE TABLE other (id INT PRIMARY KEY, v INT NOT NULL)");
  rig::insert_rows(db, "d", 1, 300, [](long long i) { return fmt::format("({}, {})", i, i); });
  rig::insert_rows(db, "other", 1, 300, [](long long i) { return fmt::format("({}, {})", i, i); });
  binlog_sync(db);

  // Events before and after an ALTER in the span one run reads.
  db.sql("UPDATE d SET v = -v WHERE id <= 10;"
         "ALTER TABLE d ADD COLUMN note VARCHAR(20) NOT NULL DEFAULT 'x';"
         "UPDATE d SET note = 'after' WHERE id BETWEEN 5 AND 15;"
         "INSERT INTO d VALUES (1001, 1, 'new');"
         "UPDATE other SET v = 0 WHERE id = 1");
  auto added = binlog_sync(db);
  CHECK(table_of(added, "d")["sync_type"] == "full");
  CHECK(table_of(added, "d")["reason"].get<std::string>().find("schema changed") != std::string::npos);
  // The other table keeps following the log.
  CHECK(table_of(added, "other")["sync_type"] == "incremental");
  CHECK(table_of(added, "other")["records_synced"] == 1);
  check_like_full_copy(db, {"d", "other"});

  // DDL that leaves the columns as they were: the log says so, and the table is copied again all the same
  // (conservative: DDL can change rows without row events).
  db.sql("ALTER TABLE other ADD INDEX by_v (v)");
  auto indexed = binlog_sync(db);
  CHECK(table_of(indexed, "other")["sync_type"] == "full");
  CHECK(table_of(indexed, "other")["reason"].get<std::string>().find("DDL") != std::string::npos);

  // A column dropped between runs.
  db.sql("ALTER TABLE d DROP COLUMN v");
  auto dropped = binlog_sync(db);
  CHECK(table_of(dropped, "d")["sync_type"] == "full");
  CHECK(db.count("d", R"({"v": {"$exists": true}})") == 0);
  // Back to the log afterwards.
  db.sql("UPDATE d SET note = 'again' WHERE id = 1");
  auto again = binlog_sync(db);
  CHECK(table_of(again, "d")["sync_type"] == "incremental");
  CHECK(table_of(again, "d")["records_synced"] == 1);

  // TRUNCATE, then rows again: all of the table's documents go, whatever the delete guard says.
  db.sql("TRUNCATE TABLE d; INSERT INTO d VALUES (7, 'seven')");
  auto truncated = binlog_sync(db);
  CHECK(table_of(truncated, "d")["sync_type"] == "full");
  CHECK(db.count("d") == 1);

  // A change logged as a statement (a session with binlog_format = STATEMENT) names no rows.
  {
    rig::Session s(db.name());
    s.exec("SET SESSION binlog_format = 'STATEMENT'");
    s.exec("UPDATE other SET v = 42 WHERE id <= 5");
  }
  auto statement = binlog_sync(db);
  CHECK(table_of(statement, "other")["sync_type"] == "full");
  CHECK(table_of(statement, "other")["reason"].get<std::string>().find("statement") != std::string::npos);
  check_like_full_copy(db, {"d", "other"});
}

TEST_CASE("binlog: changes across rotated binlog files (FLUSH BINARY LOGS between and within runs)",
          "[sync][binlog]") {
  rig::Scratch db("blrot");
  db.sql("CREATE TABLE r (id INT PRIMARY KEY, v INT NOT NULL)");
  rig::insert_rows(db, "r", 1, 100, [](long long i) { return fmt::format("({}, {})", i, i); });
  binlog_sync(db);
  db.sql("FLUSH BINARY LOGS");
  db.sql("UPDATE r SET v = 0 WHERE id <= 10");
  db.sql("FLUSH BINARY LOGS");
  db.sql("DELETE FROM r WHERE id > 90");
  db.sql("FLUSH BINARY LOGS");
  db.sql("INSERT INTO r VALUES (500, 5)");
  auto j = binlog_sync(db);
  const auto from = j["binlog"]["from"].get<std::string>(), to = j["binlog"]["to"].get<std::string>();
  CHECK(from.substr(0, from.find(':')) != to.substr(0, to.find(':')));
  CHECK(table_of(j, "r")["records_synced"] == 11);
  CHECK(table_of(j, "r")["deleted"] == 10);
  check_like_full_copy(db, {"r"});
}

TEST_CASE("binlog: a position purged from the server: status warns, then goes critical, and the next run "
          "copies in full and says why",
          "[sync][binlog]") {
  if (rig::external_mysql()) {
    WARN("skipped: PURGE BINARY LOGS on a server of the test's own only (MYSQL2MONGO_TEST_MYSQL_HOST is set)");
    return;
  }
  rig::ExtraServer server({});
  rig::ExtraServer::Database db(server, "blpurge");
  db.sql("CREATE TABLE p (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO p VALUES (1, 1), (2, 2)");
  const auto env = binlog_env(db.env());
  REQUIRE(rig::run({"sync"}, env).code == 0);
  auto find = [&](const std::string& t) { return rig::mongo_find(db.name(), t); };

  // The stored position's file is the oldest left, and no longer the one being written.
  db.sql("FLUSH BINARY LOGS");
  db.sql("UPDATE p SET v = 10 WHERE id = 1");
  auto warn = rig::run({"status", "--check"}, env);
  INFO(warn.out);
  CHECK(warn.code == 1);
  CHECK(warn.out.find("oldest binlog left") != std::string::npos);

  // Purged: events are lost.
  // MariaDB purges a file only once InnoDB has checkpointed its transactions: try until it is gone.
  const auto newest = db.query("SHOW MASTER STATUS")[0][0];
  REQUIRE(rig::eventually(
      [&] {
        db.sql("PURGE BINARY LOGS TO '" + newest + "'");
        return db.query("SHOW BINARY LOGS")[0][0] == newest;
      },
      std::chrono::seconds(30)));
  auto crit = rig::run({"status", "--check"}, env);
  INFO(crit.out);
  CHECK(crit.code == 2);
  CHECK(crit.out.find("no longer on the server") != std::string::npos);

  const auto r = rig::run({"--json", "sync"}, env);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto j = r.json();
  CHECK(table_of(j, "p")["sync_type"] == "full");
  CHECK(table_of(j, "p")["reason"].get<std::string>().find("purged") != std::string::npos);
  CHECK(r.err.find("purged") != std::string::npos);  // the reason in the log (a warning)
  check_like_full_copy(env, db.name(), {"p"}, find);
  auto ok = rig::run({"status", "--check"}, env);
  INFO(ok.out);
  CHECK(ok.code == 0);
}

TEST_CASE("binlog: a run killed (SIGKILL) while applying changes, and the next run converges exactly",
          "[sync][binlog]") {
  rig::Scratch db("blkill");
  db.sql("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) NOT NULL)");
  rig::insert_rows(db, "big", 1, 40000, [](long long i) { return fmt::format("({}, 0, 'row{}')", i, i); });
  binlog_sync(db);
  db.sql("UPDATE big SET v = 1");
  db.sql("DELETE FROM big WHERE id % 10 = 0");
  // Small batches make the apply long enough to be killed in the middle of it.
  rig::Child child({"sync"}, binlog_env(db.env(), {{"SYNC_BATCH_SIZE", "50"}}));
  REQUIRE(rig::eventually([&] { return db.count("big", R"({"v": {"$numberInt": "1"}})") > 0 || !child.running(); },
                          std::chrono::seconds(120)));
  REQUIRE(child.running());  // killed mid-apply, not after
  child.kill_group(SIGKILL);
  REQUIRE(child.wait(std::chrono::seconds(10)));
  const auto partial = db.count("big", R"({"v": {"$numberInt": "1"}})");
  CHECK(partial < 36000);

  // More changes while it was down; the next run must end with every one of them.
  db.sql("UPDATE big SET v = 2 WHERE id % 7 = 0; INSERT INTO big VALUES (50001, 3, 'late')");
  auto j = binlog_sync(db);
  CHECK(table_of(j, "big")["sync_type"] == "incremental");
  CHECK(db.count("big") == 36001);
  check_like_full_copy(db, {"big"});
}

TEST_CASE("binlog: binlog_row_image = MINIMAL, composite keys changed in part, and a partitioned table",
          "[sync][binlog]") {
  rig::Scratch db("blmin");
  db.sql("CREATE TABLE m (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, w VARCHAR(10), PRIMARY KEY (a, b));"
         "CREATE TABLE part (id INT NOT NULL, region INT NOT NULL, v INT, PRIMARY KEY (id, region)) "
         "PARTITION BY HASH(region) PARTITIONS 4;"
         // The key used is a unique key, not the primary key: MINIMAL images cannot name its rows.
         "CREATE TABLE uk (id INT PRIMARY KEY, code VARCHAR(10) NOT NULL, v INT, UNIQUE KEY (code))");
  rig::insert_rows(db, "m", 1, 50, [](long long i) { return fmt::format("({}, 'b{}', {}, 'w')", i, i, i); });
  rig::insert_rows(db, "part", 1, 200, [](long long i) { return fmt::format("({}, {}, {})", i, i % 9, i); });
  rig::insert_rows(db, "uk", 1, 20, [](long long i) { return fmt::format("({}, 'c{}', {})", i, i, i); });
  TempFile config("blmin.toml", "[tables.uk]\nkey_columns = [\"code\"]\n");
  binlog_sync(db, {}, {});
  {
    rig::Session s(db.name());
    s.exec("SET SESSION binlog_row_image = 'MINIMAL'");
    s.exec("UPDATE m SET v = -v WHERE a <= 5");            // no key column in the after image
    s.exec("UPDATE m SET b = CONCAT(b, 'x') WHERE a = 6");  // half the key in the after image
    s.exec("UPDATE m SET a = a + 1000 WHERE a = 7");
    s.exec("DELETE FROM m WHERE a = 8");
    s.exec("INSERT INTO m (a, b) VALUES (9999, 'z')");
    s.exec("UPDATE part SET v = 0 WHERE id <= 20");
    s.exec("UPDATE part SET region = region + 100 WHERE id BETWEEN 21 AND 25");  // moves between partitions
    s.exec("DELETE FROM part WHERE id > 190");
  }
  auto j = binlog_sync(db);
  CHECK(table_of(j, "m")["sync_type"] == "incremental");
  CHECK(table_of(j, "m")["records_synced"] == 5 + 1 + 1 + 1);
  CHECK(table_of(j, "m")["deleted"] == 3);  // 6 'b6', 7 and 8
  CHECK(table_of(j, "part")["records_synced"] == 25);
  CHECK(table_of(j, "part")["deleted"] == 15);
  check_like_full_copy(db, {"m", "part"});

  // uk keyed by `code` (config): MINIMAL before images hold `id` only, so the table resyncs in full.
  auto keyed = rig::run({"--json", "--config", config.path, "sync"}, binlog_env(db.env()));
  REQUIRE(keyed.code == 0);
  {
    rig::Session s(db.name());
    s.exec("SET SESSION binlog_row_image = 'MINIMAL'");
    s.exec("DELETE FROM uk WHERE id = 3");
  }
  auto resynced = rig::run({"--json", "--config", config.path, "sync"}, binlog_env(db.env()));
  INFO(resynced.err);
  REQUIRE(resynced.code == 0);
  const auto rj = resynced.json();
  CHECK(table_of(rj, "uk")["sync_type"] == "full");
  CHECK(table_of(rj, "uk")["reason"].get<std::string>().find("lack key columns") != std::string::npos);
  CHECK(db.count("uk") == 19);
}

TEST_CASE("binlog: events of other databases and of tables not selected are skipped", "[sync][binlog]") {
  rig::Scratch db("blsel");
  rig::Scratch other("blother");
  for (auto* s : {&db, &other})
    s->sql("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO t VALUES (1, 1), (2, 2);"
           "CREATE TABLE skipped (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO skipped VALUES (1, 1)");
  const std::map<std::string, std::string> exclude{{"SYNC_EXCLUDE", "skipped"}};
  binlog_sync(db, exclude);
  other.sql("UPDATE t SET v = 100; INSERT INTO t VALUES (3, 3); DELETE FROM t WHERE id = 1");
  db.sql("UPDATE skipped SET v = 5; INSERT INTO skipped VALUES (2, 2)");
  db.sql("UPDATE t SET v = 7 WHERE id = 2");
  auto j = binlog_sync(db, exclude);
  CHECK(j["binlog"]["changed_keys"] == 1);
  CHECK(table_of(j, "t")["records_synced"] == 1);
  CHECK_FALSE(j["tables"].contains("skipped"));
  const auto cols = db.collections();
  CHECK(std::find(cols.begin(), cols.end(), "skipped") == cols.end());
  CHECK(db.count("t") == 2);
  check_like_full_copy(db, {"t"});
}

TEST_CASE("binlog: every key type follows inserts, updates, key changes and deletes", "[sync][binlog]") {
  rig::Scratch db("bltypes");
  db.sql(
      "CREATE TABLE k_int (k INT PRIMARY KEY, v INT);"
      "CREATE TABLE k_ubig (k BIGINT UNSIGNED PRIMARY KEY, v INT);"
      "CREATE TABLE k_ci (k VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PRIMARY KEY, v INT);"
      "CREATE TABLE k_pair (a INT NOT NULL, b VARCHAR(20) CHARACTER SET utf8mb4 NOT NULL, v INT, PRIMARY KEY (a, b));"
      "CREATE TABLE k_dt (k DATETIME(6) PRIMARY KEY, v INT);"
      "CREATE TABLE k_dtms (k DATETIME(6) PRIMARY KEY, v INT);"
      "CREATE TABLE k_dec (k DECIMAL(20,6) PRIMARY KEY, v INT);"
      "CREATE TABLE k_bin (k BINARY(16) PRIMARY KEY, v INT);"
      "CREATE TABLE k_enum (k ENUM('small','medium','large','x-large') PRIMARY KEY, v INT);"
      "CREATE TABLE k_latin1 (k VARCHAR(20) CHARACTER SET latin1 COLLATE latin1_swedish_ci PRIMARY KEY, v INT);"
      "INSERT INTO k_int VALUES (-2147483648, 1), (0, 2), (2147483647, 3), (42, 4);"
      "INSERT INTO k_ubig VALUES (0, 1), (9223372036854775807, 2), (9223372036854775808, 3), "
      "  (18446744073709551615, 4), (12345678901234567890, 5);"
      "INSERT INTO k_ci VALUES ('abc', 1), ('Straße', 2), ('😀 emoji', 3), ('trail', 4), ('ÉCOLE', 5);"
      "INSERT INTO k_pair VALUES (1, 'a', 1), (1, 'B', 2), (2, 'a', 3), (3, 'ü', 4);"
      "INSERT INTO k_dt VALUES ('2020-01-01 00:00:00.000001', 1), ('1999-12-31 23:59:59.999999', 2), "
      "  ('2038-01-19 03:14:08.5', 3), ('1000-01-01 00:00:00', 4);"
      "INSERT INTO k_dtms VALUES ('2020-01-01 00:00:00.001', 1), ('1999-12-31 23:59:59.999', 2), ('2038-01-19 03:14:08', 3);"
      "INSERT INTO k_dec VALUES (0, 1), (-99999999999999.999999, 2), (99999999999999.999999, 3), (1.5, 4), (-0.000001, 5);"
      "INSERT INTO k_bin VALUES (UNHEX('00000000000000000000000000000000'), 1), "
      "  (UNHEX('FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF'), 2), (UNHEX('0102'), 3), (UNHEX('80000000000000000000000000000001'), 4);"
      "INSERT INTO k_enum VALUES ('small', 1), ('large', 2), ('x-large', 3);"
      "INSERT INTO k_latin1 VALUES ('café', 1), ('naïve', 2), ('plain', 3)");
  const std::vector<std::string> tables{"k_int", "k_ubig", "k_ci",   "k_pair", "k_dt",
                                        "k_dtms", "k_dec", "k_bin", "k_enum", "k_latin1"};
  // Microseconds do not fit a BSON date, and a key must be exact: k_dt's key is stored as text.
  TempFile config("bltypes.toml", "[tables.k_dt]\ntypes = { k = \"string\" }\n");
  const auto run = [&] {
    const auto r = rig::run({"--json", "--config", config.path, "sync"}, binlog_env(db.env()));
    INFO(r.err);
    REQUIRE(r.code == 0);
    return r.json();
  };
  run();
  db.sql(
      // Non-key updates, key updates, deletes and inserts in each.
      "UPDATE k_int SET v = 0 WHERE k = 0; UPDATE k_int SET k = 43 WHERE k = 42; DELETE FROM k_int WHERE k = -2147483648;"
      "INSERT INTO k_int VALUES (7, 7);"
      "UPDATE k_ubig SET v = 0 WHERE k = 9223372036854775808; UPDATE k_ubig SET k = 18446744073709551614 "
      "  WHERE k = 18446744073709551615; DELETE FROM k_ubig WHERE k = 12345678901234567890;"
      "INSERT INTO k_ubig VALUES (9223372036854775809, 9);"
      // A key changing only in case is a new key for MongoDB (its comparisons are binary).
      "UPDATE k_ci SET k = 'ABC' WHERE k = 'abc'; UPDATE k_ci SET v = 0 WHERE k = 'STRASSE';"
      "UPDATE k_ci SET v = 0 WHERE k = 'straße'; DELETE FROM k_ci WHERE k = '😀 EMOJI';"
      "UPDATE k_ci SET k = 'trail  ' WHERE k = 'trail'; INSERT INTO k_ci VALUES ('école2', 6);"
      "UPDATE k_pair SET b = 'b' WHERE a = 1 AND b = 'B'; UPDATE k_pair SET a = 20 WHERE a = 2;"
      "DELETE FROM k_pair WHERE a = 3; INSERT INTO k_pair VALUES (1, 'c', 5);"
      "UPDATE k_dt SET v = 0 WHERE k = '2020-01-01 00:00:00.000001';"
      "UPDATE k_dt SET k = '2020-01-01 00:00:00.000002' WHERE k = '1999-12-31 23:59:59.999999';"
      "DELETE FROM k_dt WHERE k = '2038-01-19 03:14:08.5'; INSERT INTO k_dt VALUES ('9999-12-31 23:59:59.999999', 9);"
      "UPDATE k_dtms SET v = 0 WHERE k = '2038-01-19 03:14:08'; UPDATE k_dtms SET k = '2000-01-01 00:00:00.5' "
      "  WHERE v = 2; DELETE FROM k_dtms WHERE v = 1; INSERT INTO k_dtms VALUES ('2001-02-03 04:05:06.007', 9);"
      "UPDATE k_dec SET v = 0 WHERE k = 1.5; UPDATE k_dec SET k = 2.25 WHERE k = 0;"
      "DELETE FROM k_dec WHERE k = -0.000001; INSERT INTO k_dec VALUES (0.000001, 9);"
      "UPDATE k_bin SET v = 0 WHERE k = UNHEX('0102'); UPDATE k_bin SET k = UNHEX('7F') WHERE v = 1;"
      "DELETE FROM k_bin WHERE v = 2; INSERT INTO k_bin VALUES (UNHEX('00'), 9);"
      "UPDATE k_enum SET v = 0 WHERE k = 'small'; UPDATE k_enum SET k = 'medium' WHERE k = 'large';"
      "DELETE FROM k_enum WHERE k = 'x-large'; INSERT INTO k_enum VALUES ('x-large', 9);"
      // Text in another character set than the connection's: its bytes differ from what a SELECT sends.
      "UPDATE k_latin1 SET v = 0 WHERE k = 'plain'; UPDATE k_latin1 SET k = 'CAFÉ!' WHERE k = 'café';"
      "DELETE FROM k_latin1 WHERE k = 'naïve'; INSERT INTO k_latin1 VALUES ('über', 9)");
  auto j = run();
  for (const auto& t : tables) {
    INFO("table " << t);
    CHECK(table_of(j, t)["sync_type"] == "incremental");
    CHECK(table_of(j, t)["change_source"] == "binlog");
    CHECK(as_int(table_of(j, t)["deleted"]) >= 1);
  }
  CHECK(db.count("k_ci", R"({"k": "abc"})") == 0);
  CHECK(db.count("k_ci", R"({"k": "ABC"})") == 1);
  check_like_full_copy(db, tables, config.path);
}

TEST_CASE("binlog: changes = binlog without the grants or the settings exits 78 naming them and writes nothing, "
          "auto falls back to the change column",
          "[sync][binlog]") {
  rig::Scratch db("blgrant");
  db.sql("CREATE TABLE g (id INT PRIMARY KEY, v INT, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP "
         "ON UPDATE CURRENT_TIMESTAMP); INSERT INTO g (id, v) VALUES (1, 1)");
  const std::string user = db.name().substr(0, 32);
  db.sql(fmt::format("CREATE USER '{}'@'%' IDENTIFIED BY 'pw-Select-only-1'; GRANT SELECT ON `{}`.* TO '{}'@'%'",
                     user, db.name(), user));
  struct DropUser {
    rig::Scratch& db;
    std::string user;
    ~DropUser() {
      try {
        db.sql("DROP USER IF EXISTS '" + user + "'@'%'");
      } catch (...) {
      }
    }
  } drop{db, user};
  const auto env = with_env(db.env(), {{"MYSQL_USER", user}, {"MYSQL_PASSWORD", "pw-Select-only-1"}});

  const auto r = rig::run({"sync"}, with_env(env, {{"SYNC_CHANGES", "binlog"}}));
  INFO(r.err);
  CHECK(r.code == 78);
  CHECK(r.err.find("REPLICATION") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(db.collections().empty());

  // The same through the table's own setting.
  TempFile config("blgrant.toml", "[tables.g]\nchanges = \"binlog\"\n");
  const auto t = rig::run({"--config", config.path, "sync"}, with_env(env, {{"SYNC_CHANGES", "auto"}}));
  CHECK(t.code == 78);
  CHECK(t.err.find("table g") != std::string::npos);
  CHECK(db.collections().empty());

  // auto: the change column.
  const auto a = rig::run({"--json", "sync"}, with_env(env, {{"SYNC_CHANGES", "auto"}}));
  INFO(a.err);
  REQUIRE(a.code == 0);
  CHECK(a.json()["tables"]["g"]["change_source"] == "timestamp");
  CHECK_FALSE(a.json().contains("binlog"));

  // `tables` shows the choice.
  const auto listed = rig::run({"tables"}, with_env(env, {{"SYNC_CHANGES", "auto"}}));
  CHECK(listed.out.find("CHANGES") != std::string::npos);
  const auto admin = rig::run({"tables"}, binlog_env(db.env()));
  CHECK(admin.out.find("binlog") != std::string::npos);
}

TEST_CASE("binlog: binlog.max_events bounds a run: exit 0 with the lag reported, the next runs go on",
          "[sync][binlog]") {
  rig::Scratch db("bllimit");
  db.sql("CREATE TABLE q (id INT PRIMARY KEY, v INT NOT NULL)");
  TempFile config("bllimit.toml", "[binlog]\nmax_events = 60\n");
  const auto run_once = [&] {
    const auto r = rig::run({"--json", "--config", config.path, "sync"}, binlog_env(db.env()));
    INFO(r.err);
    REQUIRE(r.code == 0);
    return r.json();
  };
  run_once();
  // 150 transactions of one row each: several runs' worth.
  for (int i = 1; i <= 150; ++i) db.sql(fmt::format("INSERT INTO q VALUES ({}, {})", i, i));
  auto first = run_once();
  CHECK(first["binlog"]["limited"] == true);
  CHECK(as_int(first["binlog"]["lag_bytes"]) > 0);
  CHECK(as_int(first["binlog"]["events"]) >= 60);  // then stops at the next transaction boundary
  const auto st = rig::run({"--json", "status"}, binlog_env(db.env()));
  CHECK(as_int(st.json()["binlog"]["lag_bytes"]) > 0);
  CHECK(db.count("q") < 150);
  int runs = 1;
  json last = first;
  // Other tests write to the same server's binlog meanwhile: more runs than ours alone would need.
  while (last["binlog"]["limited"] == true && runs < 300) {
    last = run_once();
    ++runs;
  }
  CHECK(runs > 2);
  CHECK(last["binlog"]["limited"] == false);
  CHECK(db.count("q") == 150);
  check_like_full_copy(db, {"q"});
}

TEST_CASE("binlog: each table has its own position: a run over some tables (--tables) leaves the others' "
          "changes to the next run",
          "[sync][binlog]") {
  rig::Scratch db("blsubset");
  db.sql("CREATE TABLE a (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO a VALUES (1, 1), (2, 2);"
         "CREATE TABLE b (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO b VALUES (1, 1), (2, 2)");
  binlog_sync(db);
  db.sql("UPDATE a SET v = 10; UPDATE b SET v = 20; DELETE FROM b WHERE id = 2");
  // Only a: b's changes stay in the log for b.
  auto only_a = binlog_sync(db, {}, {"--tables", "a"});
  CHECK(table_of(only_a, "a")["records_synced"] == 2);
  CHECK_FALSE(only_a["tables"].contains("b"));
  CHECK(db.count("b", R"({"v": {"$numberInt": "20"}})") == 0);
  db.sql("INSERT INTO a VALUES (3, 3)");
  auto all = binlog_sync(db);
  CHECK(table_of(all, "b")["sync_type"] == "incremental");
  CHECK(table_of(all, "b")["records_synced"] == 1);
  CHECK(table_of(all, "b")["deleted"] == 1);
  CHECK(table_of(all, "a")["records_synced"] == 1);  // a's events before its own position are not re-applied
  // status lists every table's position.
  const auto st = rig::run({"--json", "status"}, binlog_env(db.env())).json();
  CHECK(st["sync_data"]["tables"]["a"]["binlog_position"].is_string());
  CHECK(st["sync_data"]["tables"]["b"]["binlog_position"] == st["sync_data"]["tables"]["a"]["binlog_position"]);
  check_like_full_copy(db, {"a", "b"});
}

TEST_CASE("binlog: a first copy killed half-way resumes from its checkpoint and catches up, from where it "
          "started, the rows changed behind it",
          "[sync][binlog]") {
  rig::Scratch db("blresume");
  db.sql("CREATE TABLE big (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) NOT NULL)");
  rig::insert_rows(db, "big", 1, 40000, [](long long i) { return fmt::format("({}, 0, 'row{}')", i, i); });
  rig::Child child({"sync"}, binlog_env(db.env(), {{"SYNC_BATCH_SIZE", "100"}}));
  // Killed once the copy wrote a checkpoint.
  REQUIRE(rig::eventually([&] { return rig::checkpoint_of(db, "big") > 0 || !child.running(); }, std::chrono::seconds(120)));
  REQUIRE(child.running());
  child.kill_group(SIGKILL);
  REQUIRE(child.wait(std::chrono::seconds(10)));
  const long long checkpoint = rig::settled_checkpoint(db, "big");
  REQUIRE(checkpoint > 0);
  REQUIRE(checkpoint < 40000);
  // Rows already copied change while it is down; so do rows not copied yet.
  db.sql(fmt::format("UPDATE big SET v = 1 WHERE id <= {}; DELETE FROM big WHERE id = 1; UPDATE big SET v = 2 WHERE id = 40000",
                     checkpoint));
  auto resumed = binlog_sync(db);
  CHECK(table_of(resumed, "big")["sync_type"] == "full");
  CHECK(table_of(resumed, "big")["resumed"] == true);
  // The next run follows the log from where the interrupted copy started, so the rows changed behind
  // the checkpoint are read again.
  auto next = binlog_sync(db);
  CHECK(table_of(next, "big")["sync_type"] == "incremental");
  CHECK(as_int(table_of(next, "big")["records_synced"]) >= checkpoint - 1);
  check_like_full_copy(db, {"big"});
}
