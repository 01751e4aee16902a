// `mysql2mongo sync --full` and `mysql2mongo tables` against the rig: keys (primary, composite, unique,
// none), awkward names, deletes and the delete guard, partial failure, table selection, --dry-run,
// foreign-key indexes, and keyset pagination across chunks.
#include "support/rig.hpp"
#include "support/tables.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using rig::contents;
using rig::full_sync;
using rig::i32;
using rig::i64;
using rig::keys_of;
using rig::list_indexes;
using rig::metadata_for;
using rig::starts_with;
using rig::TempFile;

using json = nlohmann::json;

json tables_json(rig::Scratch& db) {
  const auto r = rig::run({"--json", "tables"}, db.env());
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  return r.json();
}

// The collections holding synced data: all but the tool's own bookkeeping under the "_sync_" prefix
// (_sync_metadata, which is required to exist, and e.g. a run lock).
std::set<std::string> data_collections(rig::Scratch& db) {
  std::set<std::string> out;
  bool have_metadata = false;
  for (const auto& c : db.collections()) {
    if (c == "_sync_metadata") have_metadata = true;
    if (c.rfind("_sync_", 0) != 0) out.insert(c);
  }
  CHECK(have_metadata);
  return out;
}

// The line of `tables` text output for a table (the first column is the table name).
std::string line_for(const std::string& out, const std::string& table) {
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (starts_with(line, table + " ")) return line;
  return {};
}

}  // namespace

TEST_CASE("sync --full: a composite primary key is a compound unique index and upserts match on every part",
          "[sync][full]") {
  rig::Scratch db;
  db.sql("CREATE TABLE ck (a INT NOT NULL, b VARCHAR(10) NOT NULL, v INT, PRIMARY KEY (a, b));"
         "INSERT INTO ck VALUES (1, 'x', 10), (1, 'y', 20), (2, 'x', 30)");
  const auto plan = tables_json(db)["tables"]["ck"];
  CHECK(plan["key"] == json::array({"a", "b"}));
  CHECK(plan["key_fields"] == json::array({"a", "b"}));
  CHECK(plan["key_source"] == "primary key");

  auto first = full_sync(db);
  CHECK(first["tables"]["ck"]["records_synced"] == 3);
  // Rows sharing a value of `a` are distinct documents: the writes matched on (a, b), not on a alone.
  REQUIRE(db.count("ck") == 3);
  const auto y = db.find("ck", R"({"a": 1, "b": "y"})");
  REQUIRE(y.size() == 1);
  CHECK(y[0]["v"] == i32(20));

  const auto indexes = list_indexes(db.name(), "ck");
  REQUIRE(indexes.count("m2m_key") == 1);
  CHECK(indexes.at("m2m_key").unique);
  CHECK(indexes.at("m2m_key").fields == std::vector<std::string>{"a", "b"});

  std::map<std::string, std::string> ids;  // "a/b" -> ObjectId
  for (const auto& d : db.find("ck")) ids[d["a"].dump() + "/" + d["b"].get<std::string>()] = d["_id"].dump();

  db.sql("UPDATE ck SET v = 21 WHERE a = 1 AND b = 'y'; INSERT INTO ck VALUES (2, 'y', 40)");
  auto second = full_sync(db);
  CHECK(second["tables"]["ck"]["records_synced"] == 4);
  CHECK(second["tables"]["ck"]["deleted"] == 0);
  REQUIRE(db.count("ck") == 4);
  CHECK(db.find("ck", R"({"a": 1, "b": "y"})")[0]["v"] == i32(21));
  CHECK(db.find("ck", R"({"a": 1, "b": "x"})")[0]["v"] == i32(10));
  CHECK(db.find("ck", R"({"a": 2, "b": "y"})")[0]["v"] == i32(40));
  // Replaced in place: every existing document kept its _id.
  for (const auto& d : db.find("ck")) {
    const auto k = d["a"].dump() + "/" + d["b"].get<std::string>();
    if (ids.count(k)) CHECK(ids[k] == d["_id"].dump());
  }
  CHECK(metadata_for(db, "ck")["key_fields"] == json::array({"a", "b"}));
}

