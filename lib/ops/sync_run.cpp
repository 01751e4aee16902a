#include "ops/sync_run.hpp"

#include "mongo/client.hpp"
#include "mongo/lease.hpp"
#include "mongo/metadata.hpp"
#include "mongo/writer.hpp"
#include "mysql/connection.hpp"
#include "ops/binlog_step.hpp"
#include "sync/binlog_sync.hpp"
#include "sync/state.hpp"
#include "sync/table_sync.hpp"
#include "mongo/admin.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <map>
#include <set>
#include <thread>

namespace m2m::ops {

std::vector<sync::TablePlan> plan_tables(const config::Config& cfg, const sync::Selection& selection, Logger& log) {
  auto conn = mysql::Connection::open(cfg.mysql, log).or_throw();
  auto plans = sync::make_plan(conn, cfg, selection, log).or_throw();
  resolve_changes(plans, conn, log);
  return plans;
}

std::string_view Decision::reason() const {
  switch (why) {
    case Why::changes: return "";
    case Why::requested_full: return "requested (--full)";
    case Why::no_key: return "no primary key or NOT NULL unique key: staging copy";
    case Why::no_change_column: return "Table has no timestamp columns, falling back to full sync";
    case Why::resuming: return "resuming an interrupted full sync";
    case Why::first_sync: return "first sync";
    case Why::schema_changed: return "schema changed since the last sync (columns, types or key differ): full resync";
    case Why::no_mark: return "no high-water mark recorded yet";
    case Why::binlog: return "";
    case Why::binlog_start: return "switching to binlog change capture: a full sync is its starting point";
  }
  return "";
}

mongo::ChangeSource change_source(const sync::TablePlan& plan, bool binlog_ok) {
  using mongo::ChangeSource;
  if (!plan.has_key()) return ChangeSource::full;
  const auto by_column = plan.change_column.empty() ? ChangeSource::full : ChangeSource::timestamp;
  switch (plan.changes) {
    case config::Changes::timestamp: return by_column;
    case config::Changes::binlog: return ChangeSource::binlog;
    case config::Changes::automatic: return binlog_ok ? ChangeSource::binlog : by_column;
  }
  return by_column;
}

Decision decide(const sync::TablePlan& plan, const std::optional<TableStateView>& prior, Mode mode) {
  using Why = Decision::Why;
  if (mode == Mode::full) return {Why::requested_full};
  if (!plan.has_key()) return {Why::no_key};
  if (plan.change_source == mongo::ChangeSource::full) return {Why::no_change_column};
  if (prior && prior->has_checkpoint) return {Why::resuming};
  if (!prior || !prior->ever_succeeded) return {Why::first_sync};
  if (prior->fingerprint != plan.fingerprint) return {Why::schema_changed};
  if (plan.change_source == mongo::ChangeSource::binlog) return {prior->binlog_current ? Why::binlog : Why::binlog_start};
  if (!prior->has_mark) return {Why::no_mark};
  return {Why::changes};
}

namespace {

bool stopping(const SyncOptions& o) { return o.stop && o.stop->requested(); }

// mariadb_cancel cuts a MySQL call that waits on a server that stopped answering: the stop watchdog runs
// it when a graceful stop takes too long.
StopToken::Registration interruptible(mysql::Connection& conn, StopToken* stop) {
  if (!stop) return {};
  MYSQL* m = conn.handle();
  return stop->on_interrupt([m] { mysql::cancel(m); });
}

std::optional<TableStateView> view_of(const std::optional<mongo::TableState>& prior, bool binlog_current = false) {
  if (!prior) return std::nullopt;
  return TableStateView{prior->last_success_ms != 0 || prior->last_complete_ms != 0, prior->checkpoint.has_value(),
                        prior->high_water_mark.has_value(), prior->schema_fingerprint, prior->change_source,
                        binlog_current};
}

// Marks the metadata of tables that no longer exist in MySQL as dropped (once, with a warning), and with
// sync.drop_orphans drops their collections. Returns their names.
std::vector<std::string> note_vanished_tables(mysql::Connection& conn, const config::Config& cfg,
                                              mongo::MetadataStore& meta, std::vector<mongo::TableState>& states,
                                              mongo::Client& client, const std::string& db, Logger& log) {
  if (states.empty()) return {};
  auto names = mysql::list_tables(conn, cfg.mysql.database).or_throw();
  std::set<std::string> existing;
  for (const auto& n : names) existing.insert(n.name);
  std::vector<std::string> vanished;
  for (auto& s : states) {
    if (existing.count(s.table_name)) continue;
    vanished.push_back(s.table_name);
    bool changed = false;
    if (!s.dropped) {
      log.warn("table {} no longer exists in MySQL (dropped or renamed); its collection {} is kept{}", s.table_name,
               s.collection, cfg.sync.drop_orphans ? "" : " (set sync.drop_orphans = true to drop it)");
      s.dropped = true;
      s.dropped_ms = now_epoch_ms();
      s.status = mongo::TableStatus::dropped;
      changed = true;
    }
    if (cfg.sync.drop_orphans && !s.collection_dropped && !s.collection.empty() &&
        !sync::is_reserved_collection(s.collection)) {
      mongo::drop_collection(client, db, s.collection, fmt::format("MongoDB collection {}", s.collection)).or_throw();
      log.warn("table {}: dropped its collection {} (sync.drop_orphans)", s.table_name, s.collection);
      s.collection_dropped = true;
      changed = true;
    }
    if (changed) meta.queue(s, false);
  }
  return vanished;
}

// The incremental tables whose read would find nothing, found with one query per 200 tables instead of
// one per table: a run over a thousand quiet tables reads five times, not a thousand. A table that must
// be read anyway (refused rows to retry, deletes to reconcile) is not probed; a failed probe only means
// every table is read as usual.
std::set<std::string> quiet_tables(sync::TableContext& ctx, const std::vector<sync::TablePlan>& plans,
                                   const std::map<std::string, mongo::TableState>& stored, const SyncOptions& options,
                                   Logger& log) {
  std::vector<std::pair<const sync::TablePlan*, std::string>> candidates;
  for (const auto& plan : plans) {
    const auto it = stored.find(plan.table.name);
    if (it == stored.end()) continue;
    const mongo::TableState& prior = it->second;
    // Only tables read by their change column: a binlog table is read only for the keys the log lists.
    if (decide(plan, view_of(prior), options.mode).why != Decision::Why::changes) continue;
    if (!prior.refused.empty() || sync::reconcile_due(ctx.cfg, prior, options.reconcile)) continue;
    candidates.emplace_back(&plan, sync::changed_condition(ctx, plan, prior));
  }
  constexpr std::size_t kPerProbe = 200;
  std::set<std::string> quiet;
  for (std::size_t from = 0; from < candidates.size(); from += kPerProbe) {
    const std::vector<std::pair<const sync::TablePlan*, std::string>> part(
        candidates.begin() + static_cast<std::ptrdiff_t>(from),
        candidates.begin() + static_cast<std::ptrdiff_t>(std::min(candidates.size(), from + kPerProbe)));
    auto rows = ctx.mysql.query(sync::probe_changes(part));
    if (!rows) {
      log.debug("probing for changes failed ({}): every table is read", rows.failure().message);
      return {};
    }
    std::set<std::size_t> busy;
    while (MYSQL_ROW row = rows->next()) busy.insert(std::strtoull(row[0], nullptr, 10));
    if (rows->error()) return {};
    for (std::size_t i = 0; i < part.size(); ++i)
      if (!busy.count(i)) quiet.insert(part[i].first->table.name);
  }
  log.debug("{} of {} incremental tables have nothing to read", quiet.size(), candidates.size());
  return quiet;
}

}  // namespace

std::optional<std::chrono::milliseconds> retry_backoff(int attempt, std::chrono::milliseconds spent,
                                                       std::chrono::milliseconds budget) {
  const auto wait = std::min<std::chrono::milliseconds>(std::chrono::seconds(10),
                                                        std::chrono::seconds(1LL << std::min(attempt - 1, 4)));
  if (spent + wait > budget) return std::nullopt;
  return wait;
}

SyncOutcome run_sync(const config::Config& cfg, const SyncOptions& options, Logger& log) {
  SyncOutcome out;
  auto& report = out.report;
  report.sync_type = options.mode == Mode::full ? mongo::SyncType::full : mongo::SyncType::incremental;
  report.start_ms = now_epoch_ms();
  report.dry_run = options.dry_run;

  auto conn = mysql::Connection::open(cfg.mysql, log).or_throw();
  auto cancel_mysql = interruptible(conn, options.stop);
  out.plan = sync::make_plan(conn, cfg, options.selection, log).or_throw();
  // Where each table's changes come from; a binlog that is configured but unavailable stops here (78).
  const std::optional<binlog::Capabilities> caps = resolve_changes(out.plan, conn, log);

  auto pool = mongo::Pool::open(cfg.mongodb, log).or_throw();
  auto client = pool->acquire();
  const std::string& db = cfg.mongo_database();

  if (options.dry_run) {
    // What each table would get: the same decision a real run makes, from the stored state.
    mongo::MetadataStore reader(client, db, pool->where());
    std::map<std::string, mongo::TableState> stored;
    std::vector<mongo::TableState> all = reader.load_all().or_throw();
    for (auto& s : all) stored[s.table_name] = std::move(s);
    // The stored binlog positions, as far as MongoDB knows them (whether the server still has them is
    // for the real run to find out).
    std::set<std::string> binlog_current;
    if (caps)
      if (auto b = reader.load_binlog().or_throw(); b && b->identity == caps->identity())
        for (const auto& [table, p] : b->tables)
          if (!p.copying) binlog_current.insert(table);
    for (const auto& plan : out.plan) {
      std::optional<mongo::TableState> prior;
      if (auto it = stored.find(plan.table.name); it != stored.end()) prior = it->second;
      const Decision d = decide(plan, view_of(prior, binlog_current.count(plan.table.name) > 0), options.mode);
      sync::TableReport t;
      t.table = plan.table.name;
      t.collection = plan.collection;
      t.sync_type = d.incremental() ? mongo::SyncType::incremental : mongo::SyncType::full;
      t.change_source = plan.change_source;
      t.reason = d.reason();
      t.status = mongo::TableStatus::planned;
      report.tables[plan.table.name] = std::move(t);
    }
    report.end_ms = now_epoch_ms();
    return out;
  }

  mongo::Lease::Options lease_options{db, mongo::lease_owner_id(), cfg.sync.lock_ttl, options.wait};
  auto lease = mongo::Lease::acquire(*pool, lease_options, log, options.stop).or_throw();

  mongo::MetadataStore meta(client, db, pool->where(), lease->token(), options.stop);
  // Every table's state in one read; an empty store is a first run, which makes its index.
  std::vector<mongo::TableState> states = meta.load_all().or_throw();
  log.debug("read the state of {} tables", states.size());
  if (states.empty()) meta.ensure_indexes().or_throw();
  // From here on, a run that held an older token can no longer write any table's state.
  meta.claim().or_throw();
  log.debug("fenced _sync_metadata with token {}", lease->token());
  const mongo::WriteConcern wc(cfg.mongodb.write_concern);

  // The run's clock: one read of the server's time and open transactions for every table.
  const sync::ReadTime clock = sync::read_time(conn).or_throw();
  if (!clock.transactions_visible)
    log.warn("cannot see open transactions ({}): a transaction running longer than sync.lookback ({}) may commit "
             "rows the next run does not read; grant PROCESS to the MySQL user",
             clock.transactions_error, format_duration(cfg.sync.lookback));

  log.debug("server time {}, oldest open write transaction {}", clock.now, clock.oldest_write.value_or("none"));
  // Tables that no longer exist in MySQL (dropped, or renamed: a renamed table is a new table).
  report.vanished = note_vanished_tables(conn, cfg, meta, states, client, db, log);
  std::map<std::string, mongo::TableState> stored;
  for (auto& s : states) stored.emplace(s.table_name, std::move(s));
  std::set<std::string> quiet;
  if (options.mode == Mode::incremental) {
    sync::TableContext probe{conn, client, db, cfg, wc, meta, log, options.force_deletes, options.stop, options.progress};
    probe.clock = &clock;
    quiet = quiet_tables(probe, out.plan, stored, options, log);
  }

  // The binlog: each table that reads it has its own position (see mongo::BinlogState). The tables whose
  // position is usable follow the log: it is read once, from the earliest of their positions to its end,
  // and their changed keys applied. The others (first binlog sync, a lost position, DDL, a changed
  // schema) are copied in full below, after the log was read: they follow it from the position reached
  // by then, which is stored before their copies start, so an interrupted copy resumes exactly.
  std::vector<const sync::TablePlan*> binlog_plans;
  std::set<std::string> binlog_names;
  for (const auto& p : out.plan)
    if (p.change_source == mongo::ChangeSource::binlog) {
      binlog_plans.push_back(&p);
      binlog_names.insert(p.table.name);
    }
  std::optional<BinlogStart> start;
  std::optional<sync::BinlogRun> binlog_run;
  std::optional<Failure> binlog_failure;
  std::set<std::string> binlog_current;                             // tables with a usable position
  std::map<std::string, mongo::BinlogTablePosition> positions;      // what is stored for the next run
  std::map<std::string, std::string> binlog_reasons;                // table -> why it is copied in full
  const std::uint32_t server_id = binlog_server_id(cfg);
  if (!binlog_plans.empty()) {
    const auto stored_binlog = meta.load_binlog().or_throw();
    start = binlog_start(conn, *caps, stored_binlog, binlog_names).or_throw();
    report.binlog = sync::RunReport::Binlog{};
    report.binlog->fallback = start->fallback;
    report.binlog->from = report.binlog->to = to_text(start->fresh);
    positions = start->others;
    if (!start->fallback.empty()) {
      // The first binlog run is no news; losing every position is.
      log.write(stored_binlog ? LogLevel::warning : LogLevel::info, fmt::format("binlog: {}", start->fallback));
      for (const auto* p : binlog_plans) binlog_reasons[p->table.name] = start->fallback;
    }
    for (const auto& [table, why] : start->lost) {
      log.warn("table {}: {}", table, why);
      binlog_reasons[table] = why;
    }
    for (const auto& [table, p] : start->usable)
      if (!p.copying) binlog_current.insert(table);

    // The tables that follow the log this run, each from its position.
    std::vector<const sync::TablePlan*> follow;
    std::map<std::string, binlog::Position> since;
    for (const auto* p : binlog_plans) {
      auto it = stored.find(p->table.name);
      if (it == stored.end()) continue;
      if (decide(*p, view_of(it->second, binlog_current.count(p->table.name) > 0), options.mode).why !=
          Decision::Why::binlog)
        continue;
      const auto& pos = start->usable.at(p->table.name);
      follow.push_back(p);
      since[p->table.name] = {pos.file, pos.offset};
      positions[p->table.name] = pos;
    }
    binlog::Position reached = start->fresh;  // where the copies below start following the log from
    if (!follow.empty()) {
      sync::TableContext ctx{conn, client, db, cfg, wc, meta, log, options.force_deletes, options.stop, options.progress};
      ctx.clock = &clock;
      // At each transaction boundary the run saves, every table still following is current up to it.
      auto save = [&](const binlog::Position& p, const std::map<std::string, std::string>& resync) -> Status {
        for (const auto* f : follow)
          if (!resync.count(f->table.name)) positions[f->table.name] = {p.file, p.offset, false};
        auto state = binlog_state_after(conn, *caps, positions, 0);
        if (!state) return state.failure();
        return meta.save_binlog(*state);
      };
      if (auto r = sync::apply_binlog(ctx, follow, since, server_id, save)) {
        binlog_run = std::move(*r);
        report.binlog->from = to_text(binlog_run->from);
        report.binlog->to = to_text(binlog_run->to);
        report.binlog->events = binlog_run->events;
        report.binlog->row_events = binlog_run->row_events;
        report.binlog->changed_keys = binlog_run->changed_keys;
        report.binlog->limited = binlog_run->limited;
        reached = binlog_run->to;
        for (const auto& [table, why] : binlog_run->resync) binlog_reasons[table] = why;
        log.info("binlog: {} events from {} to {}, {} changed keys{}", binlog_run->events, report.binlog->from,
                 report.binlog->to, binlog_run->changed_keys, binlog_run->limited ? " (limit reached; the next run goes on)" : "");
      } else {
        // The positions stay where the last saved boundary left them; the following tables fail below.
        binlog_failure = r.failure();
        log.error("binlog: {}", r.failure().message);
      }
    }
    // The tables copied in full: from `reached` on, or, for an interrupted copy that resumes, from where
    // that copy started. Stored before any copy starts.
    const auto before_copies = positions;
    for (const auto* p : binlog_plans) {
      const std::string& name = p->table.name;
      if (positions.count(name) && !binlog_reasons.count(name)) continue;  // follows the log
      if (binlog_failure && positions.count(name)) continue;               // keeps its position
      auto usable = start->usable.find(name);
      auto it = stored.find(name);
      const bool resumes = usable != start->usable.end() && usable->second.copying && it != stored.end() &&
                           it->second.checkpoint && !binlog_reasons.count(name);
      positions[name] = resumes ? usable->second : mongo::BinlogTablePosition{reached.file, reached.offset, true};
    }
    if (positions != before_copies) {
      if (auto state = binlog_state_after(conn, *caps, positions, 0)) {
        if (auto st = meta.save_binlog(*state); !st) binlog_failure = st.failure();
      } else {
        binlog_failure = state.failure();
      }
    }
  }

  // The tables' records go in bulk: every few seconds (so status stays fresh during a long run) and at
  // the end. A failed write fails the tables it held.
  auto last_flush = std::chrono::steady_clock::now();
  std::vector<std::string> unflushed;
  auto flush_records = [&]() {
    last_flush = std::chrono::steady_clock::now();
    if (auto st = meta.flush(); !st) {
      for (const auto& name : unflushed) {
        auto& t = report.tables[name];
        if (!t.error) t.error = st.failure();
        t.status = mongo::TableStatus::failed;
      }
      log.error("{}", st.failure().message);
    }
    unflushed.clear();
  };

  for (const auto& plan : out.plan) {
    if (stopping(options)) break;
    sync::TableReport t;
    // Transient failures (deadlock, lock wait timeout, lost connection, MongoDB network errors) are
    // retried with backoff for up to sync.retry_for; each attempt resumes from what the previous one
    // recorded. A stop request ends the wait at once.
    std::optional<std::chrono::steady_clock::time_point> first_failure;
    for (int attempt = 1;; ++attempt) {
      // The state read at the start of the run, or after a failed attempt, what it left.
      Expected<std::optional<mongo::TableState>> prior = std::optional<mongo::TableState>{};
      if (attempt > 1) {
        prior = meta.load(plan.table.name);
      } else if (auto it = stored.find(plan.table.name); it != stored.end()) {
        prior = std::optional<mongo::TableState>(it->second);
      }
      if (!prior) {
        t = sync::TableReport{};
        t.table = plan.table.name;
        t.collection = plan.collection;
        t.status = mongo::TableStatus::failed;
        t.error = prior.failure();
      } else {
        const auto view = view_of(*prior, binlog_current.count(plan.table.name) > 0);
        const Decision d = decide(plan, view, options.mode);
        // A table without a change column falls back every run: say so loudly once, then only with -v,
        // so cron does not mail the same warning every five minutes. The report always carries it.
        const bool repeated = d.why == Decision::Why::no_change_column && view && view->ever_succeeded;
        if (d.warn() && attempt == 1)
          log.write(repeated ? LogLevel::info : LogLevel::warning, fmt::format("table {}: {}", plan.table.name, d.reason()));
        sync::TableContext ctx{conn, client, db, cfg, wc, meta, log, options.force_deletes, options.stop, options.progress};
        ctx.taken_over = lease->taken_over_from().has_value();
        ctx.clock = &clock;
        ctx.make_indexes = options.mode == Mode::full;
        ctx.nothing_to_read = attempt == 1 && quiet.count(plan.table.name);
        ctx.change_source = plan.change_source;
        // A binlog table whose log could not be applied this run is copied in full (DDL, another schema,
        // a lost position), with the reason.
        std::string binlog_reason;
        if (auto it = binlog_reasons.find(plan.table.name); it != binlog_reasons.end() &&
            (d.why == Decision::Why::binlog || d.why == Decision::Why::binlog_start || d.why == Decision::Why::resuming))
          binlog_reason = it->second;
        // TRUNCATE emptied it: the binlog proves that every document must go, past the delete guard.
        if (binlog_run && binlog_run->truncated.count(plan.table.name)) ctx.force_deletes = true;
        // An interrupted copy resumes only from the position it started at; without it, it starts over.
        std::optional<mongo::TableState> from_scratch;
        if (d.why == Decision::Why::resuming && plan.change_source == mongo::ChangeSource::binlog && attempt == 1) {
          const mongo::BinlogTablePosition* started = nullptr;
          if (start)
            if (auto it = start->usable.find(plan.table.name); it != start->usable.end()) started = &it->second;
          if (!started || !started->copying || !binlog_reason.empty()) {
            from_scratch = **prior;
            from_scratch->checkpoint.reset();
            if (binlog_reason.empty()) binlog_reason = "the interrupted copy has no binlog position to resume from: full sync";
          }
        }
        const bool by_binlog = d.why == Decision::Why::binlog && binlog_reason.empty();
        const bool incremental = d.incremental() && binlog_reason.empty();
        const std::string reason = binlog_reason.empty() ? std::string(d.reason()) : binlog_reason;
        log.info("table {}: {} sync into {}{}", plan.table.name, incremental ? "incremental" : "full", plan.collection,
                 reason.empty() ? "" : fmt::format(" ({})", reason));
        if (by_binlog && binlog_failure) {
          t = sync::TableReport{};
          t.table = plan.table.name;
          t.collection = plan.collection;
          t.sync_type = mongo::SyncType::incremental;
          t.change_source = plan.change_source;
          t.status = mongo::TableStatus::failed;
          t.error = *binlog_failure;
        } else if (by_binlog) {
          sync::TableReport applied;
          if (binlog_run)
            if (auto it = binlog_run->tables.find(plan.table.name); it != binlog_run->tables.end()) applied = it->second;
          t = sync::binlog_sync(ctx, plan, **prior, applied, options.reconcile);
        } else {
          t = incremental ? sync::incremental_sync(ctx, plan, **prior, options.reconcile)
                          : sync::full_sync(ctx, plan, from_scratch ? from_scratch : *prior);
        }
        if (t.reason.empty()) t.reason = reason;
        if (d.warn() && t.status == mongo::TableStatus::success) t.warnings.emplace_back(d.reason());
      }
      // Retrying: the next attempt reads back what this one wrote as it went (its checkpoint); its queued
      // record is replaced by the next one's.
      if (!t.error || !t.error->transient || stopping(options)) break;
      if (!first_failure) first_failure = std::chrono::steady_clock::now();
      const auto backoff = retry_backoff(
          attempt, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *first_failure),
          cfg.sync.retry_for);
      if (!backoff) {
        log.warn("table {}: giving up after retrying for {} (sync.retry_for)", plan.table.name,
                 format_duration(cfg.sync.retry_for));
        break;
      }
      log.warn("table {}: {}; retrying in {} (attempt {})", plan.table.name, t.error->message,
               format_duration(*backoff), attempt + 1);
      if (options.stop ? !options.stop->sleep_for(*backoff) : (std::this_thread::sleep_for(*backoff), false)) break;
      // A lost connection cannot be reused; a fresh one costs little. If the server is still away, the
      // next attempt fails the same way and waits again.
      if (auto fresh = mysql::Connection::open(cfg.mysql, log)) {
        cancel_mysql.reset();
        conn = std::move(*fresh);
        cancel_mysql = interruptible(conn, options.stop);
      }
    }
    if (t.error) log.error("table {}: {}", plan.table.name, t.error->message);
    for (const auto& r : t.refused)
      log.error("table {}: row {} could not be stored: {}", plan.table.name, r.described, r.reason);
    if (!t.error)
      log.info("table {}: {} rows copied, {} deleted in {:.2f}s", plan.table.name, t.records_synced, t.deleted,
               t.duration_seconds);
    if (options.table_done) options.table_done(t);
    unflushed.push_back(plan.table.name);
    report.tables[plan.table.name] = std::move(t);
    if (std::chrono::steady_clock::now() - last_flush > std::chrono::seconds(2)) flush_records();
  }
  // The binlog positions for the next run: a table copied in full follows the log from where its copy
  // started once the copy is complete.
  // After the tables' records, so that a table whose record could not be written is not called current.
  flush_records();
  if (start) {
    const std::int64_t now = now_epoch_ms();
    for (auto& [table, p] : positions) {
      auto it = report.tables.find(table);
      if (it == report.tables.end() || it->second.error) continue;
      p.copying = false;
      p.as_of_ms = now;
    }
    // The lag left: what a limited run did not read.
    const std::int64_t lag_s = binlog_run && binlog_run->limited && binlog_run->last_event_time
                                   ? std::max<std::int64_t>(0, now_epoch_ms() / 1000 - binlog_run->last_event_time)
                                   : 0;
    if (auto state = binlog_state_after(conn, *caps, positions, lag_s)) {
      if (auto st = meta.save_binlog(*state); !st) log.error("{}", st.failure().message);
      report.binlog->lag_bytes = state->lag_bytes;
      report.binlog->lag_seconds = state->lag_seconds;
      if (state->oldest)
        log.warn("binlog: a table's position is in {}, the oldest binlog left on the server: the next PURGE BINARY "
                 "LOGS would force a full sync; keep binlogs longer", state->file);
    } else {
      log.error("binlog: {}", state.failure().message);
    }
  }
  report.end_ms = now_epoch_ms();
  return out;
}

}  // namespace m2m::ops
