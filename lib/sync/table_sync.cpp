#include "sync/table_sync.hpp"

#include "mongo/admin.hpp"
#include "sync/copy.hpp"
#include "sync/reconcile.hpp"
#include "sync/recipes.hpp"
#include "sync/sql.hpp"
#include "sync/state.hpp"
#include "util/stopwatch.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <chrono>

namespace m2m::sync {

bool stop_requested(const TableContext& ctx) { return ctx.stop && ctx.stop->requested(); }

Failure stopped_failure(const TableContext& ctx, std::string_view saved) {
  if (ctx.stop && ctx.stop->reason() == StopToken::Reason::lease_lost)
    return Failure{Exit::tempfail, "stopped: another run took the run lock over", false, 0, Cause::lease_lost};
  return Failure{Exit::tempfail, fmt::format("stopped by a signal{}", saved), false, 0, Cause::stopped};
}

Quote quoter(TableContext& ctx) {
  return [&ctx](std::string_view v) { return ctx.mysql.literal(v); };
}

void log_losses(Logger& log, const std::string& table, const convert::LossReport& loss) {
  for (const auto& [column, reasons] : loss.counts())
    for (const auto& [reason, n] : reasons)
      log.warn("table {}: column {}: {} value{} {}", table, column, n, n == 1 ? "" : "s", reason);
}

TableReport start_report(const TablePlan& plan, mongo::SyncType type) {
  TableReport report;
  report.table = plan.table.name;
  report.collection = plan.collection;
  report.sync_type = type;
  report.renames = plan.renames;
  report.warnings = plan.notes;
  report.change_source = plan.change_source;
  return report;
}

// Rows MongoDB refused last time are read again by key and written if they fit now (they stay refused
// otherwise). Rows deleted since were never written, so there is nothing to remove.
Status retry_refused(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior, TableReport& report) {
  if (!plan.has_key() || prior.refused.empty()) return success();
  std::vector<std::vector<std::string>> keys;
  for (const auto& r : prior.refused)
    if (r.key.size() == plan.key.size()) keys.push_back(r.key);
  constexpr std::size_t kPerStatement = 500;
  for (std::size_t i = 0; i < keys.size(); i += kPerStatement) {
    const std::vector<std::vector<std::string>> part(keys.begin() + static_cast<std::ptrdiff_t>(i),
                                                     keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), i + kPerStatement)));
    if (auto st = copy_rows(ctx, plan, select_by_keys(plan, part, quoter(ctx)), report); !st) return st;
  }
  return success();
}

// The window floor the next run must re-read from: the oldest open write transaction at this run's
// read, and after a takeover the start of this run's own window (see TableContext::taken_over).
std::optional<std::string> next_floor(const TableContext& ctx, const std::optional<mongo::TableState>& prior) {
  std::string floor = ctx.clock->oldest_write.value_or("");
  if (ctx.taken_over && prior) {
    const auto& mark = prior->high_water_mark;
    floor = earlier(floor, earlier(mark && !mark->empty() ? (*mark)[0] : std::string(), prior->window_floor.value_or("")));
  }
  if (floor.empty()) return std::nullopt;
  return floor;
}

void set_full_sync_done(const TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior,
                        const std::optional<std::vector<std::string>>& mark, mongo::TableState& s) {
  s.checkpoint.reset();
  s.pending_mark.reset();
  s.checkpoint_fingerprint.clear();
  s.high_water_mark = plan.change_column.empty() ? std::nullopt : mark;
  s.window_floor = plan.change_column.empty() ? std::nullopt : next_floor(ctx, prior);
  s.runs_since_reconcile = 0;
  s.change_source = ctx.change_source;
  s.split_ranges = 0;
}

Failure key_order_failure(const TablePlan& plan, std::string_view side, int cmp, std::string_view doing,
                          std::string_view outcome) {
  const std::string& t = plan.table.name;
  const std::string key = join(plan.key_columns(), ", ");
  if (cmp == 0 && side == "MySQL")
    return Failure{Exit::tables_failed,
                   fmt::format("table {}: distinct MySQL keys ({}) convert to the same MongoDB value, so a sync merges "
                               "their rows into one document{}. Store the key as text with [tables.{}] types, or report "
                               "this with the key's column types",
                               t, key, outcome, t)};
  return Failure{Exit::tables_failed,
                 fmt::format("cannot {} table {}: the {} key stream is not in the order expected (key {}){}. Report "
                             "this with the key's column types",
                             doing, t, side, key, outcome)};
}

