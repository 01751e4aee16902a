// `mysql2mongo sync` (incremental, the default) against the rig: many rows sharing one timestamp across
// batches and keyset chunks, a transaction that commits late with an older timestamp, NULL change values,
// schema changes, delete reconciliation, fractional-second marks, tables without a change column, and
// the Sakila sample.
#include "support/rig.hpp"
#include "support/tables.hpp"

#include <catch2/catch.hpp>
#include <mysql.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using rig::Session;
using rig::TempFile;
using rig::with_env;
using rig::metadata_for;
using rig::sync_ok;
using rig::insert_rows;
using rig::docs_by_id;
using rig::i32;

using json = nlohmann::json;

const std::string kNoChangeColumn = "Table has no timestamp columns, falling back to full sync";
const std::string kSchemaChanged = "schema changed since the last sync (columns, types or key differ): full resync";
const std::string kReconciled = "incremental with delete reconciliation";



}  // namespace

TEST_CASE("sync incremental: 2000 rows updated by one statement share a timestamp across many batches and are "
          "all copied",
          "[sync][incremental]") {
  rig::Scratch db("inc");
  db.sql("CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, "
         "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)");
  // Old, distinct timestamps: outside any lookback window, and no two rows at the mark's time.
  insert_rows(db, "items", 1, 5000,
              [](long long i) { return "(" + std::to_string(i) + "," + std::to_string(i) + ",'2021-01-01' + INTERVAL " +
                                       std::to_string(i) + " MINUTE)"; });
  const std::map<std::string, std::string> small_batches{{"SYNC_BATCH_SIZE", "300"}};

  const auto first = sync_ok(db, {}, small_batches);
  CHECK(first["sync_type"] == "incremental");
  CHECK(first["tables"]["items"]["sync_type"] == "full");
  CHECK(first["tables"]["items"]["reason"] == "first sync");
  CHECK(first["tables"]["items"]["records_synced"] == 5000);
  const auto mark0 = metadata_for(db, "items")["high_water_mark"];
  REQUIRE(mark0.is_array());
  REQUIRE(mark0.size() >= 2);
  CHECK(mark0[1] == db.query("SELECT MAX(updated_at) FROM items")[0][0]);

  // One statement: every changed row gets the statement's single NOW(), 2000 rows spread over the key range.
  db.sql("UPDATE items SET v = v + 100000 WHERE id % 5 IN (0, 1)");
  const auto shared = db.query("SELECT COUNT(*), COUNT(DISTINCT updated_at), MIN(updated_at) FROM items "
                               "WHERE id % 5 IN (0, 1)");
  REQUIRE(shared[0][0] == "2000");
  REQUIRE(shared[0][1] == "1");
  const std::string stamp = shared[0][2];

  const auto second = sync_ok(db, {}, small_batches);
  const auto& t = second["tables"]["items"];
  CHECK(t["sync_type"] == "incremental");
  CHECK(t["status"] == "success");
  // Exactly the changed rows: the unchanged ones are older than both the mark and the lookback window.
  CHECK(t["records_synced"] == 2000);
  CHECK(t["deleted"] == 0);
  CHECK_FALSE(t.contains("resumed"));

  const auto docs = docs_by_id(db, "items");
  REQUIRE(docs.size() == 5000);
  long long wrong = 0;
  for (long long id = 1; id <= 5000; ++id) {
    const long long expected = (id % 5 == 0 || id % 5 == 1) ? id + 100000 : id;
    const auto it = docs.find(id);
    if (it == docs.end() || it->second["v"] != i32(expected)) {
      if (++wrong <= 5) UNSCOPED_INFO("id " << id << ": expected v " << expected << ", got "
                                            << (it == docs.end() ? "no document" : it->second.dump()));
    }
  }
  CHECK(wrong == 0);

  // The mark is the source's own value: the shared timestamp and the largest key written at it.
  const auto mark = metadata_for(db, "items")["high_water_mark"];
  REQUIRE(mark.is_array());
  REQUIRE(mark.size() == 3);
  CHECK(mark[1] == stamp);
  CHECK(mark[2] == "5000");
}

