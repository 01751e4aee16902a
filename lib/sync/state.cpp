#include "sync/state.hpp"

#include "sync/recipes.hpp"
#include "sync/sql.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::sync {

Expected<ReadTime> read_time(mysql::Connection& conn) {
  ReadTime t;
  {
    auto rows = conn.query(select_server_time());
    if (!rows) return rows.failure();
    MYSQL_ROW row = rows->next();
    if (!row) return rows->error() ? *rows->error() : Failure{Exit::internal, "SELECT NOW(6) returned no row"};
    const auto* len = rows->lengths();
    t.now.assign(row[0], len[0]);
    if (row[1]) t.server_zone.assign(row[1], len[1]);
  }
  // A transaction counts once it has written or locked rows, or while it runs a statement that may write: a statement
  // stamps its rows with its own start time, which is no earlier than its transaction's. Idle readers
  // (a long mysqldump between statements) do not hold the window back. InnoDB refreshes this table only
  // when its last read is 100 ms old, so a transaction younger than that may be missing: its rows carry
  // times within sync.lookback (at least 1 s) of this read, which the window covers anyway.
  auto oldest = conn.query(select_oldest_write_transaction());
  if (!oldest) {
    // Without PROCESS the table is refused (or empty on some servers): the fixed lookback must do.
    if (!oldest.failure().transient) {
      t.transactions_error = oldest.failure().message;
      return t;
    }
    return oldest.failure();
  }
  t.transactions_visible = true;
  if (MYSQL_ROW row = oldest->next(); row && row[0]) t.oldest_write = std::string(row[0], oldest->lengths()[0]);
  if (oldest->error()) return *oldest->error();
  return t;
}

std::string earlier(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return b < a ? b : a;
}

std::string window_bound_sql(const WindowSpec& w, const Quote& quote) {
  const auto datetime = [&](const std::string& text) { return fmt::format("CAST({} AS DATETIME(6))", quote(text)); };
  const std::string utc = earlier(w.previous_read, w.floor);
  if (w.instant) {
    const std::string from = utc.empty() ? w.mark_change : utc;
    if (from.empty()) return {};
    return fmt::format("{} - INTERVAL {} MICROSECOND", datetime(from), w.lookback_us);
  }
  if (utc.empty() && w.mark_change.empty()) return {};
  const std::string zone = quote(w.zone.empty() ? std::string("SYSTEM") : w.zone);
  const auto wall = [&](const std::string& instant) {
    return fmt::format("CONVERT_TZ({}, '+00:00', {})", instant, zone);
  };
  std::string lower;
  if (w.mark_change.empty()) lower = wall(datetime(utc));
  else if (utc.empty()) lower = datetime(w.mark_change);
  else lower = fmt::format("LEAST({0}, COALESCE({1}, {0}))", datetime(w.mark_change), wall(datetime(utc)));
  // The UTC offset at the previous read minus the offset now: positive once the clock was set back.
  std::string drop = "0";
  if (!w.previous_read.empty()) {
    const std::string p = datetime(w.previous_read);
    drop = fmt::format("COALESCE(GREATEST(0, TIMESTAMPDIFF(MICROSECOND, {0}, {1}) - TIMESTAMPDIFF(MICROSECOND, "
                       "UTC_TIMESTAMP(6), {2})), 0)",
                       p, wall(p), wall("UTC_TIMESTAMP(6)"));
  }
  return fmt::format("{} - INTERVAL ({} + {}) MICROSECOND", lower, w.lookback_us, drop);
}

Expected<std::vector<std::string>> current_mark(TableContext& ctx, const TablePlan& plan) {
  // `settled`: the newest change is older than the lookback window, so no write in flight can still
  // produce that time.
  auto rows = ctx.mysql.query(select_change_mark(plan, ctx.cfg.sync.lookback.count() * 1000));
  if (!rows) return rows.failure();
  MYSQL_ROW row = rows->next();
  if (!row) return rows->error() ? Expected<std::vector<std::string>>(*rows->error())
                                 : Failure{Exit::internal, "SELECT MAX() returned no row"};
  const auto* len = rows->lengths();
  std::vector<std::string> mark{std::string(row[0], len[0])};
  if (!row[1]) return mark;
  mark.emplace_back(row[1], len[1]);
  const bool settled = row[2] && std::string_view(row[2], len[2]) == "1";
  if (!settled) return mark;  // the time alone: rows at that time are read again by the next run
  // Settled: the full mark (time, last key at that time) lets the next run start right after it instead
  // of re-reading every row that shares the newest time (all of them, in a freshly loaded table).
  auto last = ctx.mysql.query(select_last_key_at(plan, mark[1], quoter(ctx)));
  if (!last) return last.failure();
  if (MYSQL_ROW k = last->next()) {
    const auto* klen = last->lengths();
    for (std::size_t i = 0; i < plan.key.size(); ++i) {
      if (!k[i]) return mark;
      mark.emplace_back(k[i], klen[i]);
    }
  }
  return mark;
}

void record(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior, TableReport& report,
            const std::function<void(mongo::TableState&)>& finish) {
  mongo::TableState s = prior.value_or(mongo::TableState{});
  s.table_name = plan.table.name;
  s.collection = plan.collection;
  s.sync_type = report.sync_type;
  s.records_synced = static_cast<std::int64_t>(report.records_synced);
  s.rows_deleted = static_cast<std::int64_t>(report.deleted);
  s.status = report.status;
  s.duration_seconds = report.duration_seconds;
  const auto now = now_epoch_ms();
  s.last_sync_time = iso8601_utc(now);
  s.timestamp_ms = now;
  s.error = report.error_message();
  s.lossy.clear();
  for (const auto& [col, reasons] : report.lossy.counts())
    for (const auto& [reason, n] : reasons) s.lossy[col][reason] = static_cast<std::int64_t>(n);
  s.lossy_total = static_cast<std::int64_t>(report.lossy.total());
  s.warnings = report.warnings;
  s.key_fields = plan.key_fields();
  s.resumed = report.resumed;
  s.dropped = false;
  s.refused.clear();
  for (const auto& r : report.refused)
    s.refused.push_back(mongo::TableState::Refused{r.key, static_cast<std::int64_t>(r.bytes), r.reason});
  if (!report.error) {
    s.last_complete_ms = now;
    s.schema_fingerprint = plan.fingerprint;
    if (report.status == mongo::TableStatus::success) {
      s.last_success_ms = now;
      s.last_success_type = report.sync_type;
    }
    finish(s);
  }
  // Without the sync's outcome, the checkpoint and marks stay as the run wrote them while it went.
  ctx.meta.queue(s, !report.error);
}

}  // namespace m2m::sync