TEST_CASE("sync --full: a table without any key is copied through a staging collection with duplicates kept "
          "and a rerun gives the same result",
          "[sync][full]") {
  rig::Scratch db;
  db.sql("CREATE TABLE np (a INT, b VARCHAR(5), c DOUBLE);"
         "INSERT INTO np VALUES (1, 'x', 0.5), (1, 'x', 0.5), (1, 'x', 0.5), (2, NULL, NULL), (NULL, NULL, NULL)");
  const auto plan = tables_json(db)["tables"]["np"];
  CHECK(plan["key"] == json::array());
  CHECK(plan["key_source"] == "none");

  const auto first = full_sync(db);
  const auto& t = first["tables"]["np"];
  CHECK(t["status"] == "success");
  CHECK(t["records_synced"] == 5);
  CHECK(t["deleted"] == 0);
  REQUIRE(t["warnings"].size() == 1);
  CHECK(t["warnings"][0].get<std::string>().find("staging") != std::string::npos);
  CHECK(db.count("np") == 5);
  CHECK(db.count("np", R"({"a": 1, "b": "x"})") == 3);
  CHECK(data_collections(db) == std::set<std::string>{"np"});
  const auto after_first = contents(db, "np");

  const auto second = full_sync(db);
  CHECK(second["tables"]["np"]["records_synced"] == 5);
  CHECK(second["tables"]["np"]["deleted"] == 0);
  CHECK(db.count("np") == 5);
  CHECK(contents(db, "np") == after_first);
  CHECK(data_collections(db) == std::set<std::string>{"np"});  // no staging left behind
  CHECK(list_indexes(db.name(), "np").count("m2m_key") == 0);

  // One duplicate goes at the source: one document goes, the other two stay.
  db.sql("DELETE FROM np WHERE a = 1 LIMIT 1");
  const auto third = full_sync(db);
  CHECK(third["tables"]["np"]["records_synced"] == 4);
  CHECK(third["tables"]["np"]["deleted"] == 1);
  CHECK(db.count("np", R"({"a": 1, "b": "x"})") == 2);
  CHECK(db.count("np") == 4);
  CHECK(metadata_for(db, "np")["rows_deleted"] == i64(1));
}

TEST_CASE("sync --full: a NOT NULL unique key stands in for a missing primary key but a nullable one does not",
          "[sync][full]") {
  rig::Scratch db;
  db.sql("CREATE TABLE uk (code VARCHAR(10) NOT NULL, v INT, UNIQUE KEY uq_code (code));"
         "CREATE TABLE uk2 (c INT NULL, a INT NOT NULL, b INT NOT NULL, UNIQUE KEY u1 (c), UNIQUE KEY u2 (b, a));"
         "CREATE TABLE nuk (code VARCHAR(10) NULL, v INT, UNIQUE KEY uq_code (code));"
         "INSERT INTO uk VALUES ('one', 1), ('two', 2), ('three', 3);"
         "INSERT INTO uk2 VALUES (NULL, 1, 1), (NULL, 1, 2), (5, 2, 1);"
         "INSERT INTO nuk VALUES (NULL, 1), (NULL, 2), ('x', 3)");
  const auto t = tables_json(db)["tables"];
  CHECK(t["uk"]["key"] == json::array({"code"}));
  CHECK(t["uk"]["key_source"] == "unique key");
  CHECK(t["uk2"]["key"] == json::array({"b", "a"}));  // in the index's order
  CHECK(t["uk2"]["key_source"] == "unique key");
  CHECK(t["nuk"]["key"] == json::array());
  CHECK(t["nuk"]["key_source"] == "none");

  const auto first = full_sync(db);
  CHECK(first["tables"]["uk"]["warnings"] == json::array());
  CHECK(first["tables"]["nuk"]["warnings"].size() == 1);
  CHECK(db.count("uk") == 3);
  CHECK(db.count("uk2") == 3);
  CHECK(db.count("nuk") == 3);
  const auto idx = list_indexes(db.name(), "uk");
  REQUIRE(idx.count("m2m_key") == 1);
  CHECK(idx.at("m2m_key").unique);
  CHECK(idx.at("m2m_key").fields == std::vector<std::string>{"code"});
  const auto idx2 = list_indexes(db.name(), "uk2");
  REQUIRE(idx2.count("m2m_key") == 1);
  CHECK(idx2.at("m2m_key").fields == std::vector<std::string>{"b", "a"});

  db.sql("UPDATE uk SET v = 22 WHERE code = 'two'; DELETE FROM uk WHERE code = 'three'");
  const auto second = full_sync(db);
  CHECK(second["tables"]["uk"]["deleted"] == 1);
  CHECK(db.count("uk") == 2);
  CHECK(db.find("uk", R"({"code": "two"})")[0]["v"] == i32(22));
  CHECK(db.count("uk", R"({"code": "three"})") == 0);
}