TEST_CASE("sync incremental: 55000 rows sharing one timestamp cross a keyset chunk boundary and each is copied "
          "exactly once",
          "[sync][incremental]") {
  rig::Scratch db("inc");
  db.sql("CREATE TABLE wide (id INT PRIMARY KEY, v INT NOT NULL, "
         "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)");
  insert_rows(db, "wide", 1, 60000, [](long long i) {
    return "(" + std::to_string(i) + ",0,'2021-01-01' + INTERVAL " + std::to_string(i) + " SECOND)";
  });
  // The shortest lookback (1 s): with old timestamps, only the (change column, key) mark decides.
  const TempFile cfg(db.name() + "_nolookback.toml", "[sync]\nlookback = \"1s\"\n");
  const std::map<std::string, std::string> batches{{"SYNC_BATCH_SIZE", "2000"}};
  const auto first = sync_ok(db, {}, batches, cfg.path);
  CHECK(first["tables"]["wide"]["records_synced"] == 60000);

  // Rows 3001..58000 (55000, beyond one 50000-row chunk) share one timestamp, newer than every other row
  // but long past (so no window reaches it); ids on both sides keep theirs.
  db.sql("UPDATE wide SET v = id * 3, updated_at = '2022-01-01 00:00:00' WHERE id BETWEEN 3001 AND 58000");
  REQUIRE(db.query("SELECT COUNT(DISTINCT updated_at) FROM wide WHERE v > 0")[0][0] == "1");

  const auto second = sync_ok(db, {}, batches, cfg.path);
  CHECK(second["tables"]["wide"]["sync_type"] == "incremental");
  // Exactly the 55000 changed rows: the full sync's newest time was settled (older than the lookback), so
  // its mark carries the last key at that time and row 60000 is not read again.
  CHECK(second["tables"]["wide"]["records_synced"] == 55000);
  const auto docs = docs_by_id(db, "wide");
  REQUIRE(docs.size() == 60000);
  long long wrong = 0;
  for (const auto& [id, d] : docs) {
    const long long expected = (id >= 3001 && id <= 58000) ? id * 3 : 0;
    if (d["v"] != i32(expected) && ++wrong <= 5) UNSCOPED_INFO("id " << id << ": " << d.dump());
  }
  CHECK(wrong == 0);
  const auto mark = metadata_for(db, "wide")["high_water_mark"];
  REQUIRE(mark.size() == 3);
  CHECK(mark[2] == "58000");

  // Nothing changed since: the mark is past every row and the window holds none of them.
  const auto third = sync_ok(db, {}, batches, cfg.path);
  CHECK(third["tables"]["wide"]["sync_type"] == "incremental");
  CHECK(third["tables"]["wide"]["records_synced"] == 0);
}

TEST_CASE("sync incremental: a transaction holding an older timestamp that commits after a run is caught by the "
          "next run",
          "[sync][incremental]") {
  for (const std::string type : {"TIMESTAMP", "DATETIME", "DATETIME(6)"}) {
    DYNAMIC_SECTION("change column type " << type) {
      rig::Scratch db("late");
      const std::string now = type == "DATETIME(6)" ? "CURRENT_TIMESTAMP(6)" : "CURRENT_TIMESTAMP";
      db.sql("CREATE TABLE acct (id INT PRIMARY KEY, v INT NOT NULL, updated_at " + type + " NOT NULL DEFAULT " + now +
             " ON UPDATE " + now + ")");
      insert_rows(db, "acct", 1, 20, [](long long i) {
        return "(" + std::to_string(i) + "," + std::to_string(i) + ", NOW() - INTERVAL 1 HOUR)";
      });
      const auto first = sync_ok(db);
      REQUIRE(first["tables"]["acct"]["sync_type"] == "full");
      REQUIRE(db.count("acct") == 20);

      // A second session starts a transaction that stamps row 7 one second in the past, and keeps it open.
      Session slow(db.name());
      slow.exec("START TRANSACTION");
      slow.exec("UPDATE acct SET v = 777, updated_at = NOW() - INTERVAL 1 SECOND WHERE id = 7");
      const std::string late_stamp = slow.scalar("SELECT updated_at FROM acct WHERE id = 7");
      // Meanwhile row 8 changes and commits with the current time: the next run's mark moves past row 7's time.
      db.sql("UPDATE acct SET v = 888 WHERE id = 8");

      const auto second = sync_ok(db);
      CHECK(second["tables"]["acct"]["sync_type"] == "incremental");
      CHECK(second["tables"]["acct"]["records_synced"].get<long long>() >= 1);
      CHECK(db.find("acct", R"({"id": 8})")[0]["v"] == i32(888));
      CHECK(db.find("acct", R"({"id": 7})")[0]["v"] == i32(7));  // not committed yet: not visible
      const auto mark = metadata_for(db, "acct")["high_water_mark"];
      REQUIRE(mark.size() == 3);
      INFO("mark " << mark.dump() << ", row 7 stamped " << late_stamp);
      // The late row is older than the mark: only the lookback window can catch it.
      REQUIRE(mark[1].get<std::string>() > late_stamp);

      slow.exec("COMMIT");
      const auto third = sync_ok(db);
      CHECK(third["tables"]["acct"]["sync_type"] == "incremental");
      CHECK(db.find("acct", R"({"id": 7})")[0]["v"] == i32(777));
      CHECK(db.find("acct", R"({"id": 8})")[0]["v"] == i32(888));
      CHECK(db.count("acct") == 20);
      // The late row did not move the mark back.
      CHECK(metadata_for(db, "acct")["high_water_mark"][1].get<std::string>() >= mark[1].get<std::string>());
    }
  }
}

