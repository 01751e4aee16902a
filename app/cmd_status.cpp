#include "cli.hpp"
#include "mongo/client.hpp"
#include "ops/status.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace m2m::app {

namespace {

struct StatusFlags {
  bool check = false;
  std::string warn = "1h";
  std::string crit = "3h";
  std::string timeout = "8s";
};

// check_nrpe gives a plugin 10 s by default: whatever MongoDB does (a dead host, a URL whose own
// timeouts are long), the check answers within --timeout. The driver is told to give up a second
// earlier, so the usual answer is its own reason; this watchdog is the bound that always holds.
class Watchdog {
public:
  explicit Watchdog(std::chrono::milliseconds limit)
      : thread_([this, limit] {
          std::unique_lock lock(mutex_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            const auto line = ops::check_unknown(fmt::format("no answer from MongoDB within {} (--timeout)",
                                                             format_duration(limit))).line + "\n";
            // The main thread may be inside the driver: leave at once, as a plugin must.
            [[maybe_unused]] auto n = ::write(STDOUT_FILENO, line.data(), line.size());
            mongo::forget_driver_files();
            std::_Exit(3);
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

std::chrono::milliseconds duration_flag(const std::string& name, const std::string& value) {
  auto d = parse_duration(value);
  if (!d) throw Error(Exit::usage, fmt::format("{} {}: not a duration; use e.g. 30m, 1h or 2h30m", name, value));
  return *d;
}

void print_text(const Context& ctx, const ops::StatusReport& r) {
  fmt::print("{:<28} {:<25} {:>8} {:<12} {:>9} {:<8} {:>9}  {}\n", "TABLE", "LAST SYNC", "AGE", "TYPE", "RECORDS",
             "STATUS", "DURATION", "LAST ERROR");
  for (const auto& t : r.tables) {
    const std::string age = t.timestamp_ms ? format_duration(std::chrono::milliseconds(r.now_ms - t.timestamp_ms)) : "-";
    // A table resumed from a checkpoint may hold rows that changed behind it until its next full pass.
    const std::string_view status = t.dropped ? "dropped"
                                    : t.resumed && t.status == mongo::TableStatus::success ? "resumed"
                                                                                           : mongo::to_string(t.status);
    fmt::print("{:<28} {:<25} {:>8} {:<12} {:>9} {:<8} {:>8.1f}s  {}\n", t.table_name, t.last_sync_time, age,
               mongo::to_string(t.sync_type), t.records_synced, status, t.duration_seconds, t.error.empty() ? "-" : ctx.redact(t.error));
  }
  const auto oldest = r.oldest_success_age();
  fmt::print("{} tables: {} ok, {} failed; {}{}\n", r.tables.size(), r.tables.size() - r.failed(), r.failed(),
             oldest ? "oldest successful sync " + format_duration(*oldest) + " ago"
                    : fmt::format("{} never synced successfully", r.never_succeeded()),
             r.lock_holder ? "; a run is working now (" + *r.lock_holder + ")" : "");
  if (r.shard_count > 0) {
    std::vector<std::string> shards;
    for (const auto& s : r.shards)
      shards.push_back(fmt::format("{} {} ({})", s.shard, s.owner,
                                   s.finished ? "finished" : s.expires_at_ms > r.now_ms ? "working" : "lease expired"));
    fmt::print("sharded run of {} shards: {}\n", r.shard_count, shards.empty() ? std::string("none joined yet") : join(shards, ", "));
  }
  if (!r.units.empty()) {
    fmt::print("{:<34} {:<32} {:>10}  {}\n", "UNIT", "HELD BY", "LEASE", "CHECKPOINT");
    for (const auto& u : r.units)
      fmt::print("{:<34} {:<32} {:>10}  {}\n", u.unit, u.owner,
                 format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, u.expires_at_ms - r.now_ms))),
                 u.checkpoint ? "(" + join(*u.checkpoint, ", ") + ")" : "-");
  }
  if (r.binlog) {
    const auto& b = *r.binlog;
    std::string where;
    if (!r.binlog_now) where = "MySQL not asked: " + ctx.redact(r.binlog_now_error);
    else if (!r.binlog_now->present) where = "GONE from the server: the next run copies the tables positioned in it in full";
    else
      where = fmt::format("{} bytes behind now{}", r.binlog_now->lag_bytes,
                          r.binlog_now->oldest ? "; in the oldest binlog left: the next purge forces a full sync" : "");
    fmt::print("earliest binlog position {}:{} saved {} ago ({} bytes, {}s behind then); {}\n", b.file, b.offset,
               format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, r.now_ms - b.updated_ms))),
               b.lag_bytes, b.lag_seconds, where);
  }
  if (r.verified() == 0) return;
  // The last verify of each table, when one was recorded (mysql2mongo verify).
  fmt::print("\n{:<28} {:<25} {:>8} {:<10} {:>10} {:>8} {:>8} {:>9}\n", "TABLE", "LAST VERIFY", "AGE", "RESULT", "ROWS",
             "MISSING", "EXTRA", "DIFFERENT");
  std::int64_t oldest_verify = r.now_ms;
  std::size_t equal = 0, failed = 0;
  for (const auto& t : r.tables) {
    if (t.dropped || !t.last_verify) continue;
    const auto& v = *t.last_verify;
    oldest_verify = std::min(oldest_verify, v.time_ms);
    equal += v.result == mongo::VerifyResult::equal;
    failed += v.result == mongo::VerifyResult::failed;
    std::string result(mongo::to_string(v.result));
    if (v.repaired) result += " (repaired)";
    fmt::print("{:<28} {:<25} {:>8} {:<10} {:>10} {:>8} {:>8} {:>9}\n", t.table_name, iso8601_utc(v.time_ms),
               format_duration(std::chrono::milliseconds(r.now_ms - v.time_ms)), result, v.mysql_rows, v.missing, v.extra,
               v.different);
  }
  fmt::print("{} of {} tables verified: {} equal, {} different, {} failed; oldest verify {} ago\n", r.verified(),
             r.tables.size() - r.dropped(), equal, r.verify_different().size(), failed,
             format_duration(std::chrono::milliseconds(r.now_ms - oldest_verify)));
}

}  // namespace

