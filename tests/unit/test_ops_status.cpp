// lib/ops/status: what `status` and `status --check` make of _sync_metadata. The report is built here by
// hand (load_status reads it from MongoDB): every Nagios outcome, its perfdata and line rules, and the
// --json shape, at a fixed "now".
#include "config/config.hpp"
#include "ops/status.hpp"
#include "util/text.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

using namespace m2m;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

constexpr std::int64_t kNow = 1'760'000'000'000;  // 2025-10-09T08:53:20Z
constexpr milliseconds kWarn = 1h;                 // status --check's defaults
constexpr milliseconds kCrit = 3h;

// A table whose last sync succeeded `age` before kNow.
mongo::TableState synced(const std::string& name, milliseconds age) {
  mongo::TableState t;
  t.table_name = name;
  t.collection = name;
  t.sync_type = mongo::SyncType::full;
  t.status = mongo::TableStatus::success;
  t.last_success_ms = kNow - age.count();
  t.timestamp_ms = t.last_success_ms;
  t.last_sync_time = iso8601_utc(t.last_success_ms);
  return t;
}

// A table whose last run failed; it last succeeded `age` before kNow (0: never).
mongo::TableState failed(const std::string& name, std::optional<milliseconds> age) {
  mongo::TableState t = synced(name, 1s);
  t.status = mongo::TableStatus::failed;
  t.error = "cannot create the unique index";
  t.last_success_ms = age ? kNow - age->count() : 0;
  return t;
}

// A table that no longer exists in MySQL.
mongo::TableState dropped(mongo::TableState t) {
  t.dropped = true;
  t.dropped_ms = kNow - 60'000;
  return t;
}

ops::StatusReport report(std::vector<mongo::TableState> tables) {
  ops::StatusReport r;
  r.database = "shop";
  r.tables = std::move(tables);
  r.now_ms = kNow;
  return r;
}

bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

// ---- StatusReport ------------------------------------------------------------------------------------------

TEST_CASE("StatusReport counts failed, never-succeeded and dropped tables, and dropped ones count for nothing else",
          "[ops][status]") {
  const auto r = report({synced("a", 4min), failed("b", 2h), failed("c", std::nullopt),
                         dropped(failed("d", std::nullopt)), dropped(synced("e", 30 * 24h))});
  CHECK(r.failed() == 2);           // b, c; not the dropped d
  CHECK(r.never_succeeded() == 1);  // c; not the dropped d
  CHECK(r.dropped() == 2);
  // A table that never succeeded has no age: there is no "oldest success" to speak of.
  CHECK(r.oldest_success_age() == std::nullopt);

  // Without c: the oldest success among the tables still in MySQL (e is older, but dropped).
  const auto live = report({synced("a", 4min), failed("b", 2h), dropped(synced("e", 30 * 24h))});
  CHECK(live.failed() == 1);
  CHECK(live.never_succeeded() == 0);
  CHECK(live.oldest_success_age() == milliseconds(2h));

  CHECK(report({}).oldest_success_age() == std::nullopt);
  CHECK(report({dropped(synced("e", 1min))}).oldest_success_age() == std::nullopt);
  // A success stamped ahead of this clock (another host's clock) is no negative age.
  CHECK(report({synced("a", -5s)}).oldest_success_age() == milliseconds(0));
}

// ---- status --check --------------------------------------------------------------------------------------