TEST_CASE("sync incremental: rows whose change column is NULL are copied on the first and on every later run",
          "[sync][incremental]") {
  rig::Scratch db("nulls");
  db.sql("CREATE TABLE notes (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL, updated_at DATETIME NULL)");
  // Rows 1-10 with times an hour apart (none inside another's lookback), rows 11-15 with none.
  insert_rows(db, "notes", 1, 10, [](long long i) {
    return "(" + std::to_string(i) + ",'dated " + std::to_string(i) + "','2021-01-01' + INTERVAL " + std::to_string(i) +
           " HOUR)";
  });
  insert_rows(db, "notes", 11, 15,
              [](long long i) { return "(" + std::to_string(i) + ",'undated " + std::to_string(i) + "',NULL)"; });

  const auto first = sync_ok(db);
  CHECK(first["tables"]["notes"]["sync_type"] == "full");
  CHECK(first["tables"]["notes"]["records_synced"] == 15);
  REQUIRE(db.count("notes") == 15);
  CHECK(db.count("notes", R"({"updated_at": null})") == 5);
  CHECK(db.find("notes", R"({"id": 13})")[0]["v"] == "undated 13");

  // A NULL-stamped row changes (still NULL), a new NULL-stamped row arrives, a dated row changes, a
  // NULL-stamped row gets a time and a dated one loses its time.
  db.sql("UPDATE notes SET v = 'changed 12' WHERE id = 12;"
         "INSERT INTO notes VALUES (16, 'undated 16', NULL);"
         "UPDATE notes SET v = 'changed 3', updated_at = '2022-06-01 00:00:00' WHERE id = 3;"
         "UPDATE notes SET v = 'changed 14', updated_at = '2022-06-01 00:00:00' WHERE id = 14;"
         "UPDATE notes SET v = 'changed 5', updated_at = NULL WHERE id = 5");
  const auto second = sync_ok(db);
  const auto& t = second["tables"]["notes"];
  CHECK(t["sync_type"] == "incremental");
  // At least: rows 3 and 14 (beyond the mark) and the 6 NULL-stamped rows (11, 12, 13, 15, 16, 5).
  CHECK(t["records_synced"].get<long long>() >= 8);
  CHECK(t["records_synced"].get<long long>() < 16);  // not a full copy
  CHECK(db.count("notes") == 16);
  CHECK(db.find("notes", R"({"id": 12})")[0]["v"] == "changed 12");
  CHECK(db.find("notes", R"({"id": 16})")[0]["v"] == "undated 16");
  CHECK(db.find("notes", R"({"id": 16})")[0]["updated_at"].is_null());
  CHECK(db.find("notes", R"({"id": 3})")[0]["v"] == "changed 3");
  CHECK(db.find("notes", R"({"id": 14})")[0]["v"] == "changed 14");
  CHECK_FALSE(db.find("notes", R"({"id": 14})")[0]["updated_at"].is_null());
  CHECK(db.find("notes", R"({"id": 5})")[0]["v"] == "changed 5");
  CHECK(db.find("notes", R"({"id": 5})")[0]["updated_at"].is_null());

  // And again on a later run: NULL-stamped rows have no time to compare, so each run copies them.
  db.sql("UPDATE notes SET v = 'again 11' WHERE id = 11; UPDATE notes SET v = 'again 5' WHERE id = 5");
  const auto third = sync_ok(db);
  CHECK(third["tables"]["notes"]["sync_type"] == "incremental");
  CHECK(third["tables"]["notes"]["records_synced"].get<long long>() >= 6);
  CHECK(db.find("notes", R"({"id": 11})")[0]["v"] == "again 11");
  CHECK(db.find("notes", R"({"id": 5})")[0]["v"] == "again 5");
  CHECK(db.count("notes") == 16);
}

