// Fidelity: FLOAT and DOUBLE keys and values, JSON numbers, json_valid() constraints over several columns,
// key changes by ALTER TABLE, type overrides on keys, SET keys, rows too large or too deep for MongoDB,
// namespaces too long, and tables that disappear from MySQL.
#include "support/child.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

namespace {

using rig::as_double;
using rig::dec;
using rig::json;
using rig::slurp;
using rig::TempFile;
using rig::with_env;

// std::stod refuses subnormal values (5e-324); strtod reads them.
double to_double(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

// `sync ARGS` with --json; returns the report (whatever the exit code, which goes to *code).
json sync_json(rig::Scratch& db, const std::vector<std::string>& args, int* code = nullptr,
               const std::map<std::string, std::string>& extra = {}) {
  std::vector<std::string> argv{"--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = rig::run(argv, with_env(db.env(), extra));
  INFO("stderr: " << r.err);
  if (code) *code = r.code;
  else REQUIRE(r.code == 0);
  return r.json();
}

// The keys of `collection`'s `field` as doubles, sorted.
std::multiset<double> doubles_of(rig::Scratch& db, const std::string& collection, const std::string& field) {
  std::multiset<double> out;
  for (const auto& d : db.find(collection)) out.insert(as_double(d[field]));
  return out;
}

}  // namespace

TEST_CASE("fidelity: distinct FLOAT and DOUBLE keys stay distinct documents through full, incremental and deletes",
          "[sync][fidelity][float]") {
  rig::Scratch db("fkeys");
  // Values a 6-digit text rounds together: 0.99999994, 1, 1.0000001; 16777216 and 16777218; the extremes.
  db.sql("CREATE TABLE f (k FLOAT PRIMARY KEY, v INT NOT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT "
         "CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));"
         "INSERT INTO f (k, v) VALUES (0.99999994e0, 1), (1e0, 2), (1.0000001e0, 3), (16777216e0, 4), (16777218e0, 5),"
         "  (3.4028234e38, 6), (-3.4028234e38, 7), (1.17549435e-38, 8), (1.4e-45, 9), (-1.0000001e0, 10);"
         "CREATE TABLE d (k DOUBLE PRIMARY KEY, v INT NOT NULL);"
         "INSERT INTO d VALUES (0.1e0 + 0.2e0, 1), (0.3e0, 2), (1.0000000000000002e0, 3), (1e0, 4), (5e-324, 5),"
         "  (1.7976931348623157e308, 6), (-2.2250738585072014e-308, 7)");
  const auto expected_f = [&] {
    std::multiset<double> out;
    for (const auto& r : db.query("SELECT CAST(k AS DOUBLE) FROM f")) out.insert(to_double(r[0]));
    return out;
  };
  const auto expected_d = [&] {
    std::multiset<double> out;
    for (const auto& r : db.query("SELECT k FROM d")) out.insert(to_double(r[0]));
    return out;
  };
  const auto j = sync_json(db, {"sync"});
  CHECK(j["tables"]["f"]["status"] == "success");
  CHECK(db.count("f") == 10);
  CHECK(db.count("d") == 7);
  CHECK(doubles_of(db, "f", "k") == expected_f());
  CHECK(doubles_of(db, "d", "k") == expected_d());
  // The float value itself, as a double: 1.0000001 is 1.00000011920928955078125.
  CHECK(db.find("f", R"({"v": 3})")[0]["k"] == json{{"$numberDouble", "1.0000001192092895508"}});

  // Changes and deletes find their documents by the exact key.
  db.sql("UPDATE f SET v = 30 WHERE k = 1.0000001192092896e0; DELETE FROM f WHERE k = 16777218e0;"
         "DELETE FROM d WHERE k = 0.30000000000000004e0; UPDATE d SET v = 40 WHERE k = 1e0");
  const auto inc = sync_json(db, {"sync", "--reconcile"});
  CHECK(inc["tables"]["f"]["sync_type"] == "incremental");
  CHECK(inc["tables"]["f"]["deleted"] == 1);
  CHECK(inc["tables"]["d"]["deleted"] == 1);
  CHECK(db.count("f") == 9);
  CHECK(db.count("d") == 6);
  CHECK(db.find("f", R"({"v": 30})").size() == 1);
  CHECK(db.find("d", R"({"v": 40})").size() == 1);
  CHECK(doubles_of(db, "f", "k") == expected_f());
  CHECK(doubles_of(db, "d", "k") == expected_d());
}

TEST_CASE("fidelity: FLOAT keys page exactly across a keyset chunk boundary", "[sync][fidelity][float]") {
  rig::Scratch db("fchunk");
  db.sql("CREATE TABLE f (k FLOAT PRIMARY KEY, v INT NOT NULL)");
  // 60,000 distinct floats that share their first 6 digits in long runs: 1 + i * 2^-23.
  rig::insert_rows(db, "f", 1, 60000, [](long long i) {
    return "(1e0 + " + std::to_string(i) + " * 1.1920928955078125e-7, " + std::to_string(i) + ")";
  });
  REQUIRE(db.query("SELECT COUNT(DISTINCT k) FROM f")[0][0] == "60000");
  sync_json(db, {"sync", "--full"}, nullptr, {{"SYNC_BATCH_SIZE", "5000"}});
  CHECK(db.count("f") == 60000);
  const auto distinct = db.command(R"({"distinct": "f", "key": "k"})");
  CHECK(distinct["values"].size() == 60000);
}

TEST_CASE("fidelity: FLOAT values keep the float's value and DOUBLE all its digits, under overrides too",
          "[sync][fidelity][float]") {
  rig::Scratch db("fvals");
  db.sql("CREATE TABLE v (id INT PRIMARY KEY, f FLOAT, g FLOAT, d DOUBLE);"
         "INSERT INTO v VALUES (1, 16777217e0, 16777217e0, 0.1e0 + 0.2e0), (2, 123456789e0, 123456789e0, 1.0000000000000002e0),"
         "  (3, 1.0000001e0, 1.0000001e0, 5e-324), (4, 1.17549435e-38, 1.17549435e-38, 1.7976931348623157e308),"
         "  (5, -3.4028234e38, -3.4028234e38, -4.35e0)");
  const TempFile cfg(db.name() + "_t.toml", "[tables.v]\ntypes = { g = \"decimal\" }\n");
  const auto r = rig::run({"--json", "--config", cfg.path, "sync"}, db.env());
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.json()["tables"]["v"]["lossy"].empty());
  const auto rows = db.query("SELECT id, CAST(f AS DOUBLE), d FROM v ORDER BY id");
  for (const auto& row : rows) {
    const auto doc = db.find("v", "{\"id\": " + row[0] + "}")[0];
    INFO("row " << row[0] << ": " << doc.dump());
    CHECK(as_double(doc["f"]) == to_double(row[1]));
    CHECK(as_double(doc["d"]) == to_double(row[2]));
    // The decimal override holds the float's value in full, not its 6-digit rounding.
    CHECK(doc["g"].contains("$numberDecimal"));
    CHECK(to_double(doc["g"]["$numberDecimal"].get<std::string>()) == to_double(row[1]));
  }
  CHECK(as_double(db.find("v", R"({"id": 1})")[0]["f"]) == 16777216.0);
  CHECK(as_double(db.find("v", R"({"id": 2})")[0]["f"]) == 123456792.0);
}

TEST_CASE("fidelity: JSON numbers are exact where Decimal128 can be, counted where not, and 1e400 is JSON",
          "[sync][fidelity][json]") {
  rig::Scratch db("jnum");
  db.sql("CREATE TABLE j (id INT PRIMARY KEY, doc LONGTEXT CHECK (json_valid(doc)));"
         "INSERT INTO j VALUES (1, '{\"n\": 1e-400}'), (2, '{\"n\": 1.00000000000000000001}'),"
         "  (3, '{\"n\": 123456789012345678901234567890123456789}'), (4, '{\"n\": 1e400}'), (5, '{\"n\": 0.5}')");
  const auto j = sync_json(db, {"sync"});
  const auto doc = [&](int id) { return db.find("j", "{\"id\": " + std::to_string(id) + "}")[0]["doc"]["n"]; };
  CHECK(doc(1) == dec("1E-400"));
  CHECK(doc(2) == dec("1.00000000000000000001"));
  CHECK(doc(3) == "123456789012345678901234567890123456789");
  CHECK(doc(4) == dec("1E+400"));
  CHECK(as_double(doc(5)) == 0.5);
  const auto lossy = j["tables"]["j"]["lossy"];
  CHECK(lossy == json{{"doc", {{"JSON integer beyond Decimal128 stored as string", 1}}}});
}

TEST_CASE("fidelity: a CHECK constraint validating several JSON columns makes each of them JSON",
          "[sync][fidelity][json]") {
  rig::Scratch db("jcheck");
  db.sql("CREATE TABLE j (id INT PRIMARY KEY, a LONGTEXT, b LONGTEXT, c LONGTEXT, "
         "CONSTRAINT both_json CHECK (json_valid(a) AND json_valid(`b`)));"
         "INSERT INTO j VALUES (1, '{\"x\": 1}', '[1, 2]', '{\"not\": \"checked\"}')");
  sync_json(db, {"sync"});
  const auto d = db.find("j")[0];
  CHECK(d["a"] == json{{"x", rig::i32(1)}});
  CHECK(d["b"] == json::array({rig::i32(1), rig::i32(2)}));
  CHECK(d["c"] == "{\"not\": \"checked\"}");  // no constraint: text
}

TEST_CASE("fidelity: a key changed by ALTER TABLE rebuilds the collection and says why", "[sync][fidelity][schema]") {
  rig::Scratch db("rekey");
  db.sql("CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, v VARCHAR(10), PRIMARY KEY (a));"
         "INSERT INTO t VALUES (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z')");
  sync_json(db, {"sync"});

  SECTION("a column added to the key") {
    db.sql("ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (a, b)");
    const auto j = sync_json(db, {"sync"});
    CHECK(j["tables"]["t"]["status"] == "success");
    CHECK(j["tables"]["t"]["reason"] == "the key changed from (a) to (a, b): rebuilt through a staging collection");
    const auto idx = db.command(R"({"listIndexes": "t"})");
    bool compound = false;
    for (const auto& i : idx["cursor"]["firstBatch"])
      if (i["name"] == "m2m_key") compound = i["key"].size() == 2;
    CHECK(compound);
  }
  SECTION("the key column renamed") {
    db.sql("ALTER TABLE t RENAME COLUMN a TO id");
    const auto j = sync_json(db, {"sync"});
    CHECK(j["tables"]["t"]["reason"] == "the key changed from (a) to (id): rebuilt through a staging collection");
    CHECK(db.find("t", R"({"a": {"$exists": true}})").empty());
  }
  SECTION("another column as the key") {
    db.sql("ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (v)");
    const auto j = sync_json(db, {"sync"});
    CHECK(j["tables"]["t"]["reason"] == "the key changed from (a) to (v): rebuilt through a staging collection");
  }
  CHECK(db.count("t") == 3);
  // And it stays healthy: later runs are ordinary, deletes found.
  db.sql("DELETE FROM t WHERE v = 'y'");
  const auto after = sync_json(db, {"sync", "--reconcile"});
  CHECK(after["tables"]["t"]["status"] == "success");
  CHECK(db.count("t") == 2);
  CHECK(db.collections() == std::vector<std::string>{"_sync_lock", "_sync_metadata", "t"});
}

TEST_CASE("fidelity: type overrides on key columns keep deletes working, or are refused", "[sync][fidelity][keys]") {
  rig::Scratch db("keyover");
  db.sql("CREATE TABLE s (k VARCHAR(20) PRIMARY KEY, v INT) CHARACTER SET latin1 COLLATE latin1_swedish_ci;"
         "INSERT INTO s VALUES ('b', 1), ('A', 2), ('\xC3\xA9t\xC3\xA9', 3), ('Zz', 4), ('10', 5), ('9', 6);"
         "CREATE TABLE n (k INT PRIMARY KEY, v INT); INSERT INTO n VALUES (9, 1), (10, 2), (100, 3), (-1, 4)");

  SECTION("binary on a latin1 key and string on an INT key: deletes are found") {
    const TempFile cfg(db.name() + "_ok.toml",
                       "[tables.s]\ntypes = { k = \"binary\" }\n[tables.n]\ntypes = { k = \"string\" }\n");
    auto r = rig::run({"--json", "--config", cfg.path, "sync"}, db.env());
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    db.sql("DELETE FROM s WHERE k IN ('A', '10'); DELETE FROM n WHERE k IN (10, -1)");
    r = rig::run({"--json", "--config", cfg.path, "sync", "--reconcile"}, db.env());
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.json()["tables"]["s"]["deleted"] == 2);
    CHECK(r.json()["tables"]["n"]["deleted"] == 2);
    CHECK(db.count("s") == 4);
    CHECK(db.count("n") == 2);
    CHECK(db.find("n", R"({"k": "100"})").size() == 1);
  }
  SECTION("an override that changes the key's order is refused at once") {
    for (const std::string bad : {"[tables.s]\ntypes = { k = \"int64\" }\n", "[tables.s]\ntypes = { k = \"double\" }\n",
                                  "[tables.n]\ntypes = { k = \"double\" }\n", "[tables.n]\ntypes = { k = \"bool\" }\n"}) {
      const TempFile cfg(db.name() + "_bad.toml", bad);
      const auto r = rig::run({"--config", cfg.path, "sync"}, db.env());
      INFO(bad << r.err);
      CHECK(r.code == 78);
      CHECK(r.err.find("is a key column of type") != std::string::npos);
      CHECK(r.err.find("change or remove the override") != std::string::npos);
      CHECK(db.collections().empty());
    }
  }
}

