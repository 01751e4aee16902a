#include "cli.hpp"
#include "mongo/lease.hpp"
#include "ops/metrics.hpp"
#include "ops/status.hpp"
#include "ops/sync_run.hpp"
#include "progress.hpp"
#include "stopping.hpp"
#include "util/fs.hpp"
#include "util/text.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdlib>

namespace m2m::app {

namespace {

struct SyncFlags {
  bool full = false;
  bool incremental = false;
  std::string tables;
  std::string exclude;
  bool dry_run = false;
  bool force_deletes = false;
  bool reconcile = false;
  std::optional<std::string> wait;
  std::string metrics_file;
  std::string shard;
  std::string shards;
};

// What a run would do with each table, and why (from the stored state, as a real run decides).
void print_decisions_text(const sync::RunReport& r) {
  fmt::print("{:<28} {:<12} {}\n", "TABLE", "SYNC", "WHY");
  for (const auto& [name, t] : r.tables)
    fmt::print("{:<28} {:<12} {}\n", name, mongo::to_string(t.sync_type), t.reason.empty() ? "changes since the last sync" : t.reason);
}

}  // namespace

void add_sync(CLI::App& app, Action& action, StopToken* stop) {
  auto* cmd = app.add_subcommand("sync", "copy rows from MySQL to MongoDB (incremental by default)");
  auto flags = std::make_shared<SyncFlags>();
  auto* full = cmd->add_flag("--full", flags->full, "copy every row of every table");
  cmd->add_flag("--incremental", flags->incremental, "copy only what changed (the default)")->excludes(full);
  cmd->add_option("--tables", flags->tables, "only these tables (comma-separated names or globs; overrides SYNC_TABLES)")
      ->type_name("LIST");
  cmd->add_option("--exclude", flags->exclude, "skip these tables (comma-separated globs)")->type_name("LIST");
  cmd->add_flag("--dry-run", flags->dry_run, "print the plan and write nothing");
  cmd->add_flag("--force-deletes", flags->force_deletes,
                "delete even when more than sync.max_delete_fraction of a collection would go");
  cmd->add_flag("--reconcile", flags->reconcile,
                "also remove documents whose rows were deleted (incremental runs do it every sync.reconcile_every runs)");
  cmd->add_option("--wait", flags->wait, "if another run holds the lock, wait for it (up to DUR, e.g. 10m; no value: "
                                         "as long as it takes)")
      ->expected(0, 1)
      ->type_name("[=DUR]");
  auto* shard = cmd->add_option("--shard", flags->shard,
                                "run as shard I of N of a run spread over hosts (e.g. 0/3): each shard claims work "
                                "units through leases in MongoDB, its own first")
                    ->type_name("I/N");
  cmd->add_option("--shards", flags->shards,
                  "the same, this shard's index taken from JOB_COMPLETION_INDEX (set by a Kubernetes Indexed Job)")
      ->type_name("N")
      ->excludes(shard);
  cmd->add_option("--metrics-file", flags->metrics_file,
                  "write Prometheus metrics here at the end of the run (atomically; for node-exporter's textfile "
                  "collector)")
      ->type_name("FILE");
  cmd->callback([&action, flags, stop] {
    action = [flags, stop](Context& ctx) {
      if (!ctx.cfg.sync.enabled) {
        // Switched off on purpose: said at info (-v), so cron does not mail it every run.
        ctx.log.info("sync is disabled (SYNC_ENABLED=false, from {}); nothing done",
                     ctx.cfg.origin.count("sync.enabled") ? ctx.cfg.origin.at("sync.enabled") : "config");
        if (ctx.json) {
          nlohmann::ordered_json j;
          j["status"] = "disabled";
          j["message"] = "sync is disabled (SYNC_ENABLED=false)";
          print_json(ctx, j, 0);
        }
        return 0;
      }
      ops::SyncOptions o;
      o.mode = flags->full ? ops::Mode::full : ops::Mode::incremental;
      o.selection = selection_of(ctx, flags->tables, flags->exclude);
      o.dry_run = flags->dry_run;
      o.force_deletes = flags->force_deletes;
      o.stop = stop;
      o.reconcile = flags->reconcile;
      o.wait = wait_of(flags->wait);
      if (!flags->shard.empty()) {
        o.shard = ops::parse_shard(flags->shard).or_throw();
      } else if (!flags->shards.empty()) {
        const char* index = std::getenv("JOB_COMPLETION_INDEX");
        o.shard = ops::shard_from_index(flags->shards, index ? std::optional<std::string>(index) : std::nullopt).or_throw();
      }
      Progress progress(ctx.quiet || ctx.json);
      ProgressHook hook(progress, ctx.log);
      if (progress.active()) {
        o.progress = [&progress](int worker, const std::string& unit, std::uint64_t done, std::uint64_t total) {
          progress.update(worker, unit, done, total);
        };
        o.table_done = [&progress](int worker, const sync::TableReport& t) { progress.table_done(worker, t); };
        o.unit_done = [&progress](int worker) { progress.unit_done(worker); };
      }
      const std::int64_t start = now_epoch_ms();
      // The metrics file records every run, including one that stopped with an error.
      auto write_metrics = [&](int code, const sync::RunReport* report) {
        if (flags->metrics_file.empty() || o.dry_run) return;
        ops::RunMetrics m;
        m.start_ms = start;
        m.end_ms = now_epoch_ms();
        m.exit_code = code;
        m.report = report;
        auto stored = ops::try_load_state(ctx.cfg, ctx.log);
        m.tables = std::move(stored.tables);
        m.binlog = std::move(stored.binlog);
        const auto text = ops::render_metrics(m, read_file(flags->metrics_file));
        if (auto st = write_file_atomically(flags->metrics_file, text, "--metrics-file"); !st)
          ctx.log.error("{}", st.failure().message);
      };
      auto signal_code = [&](int fallback) { return exit_code_for_stop(*stop, fallback); };
      std::optional<ops::SyncOutcome> result;
      try {
        result = ops::run_sync(ctx.cfg, o, ctx.log);
        if (stop->reason() == StopToken::Reason::lease_lost)
          throw Error(Exit::tempfail, "the run lock was taken over by another run while this one was working; it stopped");
      } catch (const Error& e) {
        write_metrics(signal_code(static_cast<int>(e.code())), result ? &result->report : nullptr);
        if (e.cause() == Cause::lock_held && !stop->requested()) return report_lock_held(ctx, e);
        throw;
      }
      const auto& outcome = *result;
      const auto& r = outcome.report;
      write_metrics(signal_code(static_cast<int>(r.exit_code())), &r);
      if (o.dry_run) {
        if (ctx.json) {
          auto j = sync::to_json(r);
          nlohmann::ordered_json plan = nlohmann::ordered_json::object();
          for (const auto& p : outcome.plan) plan[p.table.name] = sync::to_json(p);
          j["plan"] = plan;
          print_json(ctx, j, 0);
        } else {
          fmt::print("dry run: {} sync of {} tables; nothing written\n", mongo::to_string(r.sync_type),
                     outcome.plan.size());
          print_plan_text(outcome.plan);
          fmt::print("\n");
          print_decisions_text(r);
        }
        return 0;
      }
      if (ctx.json) {
        print_json(ctx, sync::to_json(r), signal_code(static_cast<int>(r.exit_code())));
      } else {
        std::uint64_t deleted = 0;
        for (const auto& [n, t] : r.tables) deleted += t.deleted;
        const std::string summary =
            fmt::format("sync {}: {} tables ok, {} failed, {} records synced, {} deleted in {:.1f}s", sync::to_string(r.status()),
                        r.succeeded(), r.failed(), r.total_records(), deleted,
                        static_cast<double>(r.end_ms - r.start_ms) / 1000.0);
        // Under cron a successful run prints nothing; failures were logged on stderr already. The
        // summary goes to stderr when a table failed, with -v, and on a terminal; to the log file always.
        if (r.failed() || ctx.log.on_stderr(LogLevel::info) || progress.active()) {
          progress.clear();
          // In the journal: a warning when tables failed, else information.
          const char* prefix = std::getenv("JOURNAL_STREAM") ? (r.failed() ? "<4>" : "<6>") : "";
          fmt::print(stderr, "{}{}\n", prefix, ctx.redact(summary));
        }
        ctx.log.to_file(r.failed() ? LogLevel::warning : LogLevel::info, summary);
      }
      return static_cast<int>(r.exit_code());
    };
  });
}

}  // namespace m2m::app