TEST_CASE("sync incremental: ALTER TABLE ADD COLUMN resyncs that table in full and says why", "[sync][incremental]") {
  rig::Scratch db("alter");
  db.sql("CREATE TABLE a (id INT PRIMARY KEY, v INT NOT NULL, "
         "  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);"
         "CREATE TABLE b (id INT PRIMARY KEY, v INT NOT NULL, "
         "  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)");
  insert_rows(db, "a", 1, 50, [](long long i) {
    return "(" + std::to_string(i) + "," + std::to_string(i) + ",'2021-01-01' + INTERVAL " + std::to_string(i) + " MINUTE)";
  });
  insert_rows(db, "b", 1, 30, [](long long i) {
    return "(" + std::to_string(i) + "," + std::to_string(i) + ",'2021-01-01' + INTERVAL " + std::to_string(i) + " MINUTE)";
  });
  sync_ok(db);
  const auto steady = sync_ok(db);
  CHECK(steady["tables"]["a"]["sync_type"] == "incremental");
  CHECK(steady["tables"]["b"]["sync_type"] == "incremental");
  const auto fingerprint = metadata_for(db, "a")["schema_fingerprint"];

  // The DEFAULT fills existing rows without touching updated_at: only a full resync can carry the field.
  db.sql("ALTER TABLE a ADD COLUMN extra INT NOT NULL DEFAULT 7");
  REQUIRE(db.query("SELECT MAX(updated_at) < '2022-01-01' FROM a")[0][0] == "1");
  const auto after = sync_ok(db);
  const auto& ta = after["tables"]["a"];
  CHECK(ta["sync_type"] == "full");
  CHECK(ta["reason"] == kSchemaChanged);
  CHECK(ta["records_synced"] == 50);
  CHECK(ta["warnings"] == json::array({kSchemaChanged}));
  CHECK(after["tables"]["b"]["sync_type"] == "incremental");  // the other table is not touched
  CHECK(db.count("a") == 50);
  CHECK(db.count("a", R"({"extra": 7})") == 50);
  CHECK(db.find("a", R"({"id": 42})")[0]["extra"] == i32(7));
  CHECK(metadata_for(db, "a")["schema_fingerprint"] != fingerprint);

  // Once resynced, the table is incremental again.
  db.sql("UPDATE a SET extra = 8 WHERE id = 42");
  const auto next = sync_ok(db);
  CHECK(next["tables"]["a"]["sync_type"] == "incremental");
  CHECK_FALSE(next["tables"]["a"].contains("resumed"));
  CHECK(db.find("a", R"({"id": 42})")[0]["extra"] == i32(8));
}