TEST_CASE("fidelity: a SET key is stored as its text, with or without key_as_id", "[sync][fidelity][keys]") {
  for (const bool key_as_id : {false, true}) {
    DYNAMIC_SECTION("key_as_id " << key_as_id) {
      rig::Scratch db("setkey");
      db.sql("CREATE TABLE s (k SET('a','b','c') NOT NULL PRIMARY KEY, v INT);"
             "INSERT INTO s VALUES ('a', 1), ('a,b', 2), ('b', 3), ('', 4), ('a,b,c', 5)");
      const TempFile cfg(db.name() + "_k.toml", key_as_id ? "[sync]\nkey_as_id = true\n" : "");
      auto r = rig::run({"--json", "--config", cfg.path, "sync"}, db.env());
      INFO("stderr: " << r.err);
      REQUIRE(r.code == 0);
      CHECK(db.count("s") == 5);
      const std::string field = key_as_id ? "_id" : "k";
      CHECK(db.find("s", "{\"" + field + "\": \"a,b\"}").size() == 1);
      bool noted = false;
      INFO("report: " << r.out);
      const auto report = r.json();
      for (const auto& w : report["tables"]["s"]["warnings"]) noted |= w.get<std::string>().find("is a SET") != std::string::npos;
      CHECK(noted);
      db.sql("DELETE FROM s WHERE k = 'a,b'");
      r = rig::run({"--json", "--config", cfg.path, "sync", "--full"}, db.env());
      REQUIRE(r.code == 0);
      CHECK(r.json()["tables"]["s"]["deleted"] == 1);
      CHECK(db.count("s") == 4);
    }
  }
}

