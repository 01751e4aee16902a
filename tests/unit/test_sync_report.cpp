// lib/sync/report: a run's outcome (status, exit code, counts), a table's settled status and error line, and
// the --json report of `sync` (the seed's trigger response, extended).
#include "sync/report.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace m2m;

namespace {

sync::TableReport ok(const std::string& name, std::uint64_t records = 0) {
  sync::TableReport t;
  t.table = name;
  t.collection = name;
  t.records_synced = records;
  t.settle();
  return t;
}

sync::TableReport broken(const std::string& name) {
  sync::TableReport t = ok(name);
  t.error = Failure{Exit::unavailable, "MySQL at h:3306: lost connection"};
  t.settle();
  return t;
}

sync::RefusedRow refused(const std::string& id, std::uint64_t bytes, const std::string& reason) {
  return {{id}, "(id) = ('" + id + "')", bytes, reason};
}

sync::RunReport run_of(std::vector<sync::TableReport> tables) {
  sync::RunReport r;
  r.sync_type = mongo::SyncType::incremental;
  for (auto& t : tables) r.tables[t.table] = std::move(t);
  return r;
}

}  // namespace

TEST_CASE("TableReport::settle: failed with an error or a refused row, success otherwise", "[sync][report]") {
  sync::TableReport t;
  t.status = mongo::TableStatus::failed;
  t.settle();
  CHECK(t.status == mongo::TableStatus::success);
  t.error = Failure{Exit::tempfail, "deadlock"};
  t.settle();
  CHECK(t.status == mongo::TableStatus::failed);
  t.error.reset();
  t.refused.push_back(refused("5", 17'000'000, "too large"));
  t.settle();
  CHECK(t.status == mongo::TableStatus::failed);
  t.refused.clear();
  t.settle();
  CHECK(t.status == mongo::TableStatus::success);
}

TEST_CASE("TableReport::error_message: the error, else the refused rows in one line, else nothing",
          "[sync][report]") {
  CHECK(ok("t").error_message().empty());
  CHECK(broken("t").error_message() == "MySQL at h:3306: lost connection");

  auto t = ok("t");
  t.refused = {refused("5", 17'000'000, "document too large")};
  CHECK(t.error_message() ==
        "1 row could not be stored in MongoDB and is retried by the next run: (id) = ('5'): document too large");
  t.refused.push_back(refused("6", 20, "document nested 101 levels deep"));
  t.refused.push_back(refused("7", 30, "c"));
  CHECK(t.error_message() ==
        "3 rows could not be stored in MongoDB and are retried by the next run: (id) = ('5'): document too large; "
        "(id) = ('6'): document nested 101 levels deep; (id) = ('7'): c");
  // Beyond three rows, the line says how many more the report lists.
  t.refused.push_back(refused("8", 40, "d"));
  t.refused.push_back(refused("9", 50, "e"));
  const auto five = t.error_message();
  CHECK(five.rfind("5 rows could not be stored in MongoDB and are retried by the next run: (id) = ('5'): ", 0) == 0);
  CHECK(five.find("('8')") == std::string::npos);
  const std::string tail = "(id) = ('7'): c; and 2 more (see refused_rows)";
  REQUIRE(five.size() > tail.size());
  CHECK(five.substr(five.size() - tail.size()) == tail);
  // An error wins over refused rows.
  t.error = Failure{Exit::unavailable, "gone"};
  CHECK(t.error_message() == "gone");
}

