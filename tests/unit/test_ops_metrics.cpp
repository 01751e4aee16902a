// lib/ops/metrics: the Prometheus text file of `sync --metrics-file`, rendered from a run's figures and
// _sync_metadata, checked with the strict reader the integration tests use (tests/support/prometheus.hpp).
#include "ops/metrics.hpp"
#include "support/prometheus.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <sstream>
#include <string>
#include <vector>

using namespace m2m;
using rig::describe;
using rig::parse_prometheus;
using rig::per_table;
using rig::Prometheus;
using rig::value;

// The reader itself first: the tests below and tests/integration/test_sync_metrics.cpp rely on it to
// reject what node-exporter would.
TEST_CASE("the test's Prometheus text check accepts the format and rejects partial or malformed text",
          "[ops][metrics]") {
  const std::string good =
      "# HELP a_total Things.\n# TYPE a_total counter\na_total 3\n"
      "# HELP b Per table.\n# TYPE b gauge\nb{table=\"x\"} 1.5\nb{table=\"we\\\"ird\\\\x\",k=\"v\"} -2e3\n"
      "b{table=\"y\"} NaN 1700000000000\n";
  const auto p = parse_prometheus(good);
  INFO(describe(p));
  CHECK(p.ok());
  CHECK(p.get("a_total") == 3.0);
  CHECK(p.get(R"(b{table="we\"ird\\x",k="v"})") == -2000.0);
  for (const std::string& bad : {
           std::string(""),                                          // empty
           good.substr(0, good.size() - 1),                          // no final newline
           good.substr(0, good.find("1.5")),                         // cut in the middle of a sample
           std::string("# TYPE a gauge\na\n"),                     // no value
           std::string("# TYPE a gauge\na one\n"),                 // not a number
           std::string("# TYPE a gauge\na{table=x} 1\n"),          // unquoted label value
           std::string("# TYPE a gauge\na{table=\"x\\y\"} 1\n"),  // bad escape
           std::string("a 1\n"),                                    // no TYPE
           std::string("# TYPE a gauge\n\na 1\n"),                // empty line (allowed by the format; not here)
           std::string("# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na 2\n"),  // family split
           std::string("# TYPE a gauge\na 1\na 1\n"),             // series twice
           std::string("# comment\n# TYPE a gauge\na 1\n"),       // a free comment (likewise)
       }) {
    INFO("text: " << bad);
    CHECK_FALSE(parse_prometheus(bad).ok());
  }
}

// ---- ops::render_metrics ----------------------------------------------------------------------------------

namespace {

constexpr std::int64_t kStart = 1'760'000'000'000;  // 2025-10-09T08:53:20Z
constexpr std::int64_t kEnd = kStart + 2'345;

mongo::TableState table(const std::string& name, std::int64_t records, std::int64_t last_success_ms,
                        const std::string& status = "success") {
  mongo::TableState t;
  t.table_name = name;
  t.collection = name;
  t.status = mongo::parse_table_status(status).value();
  t.records_synced = records;
  t.last_success_ms = last_success_ms;
  return t;
}

sync::TableReport table_report(const std::string& name, std::uint64_t records, bool ok = true) {
  sync::TableReport t;
  t.table = name;
  t.records_synced = records;
  if (!ok) t.error = Failure{Exit::unavailable, "lost"};
  t.settle();
  return t;
}

Prometheus parse_ok(const std::string& text) {
  INFO("text:\n" << text);
  auto p = parse_prometheus(text);
  INFO("problems:\n" << describe(p));
  REQUIRE(p.ok());
  return p;
}

// The metric families of a text, in order of their TYPE lines.
std::vector<std::string> families(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("# TYPE ", 0) == 0) out.push_back(line.substr(7, line.find(' ', 7) - 7));
  return out;
}

const std::vector<std::string> kPerTableFamilies = {
    "mysql2mongo_table_rows_synced", "mysql2mongo_table_rows_deleted",
    "mysql2mongo_table_lossy_values", "mysql2mongo_table_last_success_timestamp_seconds",
    "mysql2mongo_table_up", "mysql2mongo_table_rows_refused", "mysql2mongo_table_dropped"};

}  // namespace