TEST_CASE("fidelity: a row too large or too deep for MongoDB is refused by key, the others are written, and it is "
          "retried",
          "[sync][fidelity][limits]") {
  rig::Scratch db("big");
  // Rows of 16.5 MiB need a larger packet than MariaDB's default: for new sessions.
  db.sql("SET GLOBAL max_allowed_packet = 67108864");
  rig::Session writer(db.name());
  // MariaDB's json_valid() refuses more than 32 levels: the JSON column is declared by an override.
  writer.exec("CREATE TABLE b (id INT PRIMARY KEY, data LONGBLOB, doc LONGTEXT)");
  const std::string deep = std::string(100, '[') + "1" + std::string(100, ']');  // 101 levels with the top
  writer.exec("INSERT INTO b VALUES (1, 'small', '{}'), (2, REPEAT('x', 17301504), '{}'), (3, 'small', '{}'),"
              " (4, 'small', '" + deep + "'), (5, 'small', '[[1]]')");
  writer.exec("CREATE TABLE other (id INT PRIMARY KEY)");
  writer.exec("INSERT INTO other VALUES (1)");

  const TempFile cfg(db.name() + "_json.toml", "[tables.b]\ntypes = { doc = \"json\" }\n");
  int code = 0;
  auto j = sync_json(db, {"--config", cfg.path, "sync"}, &code);
  CHECK(code == 3);
  const auto t = j["tables"]["b"];
  CHECK(t["status"] == "failed");
  CHECK(t["records_synced"] == 3);
  REQUIRE(t["refused_rows"].size() == 2);
  CHECK(t["refused_rows"][0]["key"] == "(id) = ('2')");
  CHECK(t["refused_rows"][0]["bytes"].get<long long>() > 16777216);
  CHECK(t["refused_rows"][0]["reason"].get<std::string>().find("larger than MongoDB's limit of 16777216 bytes") !=
        std::string::npos);
  CHECK(t["refused_rows"][1]["key"] == "(id) = ('4')");
  CHECK(t["refused_rows"][1]["reason"] == "document nested 101 levels deep, more than MongoDB's limit of 100");
  CHECK(t["error"].get<std::string>().rfind("2 rows could not be stored in MongoDB and are retried by the next run: "
                                            "(id) = ('2'): document of ", 0) == 0);
  CHECK(j["tables"]["other"]["status"] == "success");
  // Every row that fits is there, the ones after the refused one in the same batch included.
  std::set<long long> ids;
  for (const auto& d : db.find("b")) ids.insert(std::stoll(d["id"]["$numberInt"].get<std::string>()));
  CHECK(ids == std::set<long long>{1, 3, 5});
  // status and metrics show it; a second run retries and refuses them again.
  const auto st = rig::run({"--json", "status"}, db.env()).json();
  CHECK(st["sync_data"]["tables"]["b"]["refused_rows"] == 2);
  REQUIRE(st["sync_data"]["tables"]["b"]["refused"].size() == 2);
  CHECK(st["sync_data"]["tables"]["b"]["refused"][0]["key"] == json::array({"2"}));
  CHECK(st["sync_data"]["tables"]["b"]["refused"][0]["bytes"].get<long long>() > 16777216);
  const TempFile metrics(db.name() + ".prom", "");
  CHECK(rig::run({"--config", cfg.path, "sync", "--metrics-file", metrics.path}, db.env()).code == 3);
  CHECK(slurp(metrics.path).find("mysql2mongo_table_rows_refused{table=\"b\"} 2") != std::string::npos);

  // Fixed in MySQL: the next run retries them and succeeds.
  writer.exec("UPDATE b SET data = 'now small' WHERE id = 2");
  writer.exec("UPDATE b SET doc = '[1]' WHERE id = 4");
  j = sync_json(db, {"--config", cfg.path, "sync"}, &code);
  CHECK(code == 0);
  CHECK(j["tables"]["b"]["status"] == "success");
  CHECK(db.count("b") == 5);
}

