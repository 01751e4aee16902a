#include "cli.hpp"
#include "ops/status.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::app {

namespace {

struct StatusFlags {
  bool check = false;
  std::string warn = "1h";
  std::string crit = "3h";
};

std::chrono::milliseconds duration_flag(const std::string& name, const std::string& value) {
  auto d = parse_duration(value);
  if (!d) throw Error(Exit::usage, fmt::format("{} {}: not a duration; use e.g. 30m, 1h or 2h30m", name, value));
  return *d;
}

void print_text(const ops::StatusReport& r) {
  fmt::print("{:<28} {:<25} {:>8} {:<12} {:>9} {:<8} {:>9}  {}\n", "TABLE", "LAST SYNC", "AGE", "TYPE", "RECORDS",
             "STATUS", "DURATION", "LAST ERROR");
  for (const auto& t : r.tables) {
    const std::string age = t.timestamp_ms ? format_duration(std::chrono::milliseconds(r.now_ms - t.timestamp_ms)) : "-";
    // A table resumed from a checkpoint may hold rows that changed behind it until its next full pass.
    const std::string status = t.dropped ? "dropped" : t.resumed && t.status == "success" ? "resumed" : t.status;
    fmt::print("{:<28} {:<25} {:>8} {:<12} {:>9} {:<8} {:>8.1f}s  {}\n", t.table_name, t.last_sync_time, age,
               t.sync_type, t.records_synced, status, t.duration_seconds, t.error.empty() ? "-" : t.error);
  }
  const auto oldest = r.oldest_success_age();
  fmt::print("{} tables: {} ok, {} failed; {}{}\n", r.tables.size(), r.tables.size() - r.failed(), r.failed(),
             oldest ? "oldest successful sync " + format_duration(*oldest) + " ago"
                    : fmt::format("{} never synced successfully", r.never_succeeded()),
             r.lock_holder ? "; a run is working now (" + *r.lock_holder + ")" : "");
}

}  // namespace

void add_status(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("status", "show the last sync of every table (from _sync_metadata)");
  auto flags = std::make_shared<StatusFlags>();
  auto* check = cmd->add_flag("--check", flags->check,
                              "Nagios/Icinga check: one line with perfdata, exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN");
  cmd->add_option("--warn", flags->warn, "with --check: WARNING when the oldest successful sync is older (default 1h)")
      ->needs(check)
      ->type_name("DUR");
  cmd->add_option("--crit", flags->crit, "with --check: CRITICAL when older (default 3h)")->needs(check)->type_name("DUR");
  cmd->callback([&action, flags] {
    action = [flags](Context& ctx) {
      if (flags->check) {
        const auto warn = duration_flag("--warn", flags->warn);
        const auto crit = duration_flag("--crit", flags->crit);
        if (crit < warn) throw Error(Exit::usage, "--crit must not be shorter than --warn");
        ops::CheckResult result;
        try {
          result = ops::check(ops::load_status(ctx.cfg, ctx.log), warn, crit);
        } catch (const Error& e) {
          // A monitoring check reports what it cannot see as UNKNOWN, never as a crash.
          result = ops::check_unknown(fmt::format("cannot read the sync metadata: {}", e.what()));
        }
        fmt::print("{}\n", result.line);
        return result.code;
      }
      const auto r = ops::load_status(ctx.cfg, ctx.log);
      if (ctx.json) print_json(ops::to_json(r, ctx.cfg).dump(2));
      else print_text(r);
      return 0;
    };
  });
}

}  // namespace m2m::app