// The key changed (ALTER TABLE ... PRIMARY KEY, a renamed key column): documents are matched on the old
// key fields, and the unique index has the old fields. The collection is rebuilt beside and swapped in.
bool key_changed(const TablePlan& plan, const std::optional<mongo::TableState>& prior) {
  return plan.has_key() && prior && (prior->last_complete_ms || prior->last_success_ms) && !prior->key_fields.empty() &&
         prior->key_fields != plan.key_fields();
}

// MongoDB's IndexOptionsConflict (85) and IndexKeySpecsConflict (86): an index of that name exists with
// other fields or options, i.e. the collection was built for another key.
bool index_conflict(const Failure& f) { return f.server_code == 85 || f.server_code == 86; }

bool indexes_made(const TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior) {
  return !ctx.make_indexes && prior && (prior->last_complete_ms || prior->last_success_ms) &&
         prior->schema_fingerprint == plan.fingerprint;
}

std::optional<std::vector<std::string>> valid_checkpoint(const TablePlan& plan,
                                                         const std::optional<mongo::TableState>& prior) {
  // A checkpoint is only valid for the same columns and key it was taken with.
  if (plan.has_key() && !key_changed(plan, prior) && prior && prior->checkpoint &&
      prior->checkpoint->size() == plan.key.size() &&
      (prior->checkpoint_fingerprint.empty() ? prior->schema_fingerprint : prior->checkpoint_fingerprint) ==
          plan.fingerprint)
    return prior->checkpoint;
  return std::nullopt;
}


Status ensure_indexes(TableContext& ctx, const TablePlan& plan, const std::string& collection) {
  const std::string where = fmt::format("MongoDB collection {}", collection);
  if (plan.has_key() && !ctx.cfg.sync.key_as_id) {
    if (auto st = mongo::create_index(ctx.mongo, ctx.db, collection, plan.key_fields(), true, "m2m_key", where); !st)
      return st;
  }
  for (const auto& fields : plan.index_fields) {
    const std::string name = fmt::format("m2m_fk_{}", join(fields, "_"));
    if (auto st = mongo::create_index(ctx.mongo, ctx.db, collection, fields, false, name, where); !st) return st;
  }
  return success();
}

TableReport full_sync(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior) {
  Stopwatch clock;
  TableReport report = start_report(plan, mongo::SyncType::full);
  Status st = success();
  std::optional<std::vector<std::string>> mark;
  if (plan.has_key()) {
    bool rebuild = key_changed(plan, prior);
    std::optional<std::vector<std::string>> resume;
    if (!rebuild && valid_checkpoint(plan, prior)) {
      resume = prior->checkpoint;
      mark = prior->pending_mark;
      report.resumed = true;
      ctx.log.info("table {}: resuming the interrupted full sync after key ({})", plan.table.name, join(*resume, ", "));
    }
    // Read the mark before copying: rows changed while we copy have later values and are read again by
    // the next incremental run. It is stored with the fingerprint its checkpoints will belong to, so a
    // first sync killed before it ends resumes too.
    if (!resume) {
      if (!plan.change_column.empty()) {
        if (auto m = current_mark(ctx, plan)) mark = *m;
        else st = m.failure();
      }
      if (st)
        st = ctx.meta.save_fields(plan.table.name,
                                  {{"pending_mark", mark ? mongo::MetadataStore::FieldValue(*mark) : nullptr},
                                   {"checkpoint_fingerprint", plan.fingerprint},
                                   {"checkpoint", nullptr}});
    }
    // The run that recorded this fingerprint made these indexes: no createIndexes on every run.
    if (st && !rebuild && !indexes_made(ctx, plan, prior)) {
      st = ensure_indexes(ctx, plan, plan.collection);
      if (!st && index_conflict(st.failure())) {
        rebuild = true;
        st = success();
      }
    }
    if (st && rebuild) {
      report.reason = prior && !prior->key_fields.empty() && prior->key_fields != plan.key_fields()
                          ? fmt::format("the key changed from ({}) to ({}): rebuilt through a staging collection",
                                        join(prior->key_fields, ", "), join(plan.key_fields(), ", "))
                          : "the collection's indexes were built for another key: rebuilt through a staging collection";
      ctx.log.warn("table {}: {}", plan.table.name, report.reason);
      st = copy_staged(ctx, plan, report);
    } else if (st) {
      OrderedCopy copy;
      copy.order = plan.key;
      copy.after = resume;
      copy.sql = [&](const auto& after) { return select_chunk(plan, after, kChunkRows, quoter(ctx)); };
      // The last batch needs no checkpoint: the table's record clears it (a crash in between makes the
      // next run copy that batch again, no more).
      copy.on_ack = [&](const std::vector<std::string>& last, bool final) {
        return final ? success() : ctx.meta.save_field(plan.table.name, "checkpoint", last);
      };
      copy.expected_rows = plan.table.row_estimate;
      st = copy_ordered(ctx, plan, copy, report);
      const bool copied_all = st && !stop_requested(ctx);
      if (st && resume && prior) st = retry_refused(ctx, plan, *prior, report);
      if (st && !stop_requested(ctx)) {
        if (auto deleted = reconcile_deletes(ctx, plan)) report.deleted = *deleted;
        else st = deleted.failure();
      }
      // The copy reached the end of the table: a later failure (of the delete step, say) must not make
      // the next run "resume" after the last key and copy nothing.
      if (!st && copied_all) (void)ctx.meta.save_field(plan.table.name, "checkpoint", std::nullopt);
    }
    if (report.resumed && plan.change_column.empty())
      report.warnings.push_back(
          "resumed from the checkpoint of an interrupted run: rows before it that changed in between are refreshed "
          "by the next run's full pass");
  } else {
    report.warnings.push_back(
        "table has no primary key and no NOT NULL unique key: copied into a staging collection and swapped in");
    st = copy_staged(ctx, plan, report);
  }
  if (!st) report.error = st.failure();
  report.settle();
  report.duration_seconds = clock.seconds();
  log_losses(ctx.log, plan.table.name, report.lossy);
  record(ctx, plan, prior, report, [&](mongo::TableState& s) { set_full_sync_done(ctx, plan, prior, mark, s); });
  return report;
}