TEST_CASE("fidelity: documents near MongoDB's limit are written whatever sync.batch_bytes allows, the largest alone",
          "[sync][fidelity][limits]") {
  // An update command's body may not exceed 16 MiB (+16 KiB for the driver): the batches are cut there,
  // and a statement holding a document of the limit's size goes out on its own.
  rig::Scratch db("near");
  db.sql("SET GLOBAL max_allowed_packet = 67108864");
  rig::Session writer(db.name());
  writer.exec("CREATE TABLE n (id INT PRIMARY KEY, data LONGBLOB)");
  // Document: 4 + id (1 + 3 + 4) + data (1 + 5 + 4 + 1 + bytes) + 1 = bytes + 24. The server adds an
  // ObjectId _id (17 bytes) to an upserted document: the largest that fits is 16 MiB - 17 - 24.
  const long long largest = 16777216 - 17 - 24;
  writer.exec("INSERT INTO n VALUES (1, REPEAT('a', " + std::to_string(largest) + ")), (2, REPEAT('b', 10485760)),"
              " (3, REPEAT('c', 10485760)), (4, 'small'), (5, REPEAT('d', " + std::to_string(largest) + "))");
  const TempFile cfg(db.name() + "_batch.toml", "[sync]\nbatch_bytes = 48000000\n");
  int code = 0;
  const auto j = sync_json(db, {"--config", cfg.path, "sync", "--full"}, &code);
  CHECK(code == 0);
  CHECK(j["tables"]["n"]["status"] == "success");
  CHECK(j["tables"]["n"]["records_synced"] == 5);
  CHECK_FALSE(j["tables"]["n"].contains("refused_rows"));
  const auto lengths = db.query("SELECT id, LENGTH(data) FROM n ORDER BY id");
  for (const auto& d : db.find("n")) {
    const auto id = std::stoll(d["id"]["$numberInt"].get<std::string>());
    const auto base64 = d["data"]["$binary"]["base64"].get<std::string>();
    INFO("id " << id);
    CHECK(base64.size() / 4 * 3 - (base64.size() >= 1 && base64.back() == '=' ? 1 : 0) -
              (base64.size() >= 2 && base64[base64.size() - 2] == '=' ? 1 : 0) ==
          std::stoull(lengths[static_cast<std::size_t>(id - 1)][1]));
  }
  CHECK(db.count("n") == 5);
}