TEST_CASE("sync --full: awkward table and column names are quoted everywhere and renamed by the rule",
          "[sync][full][names]") {
  rig::Scratch db;
  db.sql("CREATE TABLE `we``ird` (id INT PRIMARY KEY, `back``tick` VARCHAR(5));"
         "CREATE TABLE `has space` (`sp ace` INT PRIMARY KEY, `other col` VARCHAR(5));"
         "CREATE TABLE `order` (`_id` INT PRIMARY KEY, `select` VARCHAR(10), `$price` DECIMAL(6,2), "
         "  `a_b` INT, `a.b` INT, `na\xC3\xAFve` VARCHAR(5), `from` INT);"
         "CREATE TABLE `select` (`where` INT, `group` INT, PRIMARY KEY (`where`, `group`));"
         "CREATE TABLE `a.b` (`x.y.z` INT PRIMARY KEY);"
         "CREATE TABLE `caf\xC3\xA9` (nom VARCHAR(20) PRIMARY KEY, n INT);"
         "CREATE TABLE `$money` (id INT PRIMARY KEY);");
  db.sql("INSERT INTO `we``ird` VALUES (1, 'a`b'), (2, 'c');"
         "INSERT INTO `has space` VALUES (1, 'p'), (2, 'q');"
         "INSERT INTO `order` VALUES (1, 's1', 9.99, 10, 11, 'n1', 100), (2, 's2', 0.50, 20, 21, 'n2', 200), "
         "  (3, 's3', NULL, 30, 31, 'n3', 300), (4, 's4', 1.00, 40, 41, 'n4', 400);"
         "INSERT INTO `select` VALUES (1, 1), (1, 2), (2, 1);"
         "INSERT INTO `a.b` VALUES (7), (8);"
         // Collation order (utf8mb4_general_ci) differs from MongoDB's binary order for these keys.
         "INSERT INTO `caf\xC3\xA9` VALUES ('a', 1), ('B', 2), ('c', 3), ('\xC3\xA9t\xC3\xA9', 4), ('f', 5), "
         "  ('Zed', 6), ('\xF0\x9F\x98\x80', 7);"
         "INSERT INTO `$money` VALUES (1)");

  const auto plan = tables_json(db);
  CHECK(plan["tables_count"] == 7);
  const json order_renames = {{"_id", "_id_"}, {"$price", "_price"}, {"a.b", "a_b_"}};
  CHECK(plan["tables"]["order"]["renamed_columns"] == order_renames);
  CHECK(plan["tables"]["order"]["key"] == json::array({"_id"}));
  CHECK(plan["tables"]["order"]["key_fields"] == json::array({"_id_"}));
  CHECK(plan["tables"]["a.b"]["renamed_columns"] == json{{"x.y.z", "x_y_z"}});
  CHECK(plan["tables"]["$money"]["collection"] == "_money");
  CHECK(plan["tables"]["caf\xC3\xA9"]["collection"] == "caf\xC3\xA9");

  const auto first = full_sync(db);
  CHECK(first["successful_tables"] == 7);
  CHECK(first["tables"]["order"]["renamed_columns"] == order_renames);
  CHECK(first["tables"]["we`ird"]["renamed_columns"] == json::object());
  CHECK(data_collections(db) ==
        std::set<std::string>{"_money", "a.b", "caf\xC3\xA9", "has space", "order", "select", "we`ird"});
  CHECK(db.count("we`ird") == 2);
  CHECK(db.find("we`ird", R"({"id": 1})")[0]["back`tick"] == "a`b");
  CHECK(db.count("has space") == 2);
  CHECK(db.find("has space", R"({"sp ace": 2})")[0]["other col"] == "q");
  CHECK(db.count("select") == 3);
  CHECK(db.count("a.b") == 2);
  CHECK(db.count("_money") == 1);
  CHECK(db.count("caf\xC3\xA9") == 7);

  REQUIRE(db.count("order") == 4);
  const auto o = db.find("order", R"({"_id_": 1})");
  REQUIRE(o.size() == 1);
  CHECK(o[0]["_id"].contains("$oid"));  // the document's own _id is untouched
  CHECK(o[0]["_id_"] == i32(1));
  CHECK(o[0]["select"] == "s1");
  CHECK(o[0]["_price"] == json{{"$numberDecimal", "9.99"}});
  CHECK(o[0]["a_b"] == i32(10));
  CHECK(o[0]["a_b_"] == i32(11));
  CHECK(o[0]["na\xC3\xAFve"] == "n1");
  CHECK(o[0]["from"] == i32(100));
  CHECK_FALSE(o[0].contains("$price"));
  CHECK_FALSE(o[0].contains("a.b"));
  const auto idx = list_indexes(db.name(), "order");
  REQUIRE(idx.count("m2m_key") == 1);
  CHECK(idx.at("m2m_key").fields == std::vector<std::string>{"_id_"});
  CHECK(list_indexes(db.name(), "select").at("m2m_key").fields == std::vector<std::string>{"where", "group"});

  // Second run: deletes are reconciled through the same quoting, and the string key merge holds even
  // though MySQL's collation orders these keys differently from MongoDB.
  db.sql("DELETE FROM `order` WHERE `_id` = 3; DELETE FROM `caf\xC3\xA9` WHERE nom = 'B';"
         "DELETE FROM `select` WHERE `where` = 1 AND `group` = 2;"
         "UPDATE `we``ird` SET `back``tick` = 'z' WHERE id = 2");
  const auto second = full_sync(db);
  CHECK(second["tables"]["order"]["deleted"] == 1);
  CHECK(second["tables"]["caf\xC3\xA9"]["deleted"] == 1);
  CHECK(second["tables"]["select"]["deleted"] == 1);
  CHECK(second["total_records_deleted"] == 3);
  CHECK(db.count("order") == 3);
  CHECK(db.count("order", R"({"_id_": 3})") == 0);
  CHECK(db.count("caf\xC3\xA9") == 6);
  CHECK(db.count("caf\xC3\xA9", R"({"nom": "B"})") == 0);
  CHECK(db.count("caf\xC3\xA9", R"({"nom": "\u00e9t\u00e9"})") == 1);
  CHECK(db.count("select") == 2);
  CHECK(db.find("we`ird", R"({"id": 2})")[0]["back`tick"] == "z");
  CHECK(metadata_for(db, "order")["key_fields"] == json::array({"_id_"}));
}

