#include "cli.hpp"
#include "ops/metrics.hpp"
#include "ops/status.hpp"
#include "ops/verify.hpp"
#include "progress.hpp"
#include "stopping.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <unistd.h>

namespace m2m::app {

namespace {

struct VerifyFlags {
  std::string tables;
  std::string exclude;
  bool repair = false;
  bool force_deletes = false;
  std::optional<std::string> wait;
  std::string metrics_file;
};

// The differing keys of a table shown in the text report; --json has up to verify.max_keys per kind.
constexpr std::size_t kShownKeys = 10;

std::string count_or_dash(const sync::TableVerify& t, std::uint64_t n) { return t.error ? "-" : std::to_string(n); }

void print_table(const Context& ctx, const sync::TableVerify& t) {
  const auto result = t.result();
  fmt::print("{:<28} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9}  {}\n", t.table, count_or_dash(t, t.mysql_rows),
             count_or_dash(t, t.mongodb_documents), count_or_dash(t, t.found.equal), count_or_dash(t, t.found.missing),
             count_or_dash(t, t.found.extra), count_or_dash(t, t.found.different),
             result == mongo::VerifyResult::failed         ? "failed: " + ctx.redact(t.error->message)
             : t.repaired && result == mongo::VerifyResult::equal ? std::string("repaired")
                                                                  : std::string(mongo::to_string(result)));
  if (t.error && !t.repaired) return;
  if (t.keyed()) {
    const auto shown = t.first(kShownKeys);
    for (const auto* f : shown)
      fmt::print("  {:<10} {}{}\n", sync::to_string(f->kind), ctx.redact(t.describe(*f)),
                 f->fields.empty() ? "" : ": " + join(f->fields, ", "));
    if (t.found.differences() > shown.size())
      fmt::print("  ... and {} more{}\n", t.found.differences() - shown.size(),
                 t.not_rechecked ? fmt::format(" ({} not read again: more than {} keys differ)", t.not_rechecked,
                                               sync::kMaxRecheck)
                                 : "");
  } else {
    for (std::size_t side = 0; side < 2; ++side)
      for (std::size_t i = 0; i < t.documents[side].size() && i < kShownKeys; ++i)
        fmt::print("  {:<10} {} x {}\n", side == 0 ? "missing" : "extra", t.documents[side][i].count,
                   ctx.redact(t.documents[side][i].document));
  }
  if (t.changed_during_verify)
    fmt::print("  {} {} changed during verify (equal when read again)\n", t.changed_during_verify,
               t.keyed() ? (t.changed_during_verify == 1 ? "key" : "keys")
                         : (t.changed_during_verify == 1 ? "document" : "documents"));
  if (t.repaired)
    fmt::print("  repaired: {} row{} copied, {} document{} deleted; {}\n", t.repaired_copied,
               t.repaired_copied == 1 ? "" : "s", t.repaired_deleted, t.repaired_deleted == 1 ? "" : "s",
               t.error ? "then failed" : t.after_repair.differences() == 0
                                           ? "equal now"
                                           : fmt::format("still {} missing, {} extra, {} different", t.after_repair.missing,
                                                         t.after_repair.extra, t.after_repair.different));
}

bool found_any(const ops::VerifyOutcome& o) {
  return std::any_of(o.tables.begin(), o.tables.end(), [](const sync::TableVerify& t) { return t.found.differences() > 0; });
}

std::string summary_of(const ops::VerifyOutcome& o) {
  std::uint64_t missing = 0, extra = 0, different = 0, changed = 0;
  for (const auto& t : o.tables) {
    missing += t.found.missing;
    extra += t.found.extra;
    different += t.found.different;
    changed += t.changed_during_verify;
  }
  std::string s = fmt::format("verify: {} tables: {} equal, {} different, {} failed; {} missing, {} extra, {} different",
                              o.tables.size(), o.count(mongo::VerifyResult::equal),
                              o.count(mongo::VerifyResult::different), o.count(mongo::VerifyResult::failed), missing,
                              extra, different);
  if (changed) s += fmt::format("; {} changed during verify", changed);
  if (o.repair) {
    std::uint64_t copied = 0, deleted = 0;
    for (const auto& t : o.tables) {
      copied += t.repaired_copied;
      deleted += t.repaired_deleted;
    }
    s += fmt::format("; {} row{} copied, {} document{} deleted", copied, copied == 1 ? "" : "s", deleted,
                     deleted == 1 ? "" : "s");
  }
  return s + fmt::format(" in {:.1f}s", static_cast<double>(o.end_ms - o.start_ms) / 1000.0);
}

}  // namespace

void add_verify(CLI::App& app, Action& action, StopToken* stop) {
  auto* cmd = app.add_subcommand(
      "verify", "compare MongoDB with MySQL row by row, optionally repairing it: exit 0 equal, 1 differences found");
  auto flags = std::make_shared<VerifyFlags>();
  cmd->add_option("--tables", flags->tables, "only these tables (comma-separated names or globs; overrides SYNC_TABLES)")
      ->type_name("LIST");
  cmd->add_option("--exclude", flags->exclude, "skip these tables (comma-separated globs)")->type_name("LIST");
  auto* repair = cmd->add_flag("--repair", flags->repair,
                               "copy the missing and different rows, delete the extra documents, then verify them again "
                               "(takes the run lock)");
  cmd->add_flag("--force-deletes", flags->force_deletes,
                "with --repair: delete even when more than sync.max_delete_fraction of a collection would go")
      ->needs(repair);
  cmd->add_option("--wait", flags->wait,
                  "with --repair: if another run holds the lock, wait for it (up to DUR; no value: as long as it takes)")
      ->expected(0, 1)
      ->type_name("[=DUR]")
      ->needs(repair);
  cmd->add_option("--metrics-file", flags->metrics_file,
                  "write Prometheus metrics of this verify here (atomically; a file of its own, not the sync's)")
      ->type_name("FILE");
  cmd->callback([&action, flags, stop] {
    action = [flags, stop](Context& ctx) {
      ops::VerifyOptions o;
      o.selection = selection_of(ctx, flags->tables, flags->exclude);
      o.repair = flags->repair;
      o.force_deletes = flags->force_deletes;
      o.stop = stop;
      o.wait = wait_of(flags->wait);
      Progress progress(ctx.quiet || ctx.json);
      ProgressHook hook(progress, ctx.log);
      if (progress.active()) {
        o.progress = [&progress](const std::string& t, std::uint64_t done, std::uint64_t total) {
          progress.update(t, done, total);
        };
        o.table_read = [&progress](const sync::TableVerify& t) {
          if (t.error) return;  // logged as an error
          progress.done_line(fmt::format("{}: {} rows compared in {}{}", t.table, t.mysql_rows,
                                         format_duration(std::chrono::milliseconds(
                                             static_cast<std::int64_t>(t.duration_seconds * 1000))),
                                         t.found.differences() ? fmt::format(", {} differ", t.found.differences()) : ""));
        };
      }
      const std::int64_t start = now_epoch_ms();
      // The metrics file records every verify, including one that stopped with an error.
      auto write_metrics = [&](int code, const ops::VerifyOutcome* outcome) {
        if (flags->metrics_file.empty()) return;
        ops::VerifyMetrics m;
        m.start_ms = start;
        m.end_ms = now_epoch_ms();
        m.exit_code = code;
        const auto states = outcome && !outcome->states.empty() ? outcome->states : ops::try_load_state(ctx.cfg, ctx.log).tables;
        m.tables = ops::last_verifies(outcome, states);
        if (auto st = write_file_atomically(flags->metrics_file, ops::render_verify_metrics(m), "--metrics-file"); !st)
          ctx.log.error("{}", st.failure().message);
      };
      std::optional<ops::VerifyOutcome> result;
      try {
        result = ops::run_verify(ctx.cfg, o, ctx.log);
        if (stop->reason() == StopToken::Reason::lease_lost)
          throw Error(Exit::tempfail, "the run lock was taken over by another run while this one was repairing; it stopped");
      } catch (const Error& e) {
        write_metrics(exit_code_for_stop(*stop, static_cast<int>(e.code())), nullptr);
        if (e.cause() == Cause::lock_held && !stop->requested()) return report_lock_held(ctx, e);
        throw;
      }
      const auto& outcome = *result;
      const int code = exit_code_for_stop(*stop, static_cast<int>(outcome.exit_code()));
      // A stopped verify has no result to record: the metrics say only how it ended.
      write_metrics(code, stop->requested() ? nullptr : &outcome);
      const std::string summary = summary_of(outcome);
      if (ctx.json) {
        print_json(ctx, ops::to_json(outcome), code);
      } else if (code != 0 || found_any(outcome) || ctx.log.on_stderr(LogLevel::info) || ::isatty(STDOUT_FILENO) == 1) {
        // Like diff(1), a verify that finds everything equal prints nothing (cron mails nothing); at a
        // terminal, with -v, or when something differed (even if repaired) or failed, the report goes to
        // standard output.
        progress.clear();
        fmt::print("{:<28} {:>10} {:>10} {:>10} {:>8} {:>8} {:>9}  {}\n", "TABLE", "ROWS", "DOCUMENTS", "EQUAL",
                   "MISSING", "EXTRA", "DIFFERENT", "RESULT");
        for (const auto& t : outcome.tables) print_table(ctx, t);
        fmt::print("{}\n", ctx.redact(summary));
        std::fflush(stdout);
      }
      ctx.log.to_file(code == 0 ? LogLevel::info : LogLevel::warning, summary);
      return code;
    };
  });
}

}  // namespace m2m::app