TEST_CASE("RunReport: success, partial or failed, the exit code, and the counts", "[sync][report]") {
  const auto all_ok = run_of({ok("a", 10), ok("b", 5)});
  CHECK(all_ok.status() == sync::RunReport::Status::success);
  CHECK(all_ok.exit_code() == Exit::ok);
  CHECK(all_ok.failed() == 0);
  CHECK(all_ok.succeeded() == 2);
  CHECK(all_ok.total_records() == 15);

  const auto partial = run_of({ok("a", 10), broken("b"), ok("c", 1)});
  CHECK(partial.status() == sync::RunReport::Status::partial);
  CHECK(partial.exit_code() == Exit::tables_failed);
  CHECK(partial.failed() == 1);
  CHECK(partial.succeeded() == 2);
  CHECK(partial.total_records() == 11);

  const auto none_ok = run_of({broken("a"), broken("b")});
  CHECK(none_ok.status() == sync::RunReport::Status::failed);
  CHECK(none_ok.exit_code() == Exit::tables_failed);
  CHECK(none_ok.failed() == 2);
  CHECK(none_ok.succeeded() == 0);

  // A table with refused rows is a failed table.
  auto r = ok("r", 3);
  r.refused = {refused("1", 1, "x")};
  r.settle();
  CHECK(run_of({ok("a"), r}).status() == sync::RunReport::Status::partial);

  // Nothing to sync (an empty database, everything excluded): a success.
  const auto empty = run_of({});
  CHECK(empty.status() == sync::RunReport::Status::success);
  CHECK(empty.exit_code() == Exit::ok);
  CHECK(empty.total_records() == 0);
}

TEST_CASE("to_json(TableReport): the seed's fields first, then what was added, optional ones only when set",
          "[sync][report][json]") {
  auto plain = ok("actor", 200);
  plain.sync_type = mongo::SyncType::incremental;
  plain.duration_seconds = 0.5;
  CHECK(sync::to_json(plain).dump() ==
        R"({"status":"success","records_synced":200,"sync_type":"incremental","change_source":"full","collection":"actor","deleted":0,)"
        R"("duration_seconds":0.5,"lossy":{},"warnings":[],"renamed_columns":{}})");

  auto full = ok("film", 1000);
  full.collection = "m_film";
  full.deleted = 4;
  full.reason = "first sync";
  full.resumed = true;
  full.lossy.add("released", "fractional seconds beyond milliseconds truncated", 3);
  full.lossy.add("released", "zero date stored as null");
  full.lossy.add("cost", "decimal wider than 34 digits stored as string", 2);
  full.warnings = {"Table has no timestamp columns, falling back to full sync"};
  full.renames = {{"a.b", "a_b"}, {"_id", "_id_"}};
  full.refused = {refused("5", 17'000'000, "too large"), refused("6", 99, "too deep")};
  full.settle();
  const auto j = sync::to_json(full);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"status", "records_synced", "sync_type", "change_source", "collection", "deleted",
                                         "duration_seconds", "reason", "resumed", "lossy", "warnings",
                                         "renamed_columns", "error", "refused_rows"});
  CHECK(j["status"] == "failed");
  CHECK(j["collection"] == "m_film");
  CHECK(j["deleted"] == 4);
  CHECK(j["reason"] == "first sync");
  CHECK(j["resumed"] == true);
  CHECK(j["lossy"].dump() == R"({"cost":{"decimal wider than 34 digits stored as string":2},)"
                             R"("released":{"fractional seconds beyond milliseconds truncated":3,)"
                             R"("zero date stored as null":1}})");
  CHECK(j["warnings"].dump() == R"(["Table has no timestamp columns, falling back to full sync"])");
  CHECK(j["renamed_columns"].dump() == R"({"a.b":"a_b","_id":"_id_"})");
  CHECK(j["error"] == full.error_message());
  CHECK(j["refused_rows"].dump() == R"js([{"key":"(id) = ('5')","bytes":17000000,"reason":"too large"},)js"
                                    R"js({"key":"(id) = ('6')","bytes":99,"reason":"too deep"}])js");

  // A failed table's error is in "error"; it has no refused_rows.
  const auto b = sync::to_json(broken("b"));
  CHECK(b["status"] == "failed");
  CHECK(b["error"] == "MySQL at h:3306: lost connection");
  CHECK_FALSE(b.contains("refused_rows"));
}