TEST_CASE("sync --full: rows deleted in MySQL are removed on the next full sync and counted", "[sync][full]") {
  rig::Scratch db;
  db.sql("CREATE TABLE del (id INT PRIMARY KEY, v VARCHAR(5));"
         "INSERT INTO del SELECT seq, CONCAT('v', seq) FROM seq_1_to_10");
  full_sync(db);
  REQUIRE(db.count("del") == 10);

  db.sql("DELETE FROM del WHERE id IN (1, 5, 10)");
  const auto j = full_sync(db);
  CHECK(j["tables"]["del"]["deleted"] == 3);
  CHECK(j["tables"]["del"]["records_synced"] == 7);
  CHECK(j["total_records_deleted"] == 3);
  CHECK(db.count("del") == 7);
  for (int id : {1, 5, 10}) CHECK(db.count("del", "{\"id\": " + std::to_string(id) + "}") == 0);
  for (int id : {2, 3, 4, 6, 7, 8, 9}) CHECK(db.count("del", "{\"id\": " + std::to_string(id) + "}") == 1);
  const auto meta = metadata_for(db, "del");
  CHECK(meta["rows_deleted"] == i64(3));
  CHECK(meta["records_synced"] == i64(7));
  CHECK(meta["status"] == "success");

  // Nothing changed: nothing deleted.
  const auto again = full_sync(db);
  CHECK(again["tables"]["del"]["deleted"] == 0);
  CHECK(db.count("del") == 7);
}

