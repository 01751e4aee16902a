#include "ops/sync_run.hpp"

#include <catch2/catch.hpp>

using namespace m2m;
using ops::Mode;
using ops::TableStateView;

namespace {
sync::TablePlan keyed(bool change) {
  sync::TablePlan p;
  p.table.name = "t";
  p.fields.push_back(convert::FieldPlan{"id", "id", convert::Kind::int32, 0, convert::ZeroDate::null});
  p.key = {0};
  if (change) {
    p.change_column = "updated_at";
    p.change_source = mongo::ChangeSource::timestamp;
  }
  p.fingerprint = "f1";
  return p;
}
}  // namespace

TEST_CASE("which sync a table gets", "[ops][plan]") {
  const TableStateView good{true, false, true, "f1"};
  CHECK(ops::decide(keyed(true), good, Mode::incremental).incremental());
  CHECK(ops::decide(keyed(true), good, Mode::full).reason() == "requested (--full)");
  CHECK(ops::decide(keyed(true), std::nullopt, Mode::incremental).reason() == "first sync");
  CHECK(ops::decide(keyed(true), TableStateView{false, false, false, ""}, Mode::incremental).reason() == "first sync");
  const auto no_change = ops::decide(keyed(false), good, Mode::incremental);
  CHECK_FALSE(no_change.incremental());
  CHECK(no_change.warn());
  CHECK(no_change.reason() == "Table has no timestamp columns, falling back to full sync");
  CHECK(ops::decide(keyed(true), TableStateView{true, true, true, "f1"}, Mode::incremental).reason() ==
        "resuming an interrupted full sync");
  const auto altered = ops::decide(keyed(true), TableStateView{true, false, true, "f0"}, Mode::incremental);
  CHECK_FALSE(altered.incremental());
  CHECK(altered.reason().find("schema changed") == 0);
  auto keyless = keyed(true);
  keyless.key.clear();
  CHECK_FALSE(ops::decide(keyless, good, Mode::incremental).incremental());
}

TEST_CASE("where a table's changes come from, and the sync that follows", "[ops][plan][binlog]") {
  using mongo::ChangeSource;
  auto with = [](bool change, config::Changes c) {
    auto p = keyed(change);
    p.changes = c;
    return p;
  };
  // auto: the binlog when the server offers it, else the change column, else a full pass.
  CHECK(ops::change_source(with(true, config::Changes::automatic), true) == ChangeSource::binlog);
  CHECK(ops::change_source(with(false, config::Changes::automatic), true) == ChangeSource::binlog);
  CHECK(ops::change_source(with(true, config::Changes::automatic), false) == ChangeSource::timestamp);
  CHECK(ops::change_source(with(false, config::Changes::automatic), false) == ChangeSource::full);
  CHECK(ops::change_source(with(true, config::Changes::timestamp), true) == ChangeSource::timestamp);
  CHECK(ops::change_source(with(false, config::Changes::timestamp), true) == ChangeSource::full);
  CHECK(ops::change_source(with(false, config::Changes::binlog), false) == ChangeSource::binlog);
  auto keyless = with(true, config::Changes::binlog);
  keyless.key.clear();
  CHECK(ops::change_source(keyless, true) == ChangeSource::full);

  // A table reads the log only while it has a usable binlog position (it was copied, and followed the
  // log since); before that, and once the position is lost, a full copy.
  auto p = with(false, config::Changes::binlog);
  p.change_source = ChangeSource::binlog;
  const TableStateView by_log{true, false, false, "f1", ChangeSource::binlog, true};
  const TableStateView by_column{true, false, true, "f1", ChangeSource::timestamp, false};
  const TableStateView position_lost{true, false, false, "f1", ChangeSource::binlog, false};
  CHECK(ops::decide(p, position_lost, Mode::incremental).why == ops::Decision::Why::binlog_start);
  CHECK(ops::decide(p, by_log, Mode::incremental).why == ops::Decision::Why::binlog);
  CHECK(ops::decide(p, by_log, Mode::incremental).incremental());
  CHECK(ops::decide(p, by_column, Mode::incremental).why == ops::Decision::Why::binlog_start);
  CHECK_FALSE(ops::decide(p, by_column, Mode::incremental).incremental());
  CHECK(ops::decide(p, std::nullopt, Mode::incremental).why == ops::Decision::Why::first_sync);
  CHECK(ops::decide(p, TableStateView{true, false, false, "f0", ChangeSource::binlog, true}, Mode::incremental).why ==
        ops::Decision::Why::schema_changed);
  CHECK(ops::decide(p, TableStateView{true, true, false, "f1", ChangeSource::binlog, true}, Mode::incremental).why ==
        ops::Decision::Why::resuming);
  CHECK(ops::decide(p, by_log, Mode::full).why == ops::Decision::Why::requested_full);
}

TEST_CASE("transient failures are retried with a capped exponential backoff within sync.retry_for", "[ops][retry]") {
  using namespace std::chrono_literals;
  using ms = std::chrono::milliseconds;
  CHECK(ops::retry_backoff(1, 0ms, 60s) == ms(1000));
  CHECK(ops::retry_backoff(2, 1s, 60s) == ms(2000));
  CHECK(ops::retry_backoff(3, 3s, 60s) == ms(4000));
  CHECK(ops::retry_backoff(4, 7s, 60s) == ms(8000));
  CHECK(ops::retry_backoff(5, 15s, 60s) == ms(10000));   // capped at 10 s
  CHECK(ops::retry_backoff(40, 45s, 60s) == ms(10000));  // no overflow however many attempts
  CHECK(ops::retry_backoff(9, 51s, 60s) == std::nullopt); // 51 + 10 > 60: give up
  CHECK(ops::retry_backoff(1, 0ms, 0ms) == std::nullopt); // sync.retry_for = 0: no retries
  // A 10 s outage fits in the default budget: 1 + 2 + 4 + 8 s of waits.
  std::chrono::milliseconds spent{0};
  int attempt = 1;
  while (spent < 10s) {
    auto w = ops::retry_backoff(attempt++, spent, 60s);
    REQUIRE(w);
    spent += *w;
  }
  CHECK(attempt == 5);
}