TEST_CASE("check: OK with the oldest success's age, and perfdata age, thresholds in seconds, tables, failed",
          "[ops][status][check]") {
  const auto c = ops::check(report({synced("actor", 1min), synced("film", 4min)}), kWarn, kCrit);
  CHECK(c.code == 0);
  CHECK(c.line == "MYSQL2MONGO OK - 2 tables, oldest sync 4m ago | age=240s;3600;10800 tables=2 failed=0");

  // Ages and thresholds are whole seconds, cut down.
  const auto s = ops::check(report({synced("a", 1999ms)}), 2500ms, 90'900ms);
  CHECK(s.code == 0);
  CHECK(s.line == "MYSQL2MONGO OK - 1 tables, oldest sync 1s ago | age=1s;2;90 tables=1 failed=0");
  // A success ahead of this clock: age 0.
  CHECK(ops::check(report({synced("a", -5s)}), kWarn, kCrit).line ==
        "MYSQL2MONGO OK - 1 tables, oldest sync 0ms ago | age=0s;3600;10800 tables=1 failed=0");
}

TEST_CASE("check: WARNING when the oldest success is older than --warn, not when it is exactly --warn",
          "[ops][status][check]") {
  CHECK(ops::check(report({synced("a", 1min), synced("b", kWarn)}), kWarn, kCrit).code == 0);
  const auto c = ops::check(report({synced("a", 1min), synced("b", kWarn + 1ms)}), kWarn, kCrit);
  CHECK(c.code == 1);
  CHECK(c.line == "MYSQL2MONGO WARNING - 2 tables, oldest sync 1h ago | age=3600s;3600;10800 tables=2 failed=0");
  // --warn 0s: any age at all.
  CHECK(ops::check(report({synced("a", 1ms)}), 0ms, kCrit).code == 1);
  CHECK(ops::check(report({synced("a", 0ms)}), 0ms, kCrit).code == 0);
}

TEST_CASE("check: WARNING when a table's last run failed, however recent the successes, naming the tables",
          "[ops][status][check]") {
  const auto c = ops::check(report({synced("a", 10s), failed("b", 20s), failed("c", 30s)}), kWarn, kCrit);
  CHECK(c.code == 1);
  CHECK(c.line == "MYSQL2MONGO WARNING - 3 tables, oldest sync 30s ago, last run failed for b, c | "
                  "age=30s;3600;10800 tables=3 failed=2");
  // A status other than success counts as a failed run.
  auto odd = synced("d", 10s);
  odd.status = mongo::TableStatus::planned;
  CHECK(ops::check(report({odd}), kWarn, kCrit).code == 1);
}

TEST_CASE("check: CRITICAL when the oldest success is older than --crit, not when it is exactly --crit",
          "[ops][status][check]") {
  CHECK(ops::check(report({synced("a", kCrit)}), kWarn, kCrit).code == 1);
  const auto c = ops::check(report({synced("a", 1min), synced("b", kCrit + 1ms)}), kWarn, kCrit);
  CHECK(c.code == 2);
  CHECK(c.line == "MYSQL2MONGO CRITICAL - 2 tables, oldest sync 3h ago | age=10800s;3600;10800 tables=2 failed=0");
  // Old and failed: CRITICAL, and the failed tables are still named.
  const auto both = ops::check(report({synced("a", 1min), failed("b", 5h)}), kWarn, kCrit);
  CHECK(both.code == 2);
  CHECK(both.line == "MYSQL2MONGO CRITICAL - 2 tables, oldest sync 5h ago, last run failed for b | "
                     "age=18000s;3600;10800 tables=2 failed=1");
  // --warn 0s --crit 0s: any age at all is critical.
  CHECK(ops::check(report({synced("a", 1s)}), 0ms, 0ms).line ==
        "MYSQL2MONGO CRITICAL - 1 tables, oldest sync 1s ago | age=1s;0;0 tables=1 failed=0");
}

TEST_CASE("check: CRITICAL when a table never synced successfully, whatever the thresholds, naming it",
          "[ops][status][check]") {
  const auto c = ops::check(report({synced("a", 1s), failed("never", std::nullopt), synced("z", 2s)}), 24h, 48h);
  CHECK(c.code == 2);
  // No age to report: perfdata says 0.
  CHECK(c.line == "MYSQL2MONGO CRITICAL - 1 of 3 tables never synced successfully (never) | "
                  "age=0s;86400;172800 tables=3 failed=1");
  const auto two = ops::check(report({failed("x", std::nullopt), failed("y", std::nullopt)}), kWarn, kCrit);
  CHECK(two.code == 2);
  CHECK(two.line == "MYSQL2MONGO CRITICAL - 2 of 2 tables never synced successfully (x, y) | "
                    "age=0s;3600;10800 tables=2 failed=2");
}

TEST_CASE("check: UNKNOWN when nothing is recorded, or every recorded table is dropped", "[ops][status][check]") {
  const auto none = ops::check(report({}), kWarn, kCrit);
  CHECK(none.code == 3);
  CHECK(none.line == "MYSQL2MONGO UNKNOWN - no sync recorded in shop._sync_metadata yet");
  const auto gone = ops::check(report({dropped(synced("a", 1s)), dropped(failed("b", std::nullopt))}), kWarn, kCrit);
  CHECK(gone.code == 3);
  CHECK(gone.line == "MYSQL2MONGO UNKNOWN - every table recorded in shop._sync_metadata no longer exists in MySQL");
}

TEST_CASE("check: dropped tables are never judged: not their age, their failure or their missing success",
          "[ops][status][check]") {
  const auto c = ops::check(report({synced("a", 1min), dropped(failed("old", std::nullopt)),
                                    dropped(failed("older", 30 * 24h)), synced("b", 2min)}),
                            kWarn, kCrit);
  CHECK(c.code == 0);
  CHECK(c.line == "MYSQL2MONGO OK - 2 tables, oldest sync 2m ago | age=120s;3600;10800 tables=2 failed=0");
  // A never-synced table among dropped ones: counted out of the tables still in MySQL.
  const auto n = ops::check(report({failed("x", std::nullopt), dropped(synced("y", 1s)), synced("z", 1s)}), kWarn, kCrit);
  CHECK(n.code == 2);
  CHECK(n.line == "MYSQL2MONGO CRITICAL - 1 of 2 tables never synced successfully (x) | "
                  "age=0s;3600;10800 tables=2 failed=1");
}

TEST_CASE("check_unknown: one line of at most 119 bytes, cut with ... and never inside a UTF-8 character",
          "[ops][status][check]") {
  const auto short_reason = ops::check_unknown("cannot read the sync metadata: MongoDB at mongodb://h:1: timed out");
  CHECK(short_reason.code == 3);
  CHECK(short_reason.line == "MYSQL2MONGO UNKNOWN - cannot read the sync metadata: MongoDB at mongodb://h:1: timed out");

  // Line breaks and tabs become spaces: a plugin's status is its first line.
  CHECK(ops::check_unknown("first\nsecond\r\nthird\tfourth").line ==
        "MYSQL2MONGO UNKNOWN - first second  third fourth");

  const std::string prefix = "MYSQL2MONGO UNKNOWN - ";
  REQUIRE(ops::kMaxUnknownLine == 119);
  // Exactly 119 bytes: kept whole. One more: cut to 116 and "...".
  const std::string fits(119 - prefix.size(), 'x');
  CHECK(ops::check_unknown(fits).line == prefix + fits);
  const auto cut = ops::check_unknown(fits + "y");
  CHECK(cut.line.size() == 119);
  CHECK(cut.line == prefix + fits.substr(0, fits.size() - 3) + "...");

  // A multi-byte character across the cut goes whole, at any offset of the cut within it.
  for (std::size_t pad = 0; pad < 4; ++pad) {
    const std::string reason = std::string(90 + pad, 'a') + "\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9 and more text to cut";
    const auto r = ops::check_unknown(reason);
    INFO("pad " << pad << ": " << r.line);
    CHECK(r.line.size() <= 119);
    CHECK(r.line.size() >= 119 - 4 - 3);  // at most one character (4 bytes) lost beyond the cut
    CHECK(r.line.substr(r.line.size() - 3) == "...");
    CHECK(valid_utf8(r.line));
    CHECK(r.line.find('\n') == std::string::npos);
  }

  // check() goes through the same door: a long database name cannot make a long line.
  auto r = report({});
  r.database = std::string(200, 'd');
  const auto long_db = ops::check(r, kWarn, kCrit);
  CHECK(long_db.code == 3);
  CHECK(long_db.line.size() == 119);
  CHECK(long_db.line.substr(long_db.line.size() - 3) == "...");
}

// A MySQL table name may hold any character but NUL, '|' and a line break included (MariaDB accepts
// CREATE TABLE `a|b` and one with a newline in its name). The plugin line is one line whose first '|'
// starts the perfdata: a failed table with such a name must not end the line or start the perfdata early.
TEST_CASE("check: a failed table whose name holds a line break or '|' keeps the line one line with its perfdata",
          "[ops][status][check]") {
  const auto c = ops::check(report({synced("a", 1min), failed("x\ny", 1min), failed("p|q", 1min)}), kWarn, kCrit);
  CHECK(c.code == 1);
  CHECK(c.line.find('\n') == std::string::npos);
  CHECK(c.line.find('|') == c.line.find(" | age=") + 1);
  CHECK(c.line.find("last run failed for x?y, p?q") != std::string::npos);
  const auto never = ops::check(report({synced("a", 1min), failed("t\tab", std::nullopt)}), kWarn, kCrit);
  CHECK(never.code == 2);
  CHECK(never.line.find("(t?ab)") != std::string::npos);
}

// ---- status --json --------------------------------------------------------------------------------------

TEST_CASE("to_json(StatusReport): the seed's scheduler and sync_data, every field of a table, in order",
          "[ops][status][json]") {
  config::Config cfg;
  cfg.sync.interval = 10min;
  auto ok = synced("actor", 90'500ms);
  ok.records_synced = 200;
  ok.duration_seconds = 0.25;
  ok.rows_deleted = 3;
  ok.lossy_total = 7;
  auto bad = failed("bad", std::nullopt);
  const auto j = ops::to_json(report({ok, bad}), cfg);

  CHECK(j.dump() == nlohmann::ordered_json::parse(R"json({
    "scheduler": {"running": false, "type": "external (systemd timer or cron)", "interval_seconds": 600,
                  "lock_holder": null},
    "sync_data": {"total_tables": 2, "failed_tables": 1, "tables": {
      "actor": {"last_sync_time": "2025-10-09T08:51:49.500Z", "sync_type": "full", "records_synced": 200,
                "status": "success", "duration_seconds": 0.25, "collection": "actor", "change_source": "full",
                "last_success_time": "2025-10-09T08:51:49.500Z", "age_seconds": 90, "rows_deleted": 3,
                "lossy_total": 7, "error": null},
      "bad": {"last_sync_time": "2025-10-09T08:53:19.000Z", "sync_type": "full", "records_synced": 0,
              "status": "failed", "duration_seconds": 0.0, "collection": "bad", "change_source": "full",
              "last_success_time": null,
              "age_seconds": null, "rows_deleted": 0, "lossy_total": 0,
              "error": "cannot create the unique index"}}}, "units": []})json")
                      .dump());
}

TEST_CASE("to_json(StatusReport): a live run's lock holder, resumed and refused rows, dropped tables",
          "[ops][status][json]") {
  auto r = report({});
  r.lock_holder = "otherhost:4242";
  auto resumed = synced("r", 1s);
  resumed.resumed = true;
  resumed.refused = {{{"5"}, 17'000'000, "too large"}, {{"6"}, 17'000'001, "too large"}};
  auto gone = dropped(synced("gone", 2h));
  gone.collection_dropped = true;
  auto kept = dropped(failed("kept", std::nullopt));
  r.tables = {resumed, gone, kept};
  const auto j = ops::to_json(r, config::Config{});

  CHECK(j["scheduler"]["running"] == true);
  CHECK(j["scheduler"]["lock_holder"] == "otherhost:4242");
  CHECK(j["scheduler"]["interval_seconds"] == 300);  // SYNC_INTERVAL's default
  // Every table is listed; dropped ones are not failed.
  CHECK(j["sync_data"]["total_tables"] == 3);
  CHECK(j["sync_data"]["failed_tables"] == 0);

  const auto& t = j["sync_data"]["tables"];
  CHECK(t["r"]["resumed"] == true);
  CHECK(t["r"]["refused_rows"] == 2);
  CHECK(t["r"]["refused"].dump() ==
        R"([{"key":["5"],"bytes":17000000,"reason":"too large"},{"key":["6"],"bytes":17000001,"reason":"too large"}])");
  CHECK_FALSE(t["r"].contains("dropped"));
  CHECK_FALSE(t["gone"].contains("resumed"));
  CHECK_FALSE(t["gone"].contains("refused_rows"));
  CHECK_FALSE(t["gone"].contains("refused"));
  CHECK(t["gone"]["dropped"] == true);
  CHECK(t["gone"]["dropped_time"] == "2025-10-09T08:52:20.000Z");
  CHECK(t["gone"]["collection_dropped"] == true);
  CHECK(t["gone"]["age_seconds"] == 7200);
  CHECK(t["kept"]["dropped"] == true);
  CHECK(t["kept"]["collection_dropped"] == false);
  CHECK(t["kept"]["status"] == "failed");
  CHECK(t["kept"]["last_success_time"].is_null());
  // The optional fields come after the seed's and the added ones, in this order.
  std::vector<std::string> keys;
  for (const auto& [k, v] : t["gone"].items()) keys.push_back(k);
  CHECK(keys == std::vector<std::string>{"last_sync_time", "sync_type", "records_synced", "status",
                                         "duration_seconds", "collection", "change_source", "last_success_time", "age_seconds",
                                         "rows_deleted", "lossy_total", "error", "dropped", "dropped_time",
                                         "collection_dropped"});
}

TEST_CASE("to_json(StatusReport): nothing recorded is an empty tables object", "[ops][status][json]") {
  const auto j = ops::to_json(report({}), config::Config{});
  CHECK(j["sync_data"]["total_tables"] == 0);
  CHECK(j["sync_data"]["failed_tables"] == 0);
  CHECK(j["sync_data"]["tables"].is_object());
  CHECK(j["sync_data"]["tables"].empty());
}

TEST_CASE("to_json(StatusReport): a sharded run's shards and who holds which unit", "[ops][status][json][units]") {
  config::Config cfg;
  auto r = report({synced("orders", 1min)});
  r.lock_holder = "host-a:11";
  r.shard_count = 3;
  r.shards = {{0, 42, "host-a:11", kNow + 30'000, false}, {1, 42, "host-b:12", kNow - 1, false},
              {2, 42, "host-c:13", kNow - 5'000, true}};
  mongo::HeldUnit range;
  range.unit = "orders [2/4]";
  range.kind = "range";
  range.owner = "host-b:12";
  range.expires_at_ms = kNow + 45'000;
  range.checkpoint = std::vector<std::string>{"250000"};
  mongo::HeldUnit table;
  table.unit = "customers";
  table.kind = "table";
  table.owner = "host-a:11";
  table.expires_at_ms = kNow + 10'000;
  r.units = {range, table};
  const auto j = ops::to_json(r, cfg);
  CHECK(j["scheduler"]["shard_count"] == 3);
  CHECK(j["scheduler"]["shards"].dump() ==
        R"([{"shard":0,"owner":"host-a:11","host":"host-a","state":"working"},)"
        R"({"shard":1,"owner":"host-b:12","host":"host-b","state":"expired"},)"
        R"({"shard":2,"owner":"host-c:13","host":"host-c","state":"finished"}])");
  CHECK(j["units"].dump() ==
        R"([{"unit":"orders [2/4]","kind":"range","owner":"host-b:12","host":"host-b",)"
        R"("lease_expires_time":"2025-10-09T08:54:05.000Z","checkpoint":["250000"]},)"
        R"({"unit":"customers","kind":"table","owner":"host-a:11","host":"host-a",)"
        R"("lease_expires_time":"2025-10-09T08:53:30.000Z","checkpoint":null}])");
  // A run of one host has no shards to show.
  CHECK_FALSE(ops::to_json(report({synced("orders", 1min)}), cfg)["scheduler"].contains("shards"));
  CHECK(ops::host_of_owner("db-1.example:4242") == "db-1.example");
  CHECK(ops::host_of_owner("nocolon") == "nocolon");
}

// ---- binlog -----------------------------------------------------------------------------------------

TEST_CASE("with_binlog_progress: a table the log found current is synced as of then, other records stand",
          "[ops][status][binlog]") {
  mongo::BinlogState b;
  b.tables["quiet"] = {"mysql-bin.000003", 400, false, kNow - 1'000};
  b.tables["copying"] = {"mysql-bin.000003", 400, true, 0};
  b.tables["failing"] = {"mysql-bin.000003", 400, false, kNow - 1'000};
  b.tables["newer_record"] = {"mysql-bin.000003", 400, false, kNow - 10 * 60'000};
  const auto tables = ops::with_binlog_progress(
      {synced("quiet", 2h), synced("copying", 2h), failed("failing", 2h), synced("newer_record", 1min), synced("plain", 2h)}, b);
  REQUIRE(tables.size() == 5);
  CHECK(tables[0].last_success_ms == kNow - 1'000);
  CHECK(tables[0].last_sync_time == iso8601_utc(kNow - 1'000));
  CHECK(tables[1].last_success_ms == kNow - 2 * 3'600'000);  // its first copy is not done
  CHECK(tables[2].status == mongo::TableStatus::failed);     // a failure is never covered up
  CHECK(tables[2].last_success_ms == kNow - 2 * 3'600'000);
  CHECK(tables[3].last_success_ms == kNow - 60'000);         // the record is newer
  CHECK(tables[4].last_success_ms == kNow - 2 * 3'600'000);  // not a binlog table
  // And so status --check sees a quiet binlog table as fresh.
  auto r = report(tables);
  r.tables.erase(r.tables.begin() + 1, r.tables.end());
  CHECK(ops::check(r, kWarn, kCrit).code == 0);
}

TEST_CASE("check: the binlog position's file, now or as the last run saw it", "[ops][status][binlog]") {
  auto r = report({synced("a", 1min)});
  r.binlog = mongo::BinlogState{};
  r.binlog->file = "mysql-bin.000007";
  r.binlog->offset = 4;
  r.binlog->lag_bytes = 100;
  CHECK(ops::check(r, kWarn, kCrit).code == 0);
  CHECK(ops::check(r, kWarn, kCrit).line.find(" binlog_lag=100B binlog_lag_seconds=0s") != std::string::npos);
  // MySQL not asked: what the last run saw.
  r.binlog->oldest = true;
  CHECK(ops::check(r, kWarn, kCrit).code == 1);
  // MySQL's answer wins.
  r.binlog_now = binlog::Standing{true, 5'000, "mysql-bin.000006", false};
  CHECK(ops::check(r, kWarn, kCrit).code == 0);
  CHECK(ops::check(r, kWarn, kCrit).line.find(" binlog_lag=5000B") != std::string::npos);
  r.binlog_now->oldest = true;
  const auto warn = ops::check(r, kWarn, kCrit);
  CHECK(warn.code == 1);
  CHECK(warn.line.find("binlog position is in mysql-bin.000007, the oldest binlog left") != std::string::npos);
  r.binlog_now = binlog::Standing{false, 0, "mysql-bin.000009", false};
  const auto crit = ops::check(r, kWarn, kCrit);
  CHECK(crit.code == 2);
  CHECK(crit.line.find("binlog mysql-bin.000007 is no longer on the server") != std::string::npos);
  // to_json carries the position, the server's view and each table's own position.
  r.binlog->tables["a"] = {"mysql-bin.000007", 4, false, kNow};
  const auto j = ops::to_json(r, config::Config{});
  CHECK(j["binlog"]["file"] == "mysql-bin.000007");
  CHECK(j["binlog"]["server"]["file_present"] == false);
  CHECK(j["sync_data"]["tables"]["a"]["binlog_position"] == "mysql-bin.000007:4");
}
