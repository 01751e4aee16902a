// `mysql2mongo status` against the rig: the text table and its summary line, the --json document (the
// seed's scheduler and sync_data, extended), before any sync, with MySQL down (it reads MongoDB only), and
// with MongoDB down. The shapes and counts are unit-tested on ops::to_json and ops::StatusReport
// (tests/unit/test_ops_status.cpp); here the binary renders what a real run recorded.
#include "support/net.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

using rig::contains;
using rig::insert_lease;
using rig::json;
using rig::lines_of;
using rig::make_shop;
using rig::make_unsyncable;
using rig::mongo_down;
using rig::mysql_down;
using rig::now_ms;
using rig::starts_with;
using rig::sync_ok;
using rig::with_env;
using rig::words_of;

const std::regex kIsoTime(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");

}  // namespace

TEST_CASE("status: the text table and the summary line after a sync, then after an incremental one",
          "[status]") {
  rig::Scratch db("st");
  make_shop(db);
  sync_ok(db);

  const auto r = rig::run({"status"}, db.env());
  INFO("stdout:\n" << r.out << "stderr:\n" << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  auto lines = lines_of(r.out);
  REQUIRE(lines.size() == 4);  // header, items, orders, summary

  // The header: the columns in this order.
  std::size_t at = 0;
  for (const char* col : {"TABLE", "LAST SYNC", "AGE", "TYPE", "RECORDS", "STATUS", "DURATION", "LAST ERROR"}) {
    const auto pos = lines[0].find(col, at);
    INFO("header column " << col);
    CHECK(pos != std::string::npos);
    if (pos != std::string::npos) at = pos + 1;
  }
  // One row per table, by name: name, last sync time, age, type, records, status, duration, error.
  const std::map<std::string, std::string> records = {{"items", "3"}, {"orders", "5"}};
  std::size_t row = 1;
  for (const auto& [table, count] : records) {
    const auto w = words_of(lines[row++]);
    INFO("row: " << lines[row - 1]);
    REQUIRE(w.size() == 8);
    CHECK(w[0] == table);
    CHECK(std::regex_match(w[1], kIsoTime));
    CHECK(std::regex_match(w[2], std::regex(R"(\d+(ms|s))")));  // seconds old at most
    CHECK(w[3] == "full");
    CHECK(w[4] == count);
    CHECK(w[5] == "success");
    CHECK(std::regex_match(w[6], std::regex(R"(\d+\.\ds)")));
    CHECK(w[7] == "-");
  }
  CHECK(std::regex_match(lines[3], std::regex(R"(2 tables: 2 ok, 0 failed; oldest successful sync \S+ ago)")));

  // An incremental run that copies one changed order: the type and the count follow.
  db.sql("UPDATE orders SET v = 99, updated_at = NOW() + INTERVAL 1 MINUTE WHERE id = 1");
  const auto second = sync_ok(db);
  REQUIRE(second["tables"]["orders"]["sync_type"] == "incremental");
  // (The lookback window may re-read recent rows: what counts is that status shows the run's figure.)
  const auto incremental_records = second["tables"]["orders"]["records_synced"].get<long long>();
  const auto r2 = rig::run({"status"}, db.env());
  REQUIRE(r2.code == 0);
  lines = lines_of(r2.out);
  REQUIRE(lines.size() == 4);
  const auto orders = words_of(lines[2]);
  REQUIRE(orders.size() == 8);
  CHECK(orders[0] == "orders");
  CHECK(orders[3] == "incremental");
  CHECK(orders[4] == std::to_string(incremental_records));
  const auto items = words_of(lines[1]);
  REQUIRE(items.size() == 8);
  CHECK(items[3] == "full");
  CHECK(items[4] == "3");
  CHECK_FALSE(contains(r2.out, "a run is working now"));

  // A live run lock: the summary names its holder, and --json says the scheduler is running.
  insert_lease(db, "otherhost:4242", now_ms() + 600000);
  const auto r3 = rig::run({"status"}, db.env());
  REQUIRE(r3.code == 0);
  CHECK(contains(lines_of(r3.out).back(), "; a run is working now (otherhost:4242)"));
  const auto j = rig::run({"--json", "status"}, db.env());
  REQUIRE(j.code == 0);
  CHECK(j.json()["scheduler"]["running"] == true);
  CHECK(j.json()["scheduler"]["lock_holder"] == "otherhost:4242");
}

TEST_CASE("status --json: the seed's scheduler and sync_data shape, extended, with a failed table", "[status]") {
  rig::Scratch db("stj");
  make_shop(db);
  db.sql("CREATE TABLE lossy (id INT PRIMARY KEY, dt DATETIME(6)); "
         "INSERT INTO lossy VALUES (1, '2020-01-01 00:00:00.123456'), (2, '2020-01-01 00:00:00')");
  make_unsyncable(db, "bad");
  const auto env = with_env(db.env(), {{"SYNC_INTERVAL", "10m"}});
  const auto s = rig::run({"--json", "sync"}, env);
  INFO("sync stderr: " << s.err);
  REQUIRE(s.code == 3);
  const auto report = s.json();

  const auto r = rig::run({"--json", "status"}, env);
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  const auto j = r.json();
  REQUIRE(j.is_object());
  CHECK(j.size() == 5);
  CHECK(j["schema_version"] == 1);
  CHECK(j["exit_code"] == 0);
  REQUIRE(j.contains("scheduler"));
  REQUIRE(j.contains("sync_data"));
  CHECK(j["units"] == json::array());  // no work unit held (only a sharded run's shards hold them)

  const auto& sch = j["scheduler"];
  CHECK(sch["running"] == false);
  CHECK(sch["type"].is_string());
  CHECK(sch["interval_seconds"] == 600);  // SYNC_INTERVAL, the timer's interval
  CHECK(sch.contains("lock_holder"));
  CHECK(sch["lock_holder"].is_null());

  const auto& data = j["sync_data"];
  CHECK(data["total_tables"] == 4);
  CHECK(data["failed_tables"] == 1);
  REQUIRE(data["tables"].is_object());
  std::set<std::string> names;
  for (const auto& [k, v] : data["tables"].items()) names.insert(k);
  CHECK(names == std::set<std::string>{"bad", "items", "lossy", "orders"});

  const std::vector<std::string> fields = {"last_sync_time", "sync_type",      "records_synced", "status",
                                           "duration_seconds", "collection",   "last_success_time", "age_seconds",
                                           "rows_deleted",   "lossy_total",    "error"};
  for (const auto& [name, t] : data["tables"].items()) {
    INFO("table " << name << ": " << t.dump());
    for (const auto& f : fields) {
      INFO("field " << f);
      CHECK(t.contains(f));
    }
    // The seed's fields with the seed's types.
    CHECK(t["last_sync_time"].is_string());
    CHECK(std::regex_match(t["last_sync_time"].get<std::string>(), kIsoTime));
    CHECK(t["sync_type"] == "full");
    CHECK(t["records_synced"].is_number_integer());
    CHECK(t["duration_seconds"].is_number());
    CHECK(t["duration_seconds"].get<double>() >= 0);
    CHECK(t["duration_seconds"].get<double>() < 60);
    CHECK(t["collection"] == name);
    CHECK(t["rows_deleted"] == 0);
    // The counts are those of the run's own report.
    CHECK(t["records_synced"] == report["tables"][name]["records_synced"]);
    CHECK(t["status"] == report["tables"][name]["status"]);
  }
  for (const char* name : {"items", "orders", "lossy"}) {
    const auto& t = data["tables"][name];
    INFO("table " << name << ": " << t.dump());
    CHECK(t["status"] == "success");
    CHECK(t["error"].is_null());
    CHECK(t["last_success_time"] == t["last_sync_time"]);
    REQUIRE(t["age_seconds"].is_number_integer());
    CHECK(t["age_seconds"].get<long long>() >= 0);
    CHECK(t["age_seconds"].get<long long>() < 60);
  }
  CHECK(data["tables"]["items"]["records_synced"] == 3);
  CHECK(data["tables"]["orders"]["records_synced"] == 5);
  CHECK(data["tables"]["lossy"]["records_synced"] == 2);
  CHECK(data["tables"]["lossy"]["lossy_total"] == 1);
  CHECK(data["tables"]["orders"]["lossy_total"] == 0);
  const auto& bad = data["tables"]["bad"];
  CHECK(bad["status"] == "failed");
  CHECK(bad["records_synced"] == 0);
  REQUIRE(bad["error"].is_string());
  CHECK(contains(bad["error"].get<std::string>(), "cannot create the unique index"));
  CHECK(bad["last_success_time"].is_null());
  CHECK(bad["age_seconds"].is_null());

  // The text table says the same: the failed table with its error, and the summary counts it.
  const auto text = rig::run({"status"}, env);
  REQUIRE(text.code == 0);
  const auto lines = lines_of(text.out);
  REQUIRE(lines.size() == 6);
  const auto w = words_of(lines[1]);  // "bad" sorts first
  REQUIRE(w.size() >= 8);
  CHECK(w[0] == "bad");
  CHECK(w[5] == "failed");
  CHECK(contains(lines[1], "cannot create the unique index"));
  CHECK(lines.back() == "4 tables: 3 ok, 1 failed; 1 never synced successfully");
}

TEST_CASE("status before any sync: an empty table and exit 0", "[status]") {
  rig::Scratch db("st0");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
  const auto r = rig::run({"status"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 0);
  CHECK(contains(r.out, "0 tables: 0 ok, 0 failed"));
  const auto j = rig::run({"--json", "status"}, db.env());
  REQUIRE(j.code == 0);
  CHECK(j.json()["sync_data"]["total_tables"] == 0);
  CHECK(j.json()["sync_data"]["tables"] == json::object());
}

TEST_CASE("status reads MongoDB only: it works while MySQL is unreachable", "[status]") {
  rig::Scratch db("stmy");
  make_shop(db);
  sync_ok(db);
  const auto env = mysql_down(db);
  // MySQL really is unreachable with this environment.
  const auto s = rig::run({"sync"}, env);
  REQUIRE(s.code == 69);

  const auto r = rig::run({"status"}, env);
  INFO("stderr: " << r.err);
  CHECK(r.code == 0);
  CHECK(r.err.empty());
  CHECK(contains(r.out, "2 tables: 2 ok, 0 failed"));
  const auto j = rig::run({"--json", "status"}, env);
  REQUIRE(j.code == 0);
  CHECK(j.json()["sync_data"]["total_tables"] == 2);
  const auto c = rig::run({"status", "--check"}, env);
  CHECK(c.code == 0);
  CHECK(starts_with(c.out, "MYSQL2MONGO OK - 2 tables"));
}

TEST_CASE("status with MongoDB unreachable: exit 69, --json an error document", "[status]") {
  rig::Scratch db("stmg");
  const auto env = mongo_down(db);
  const auto r = rig::run({"status"}, env);
  CHECK(r.code == 69);
  CHECK(starts_with(r.err, "mysql2mongo: error: MongoDB at mongodb://127.0.0.1:"));
  CHECK(r.out.empty());
  CHECK(r.seconds < 15);
  const auto j = rig::run({"--json", "status"}, env);
  CHECK(j.code == 69);
  CHECK(j.json()["status"] == "error");
  CHECK(j.json()["exit_code"] == 69);
}
