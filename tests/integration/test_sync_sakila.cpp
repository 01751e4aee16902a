// The Sakila sample database (tests/fixtures/sakila: a schema written elsewhere, 16 base tables, 7 views,
// triggers, routines, ~47k rows) through `mysql2mongo sync --full`, twice.
#include "support/ejson.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using json = nlohmann::json;
using rig::keys_of;
using rig::list_indexes;

const std::map<std::string, long long> kCounts = {
    {"actor", 200},        {"address", 603},  {"category", 16},     {"city", 600},        {"country", 109},
    {"customer", 599},     {"film", 1000},    {"film_actor", 5462}, {"film_category", 1000},
    {"film_text", 1000},   {"inventory", 4581}, {"language", 6},    {"payment", 16049},   {"rental", 16044},
    {"staff", 2},          {"store", 2}};

const std::vector<std::string> kViews = {"actor_info",     "customer_list",          "film_list",
                                         "nicer_but_slower_film_list", "sales_by_film_category",
                                         "sales_by_store", "staff_list"};

}  // namespace

TEST_CASE("sync --full of the Sakila sample: 16 tables with exact counts and no views and the right types "
          "and keys and a second run that changes nothing",
          "[sync][sakila]") {
  rig::Scratch db("sakila");
  rig::load_sakila(db);
  // The load itself is complete: what MySQL holds matches the fixture's README.
  for (const auto& [table, n] : kCounts) {
    INFO("MySQL table " << table);
    REQUIRE(db.query("SELECT COUNT(*) FROM `" + table + "`")[0][0] == std::to_string(n));
  }
  REQUIRE(db.query("SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = DATABASE()")[0][0] == "7");

  const auto r = rig::run({"--json", "sync", "--full"}, db.env());
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  const auto j = r.json();
  CHECK(j["status"] == "success");
  CHECK(j["sync_type"] == "full");
  CHECK(j["successful_tables"] == 16);
  CHECK(j["failed_tables"] == 0);
  long long total = 0;
  for (const auto& [table, n] : kCounts) total += n;
  CHECK(j["total_records_synced"] == total);
  CHECK(j["total_records_deleted"] == 0);

  std::set<std::string> expected_tables;
  for (const auto& [table, n] : kCounts) expected_tables.insert(table);
  CHECK(keys_of(j["tables"]) == expected_tables);
  for (const auto& [table, n] : kCounts) {
    INFO("table " << table);
    const auto& t = j["tables"][table];
    CHECK(t["status"] == "success");
    CHECK(t["records_synced"] == n);
    CHECK(t["collection"] == table);
    CHECK(db.count(table) == n);
  }

  // No view became a collection: the collections are the 16 tables and the tool's own bookkeeping
  // (_sync_metadata, and whatever else it keeps under the "_sync_" prefix).
  std::set<std::string> data_collections;
  for (const auto& c : db.collections())
    if (c.rfind("_sync_", 0) != 0) data_collections.insert(c);
  CHECK(data_collections == expected_tables);
  const auto all = db.collections();
  CHECK(std::count(all.begin(), all.end(), "_sync_metadata") == 1);
  for (const auto& v : kViews) CHECK(j["tables"].count(v) == 0);
  CHECK(db.count("_sync_metadata", R"({"status": {"$exists": true}})") == 16);  // one per table, besides the tool's own

  // film.special_features is a SET: an array of strings. Film 1 has "Deleted Scenes,Behind the Scenes".
  const auto film1 = db.find("film", R"({"film_id": 1})");
  REQUIRE(film1.size() == 1);
  CHECK(film1[0]["special_features"] == json::array({"Deleted Scenes", "Behind the Scenes"}));
  CHECK(film1[0]["title"] == "ACADEMY DINOSAUR");
  CHECK(film1[0]["rental_rate"] == json{{"$numberDecimal", "0.99"}});
  CHECK(film1[0]["release_year"] == json{{"$numberInt", "2006"}});
  CHECK(film1[0]["rating"] == "PG");
  // (The rig's filters go through bson_new_from_json, which takes {"$type": ...} for legacy binary, so
  // types are checked on the documents themselves.)
  long long arrays = 0;
  for (const auto& f : db.find("film")) arrays += f["special_features"].is_array();
  CHECK(arrays == std::stoll(db.query("SELECT COUNT(special_features) FROM film")[0][0]));
  CHECK(db.count("film", R"({"special_features": "Trailers"})") ==
        std::stoll(db.query("SELECT COUNT(*) FROM film WHERE FIND_IN_SET('Trailers', special_features)")[0][0]));

  // payment.amount is DECIMAL(5,2): Decimal128, exact.
  const auto payment1 = db.find("payment", R"({"payment_id": 1})");
  REQUIRE(payment1.size() == 1);
  CHECK(payment1[0]["amount"] == json{{"$numberDecimal", "2.99"}});
  CHECK(payment1[0]["payment_date"] == json{{"$date", {{"$numberLong", "1117020637000"}}}});  // 2005-05-25 11:30:37
  long long decimals = 0;
  for (const auto& p : db.find("payment")) decimals += p["amount"].contains("$numberDecimal");
  CHECK(decimals == 16049);

  // film_actor is keyed on both columns: a unique compound index in key order, and the plan says so.
  const auto fa_indexes = list_indexes(db.name(), "film_actor");
  REQUIRE(fa_indexes.count("m2m_key") == 1);
  CHECK(fa_indexes.at("m2m_key").fields == std::vector<std::string>{"actor_id", "film_id"});
  CHECK(fa_indexes.at("m2m_key").unique);
  const auto fc_indexes = list_indexes(db.name(), "film_category");
  REQUIRE(fc_indexes.count("m2m_key") == 1);
  CHECK(fc_indexes.at("m2m_key").fields == std::vector<std::string>{"film_id", "category_id"});
  // film_id is a foreign key of film_actor that is not a key prefix: it gets its own index.
  CHECK(fa_indexes.count("m2m_fk_film_id") == 1);
  CHECK(db.count("film_actor", R"({"actor_id": 1})") == 19);
  CHECK(db.count("film_actor", R"({"actor_id": 1, "film_id": 1})") == 1);
  const auto fa_meta = db.find("_sync_metadata", R"({"table_name": "film_actor"})");
  REQUIRE(fa_meta.size() == 1);
  CHECK(fa_meta[0]["key_fields"] == json::array({"actor_id", "film_id"}));
  CHECK(fa_meta[0]["status"] == "success");

  // staff.picture is a MEDIUMBLOB: binary subtype 0 with every byte (staff 1 has a picture).
  const auto staff1 = db.find("staff", R"({"staff_id": 1})");
  REQUIRE(staff1.size() == 1);
  REQUIRE(staff1[0]["picture"].contains("$binary"));
  CHECK(staff1[0]["picture"]["$binary"]["subType"] == "00");
  const std::string b64 = staff1[0]["picture"]["$binary"]["base64"];
  const auto tail = b64.substr(b64.size() - std::min<std::size_t>(2, b64.size()));
  const auto padding = static_cast<std::size_t>(std::count(tail.begin(), tail.end(), '='));
  CHECK(std::to_string(b64.size() / 4 * 3 - padding) ==
        db.query("SELECT LENGTH(picture) FROM staff WHERE staff_id = 1")[0][0]);
  CHECK(staff1[0]["active"] == json{{"$numberInt", "1"}});  // BOOLEAN is TINYINT(1): int32 by default

  // The plan agrees: views are listed nowhere, film_actor's key is composite.
  const auto plan = rig::run({"--json", "tables"}, db.env());
  REQUIRE(plan.code == 0);
  const auto pj = plan.json();
  CHECK(pj["tables_count"] == 16);
  CHECK(pj["tables"]["film_actor"]["key"] == json::array({"actor_id", "film_id"}));
  CHECK(pj["tables"]["payment"]["change_column"] == "last_update");

  // Second full sync: counts unchanged, nothing deleted, documents replaced in place.
  const auto actor1_id = db.find("actor", R"({"actor_id": 1})")[0]["_id"];
  const auto r2 = rig::run({"--json", "sync", "--full"}, db.env());
  INFO("stderr (second run): " << r2.err);
  REQUIRE(r2.code == 0);
  const auto j2 = r2.json();
  CHECK(j2["status"] == "success");
  CHECK(j2["successful_tables"] == 16);
  CHECK(j2["total_records_synced"] == total);
  CHECK(j2["total_records_deleted"] == 0);
  for (const auto& [table, n] : kCounts) {
    INFO("table " << table << " (second run)");
    CHECK(j2["tables"][table]["records_synced"] == n);
    CHECK(j2["tables"][table]["deleted"] == 0);
    CHECK(db.count(table) == n);
  }
  CHECK(db.find("actor", R"({"actor_id": 1})")[0]["_id"] == actor1_id);
  CHECK(db.count("_sync_metadata", R"({"status": {"$exists": true}})") == 16);  // one per table, besides the tool's own
}