namespace {

// The stored mark is [server time of the read, change value, key...] (see current_mark); the read
// starts after (change value, key...).
std::vector<std::string> mark_of(const mongo::TableState& prior) {
  const std::vector<std::string> stored = prior.high_water_mark.value_or(std::vector<std::string>{});
  return stored.size() > 1 ? std::vector<std::string>(stored.begin() + 1, stored.end()) : std::vector<std::string>{};
}

// The window re-read every run: a transaction still open when the last run read can commit afterwards
// with an older timestamp (see window_bound_sql for the time zones).
std::string window_of(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior) {
  const std::vector<std::string> stored = prior.high_water_mark.value_or(std::vector<std::string>{});
  const auto mark = mark_of(prior);
  WindowSpec window;
  window.instant = plan.change_instant;
  window.zone = plan.change_zone.empty() ? ctx.clock->server_zone : plan.change_zone;
  window.mark_change = mark.empty() ? std::string() : mark[0];
  window.previous_read = stored.empty() ? std::string() : stored[0];
  window.floor = prior.window_floor.value_or("");
  window.lookback_us = ctx.cfg.sync.lookback.count() * 1000;
  return window_bound_sql(window, quoter(ctx));
}

}  // namespace

std::string changed_condition(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior) {
  return changed_predicate(plan, mark_of(prior), window_of(ctx, plan, prior), quoter(ctx));
}

bool reconcile_due(const config::Config& cfg, const mongo::TableState& prior, bool requested) {
  return requested || (cfg.sync.reconcile_every > 0 && prior.runs_since_reconcile + 1 >= cfg.sync.reconcile_every);
}

