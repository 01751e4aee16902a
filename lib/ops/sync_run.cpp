#include "ops/sync_run.hpp"

#include "mongo/client.hpp"
#include "mongo/metadata.hpp"
#include "mongo/writer.hpp"
#include "mysql/connection.hpp"
#include "sync/table_sync.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::ops {

std::vector<sync::TablePlan> plan_tables(const config::Config& cfg, const sync::Selection& selection, Logger& log) {
  auto conn = mysql::Connection::open(cfg.mysql, log).or_throw();
  return sync::make_plan(conn, cfg, selection, log).or_throw();
}

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
  mongo::MetadataStore meta(client, db, pool->where());
  meta.ensure_indexes().or_throw();
  const mongo::WriteConcern wc(cfg.mongodb.write_concern);

  sync::TableContext ctx{conn, client, db, cfg, wc, meta, log, options.force_deletes, options.stop};
  for (const auto& plan : out.plan) {
    if (options.stop && options.stop->load()) break;
    auto prior = meta.load(plan.table.name);
    if (!prior) {
      sync::TableReport t;
      t.table = plan.table.name;
      t.collection = plan.collection;
      t.status = "failed";
      t.error = prior.failure();
      report.tables[plan.table.name] = std::move(t);
      continue;
    }
    log.info("table {}: full sync into {}", plan.table.name, plan.collection);
    auto t = sync::full_sync(ctx, plan, *prior);
    if (options.mode == Mode::incremental && !t.error) t.reason = !*prior ? "first sync" : "incremental not yet available";
    if (t.error) log.error("table {}: {}", plan.table.name, t.error->message);
    else log.info("table {}: {} rows copied, {} deleted in {:.2f}s", plan.table.name, t.records_synced, t.deleted, t.duration_seconds);
    report.tables[plan.table.name] = std::move(t);
  }
  report.end_ms = now_epoch_ms();
  return out;
}

}  // namespace m2m::ops
