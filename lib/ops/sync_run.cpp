#include "ops/sync_run.hpp"

#include "mongo/client.hpp"
#include "mongo/lease.hpp"
#include "mongo/metadata.hpp"
#include "mongo/writer.hpp"
#include "mysql/connection.hpp"
#include "sync/table_sync.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <thread>

namespace m2m::ops {

std::vector<sync::TablePlan> plan_tables(const config::Config& cfg, const sync::Selection& selection, Logger& log) {
  auto conn = mysql::Connection::open(cfg.mysql, log).or_throw();
  return sync::make_plan(conn, cfg, selection, log).or_throw();
}

Decision decide(const sync::TablePlan& plan, const std::optional<TableStateView>& prior, Mode mode) {
  if (mode == Mode::full) return {false, "requested (--full)", false};
  if (!plan.has_key()) return {false, "no primary key or NOT NULL unique key: staging copy", false};
  if (plan.change_column.empty())
    return {false, "Table has no timestamp columns, falling back to full sync", true};
  if (prior && prior->has_checkpoint) return {false, "resuming an interrupted full sync", false};
  if (!prior || !prior->ever_succeeded) return {false, "first sync", false};
  if (prior->fingerprint != plan.fingerprint)
    return {false, "schema changed since the last sync (columns, types or key differ): full resync", true};
  if (!prior->has_mark) return {false, "no high-water mark recorded yet", false};
  return {true, "", false};
}

namespace {

bool stopping(const SyncOptions& o) { return o.stop && o.stop->load() != 0; }

}  // namespace

SyncOutcome run_sync(const config::Config& cfg, const SyncOptions& options, Logger& log) {
  SyncOutcome out;
  auto& report = out.report;
  report.sync_type = options.mode == Mode::full ? "full" : "incremental";
  report.start_ms = now_epoch_ms();
  report.dry_run = options.dry_run;

  auto conn = mysql::Connection::open(cfg.mysql, log).or_throw();
  out.plan = sync::make_plan(conn, cfg, options.selection, log).or_throw();
  if (options.dry_run) {
    report.end_ms = now_epoch_ms();
    return out;
  }

  auto pool = mongo::Pool::open(cfg.mongodb, log).or_throw();
  auto client = pool->acquire();
  // Reach MongoDB before touching anything, so an unreachable server is one clear error, not N failures.
  mongo::server_version(client, pool->where()).or_throw();
  const std::string& db = cfg.mongo_database();

  mongo::Lease::Options lease_options{db, mongo::lease_owner_id(), cfg.sync.lock_ttl, options.wait};
  auto lease = mongo::Lease::acquire(*pool, lease_options, log, options.stop).or_throw();

  mongo::MetadataStore meta(client, db, pool->where());
  meta.ensure_indexes().or_throw();
  const mongo::WriteConcern wc(cfg.mongodb.write_concern);

  for (const auto& plan : out.plan) {
    if (stopping(options)) break;
    sync::TableReport t;
    // Transient failures (deadlock, lock wait timeout, lost connection, MongoDB network errors) are
    // retried with backoff; each attempt resumes from what the previous one recorded.
    constexpr int kAttempts = 4;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      auto prior = meta.load(plan.table.name);
      if (!prior) {
        t = sync::TableReport{};
        t.table = plan.table.name;
        t.collection = plan.collection;
        t.status = "failed";
        t.error = prior.failure();
      } else {
        std::optional<TableStateView> view;
        if (*prior)
          view = TableStateView{(*prior)->last_success_ms != 0, (*prior)->checkpoint.has_value(),
                                (*prior)->high_water_mark.has_value(), (*prior)->schema_fingerprint};
        const Decision d = decide(plan, view, options.mode);
        // A table without a change column falls back every run: say so loudly once, then only with -v,
        // so cron does not mail the same warning every five minutes. The report always carries it.
        const bool repeated = d.reason.rfind("Table has no timestamp", 0) == 0 && view && view->ever_succeeded;
        if (d.warn && attempt == 1) log.write(repeated ? LogLevel::info : LogLevel::warning,
                                              fmt::format("table {}: {}", plan.table.name, d.reason));
        sync::TableContext ctx{conn, client, db, cfg, wc, meta, log, options.force_deletes, options.stop, options.progress};
        log.info("table {}: {} sync into {}{}", plan.table.name, d.incremental ? "incremental" : "full",
                 plan.collection, d.reason.empty() ? "" : " (" + d.reason + ")");
        t = d.incremental ? sync::incremental_sync(ctx, plan, **prior, options.reconcile)
                          : sync::full_sync(ctx, plan, *prior);
        if (t.reason.empty()) t.reason = d.reason;
        if (d.warn && t.status == "success") t.warnings.push_back(d.reason);
      }
      if (!t.error || !t.error->transient || attempt == kAttempts || stopping(options)) break;
      const auto backoff = std::chrono::seconds(1 << (attempt - 1));
      log.warn("table {}: {}; retrying in {}s (attempt {} of {})", plan.table.name, t.error->message, backoff.count(),
               attempt + 1, kAttempts);
      std::this_thread::sleep_for(backoff);
      // A lost connection cannot be reused; a fresh one costs little.
      if (auto fresh = mysql::Connection::open(cfg.mysql, log)) conn = std::move(*fresh);
    }
    if (t.error) log.error("table {}: {}", plan.table.name, t.error->message);
    else
      log.info("table {}: {} rows copied, {} deleted in {:.2f}s", plan.table.name, t.records_synced, t.deleted,
               t.duration_seconds);
    if (options.table_done) options.table_done(t);
    report.tables[plan.table.name] = std::move(t);
  }
  report.end_ms = now_epoch_ms();
  return out;
}

}  // namespace m2m::ops