TEST_CASE("sync incremental: deletes are reconciled with --reconcile and under the delete guard", "[sync][incremental]") {
  rig::Scratch db("del");
  db.sql("CREATE TABLE d (id INT PRIMARY KEY, v INT NOT NULL, "
         "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)");
  insert_rows(db, "d", 1, 100, [](long long i) {
    return "(" + std::to_string(i) + "," + std::to_string(i) + ",'2021-01-01' + INTERVAL " + std::to_string(i) + " MINUTE)";
  });
  sync_ok(db);
  REQUIRE(db.count("d") == 100);

  db.sql("DELETE FROM d WHERE id % 10 = 0");
  // A plain incremental run cannot see deletes (not due yet: sync.reconcile_every defaults to 12).
  const auto plain = sync_ok(db);
  CHECK(plain["tables"]["d"]["sync_type"] == "incremental");
  CHECK(plain["tables"]["d"]["deleted"] == 0);
  CHECK(db.count("d") == 100);

  const auto rec = sync_ok(db, {"--reconcile"});
  const auto& t = rec["tables"]["d"];
  CHECK(t["sync_type"] == "incremental");
  CHECK(t["reason"] == kReconciled);
  CHECK(t["deleted"] == 10);
  CHECK(rec["total_records_deleted"] == 10);
  CHECK(db.count("d") == 90);
  CHECK(db.count("d", R"({"id": {"$in": [10, 20, 50, 100]}})") == 0);
  CHECK(db.count("d", R"({"id": {"$in": [1, 11, 99]}})") == 3);
  CHECK(metadata_for(db, "d")["runs_since_reconcile"] == json{{"$numberLong", "0"}});

  // The guard: 60 of 90 is beyond max_delete_fraction 0.5; the table fails, nothing is deleted.
  db.sql("DELETE FROM d WHERE id <= 66");
  REQUIRE(db.query("SELECT COUNT(*) FROM d")[0][0] == "30");
  const auto refused = rig::run({"--json", "sync", "--reconcile"}, db.env());
  INFO("stderr: " << refused.err);
  CHECK(refused.code == 3);
  const auto rj = refused.json();
  CHECK(rj["tables"]["d"]["status"] == "failed");
  const std::string error = rj["tables"]["d"].value("error", "");
  CHECK(error.rfind("refusing to delete", 0) == 0);
  CHECK(error.find("--force-deletes") != std::string::npos);
  CHECK(db.count("d") == 90);

  const auto forced = sync_ok(db, {"--reconcile", "--force-deletes"});
  CHECK(forced["tables"]["d"]["deleted"] == 60);
  CHECK(db.count("d") == 30);
  CHECK(db.count("d", R"({"id": {"$lte": 66}})") == 0);
}

TEST_CASE("sync incremental: sync.reconcile_every = 1 reconciles deletes on every run", "[sync][incremental]") {
  rig::Scratch db("del");
  db.sql("CREATE TABLE d (id INT PRIMARY KEY, v INT NOT NULL, "
         "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)");
  insert_rows(db, "d", 1, 40, [](long long i) {
    return "(" + std::to_string(i) + "," + std::to_string(i) + ",'2021-01-01' + INTERVAL " + std::to_string(i) + " MINUTE)";
  });
  const TempFile cfg(db.name() + "_every.toml", "[sync]\nreconcile_every = 1\n");
  sync_ok(db, {}, {}, cfg.path);
  REQUIRE(db.count("d") == 40);

  db.sql("DELETE FROM d WHERE id IN (3, 4, 5, 30, 40)");
  const auto r = sync_ok(db, {}, {}, cfg.path);
  CHECK(r["tables"]["d"]["sync_type"] == "incremental");
  CHECK(r["tables"]["d"]["reason"] == kReconciled);
  CHECK(r["tables"]["d"]["deleted"] == 5);
  CHECK(db.count("d") == 35);
  CHECK(db.count("d", R"({"id": {"$in": [3, 4, 5, 30, 40]}})") == 0);

  db.sql("DELETE FROM d WHERE id = 1");
  const auto again = sync_ok(db, {}, {}, cfg.path);
  CHECK(again["tables"]["d"]["deleted"] == 1);
  CHECK(db.count("d") == 34);

  // Without the config file the default (every 12 runs) applies: this run does not reconcile.
  db.sql("DELETE FROM d WHERE id = 2");
  const auto plain = sync_ok(db);
  CHECK(plain["tables"]["d"]["deleted"] == 0);
  CHECK(db.count("d") == 34);
}