TEST_CASE("to_json(RunReport): the seed's trigger response, totals over the tables, vanished tables",
          "[sync][report][json]") {
  auto a = ok("a", 10);
  a.deleted = 2;
  a.lossy.add("x", "r", 5);
  auto b = broken("b");
  b.deleted = 1;
  b.lossy.add("y", "r", 1);
  b.lossy.add("z", "s", 1);
  auto r = run_of({a, b});
  r.sync_type = mongo::SyncType::full;
  r.start_ms = 1'760'000'000'000;
  r.end_ms = 1'760'000'001'250;
  r.vanished = {"old_orders"};
  const auto j = sync::to_json(r);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"sync_type", "start_time", "end_time", "duration_seconds",
                                         "total_records_synced", "successful_tables", "failed_tables", "status",
                                         "total_records_deleted", "total_lossy_values", "dry_run", "tables",
                                         "vanished_tables", "jobs", "units"});
  CHECK(j["sync_type"] == "full");
  CHECK(j["start_time"] == "2025-10-09T08:53:20.000Z");
  CHECK(j["end_time"] == "2025-10-09T08:53:21.250Z");
  CHECK(j["duration_seconds"] == 1.25);
  CHECK(j["total_records_synced"] == 10);
  CHECK(j["successful_tables"] == 1);
  CHECK(j["failed_tables"] == 1);
  CHECK(j["status"] == "partial");
  CHECK(j["total_records_deleted"] == 3);
  CHECK(j["total_lossy_values"] == 7);
  CHECK(j["dry_run"] == false);
  CHECK(j["tables"].size() == 2);
  CHECK(j["tables"]["a"] == sync::to_json(a));
  CHECK(j["tables"]["b"] == sync::to_json(b));
  CHECK(j["vanished_tables"].dump() == R"(["old_orders"])");

  auto dry = run_of({});
  dry.dry_run = true;
  const auto d = sync::to_json(dry);
  CHECK(d["dry_run"] == true);
  CHECK(d["tables"].is_object());
  CHECK(d["tables"].empty());
  CHECK(d["vanished_tables"].is_array());
  CHECK(d["vanished_tables"].empty());
  CHECK(d["status"] == "success");
}

TEST_CASE("to_json(RunReport): the workers, a shard's run and every unit this process worked on", "[sync][report][json][units]") {
  auto r = run_of({ok("orders", 30)});
  r.jobs = 4;
  CHECK_FALSE(sync::to_json(r).contains("shard"));
  CHECK(sync::to_json(r)["units"] == nlohmann::ordered_json::array());
  r.shard = sync::RunReport::Shard{1, 3, 42, false};
  sync::UnitReport done;
  done.unit = "orders [2/3]";
  done.kind = "range";
  done.worker = 2;
  done.records_synced = 10;
  done.taken_over = true;
  sync::UnitReport lost;
  lost.unit = "orders [3/3]";
  lost.kind = "range";
  lost.status = mongo::TableStatus::failed;
  lost.lost = true;
  lost.error = "taken over";
  r.units = {done, lost};
  const auto j = sync::to_json(r);
  CHECK(j["jobs"] == 4);
  CHECK(j["shard"].dump() == R"({"index":1,"count":3,"run":42,"planned":false})");
  REQUIRE(j["units"].size() == 2);
  CHECK(j["units"][0].dump() ==
        R"({"unit":"orders [2/3]","kind":"range","worker":2,"status":"success","records_synced":10,"deleted":0,)"
        R"("duration_seconds":0.0,"taken_over":true})");
  CHECK(j["units"][1]["status"] == "lost");
  CHECK(j["units"][1]["error"] == "taken over");
  auto t = ok("orders", 30);
  t.key_ranges = 3;
  CHECK(sync::to_json(t)["key_ranges"] == 3);
  CHECK_FALSE(sync::to_json(ok("x", 1)).contains("key_ranges"));
}