void add_status(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("status", "show the last sync of every table (from _sync_metadata)");
  auto flags = std::make_shared<StatusFlags>();
  auto* check = cmd->add_flag("--check", flags->check,
                              "Nagios/Icinga check: one line with perfdata, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN");
  cmd->add_option("-w,--warn", flags->warn, "with --check: WARNING when the oldest successful sync is older (default 1h)")
      ->needs(check)
      ->type_name("DUR");
  cmd->add_option("-c,--crit", flags->crit, "with --check: CRITICAL when older (default 3h)")->needs(check)->type_name("DUR");
  cmd->add_option("-t,--timeout", flags->timeout,
                  "with --check: answer UNKNOWN after DUR at most, whatever MongoDB does (default 8s)")
      ->needs(check)
      ->type_name("DUR");
  cmd->callback([&action, flags] {
    action = [flags](Context& ctx) {
      if (flags->check) {
        const auto warn = duration_flag("--warn", flags->warn);
        const auto crit = duration_flag("--crit", flags->crit);
        if (crit < warn) throw Error(Exit::usage, "--crit must not be shorter than --warn");
        const auto timeout = duration_flag("--timeout", flags->timeout);
        if (timeout < std::chrono::seconds(1) || timeout > std::chrono::hours(1))
          throw Error(Exit::usage, fmt::format("--timeout {}: use a duration from 1s to 1h", flags->timeout));
        Watchdog watchdog(timeout);
        config::Config cfg = ctx.cfg;
        cfg.mongodb.connect_timeout = std::max<std::chrono::milliseconds>(std::chrono::milliseconds(500),
                                                                          timeout - std::chrono::seconds(1));
        // MySQL is asked only about the binlog files, after MongoDB answered: it gets what is left.
        cfg.mysql.connect_timeout = std::min(cfg.mysql.connect_timeout, cfg.mongodb.connect_timeout / 2);
        cfg.mysql.read_timeout = std::min(cfg.mysql.read_timeout, cfg.mongodb.connect_timeout / 2);
        ops::CheckResult result;
        try {
          result = ops::check(ops::load_status(cfg, ctx.log), warn, crit);
        } catch (const Error& e) {
          // A monitoring check reports what it cannot see as UNKNOWN, never as a crash.
          result = ops::check_unknown(fmt::format("cannot read the sync metadata: {}", e.what()));
        }
        fmt::print("{}\n", ctx.redact(result.line));
        return result.code;
      }
      const auto r = ops::load_status(ctx.cfg, ctx.log);
      if (ctx.json) print_json(ctx, ops::to_json(r, ctx.cfg), 0);
      else print_text(ctx, r);
      return 0;
    };
  });
}

}  // namespace m2m::app