TEST_CASE("sync incremental: fractional-second change columns keep their precision in the high-water mark",
          "[sync][incremental]") {
  rig::Scratch db("frac");
  db.sql("CREATE TABLE us (id INT PRIMARY KEY, v INT NOT NULL, updated_at DATETIME(6) NOT NULL);"
         "CREATE TABLE ms (id INT PRIMARY KEY, v INT NOT NULL, "
         "  modified_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3));"
         "INSERT INTO us VALUES (1, 1, '2023-05-06 07:08:09.123456'), (2, 2, '2023-05-06 07:08:09.123455'),"
         "  (3, 3, '2023-05-06 07:08:08.123455');"
         "INSERT INTO ms VALUES (1, 1, '2023-05-06 07:08:09.120'), (2, 2, '2023-05-06 07:08:09.123')");
  // The shortest lookback (1 s), so what is read again depends on the mark, and on the second before it.
  const TempFile cfg(db.name() + "_nolookback.toml", "[sync]\nlookback = \"1s\"\n");

  const auto first = sync_ok(db, {}, {}, cfg.path);
  CHECK(first["tables"]["us"]["sync_type"] == "full");
  // The newest times are long settled, so a full sync's mark is (time, last key at that time).
  const auto us_mark = metadata_for(db, "us")["high_water_mark"];
  REQUIRE(us_mark.size() == 3);
  CHECK(us_mark[1] == "2023-05-06 07:08:09.123456");
  CHECK(us_mark[2] == "1");
  const auto ms_mark = metadata_for(db, "ms")["high_water_mark"];
  REQUIRE(ms_mark.size() == 3);
  CHECK(ms_mark[1] == "2023-05-06 07:08:09.123");
  CHECK(ms_mark[2] == "2");

  // One microsecond beyond the mark.
  db.sql("UPDATE us SET v = 20, updated_at = '2023-05-06 07:08:09.123457' WHERE id = 2");
  const auto second = sync_ok(db, {}, {}, cfg.path);
  CHECK(second["tables"]["us"]["sync_type"] == "incremental");
  // Row 2, and row 1 at the mark's own instant: for DATETIME (no zone) the window is anchored at the mark
  // and includes it; not row 3, one microsecond more than the lookback before it.
  CHECK(second["tables"]["us"]["records_synced"] == 2);
  CHECK(db.find("us", R"({"id": 2})")[0]["v"] == i32(20));
  const auto us_mark2 = metadata_for(db, "us")["high_water_mark"];
  REQUIRE(us_mark2.size() == 3);
  CHECK(us_mark2[1] == "2023-05-06 07:08:09.123457");
  CHECK(us_mark2[2] == "2");

  // A row one microsecond past the mark is read; so are the rows of the second before the mark (the
  // window), and nothing older.
  db.sql("INSERT INTO us VALUES (4, 4, '2023-05-06 07:08:09.123458')");
  const auto third = sync_ok(db, {}, {}, cfg.path);
  CHECK(third["tables"]["us"]["records_synced"] == 3);  // row 4, and rows 2 and 1 within the window
  CHECK(db.find("us", R"({"id": 4})")[0]["v"] == i32(4));
  CHECK(metadata_for(db, "us")["high_water_mark"][1] == "2023-05-06 07:08:09.123458");

  // TIMESTAMP(3): the automatic update keeps milliseconds in the mark.
  db.sql("UPDATE ms SET v = 10 WHERE id = 1");
  const std::string stamped = db.query("SELECT modified_at FROM ms WHERE id = 1")[0][0];
  REQUIRE(stamped.size() == 23);  // YYYY-MM-DD hh:mm:ss.fff
  const auto fourth = sync_ok(db, {}, {}, cfg.path);
  CHECK(fourth["tables"]["ms"]["sync_type"] == "incremental");
  CHECK(db.find("ms", R"({"id": 1})")[0]["v"] == i32(10));
  const auto ms_mark2 = metadata_for(db, "ms")["high_water_mark"];
  REQUIRE(ms_mark2.size() == 3);
  CHECK(ms_mark2[1] == stamped);
  CHECK(ms_mark2[2] == "1");
}

TEST_CASE("sync incremental: a table without a change column falls back to a full sync with the seed's warning",
          "[sync][incremental]") {
  rig::Scratch db("nochg");
  db.sql("CREATE TABLE plain (id INT PRIMARY KEY, v INT NOT NULL, created_at DATETIME NOT NULL);"
         "CREATE TABLE stamped (id INT PRIMARY KEY, v INT NOT NULL, "
         "  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)");
  insert_rows(db, "plain", 1, 25, [](long long i) {
    return "(" + std::to_string(i) + "," + std::to_string(i) + ",'2021-01-01 00:00:00')";
  });
  db.sql("INSERT INTO stamped VALUES (1, 1, '2021-01-01 00:00:00')");

  const auto first = rig::run({"--json", "sync"}, db.env());
  INFO("stderr: " << first.err);
  REQUIRE(first.code == 0);
  const auto j1 = first.json();
  const auto& p1 = j1["tables"]["plain"];
  CHECK(p1["sync_type"] == "full");
  CHECK(p1["reason"] == kNoChangeColumn);
  CHECK(p1["warnings"] == json::array({kNoChangeColumn}));
  CHECK(p1["records_synced"] == 25);
  CHECK(first.err.find(kNoChangeColumn) != std::string::npos);  // the operator is told once
  CHECK(j1["tables"]["stamped"]["reason"] == "first sync");

  db.sql("UPDATE plain SET v = 250 WHERE id = 25; DELETE FROM plain WHERE id = 1");
  const auto second = sync_ok(db);
  const auto& p2 = second["tables"]["plain"];
  CHECK(p2["sync_type"] == "full");
  CHECK(p2["reason"] == kNoChangeColumn);
  CHECK(p2["warnings"] == json::array({kNoChangeColumn}));
  CHECK(p2["records_synced"] == 24);
  CHECK(p2["deleted"] == 1);  // a full sync reconciles deletes
  CHECK(second["tables"]["stamped"]["sync_type"] == "incremental");
  CHECK(db.count("plain") == 24);
  CHECK(db.find("plain", R"({"id": 25})")[0]["v"] == i32(250));
  CHECK(db.count("plain", R"({"id": 1})") == 0);
  CHECK(metadata_for(db, "plain")["high_water_mark"].is_null());
}