TEST_CASE("fidelity: a collection namespace over 255 bytes is refused at planning, naming the table and the fix",
          "[sync][fidelity][names]") {
  rig::Scratch db("ns");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); CREATE TABLE ok (id INT PRIMARY KEY)");
  const std::string longname(240, 'c');
  const TempFile cfg(db.name() + "_ns.toml", "[tables.t]\ncollection = \"" + longname + "\"\n");
  const auto r = rig::run({"--config", cfg.path, "sync"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 78);
  CHECK(r.err.find("table 't': the MongoDB namespace " + db.name() + "." + longname) != std::string::npos);
  CHECK(r.err.find("set a shorter collection name with [tables.t] collection") != std::string::npos);
  CHECK(db.collections().empty());
}

TEST_CASE("fidelity: tables dropped or renamed in MySQL are reported, kept, and dropped only when asked",
          "[sync][fidelity][orphans]") {
  rig::Scratch db("orphan");
  db.sql("CREATE TABLE a (id INT PRIMARY KEY); CREATE TABLE b (id INT PRIMARY KEY); CREATE TABLE keep (id INT PRIMARY KEY);"
         "INSERT INTO a VALUES (1); INSERT INTO b VALUES (1), (2); INSERT INTO keep VALUES (1)");
  rig::sync_ok(db);
  db.sql("DROP TABLE a; RENAME TABLE b TO c");
  const auto r = rig::run({"--json", "sync"}, db.env());
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.json()["vanished_tables"] == json::array({"a", "b"}));
  CHECK(r.err.find("table a no longer exists in MySQL (dropped or renamed); its collection a is kept") !=
        std::string::npos);
  CHECK(db.count("a") == 1);   // kept
  CHECK(db.count("b") == 2);   // kept
  CHECK(db.count("c") == 2);   // the renamed table starts its own collection
  CHECK(rig::metadata_for(db, "a")["dropped"] == true);
  // Said once, not on every run.
  const auto again = rig::run({"sync"}, db.env());
  CHECK(again.err.find("no longer exists") == std::string::npos);

  const auto status = rig::run({"status"}, db.env());
  CHECK(status.out.find(" dropped ") != std::string::npos);
  const auto check = rig::run({"status", "--check"}, db.env());
  INFO(check.out);
  CHECK(check.code == 0);
  CHECK(check.out.find("MYSQL2MONGO OK - 2 tables") == 0);
  const auto js = rig::run({"--json", "status"}, db.env()).json();
  CHECK(js["sync_data"]["tables"]["a"]["dropped"] == true);
  const TempFile metrics(db.name() + ".prom", "");
  REQUIRE(rig::run({"sync", "--metrics-file", metrics.path}, db.env()).code == 0);
  const std::string text = slurp(metrics.path);
  CHECK(text.find("mysql2mongo_table_dropped{table=\"a\"} 1") != std::string::npos);
  CHECK(text.find("mysql2mongo_table_up{table=\"a\"}") == std::string::npos);

  // sync.drop_orphans drops their collections, once.
  const TempFile cfg(db.name() + "_drop.toml", "[sync]\ndrop_orphans = true\n");
  const auto dropped = rig::run({"--config", cfg.path, "sync"}, db.env());
  REQUIRE(dropped.code == 0);
  CHECK(dropped.err.find("table a: dropped its collection a (sync.drop_orphans)") != std::string::npos);
  const auto colls = db.collections();
  CHECK(std::find(colls.begin(), colls.end(), "a") == colls.end());
  CHECK(std::find(colls.begin(), colls.end(), "b") == colls.end());
  CHECK(db.count("c") == 2);
  CHECK(rig::metadata_for(db, "b")["collection_dropped"] == true);
}