TEST_CASE("sync --full: the delete guard refuses to remove more than half a collection unless --force-deletes",
          "[sync][full][guard]") {
  rig::Scratch db;
  db.sql("CREATE TABLE g (id INT PRIMARY KEY, v INT); INSERT INTO g SELECT seq, 0 FROM seq_1_to_10;"
         "CREATE TABLE h (id INT PRIMARY KEY); INSERT INTO h SELECT seq FROM seq_1_to_10;"
         "CREATE TABLE np (v INT); INSERT INTO np SELECT seq FROM seq_1_to_10");
  full_sync(db);
  REQUIRE(db.count("g") == 10);
  REQUIRE(db.count("np") == 10);

  // g loses 60 %: refused. h loses exactly 50 %: allowed (the limit is "more than"). np (staging) loses
  // 60 %: refused too.
  db.sql("DELETE FROM g WHERE id <= 6; DELETE FROM h WHERE id <= 5; DELETE FROM np WHERE v <= 6");
  const auto r = rig::run({"--json", "sync", "--full"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 3);
  const auto j = r.json();
  CHECK(j["status"] == "partial");
  CHECK(j["failed_tables"] == 2);
  CHECK(j["successful_tables"] == 1);
  CHECK(j["tables"]["g"]["status"] == "failed");
  const std::string g_error = j["tables"]["g"]["error"];
  CHECK(starts_with(g_error, "refusing to delete"));
  CHECK(g_error.find("6 of 10") != std::string::npos);
  CHECK(g_error.find("--force-deletes") != std::string::npos);
  CHECK(j["tables"]["g"]["deleted"] == 0);
  CHECK(j["tables"]["h"]["status"] == "success");
  CHECK(j["tables"]["h"]["deleted"] == 5);
  CHECK(j["tables"]["np"]["status"] == "failed");
  CHECK(starts_with(j["tables"]["np"]["error"].get<std::string>(), "refusing to"));
  CHECK(r.err.find("refusing to delete") != std::string::npos);
  CHECK(db.count("g") == 10);  // nothing deleted
  CHECK(db.count("h") == 5);
  CHECK(db.count("np") == 10);  // the old copy stays
  CHECK(data_collections(db) == std::set<std::string>{"g", "h", "np"});
  const auto meta = metadata_for(db, "g");
  CHECK(meta["status"] == "failed");
  CHECK(starts_with(meta["error"].get<std::string>(), "refusing to delete"));

  // A row changes between the refused run and the forced one: the forced full sync must copy it like
  // any full sync (the refused run had finished copying; nothing is left to "resume").
  db.sql("UPDATE g SET v = 100 WHERE id = 8");
  const auto forced = full_sync(db, {"--force-deletes"});
  CHECK(forced["tables"]["g"]["records_synced"] == 4);
  CHECK(db.find("g", R"({"id": 8})")[0]["v"] == i32(100));
  CHECK(forced["tables"]["g"]["deleted"] == 6);
  CHECK(forced["tables"]["np"]["deleted"] == 6);
  CHECK(forced["tables"]["h"]["deleted"] == 0);
  CHECK(db.count("g") == 4);
  CHECK(db.count("g", R"({"id": {"$lte": 6}})") == 0);
  CHECK(db.count("np") == 4);
  CHECK(db.count("np", R"({"v": {"$lte": 6}})") == 0);
  const auto meta2 = metadata_for(db, "g");
  CHECK(meta2["status"] == "success");
  CHECK(meta2["error"].is_null());
  CHECK(meta2["rows_deleted"] == i64(6));
}

TEST_CASE("sync --full: sync.max_delete_fraction from the config file moves the guard", "[sync][full][guard]") {
  rig::Scratch db;
  db.sql("CREATE TABLE g (id INT PRIMARY KEY); INSERT INTO g SELECT seq FROM seq_1_to_10");
  full_sync(db);
  db.sql("DELETE FROM g WHERE id <= 3");  // 30 %
  const TempFile strict(db.name() + "_strict.toml", "[sync]\nmax_delete_fraction = 0.2\n");
  const auto r = rig::run({"--json", "--config", strict.path, "sync", "--full"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 3);
  CHECK(starts_with(r.json()["tables"]["g"]["error"].get<std::string>(), "refusing to delete"));
  CHECK(db.count("g") == 10);

  db.sql("DELETE FROM g WHERE id <= 8");  // 80 % of the collection now
  const TempFile lax(db.name() + "_lax.toml", "[sync]\nmax_delete_fraction = 0.9\n");
  const auto ok = rig::run({"--json", "--config", lax.path, "sync", "--full"}, db.env());
  INFO("stderr: " << ok.err);
  CHECK(ok.code == 0);
  CHECK(ok.json()["tables"]["g"]["deleted"] == 8);
  CHECK(db.count("g") == 2);
}

TEST_CASE("sync --full: one table failing does not stop the others (exit 3 and status partial)", "[sync][full]") {
  rig::Scratch db;
  db.sql("CREATE TABLE a_good (id INT PRIMARY KEY, v INT); INSERT INTO a_good VALUES (1, 1), (2, 2);"
         "CREATE TABLE bad (id INT PRIMARY KEY, v INT); INSERT INTO bad VALUES (1, 1), (2, 2);"
         "CREATE TABLE z_good (id INT PRIMARY KEY, v INT); INSERT INTO z_good VALUES (1, 1), (2, 2), (3, 3)");
  // The collection already holds two documents with the same key: the unique key index cannot be built.
  const auto ins = db.command(R"({"insert": "bad", "documents": [{"id": 1, "v": 0}, {"id": 1, "v": 0}]})");
  REQUIRE_FALSE(ins.contains("_error"));
  REQUIRE(db.count("bad") == 2);

  const auto r = rig::run({"--json", "sync", "--full"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 3);
  const auto j = r.json();
  CHECK(j["status"] == "partial");
  CHECK(j["failed_tables"] == 1);
  CHECK(j["successful_tables"] == 2);
  CHECK(j["total_records_synced"] == 5);
  CHECK(j["tables"]["bad"]["status"] == "failed");
  REQUIRE(j["tables"]["bad"].contains("error"));
  CHECK(j["tables"]["bad"]["error"].get<std::string>().find("cannot create the unique index m2m_key") !=
        std::string::npos);
  CHECK(db.count("bad") == 2);  // nothing was written to it
  CHECK(j["tables"]["a_good"]["status"] == "success");
  CHECK(j["tables"]["z_good"]["status"] == "success");
  CHECK_FALSE(j["tables"]["a_good"].contains("error"));
  CHECK(db.count("a_good") == 2);
  CHECK(db.count("z_good") == 3);
  CHECK(r.err.find("table bad") != std::string::npos);

  const auto meta = metadata_for(db, "bad");
  CHECK(meta["status"] == "failed");
  CHECK(meta["error"].is_string());
  CHECK(metadata_for(db, "z_good")["status"] == "success");

  // Text mode says so on stderr even without -v.
  const auto text = rig::run({"sync", "--full"}, db.env());
  CHECK(text.code == 3);
  CHECK(text.err.find("1 failed") != std::string::npos);

  // Once the cause is gone, the next run copies the table completely.
  REQUIRE_FALSE(db.command(R"({"drop": "bad"})").contains("_error"));
  const auto fixed = full_sync(db);
  CHECK(fixed["tables"]["bad"]["records_synced"] == 2);
  CHECK(db.count("bad") == 2);
  CHECK(db.find("bad", R"({"id": 2})")[0]["v"] == i32(2));
  CHECK(metadata_for(db, "bad")["status"] == "success");
  CHECK(metadata_for(db, "bad")["error"].is_null());
}

TEST_CASE("sync --full: a MySQL table named like the tool's own _sync_metadata collection never clobbers it",
          "[sync][full][names]") {
  rig::Scratch db;
  db.sql("CREATE TABLE `_sync_metadata` (id INT PRIMARY KEY, x INT); INSERT INTO `_sync_metadata` VALUES (1, 1);"
         "CREATE TABLE other (id INT PRIMARY KEY); INSERT INTO other VALUES (1), (2)");
  const auto r = rig::run({"--json", "sync", "--full"}, db.env());
  INFO("stderr: " << r.err);
  // Whether that table is refused or sent to another collection is the tool's choice; what may not happen
  // is its rows landing among the metadata documents, or the other tables failing because of it.
  const auto j = r.json();
  CHECK(j["tables"]["other"]["status"] == "success");
  CHECK(db.count("other") == 2);
  const auto& t = j["tables"]["_sync_metadata"];
  CHECK((t["status"] == "failed" || t["collection"] != "_sync_metadata"));
  for (const auto& d : db.find("_sync_metadata", R"({"_id": {"$ne": "m2m_fence"}})")) {
    INFO("metadata document: " << d.dump());
    CHECK(d.contains("table_name"));
    CHECK_FALSE(d.contains("x"));
  }
  CHECK(db.find("_sync_metadata", R"({"table_name": "other"})").size() == 1);
  CHECK(list_indexes(db.name(), "_sync_metadata").count("m2m_key") == 0);
}

TEST_CASE("sync --full: table selection by --tables globs and --exclude and SYNC_TABLES and unknown names",
          "[sync][full][select]") {
  rig::Scratch db;
  db.sql("CREATE TABLE app_users (id INT PRIMARY KEY); INSERT INTO app_users VALUES (1);"
         "CREATE TABLE app_orders (id INT PRIMARY KEY); INSERT INTO app_orders VALUES (1), (2);"
         "CREATE TABLE app_log (id INT PRIMARY KEY); INSERT INTO app_log VALUES (1);"
         "CREATE TABLE other (id INT PRIMARY KEY); INSERT INTO other VALUES (1);"
         "CREATE VIEW app_view AS SELECT id FROM app_users");

  SECTION("a glob with an exclusion") {
    const auto j = full_sync(db, {"--tables", "app_*", "--exclude", "*_log"});
    CHECK(keys_of(j["tables"]) == std::set<std::string>{"app_orders", "app_users"});
    CHECK(j["total_records_synced"] == 3);
    CHECK(data_collections(db) == std::set<std::string>{"app_orders", "app_users"});
  }
  SECTION("exact names, comma-separated") {
    const auto j = full_sync(db, {"--tables", "other,app_log"});
    CHECK(keys_of(j["tables"]) == std::set<std::string>{"app_log", "other"});
    CHECK(data_collections(db) == std::set<std::string>{"app_log", "other"});
  }
  SECTION("--exclude alone; views are never synced by default") {
    const auto j = full_sync(db, {"--exclude", "app_*"});
    CHECK(keys_of(j["tables"]) == std::set<std::string>{"other"});
    const auto all = full_sync(db);
    CHECK(keys_of(all["tables"]) == std::set<std::string>{"app_log", "app_orders", "app_users", "other"});
    CHECK(data_collections(db).count("app_view") == 0);
  }
  SECTION("SYNC_TABLES from the environment, overridden by --tables") {
    auto env = db.env();
    env["SYNC_TABLES"] = "app_users,other";
    auto r = rig::run({"--json", "sync", "--full"}, env);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(keys_of(r.json()["tables"]) == std::set<std::string>{"app_users", "other"});
    r = rig::run({"--json", "sync", "--full", "--tables", "app_log"}, env);
    REQUIRE(r.code == 0);
    CHECK(keys_of(r.json()["tables"]) == std::set<std::string>{"app_log"});
  }
  SECTION("--tables naming a missing table: usage error 64 naming it, nothing written") {
    const auto r = rig::run({"--json", "sync", "--full", "--tables", "app_users,nosuch"}, db.env());
    CHECK(r.code == 64);
    CHECK(r.err.find("no table 'nosuch'") != std::string::npos);
    CHECK(r.err.find(db.name()) != std::string::npos);
    CHECK(r.json()["exit_code"] == 64);
    const auto glob = rig::run({"sync", "--full", "--tables", "zz*"}, db.env());
    CHECK(glob.code == 64);
    CHECK(glob.err.find("'zz*'") != std::string::npos);
    CHECK(db.collections().empty());
  }
  SECTION("SYNC_TABLES naming a missing table: configuration error 78") {
    auto env = db.env();
    env["SYNC_TABLES"] = "nosuch";
    const auto r = rig::run({"sync", "--full"}, env);
    CHECK(r.code == 78);
    CHECK(r.err.find("no table 'nosuch'") != std::string::npos);
    CHECK(db.collections().empty());
  }
  SECTION("bad [tables.x] settings in the config file: configuration error 78") {
    const TempFile unknown_table(db.name() + "_t1.toml", "[tables.nosuch]\nchange_column = \"x\"\n");
    auto r = rig::run({"--config", unknown_table.path, "sync", "--full"}, db.env());
    CHECK(r.code == 78);
    CHECK(r.err.find("nosuch") != std::string::npos);
    const TempFile unknown_column(db.name() + "_t2.toml", "[tables.other]\nchange_column = \"nope\"\n");
    r = rig::run({"--config", unknown_column.path, "sync", "--full"}, db.env());
    CHECK(r.code == 78);
    CHECK(r.err.find("nope") != std::string::npos);
    CHECK(db.collections().empty());
  }
}

TEST_CASE("sync --full --dry-run prints the plan and writes nothing", "[sync][full]") {
  rig::Scratch db;
  db.sql("CREATE TABLE t1 (id INT PRIMARY KEY, v INT); INSERT INTO t1 VALUES (1, 1), (2, 2), (3, 3);"
         "CREATE TABLE t2 (v INT); INSERT INTO t2 VALUES (1)");

  auto r = rig::run({"--json", "sync", "--full", "--dry-run"}, db.env());
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  auto j = r.json();
  CHECK(j["dry_run"] == true);
  CHECK(j["sync_type"] == "full");
  CHECK(j["total_records_synced"] == 0);
  CHECK(keys_of(j["plan"]) == std::set<std::string>{"t1", "t2"});
  CHECK(j["plan"]["t1"]["key"] == json::array({"id"}));
  CHECK(j["plan"]["t2"]["key_source"] == "none");
  CHECK(db.collections().empty());  // not even _sync_metadata

  const auto text = rig::run({"sync", "--full", "--dry-run"}, db.env());
  REQUIRE(text.code == 0);
  CHECK(text.out.find("nothing written") != std::string::npos);
  CHECK(db.collections().empty());

  // After a real sync, a dry run with changes pending touches neither data nor metadata.
  full_sync(db);
  const auto before_t1 = contents(db, "t1");
  const auto before_meta = db.find("_sync_metadata", "{}", R"({"table_name": 1})");
  db.sql("DELETE FROM t1 WHERE id = 1; UPDATE t1 SET v = 20 WHERE id = 2; INSERT INTO t1 VALUES (4, 4);"
         "INSERT INTO t2 VALUES (2)");
  r = rig::run({"--json", "sync", "--full", "--dry-run"}, db.env());
  REQUIRE(r.code == 0);
  CHECK(r.json()["dry_run"] == true);
  CHECK(contents(db, "t1") == before_t1);
  CHECK(db.count("t2") == 1);
  CHECK(db.find("_sync_metadata", "{}", R"({"table_name": 1})") == before_meta);
}

TEST_CASE("sync --full: foreign-key columns get non-unique indexes unless a key prefix covers them",
          "[sync][full]") {
  rig::Scratch db;
  db.sql("CREATE TABLE parent (id INT PRIMARY KEY);"
         "CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES parent (id));"
         "CREATE TABLE link (a INT, b INT, PRIMARY KEY (a, b), FOREIGN KEY (a) REFERENCES parent (id), "
         "  FOREIGN KEY (b) REFERENCES child (id));"
         "CREATE TABLE multi (id INT PRIMARY KEY, x INT, y INT, FOREIGN KEY (x, y) REFERENCES link (a, b));"
         "INSERT INTO parent VALUES (1), (2); INSERT INTO child VALUES (10, 1), (11, 1), (12, NULL);"
         "INSERT INTO link VALUES (1, 10), (2, 11); INSERT INTO multi VALUES (100, 1, 10)");
  const auto plan = tables_json(db)["tables"];
  CHECK(plan["child"]["indexes"] == json::array({json::array({"parent_id"})}));
  CHECK(plan["link"]["indexes"] == json::array({json::array({"b"})}));
  CHECK(plan["multi"]["indexes"] == json::array({json::array({"x", "y"})}));
  CHECK(plan["parent"]["indexes"] == json::array());

  full_sync(db);
  const auto child = list_indexes(db.name(), "child");
  REQUIRE(child.count("m2m_fk_parent_id") == 1);
  CHECK_FALSE(child.at("m2m_fk_parent_id").unique);
  CHECK(child.at("m2m_fk_parent_id").fields == std::vector<std::string>{"parent_id"});
  CHECK(child.at("m2m_key").fields == std::vector<std::string>{"id"});

  const auto link = list_indexes(db.name(), "link");
  CHECK(link.count("m2m_fk_b") == 1);
  CHECK(link.count("m2m_fk_a") == 0);  // served by the key index (a, b)
  CHECK(link.at("m2m_key").fields == std::vector<std::string>{"a", "b"});

  const auto multi = list_indexes(db.name(), "multi");
  REQUIRE(multi.count("m2m_fk_x_y") == 1);
  CHECK(multi.at("m2m_fk_x_y").fields == std::vector<std::string>{"x", "y"});
  CHECK_FALSE(multi.at("m2m_fk_x_y").unique);

  const auto parent = list_indexes(db.name(), "parent");
  CHECK(parent.size() == 2);  // _id_ and m2m_key
  CHECK(db.count("child", R"({"parent_id": null})") == 1);
}

TEST_CASE("tables: the text plan shows key and change column per table and --json the details", "[tables]") {
  rig::Scratch db;
  db.sql("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(10), "
         "  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);"
         "CREATE TABLE notes (a INT, b INT, last_modified DATETIME, PRIMARY KEY (a, b));"
         "CREATE TABLE plain (id INT PRIMARY KEY, v INT);"
         "CREATE TABLE heap (v INT);"
         "CREATE VIEW item_names AS SELECT name FROM items");

  const auto r = rig::run({"tables"}, db.env());
  INFO("stdout:\n" << r.out << "\nstderr: " << r.err);
  REQUIRE(r.code == 0);
  const auto items = line_for(r.out, "items");
  REQUIRE_FALSE(items.empty());
  CHECK(items.find(" id ") != std::string::npos);
  CHECK(items.find("updated_at") != std::string::npos);
  const auto notes = line_for(r.out, "notes");
  CHECK(notes.find("a,b") != std::string::npos);
  CHECK(notes.find("last_modified") != std::string::npos);
  const auto plain = line_for(r.out, "plain");
  CHECK(plain.find(" full ") != std::string::npos);
  const auto heap = line_for(r.out, "heap");
  CHECK(heap.find("none") != std::string::npos);
  CHECK(line_for(r.out, "item_names").empty());  // views are not synced by default

  const auto j = tables_json(db);
  CHECK(j["database"] == db.name());
  CHECK(j["tables_count"] == 4);
  const auto& t = j["tables"];
  CHECK(keys_of(t) == std::set<std::string>{"heap", "items", "notes", "plain"});
  CHECK(t["items"]["type"] == "table");
  CHECK(t["items"]["collection"] == "items");
  CHECK(t["items"]["key"] == json::array({"id"}));
  CHECK(t["items"]["key_source"] == "primary key");
  CHECK(t["items"]["change_column"] == "updated_at");
  CHECK(t["items"]["change_reason"] == "ON UPDATE CURRENT_TIMESTAMP");
  CHECK(t["items"]["incremental"] == true);
  CHECK(t["items"]["columns"] == 3);
  CHECK(t["notes"]["change_column"] == "last_modified");
  CHECK(t["notes"]["change_reason"] == "named last_modified");
  CHECK(t["plain"]["change_column"].is_null());
  CHECK(t["plain"]["incremental"] == false);
  CHECK(t["heap"]["key"] == json::array());
  CHECK(t["heap"]["incremental"] == false);
  CHECK(t["items"]["schema_fingerprint"].is_string());
  CHECK(t["items"]["schema_fingerprint"] != t["plain"]["schema_fingerprint"]);

  // The fingerprint follows the schema: a new column changes it.
  const std::string before = t["plain"]["schema_fingerprint"];
  db.sql("ALTER TABLE plain ADD COLUMN w INT");
  CHECK(tables_json(db)["tables"]["plain"]["schema_fingerprint"] != before);
}

TEST_CASE("sync --full: keyset pagination over 120000 rows with a composite key copies each row exactly once",
          "[sync][full][big]") {
  rig::Scratch db;
  // 7,000 rows per value of g: the 50,000-row chunk boundaries fall inside a group of g, so the
  // continuation condition (g > x) OR (g = x AND n > y) is exercised on both parts.
  db.sql("CREATE TABLE big (g INT NOT NULL, n INT NOT NULL, payload VARCHAR(20), PRIMARY KEY (g, n));"
         "INSERT INTO big SELECT seq DIV 7000, seq MOD 7000, CONCAT('row-', seq) FROM seq_1_to_120000");
  REQUIRE(db.query("SELECT COUNT(*) FROM big")[0][0] == "120000");

  const auto j = full_sync(db);
  CHECK(j["tables"]["big"]["records_synced"] == 120000);
  CHECK(j["total_records_synced"] == 120000);
  CHECK(j["tables"]["big"]["deleted"] == 0);
  REQUIRE(db.count("big") == 120000);

  auto payload_at = [&](int g, int n) {
    const auto docs = db.find("big", "{\"g\": " + std::to_string(g) + ", \"n\": " + std::to_string(n) + "}");
    INFO("g=" << g << " n=" << n);
    REQUIRE(docs.size() == 1);
    return docs[0]["payload"].get<std::string>();
  };
  CHECK(payload_at(0, 1) == "row-1");           // first row
  CHECK(payload_at(7, 1000) == "row-50000");    // last row of the first chunk
  CHECK(payload_at(7, 1001) == "row-50001");    // first row of the second
  CHECK(payload_at(14, 2000) == "row-100000");  // last of the second
  CHECK(payload_at(14, 2001) == "row-100001");
  CHECK(payload_at(17, 1000) == "row-120000");  // last row
  CHECK(db.count("big", R"({"g": 7})") == 7000);
  CHECK(db.count("big", R"({"g": 14})") == 7000);
  CHECK(db.count("big", R"({"g": 17})") == 1001);

  // The metadata records the run and no leftover checkpoint.
  const auto meta = db.find("_sync_metadata", R"({"table_name": "big"})");
  REQUIRE(meta.size() == 1);
  CHECK(meta[0]["records_synced"] == i64(120000));
  CHECK(meta[0]["checkpoint"].is_null());

  // A second run after deleting one group: every row rewritten once more, the group's documents removed.
  db.sql("DELETE FROM big WHERE g = 16");  // 7,000 of 120,000: below the guard
  const auto again = full_sync(db);
  CHECK(again["tables"]["big"]["records_synced"] == 113000);
  CHECK(again["tables"]["big"]["deleted"] == 7000);
  CHECK(db.count("big") == 113000);
  CHECK(db.count("big", R"({"g": 16})") == 0);
}