TEST_CASE("render_metrics: the exact text of a successful run of one table", "[ops][metrics]") {
  sync::RunReport report;
  report.tables["actor"] = table_report("actor", 200);
  auto actor = table("actor", 200, kEnd - 1'000);
  actor.rows_deleted = 2;
  actor.lossy_total = 1;
  ops::RunMetrics m{kStart, kEnd, 0, {actor}, &report, {}};
  CHECK(ops::render_metrics(m, std::nullopt) ==
        "# HELP mysql2mongo_last_run_timestamp_seconds When the last sync run ended (Unix time).\n"
        "# TYPE mysql2mongo_last_run_timestamp_seconds gauge\n"
        "mysql2mongo_last_run_timestamp_seconds 1760000002.345\n"
        "# HELP mysql2mongo_last_run_duration_seconds How long the last sync run took.\n"
        "# TYPE mysql2mongo_last_run_duration_seconds gauge\n"
        "mysql2mongo_last_run_duration_seconds 2.345\n"
        "# HELP mysql2mongo_last_run_exit_code Exit code of the last sync run (see mysql2mongo(1)).\n"
        "# TYPE mysql2mongo_last_run_exit_code gauge\n"
        "mysql2mongo_last_run_exit_code 0\n"
        "# HELP mysql2mongo_last_success_timestamp_seconds When a sync run last ended with exit code 0.\n"
        "# TYPE mysql2mongo_last_success_timestamp_seconds gauge\n"
        "mysql2mongo_last_success_timestamp_seconds 1760000002.345\n"
        "# HELP mysql2mongo_last_run_records_synced Rows copied by the last sync run, all tables.\n"
        "# TYPE mysql2mongo_last_run_records_synced gauge\n"
        "mysql2mongo_last_run_records_synced 200\n"
        "# HELP mysql2mongo_last_run_failed_tables Tables that failed in the last sync run.\n"
        "# TYPE mysql2mongo_last_run_failed_tables gauge\n"
        "mysql2mongo_last_run_failed_tables 0\n"
        "# HELP mysql2mongo_table_rows_synced Rows copied by the table's last sync.\n"
        "# TYPE mysql2mongo_table_rows_synced gauge\n"
        "mysql2mongo_table_rows_synced{table=\"actor\"} 200\n"
        "# HELP mysql2mongo_table_rows_deleted Documents deleted by the table's last sync.\n"
        "# TYPE mysql2mongo_table_rows_deleted gauge\n"
        "mysql2mongo_table_rows_deleted{table=\"actor\"} 2\n"
        "# HELP mysql2mongo_table_lossy_values Values converted lossily by the table's last sync.\n"
        "# TYPE mysql2mongo_table_lossy_values gauge\n"
        "mysql2mongo_table_lossy_values{table=\"actor\"} 1\n"
        "# HELP mysql2mongo_table_last_success_timestamp_seconds When the table last synced successfully (0: never).\n"
        "# TYPE mysql2mongo_table_last_success_timestamp_seconds gauge\n"
        "mysql2mongo_table_last_success_timestamp_seconds{table=\"actor\"} 1760000001.345\n"
        "# HELP mysql2mongo_table_up 1 if the table's last sync succeeded, else 0.\n"
        "# TYPE mysql2mongo_table_up gauge\n"
        "mysql2mongo_table_up{table=\"actor\"} 1\n"
        "# HELP mysql2mongo_table_rows_refused Rows MongoDB could not store (too large, too deep); retried every run.\n"
        "# TYPE mysql2mongo_table_rows_refused gauge\n"
        "mysql2mongo_table_rows_refused{table=\"actor\"} 0\n"
        "# HELP mysql2mongo_table_dropped 1 for a table of earlier runs that no longer exists in MySQL.\n"
        "# TYPE mysql2mongo_table_dropped gauge\n");
}

TEST_CASE("render_metrics: every run metric and every per-table metric for every table, all gauges",
          "[ops][metrics]") {
  sync::RunReport report;
  report.tables["a"] = table_report("a", 10);
  report.tables["b"] = table_report("b", 5, false);
  report.tables["c"] = table_report("c", 123'456'789'012);
  auto a = table("a", 10, kEnd - 100);
  auto b = table("b", 5, kStart - 3'600'000, "failed");
  auto c = table("c", 123'456'789'012, kEnd - 50);
  auto never = table("never", 0, 0, "failed");
  ops::RunMetrics m{kStart, kEnd, 3, {a, b, c, never}, &report, {}};
  const auto text = ops::render_metrics(m, std::nullopt);
  const auto p = parse_ok(text);

  std::vector<std::string> expected = rig::kRunMetrics;
  expected.push_back("mysql2mongo_last_run_records_synced");
  expected.push_back("mysql2mongo_last_run_failed_tables");
  expected.insert(expected.end(), kPerTableFamilies.begin(), kPerTableFamilies.end());
  CHECK(families(text) == expected);
  for (const auto& [name, type] : p.types) {
    INFO(name);
    CHECK(type == "gauge");
  }
  for (const auto& name : rig::kTableMetrics) {
    INFO(name);
    for (const char* t : {"a", "b", "c", "never"}) CHECK(p.get(per_table(name, t)).has_value());
  }
  CHECK(value(p, "mysql2mongo_last_run_exit_code") == 3);
  CHECK(value(p, "mysql2mongo_last_run_records_synced") == 123'456'789'027.0);  // exact, not 1.2e+11
  CHECK(value(p, "mysql2mongo_last_run_failed_tables") == 1);
  CHECK(value(p, per_table("mysql2mongo_table_rows_synced", "c")) == 123'456'789'012.0);
  CHECK(value(p, per_table("mysql2mongo_table_up", "a")) == 1);
  CHECK(value(p, per_table("mysql2mongo_table_up", "b")) == 0);
  CHECK(value(p, per_table("mysql2mongo_table_up", "never")) == 0);
  // Each table's own last success, from _sync_metadata: kept across its failure, 0 when it never had one.
  CHECK(value(p, per_table("mysql2mongo_table_last_success_timestamp_seconds", "b")) == 1'759'996'400.0);
  CHECK(value(p, per_table("mysql2mongo_table_last_success_timestamp_seconds", "never")) == 0);
  CHECK(value(p, per_table("mysql2mongo_table_last_success_timestamp_seconds", "a")) == 1'760'000'002.245);
}

TEST_CASE("render_metrics: a run that did not succeed carries the last success over from the file it replaces",
          "[ops][metrics]") {
  sync::RunReport report;
  report.tables["a"] = table_report("a", 1);
  const auto first = ops::render_metrics({kStart, kEnd, 0, {table("a", 1, kEnd)}, &report, {}}, std::nullopt);
  CHECK(value(parse_ok(first), "mysql2mongo_last_success_timestamp_seconds") == 1'760'000'002.345);

  // Exit 3 (a table failed) and exit 69 (MySQL unreachable, no report, nothing read from MongoDB).
  sync::RunReport partial;
  partial.tables["a"] = table_report("a", 0, false);
  const std::int64_t later = kEnd + 300'000;
  const auto failed = ops::render_metrics({later - 1'000, later, 3, {table("a", 1, kEnd, "failed")}, &partial, {}}, first);
  const auto pf = parse_ok(failed);
  CHECK(value(pf, "mysql2mongo_last_run_exit_code") == 3);
  CHECK(value(pf, "mysql2mongo_last_run_timestamp_seconds") == 1'760'000'302.345);
  CHECK(value(pf, "mysql2mongo_last_success_timestamp_seconds") == 1'760'000'002.345);
  CHECK(value(pf, "mysql2mongo_last_run_failed_tables") == 1);

  const auto down = ops::render_metrics({later, later + 2'000, 69, {}, nullptr, {}}, failed);
  const auto pd = parse_ok(down);
  CHECK(value(pd, "mysql2mongo_last_run_exit_code") == 69);
  CHECK(value(pd, "mysql2mongo_last_success_timestamp_seconds") == 1'760'000'002.345);
  // Without a report there are no run figures; without _sync_metadata no per-table families at all.
  CHECK(families(down) == rig::kRunMetrics);
  CHECK_FALSE(pd.get("mysql2mongo_last_run_records_synced"));

  // A success replaces the carried value with its own end.
  const auto again = ops::render_metrics({later + 5'000, later + 6'000, 0, {}, nullptr, {}}, down);
  CHECK(value(parse_ok(again), "mysql2mongo_last_success_timestamp_seconds") == 1'760'000'308.345);
}

TEST_CASE("render_metrics: without a readable last success in the previous file, a failed run says 0",
          "[ops][metrics]") {
  const ops::RunMetrics failed{kStart, kEnd, 75, {}, nullptr, {}};
  auto last_success = [&](const std::optional<std::string>& previous) {
    return value(parse_ok(ops::render_metrics(failed, previous)), "mysql2mongo_last_success_timestamp_seconds");
  };
  CHECK(last_success(std::nullopt) == 0);  // no file yet
  CHECK(last_success(std::string()) == 0);
  CHECK(last_success(std::string("garbage\n")) == 0);
  CHECK(last_success(std::string("mysql2mongo_last_success_timestamp_seconds soon\n")) == 0);
  // Only the sample of that exact name counts: not its HELP line, not a longer name.
  CHECK(last_success(std::string("# HELP mysql2mongo_last_success_timestamp_seconds 5\n"
                                  "mysql2mongo_last_success_timestamp_seconds_total 6\n")) == 0);
  CHECK(last_success(std::string("x 1\nmysql2mongo_last_success_timestamp_seconds 1700000000.5\n")) == 1'700'000'000.5);
}

TEST_CASE("render_metrics: a dropped table is named only by mysql2mongo_table_dropped", "[ops][metrics]") {
  auto gone = table("gone", 7, kStart - 86'400'000, "failed");
  gone.dropped = true;
  const auto text = ops::render_metrics({kStart, kEnd, 0, {table("a", 1, kEnd), gone}, nullptr, {}}, std::nullopt);
  const auto p = parse_ok(text);
  CHECK(value(p, per_table("mysql2mongo_table_dropped", "gone")) == 1);
  CHECK_FALSE(p.get(per_table("mysql2mongo_table_dropped", "a")));
  for (const auto& family : kPerTableFamilies) {
    if (family == "mysql2mongo_table_dropped") continue;
    INFO(family);
    CHECK_FALSE(p.get(per_table(family, "gone")));
    CHECK(p.get(per_table(family, "a")));
  }
  // Every table dropped: the families are declared, with no sample but the dropped one.
  const auto all_gone = ops::render_metrics({kStart, kEnd, 0, {gone}, nullptr, {}}, std::nullopt);
  const auto pg = parse_ok(all_gone);
  CHECK(families(all_gone).size() == rig::kRunMetrics.size() + kPerTableFamilies.size());
  CHECK(pg.samples.size() == rig::kRunMetrics.size() + 1);
}

TEST_CASE("render_metrics: rows MongoDB refused are counted per table", "[ops][metrics]") {
  auto big = table("big", 10, kStart - 1'000, "failed");
  big.refused = {{{"5"}, 17'000'000, "document of 17000000 bytes is larger than MongoDB's limit"},
                 {{"9"}, 300, "document nested 101 levels deep"}};
  const auto p = parse_ok(ops::render_metrics({kStart, kEnd, 3, {big, table("ok", 1, kEnd)}, nullptr, {}}, std::nullopt));
  CHECK(value(p, per_table("mysql2mongo_table_rows_refused", "big")) == 2);
  CHECK(value(p, per_table("mysql2mongo_table_rows_refused", "ok")) == 0);
  CHECK(value(p, per_table("mysql2mongo_table_up", "big")) == 0);
}

TEST_CASE("escape_label escapes backslash, double quote and newline, and nothing else", "[ops][metrics]") {
  CHECK(ops::escape_label("film_actor") == "film_actor");
  CHECK(ops::escape_label(R"(a\b)") == R"(a\\b)");
  CHECK(ops::escape_label(R"(say "hi")") == R"(say \"hi\")");
  CHECK(ops::escape_label("two\nlines") == R"(two\nlines)");
  CHECK(ops::escape_label("\\\"\n") == R"(\\\"\n)");
  CHECK(ops::escape_label("tab\there, $dollar, caf\xC3\xA9, {}=,") == "tab\there, $dollar, caf\xC3\xA9, {}=,");
  CHECK(ops::escape_label("").empty());
}

TEST_CASE("render_metrics: table names in labels are escaped, so the text stays valid", "[ops][metrics]") {
  const std::vector<std::string> names = {"we\"ird\\x", "two\nlines", "back\\", "p|q {x=\"1\"}"};
  std::vector<mongo::TableState> tables;
  for (const auto& n : names) tables.push_back(table(n, 1, kEnd));
  const auto p = parse_ok(ops::render_metrics({kStart, kEnd, 0, tables, nullptr, {}}, std::nullopt));
  for (const auto& n : names) {
    INFO(n);
    CHECK(value(p, per_table("mysql2mongo_table_up", ops::escape_label(n))) == 1);
  }
  CHECK(p.get(R"(mysql2mongo_table_up{table="we\"ird\\x"})"));
  CHECK(p.get(R"(mysql2mongo_table_up{table="two\nlines"})"));
}