TableReport incremental_sync(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior, bool reconcile) {
  Stopwatch clock;
  TableReport report = start_report(plan, mongo::SyncType::incremental);
  const auto quote = quoter(ctx);
  const std::vector<std::string> mark_in = mark_of(prior);
  const std::string bound = window_of(ctx, plan, prior);

  std::vector<std::size_t> order{plan.change_field};
  order.insert(order.end(), plan.key.begin(), plan.key.end());

  const std::string now_text = ctx.clock->now;
  std::vector<std::string> mark_out = mark_in;
  auto stored_mark = [&] {
    std::vector<std::string> m{now_text};
    m.insert(m.end(), mark_out.begin(), mark_out.end());
    return m;
  };
  Status st = retry_refused(ctx, plan, prior, report);
  // 1. Rows changed since the mark, and the window, in (change column, key) order. The mark advances
  //    only after MongoDB acknowledged the rows up to it.
  if (st && !ctx.nothing_to_read) {
    OrderedCopy copy;
    copy.order = order;
    copy.sql = [&](const auto& after) { return select_changed(plan, mark_in, bound, after, kChunkRows, quote); };
    copy.on_ack = [&](const std::vector<std::string>& last, bool final) {
      // Rows in the window are older than the mark: never move it back. The values are MySQL's
      // fixed-width temporal text, so text order is time order. The last batch's mark goes with the
      // table's record.
      if (mark_out.empty() || last[0] >= mark_out[0]) mark_out = last;
      return final ? success() : ctx.meta.save_field(plan.table.name, "high_water_mark", stored_mark());
    };
    st = copy_ordered(ctx, plan, copy, report);
  }
  // 2. Rows whose change column is NULL: no time to compare, so they are copied on every run.
  const mysql::Column* chg = plan.change();
  if (st && !stop_requested(ctx) && chg && chg->nullable && !ctx.nothing_to_read) {
    OrderedCopy copy;
    copy.order = plan.key;
    copy.sql = [&](const auto& after) { return select_null_changed(plan, after, kChunkRows, quote); };
    copy.on_ack = [](const std::vector<std::string>&, bool) { return success(); };
    st = copy_ordered(ctx, plan, copy, report);
  }
  // 3. Deletes are invisible to timestamps: reconcile keys every sync.reconcile_every runs or on request.
  const bool reconcile_now = reconcile_due(ctx.cfg, prior, reconcile);
  if (st && reconcile_now && !stop_requested(ctx)) {
    if (auto deleted = reconcile_deletes(ctx, plan)) report.deleted = *deleted;
    else st = deleted.failure();
  }
  if (!st) report.error = st.failure();
  report.settle();
  if (reconcile_now && !report.error) report.reason = "incremental with delete reconciliation";
  report.duration_seconds = clock.seconds();
  log_losses(ctx.log, plan.table.name, report.lossy);
  record(ctx, plan, prior, report, [&](mongo::TableState& s) {
    s.high_water_mark = stored_mark();
    s.window_floor = next_floor(ctx, prior);
    s.runs_since_reconcile = reconcile_now ? 0 : prior.runs_since_reconcile + 1;
    s.change_source = ctx.change_source;
  });
  return report;
}

TableReport binlog_sync(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior, TableReport applied,
                        bool reconcile) {
  Stopwatch clock;
  TableReport report = start_report(plan, mongo::SyncType::incremental);
  report.records_synced = applied.records_synced;
  report.deleted = applied.deleted;
  report.lossy = applied.lossy;
  report.refused = applied.refused;
  Status st = success();
  // Rows refused last time are read again, as in every sync.
  st = retry_refused(ctx, plan, prior, report);
  // The binlog shows every delete; --reconcile still checks keys on both sides, as a proof.
  if (st && reconcile && !stop_requested(ctx)) {
    if (auto deleted = reconcile_deletes(ctx, plan)) report.deleted += *deleted;
    else st = deleted.failure();
  }
  if (!st) report.error = st.failure();
  report.settle();
  if (reconcile && !report.error) report.reason = "binlog with delete reconciliation";
  // The time its keys took to apply during the binlog read, and its own.
  report.duration_seconds = applied.duration_seconds + clock.seconds();
  log_losses(ctx.log, plan.table.name, report.lossy);
  // Nothing happened, and the stored record already says so (a quiet sync from the log): it is not
  // written again. The binlog position's as_of time carries this run (see BinlogTablePosition), so a
  // run over a thousand quiet tables writes one document, not a thousand.
  const bool nothing = report.records_synced == 0 && report.deleted == 0 && report.lossy.total() == 0 &&
                       report.refused.empty() && !report.error && !reconcile && report.warnings.empty();
  const bool said = prior.status == mongo::TableStatus::success && prior.sync_type == mongo::SyncType::incremental &&
                    prior.change_source == mongo::ChangeSource::binlog && prior.records_synced == 0 &&
                    prior.rows_deleted == 0 && prior.lossy_total == 0 && prior.error.empty() && prior.warnings.empty() &&
                    prior.refused.empty() && !prior.resumed && !prior.checkpoint && prior.runs_since_reconcile == 0 &&
                    prior.schema_fingerprint == plan.fingerprint && prior.collection == plan.collection &&
                    prior.key_fields == plan.key_fields() && !prior.dropped;
  if (nothing && said) return report;
  record(ctx, plan, prior, report, [&](mongo::TableState& s) {
    s.runs_since_reconcile = 0;
    s.change_source = mongo::ChangeSource::binlog;
  });
  return report;
}

}  // namespace m2m::sync
