// `mysql2mongo sync --metrics-file` against the rig: the Prometheus text file node-exporter's textfile
// collector reads, after successful, failed and unreachable runs (the last success carried over), replaced
// atomically under a concurrent reader, and a directory that does not exist. ops::render_metrics itself
// (every metric, label escaping, the carry-over) is unit-tested in tests/unit/test_ops_metrics.cpp; here
// the binary writes the file.
#include "support/net.hpp"
#include "support/prometheus.hpp"
#include "support/rig.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fcntl.h>
#include <set>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using rig::contains;
using rig::kRunMetrics;
using rig::kTableMetrics;
using rig::mysql_down;
using rig::parse_prometheus;
using rig::per_table;
using rig::read_metrics;
using rig::TempDir;
using rig::value;
using namespace std::chrono_literals;

double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("sync --metrics-file: Prometheus text with run and per-table metrics, and a failed run carries the "
          "last success over",
          "[sync][metrics]") {
  rig::Scratch db("met");
  TempDir dir("metrics");
  const std::string file = dir.path + "/mysql2mongo.prom";
  db.sql("CREATE TABLE g (id INT PRIMARY KEY); INSERT INTO g SELECT seq FROM seq_1_to_10;"
         "CREATE TABLE lossy (id INT PRIMARY KEY, dt DATETIME(6)); "
         "INSERT INTO lossy VALUES (1, '2020-01-01 00:00:00.123456'), (2, '2020-01-01 00:00:00');"
         "CREATE TABLE `we\"ird\\x` (id INT PRIMARY KEY); INSERT INTO `we\"ird\\x` VALUES (1)");
  const std::string weird = R"(we\"ird\\x)";  // the label value, escaped as the format requires

  // 1. A successful run.
  const double before = now_s();
  const auto first = rig::run({"sync", "--metrics-file", file}, db.env());
  INFO("stderr: " << first.err);
  REQUIRE(first.code == 0);
  const auto m1 = read_metrics(file);
  for (const auto& name : kRunMetrics) {
    INFO("metric " << name);
    CHECK(m1.typed.count(name));
    CHECK(m1.get(name).has_value());
  }
  for (const auto& name : kTableMetrics) {
    INFO("metric " << name);
    CHECK(m1.typed.count(name));
    for (const std::string& t : {std::string("g"), std::string("lossy"), weird}) {
      INFO("table " << t);
      CHECK(m1.get(per_table(name, t)).has_value());
    }
  }
  const double run1 = value(m1, "mysql2mongo_last_run_timestamp_seconds");
  CHECK(run1 >= std::floor(before));
  CHECK(run1 <= now_s() + 1);
  CHECK(value(m1, "mysql2mongo_last_run_exit_code") == 0);
  CHECK(value(m1, "mysql2mongo_last_success_timestamp_seconds") == run1);
  CHECK(value(m1, "mysql2mongo_last_run_duration_seconds") >= 0);
  CHECK(value(m1, "mysql2mongo_last_run_duration_seconds") < 60);
  CHECK(value(m1, "mysql2mongo_last_run_records_synced") == 13);
  CHECK(value(m1, "mysql2mongo_last_run_failed_tables") == 0);
  CHECK(value(m1, per_table("mysql2mongo_table_rows_synced", "g")) == 10);
  CHECK(value(m1, per_table("mysql2mongo_table_rows_synced", "lossy")) == 2);
  CHECK(value(m1, per_table("mysql2mongo_table_rows_synced", weird)) == 1);
  CHECK(value(m1, per_table("mysql2mongo_table_lossy_values", "lossy")) == 1);
  CHECK(value(m1, per_table("mysql2mongo_table_lossy_values", "g")) == 0);
  CHECK(value(m1, per_table("mysql2mongo_table_rows_deleted", "g")) == 0);
  CHECK(value(m1, per_table("mysql2mongo_table_up", "g")) == 1);
  const double g_success = value(m1, per_table("mysql2mongo_table_last_success_timestamp_seconds", "g"));
  CHECK(g_success >= std::floor(before));
  CHECK(g_success <= run1 + 0.001);
  // Readable by a collector running as another user; nothing else left in the directory.
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0044) == 0044);
  CHECK(dir.entries() == std::set<std::string>{"mysql2mongo.prom"});

  // 2. A run in which g fails (the delete guard): exit 3 is recorded, the last success is carried over,
  // g is down and keeps its own last success time.
  db.sql("DELETE FROM g WHERE id <= 6");
  std::this_thread::sleep_for(20ms);
  const auto failed = rig::run({"sync", "--full", "--metrics-file", file}, db.env());
  INFO("stderr: " << failed.err);
  REQUIRE(failed.code == 3);
  const auto m2 = read_metrics(file);
  const double run2 = value(m2, "mysql2mongo_last_run_timestamp_seconds");
  CHECK(run2 > run1);
  CHECK(value(m2, "mysql2mongo_last_run_exit_code") == 3);
  CHECK(value(m2, "mysql2mongo_last_success_timestamp_seconds") == run1);
  CHECK(value(m2, "mysql2mongo_last_run_failed_tables") == 1);
  CHECK(value(m2, per_table("mysql2mongo_table_up", "g")) == 0);
  CHECK(value(m2, per_table("mysql2mongo_table_up", "lossy")) == 1);
  CHECK(value(m2, per_table("mysql2mongo_table_last_success_timestamp_seconds", "g")) == g_success);
  CHECK(value(m2, per_table("mysql2mongo_table_last_success_timestamp_seconds", "lossy")) > run1 - 0.001);
  CHECK(dir.entries() == std::set<std::string>{"mysql2mongo.prom"});

  // 3. A run that cannot reach MySQL at all (exit 69): still recorded, still carrying the last success.
  const auto down = rig::run({"sync", "--metrics-file", file}, mysql_down(db));
  INFO("stderr: " << down.err);
  REQUIRE(down.code == 69);
  const auto m3 = read_metrics(file);
  CHECK(value(m3, "mysql2mongo_last_run_exit_code") == 69);
  CHECK(value(m3, "mysql2mongo_last_run_timestamp_seconds") >= run2);
  CHECK(value(m3, "mysql2mongo_last_success_timestamp_seconds") == run1);
  CHECK(m3.get(per_table("mysql2mongo_table_up", "g")).has_value());  // from MongoDB, which is up

  // 4. Success again: the last success moves to this run.
  const auto again = rig::run({"sync", "--full", "--force-deletes", "--metrics-file", file}, db.env());
  INFO("stderr: " << again.err);
  REQUIRE(again.code == 0);
  const auto m4 = read_metrics(file);
  const double run4 = value(m4, "mysql2mongo_last_run_timestamp_seconds");
  CHECK(run4 > run2);
  CHECK(value(m4, "mysql2mongo_last_run_exit_code") == 0);
  CHECK(value(m4, "mysql2mongo_last_success_timestamp_seconds") == run4);
  CHECK(value(m4, per_table("mysql2mongo_table_up", "g")) == 1);
  CHECK(value(m4, per_table("mysql2mongo_table_rows_deleted", "g")) == 6);
  CHECK(dir.entries() == std::set<std::string>{"mysql2mongo.prom"});
}