TEST_CASE("sync incremental on Sakila: after updating one actor sync copies it incrementally and every table "
          "with last_update is incremental",
          "[sync][incremental][sakila]") {
  rig::Scratch db("sakila");
  rig::load_sakila(db);
  const auto full = sync_ok(db, {"--full"});
  REQUIRE(full["successful_tables"] == 16);

  // Which tables have last_update, from MySQL itself.
  std::set<std::string> with_last_update, all_tables;
  for (const auto& row : db.query("SELECT t.TABLE_NAME, SUM(c.COLUMN_NAME = 'last_update') FROM information_schema.TABLES t "
                                  "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA AND "
                                  "c.TABLE_NAME = t.TABLE_NAME WHERE t.TABLE_SCHEMA = DATABASE() AND "
                                  "t.TABLE_TYPE = 'BASE TABLE' GROUP BY t.TABLE_NAME")) {
    all_tables.insert(row[0]);
    if (row[1] != "0") with_last_update.insert(row[0]);
  }
  REQUIRE(all_tables.size() == 16);
  REQUIRE(with_last_update.size() == 15);
  REQUIRE(with_last_update.count("film_text") == 0);

  db.sql("UPDATE actor SET first_name = 'ZELDA', last_name = 'INCREMENTAL' WHERE actor_id = 17");
  const auto inc = sync_ok(db);
  CHECK(inc["sync_type"] == "incremental");
  CHECK(inc["successful_tables"] == 16);
  for (const auto& name : with_last_update) {
    INFO("table " << name);
    CHECK(inc["tables"][name]["sync_type"] == "incremental");
    CHECK(inc["tables"][name]["status"] == "success");
  }
  CHECK(inc["tables"]["film_text"]["sync_type"] == "full");
  CHECK(inc["tables"]["film_text"]["reason"] == kNoChangeColumn);
  CHECK(inc["tables"]["actor"]["records_synced"].get<long long>() >= 1);
  const auto actor = db.find("actor", R"({"actor_id": 17})");
  REQUIRE(actor.size() == 1);
  CHECK(actor[0]["first_name"] == "ZELDA");
  CHECK(actor[0]["last_name"] == "INCREMENTAL");
  CHECK(db.count("actor") == 200);
  CHECK(db.count("actor", R"({"first_name": "ZELDA"})") == 1);

  // The next run reads at most that one actor again (inside the lookback window), not the table.
  db.sql("UPDATE actor SET first_name = 'ZORA' WHERE actor_id = 18");
  const auto again = sync_ok(db);
  CHECK(again["tables"]["actor"]["sync_type"] == "incremental");
  CHECK(again["tables"]["actor"]["records_synced"].get<long long>() >= 1);
  CHECK(again["tables"]["actor"]["records_synced"].get<long long>() <= 2);
  CHECK(db.find("actor", R"({"actor_id": 18})")[0]["first_name"] == "ZORA");
  CHECK(db.find("actor", R"({"actor_id": 17})")[0]["first_name"] == "ZELDA");
  for (const auto& name : all_tables) {
    INFO("table " << name);
    CHECK(db.count(name) == std::stoll(db.query("SELECT COUNT(*) FROM `" + name + "`")[0][0]));
  }
}