TEST_CASE("sync --metrics-file: the file is replaced atomically and a reader never sees it empty or partial",
          "[sync][metrics]") {
  rig::Scratch db("meta");
  TempDir dir("metrics");
  const std::string file = dir.path + "/m2m.prom";
  // Many tables, so the file is large enough (tens of kilobytes) for a non-atomic write to be caught.
  constexpr int kTables = 60;
  std::string sql;
  for (int i = 1; i <= kTables; ++i)
    sql += "CREATE TABLE t" + std::to_string(i) + " (id INT PRIMARY KEY); INSERT INTO t" + std::to_string(i) +
           " VALUES (1), (2);";
  db.sql(sql);
  const std::string last_series = per_table("mysql2mongo_table_up", "t" + std::to_string(kTables));

  std::atomic<bool> stop{false};
  std::atomic<long> reads{0}, missing{0}, bad{0};
  std::string first_bad;
  std::thread reader([&] {
    while (!stop.load()) {
      const int fd = ::open(file.c_str(), O_RDONLY);
      if (fd < 0) {
        ++missing;  // before the first run wrote it
        std::this_thread::sleep_for(1ms);
        continue;
      }
      std::string text;
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
      ::close(fd);
      ++reads;
      const auto p = parse_prometheus(text);
      if (!p.ok() || !p.get(last_series) || !p.get("mysql2mongo_last_run_exit_code")) {
        if (bad++ == 0) first_bad = text.size() < 400 ? text : text.substr(0, 200) + "..." + text.substr(text.size() - 200);
      }
    }
  });

  // Each version of the file is held open, so an inode number cannot be reused while the test runs.
  std::vector<int> held;
  std::set<ino_t> inodes;
  constexpr int kRuns = 6;
  for (int i = 0; i < kRuns; ++i) {
    const auto r = rig::run({"sync", i % 2 ? "--full" : "--incremental", "--metrics-file", file}, db.env());
    INFO("run " << i << " stderr: " << r.err);
    CHECK(r.code == 0);
    const int fd = ::open(file.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    held.push_back(fd);
    struct stat st {};
    REQUIRE(::fstat(fd, &st) == 0);
    inodes.insert(st.st_ino);
    // No temporary file left behind.
    CHECK(dir.entries() == std::set<std::string>{"m2m.prom"});
  }
  stop = true;
  reader.join();
  for (int fd : held) ::close(fd);
  INFO("reads " << reads << ", before the first write " << missing << ", bad " << bad << "; first bad:\n" << first_bad);
  CHECK(bad == 0);
  CHECK(reads > 20);
  // Each run put a new file in place (written aside, then renamed over the old one), not rewrote it.
  CHECK(inodes.size() == static_cast<std::size_t>(kRuns));
  read_metrics(file);
}

TEST_CASE("sync --metrics-file in a directory that does not exist: the error is logged, the exit code is the run's",
          "[sync][metrics]") {
  rig::Scratch db("metx");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  const auto r = rig::run({"sync", "--metrics-file", "/nonexistent/m2m/metrics.prom"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 0);
  CHECK(contains(r.err, "mysql2mongo: error: --metrics-file /nonexistent/m2m/metrics.prom"));
  CHECK(db.count("t") == 1);
  // --dry-run writes nothing, the metrics file neither.
  TempDir dir("metrics");
  const auto dry = rig::run({"sync", "--dry-run", "--metrics-file", dir.path + "/m.prom"}, db.env());
  CHECK(dry.code == 0);
  CHECK(dir.entries().empty());
}
