#include "ops/sync_run.hpp"

#include "mongo/client.hpp"
#include "mongo/lease.hpp"
#include "mongo/metadata.hpp"
#include "mongo/units.hpp"
#include "mongo/writer.hpp"
#include "mysql/connection.hpp"
#include "ops/binlog_step.hpp"
#include "ops/units.hpp"
#include "sync/binlog_sync.hpp"
#include "sync/ranges.hpp"
#include "sync/recipes.hpp"
#include "sync/state.hpp"
#include "sync/table_sync.hpp"
#include "mongo/admin.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
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

// The progress of a step outside the workers (the binlog read), shown as worker 0's.
std::function<void(const std::string&, std::uint64_t, std::uint64_t)> progress_of(const SyncOptions& o) {
  if (!o.progress) return {};
  return [&o](const std::string& unit, std::uint64_t done, std::uint64_t total) { o.progress(0, unit, done, total); };
}

// mariadb_cancel cuts a MySQL call that waits on a server that stopped answering: the stop watchdog runs
// it when a graceful stop takes too long.
StopToken::Registration interruptible(mysql::Connection& conn, StopToken* stop) {
  if (!stop) return {};
  MYSQL* m = conn.handle();
  return stop->on_interrupt([m] { mysql::cancel(m); });
}

std::optional<TableStateView> view_of(const std::optional<mongo::TableState>& prior, bool binlog_current = false) {
  if (!prior) return std::nullopt;
  return TableStateView{prior->last_success_ms != 0 || prior->last_complete_ms != 0,
                        prior->checkpoint.has_value() || prior->split_ranges > 0, prior->high_water_mark.has_value(),
                        prior->schema_fingerprint, prior->change_source, binlog_current};
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

namespace {

// What the workers of a run share: fixed once the run's prologue (plan, lock, state, binlog) is done,
// except the report, written under its mutex.
struct RunShared {
  const config::Config& cfg;
  const SyncOptions& options;
  Logger& log;
  const std::string& db;
  const mongo::WriteConcern& wc;
  const sync::ReadTime& clock;
  bool taken_over = false;
  // How many workers can take key ranges at once (jobs x shards): whether a big table is split.
  int workers = 1;
  const std::map<std::string, mongo::TableState>& stored;
  const std::set<std::string>& quiet;
  // The binlog step's outcome, for the tables that follow the log: the tables with a usable position,
  // and why the others are copied in full.
  const std::optional<BinlogStart>& start;
  const std::optional<sync::BinlogRun>& binlog_run;
  const std::optional<Failure>& binlog_failure;
  const std::set<std::string>& binlog_current;
  const std::map<std::string, std::string>& binlog_reasons;
  sync::RunReport& report;
  std::mutex report_mutex;
};

// One worker: a MySQL connection, a MongoDB client and a metadata store (with its own queue of records)
// of its own; worker 0 runs on the run's thread with the run's own. Each connection is cut short by the
// stop watchdog (see interruptible), so a stop reaches every worker.
struct Worker {
  int id = 0;
  mysql::Connection& conn;
  StopToken::Registration& cancel;
  mongo::Client& client;
  mongo::MetadataStore& meta;
  std::vector<std::string> unflushed;  // tables whose records wait in meta's queue
  std::chrono::steady_clock::time_point last_flush = std::chrono::steady_clock::now();
  std::unique_ptr<mongo::UnitBoard> board;  // a sharded run's units
};

// The tables' records go in bulk: every few seconds (so status stays fresh during a long run) and at
// the end. A failed write fails the tables it held.
Status flush_records(Worker& w, RunShared& run) {
  w.last_flush = std::chrono::steady_clock::now();
  auto st = w.meta.flush();
  if (!st) {
    std::lock_guard lock(run.report_mutex);
    for (const auto& name : w.unflushed) {
      auto& t = run.report.tables[name];
      if (!t.error) t.error = st.failure();
      t.status = mongo::TableStatus::failed;
    }
    run.log.error("{}", st.failure().message);
  }
  w.unflushed.clear();
  return st;
}

// The context of a unit's sync; its progress is shown under `label` (the table, or its range).
sync::TableContext context_for(Worker& w, RunShared& run, const sync::TablePlan& plan, std::string label = {}) {
  const int worker = w.id;
  std::function<void(const std::string&, std::uint64_t, std::uint64_t)> progress;
  if (run.options.progress)
    progress = [&run, worker, label = std::move(label)](const std::string& table, std::uint64_t done, std::uint64_t total) {
      run.options.progress(worker, label.empty() ? table : label, done, total);
    };
  sync::TableContext ctx{w.conn, w.client, run.db, run.cfg, run.wc, w.meta, run.log, run.options.force_deletes,
                         run.options.stop, std::move(progress)};
  ctx.taken_over = run.taken_over;
  ctx.clock = &run.clock;
  ctx.change_source = plan.change_source;
  return ctx;
}

sync::TableReport failed_report(const sync::TablePlan& plan, Failure failure) {
  sync::TableReport t;
  t.table = plan.table.name;
  t.collection = plan.collection;
  t.change_source = plan.change_source;
  t.status = mongo::TableStatus::failed;
  t.error = std::move(failure);
  return t;
}

// What a unit's attempt ended with: the table's (or range's) report, or, for a table whose full sync is
// split, its ranges (the table's report comes once they are done).
struct Step {
  sync::TableReport report;
  std::optional<sync::SplitStart> split;
};

// Runs `attempt` until it succeeds, fails for good, or its transient failures (deadlock, lock wait
// timeout, lost connection, MongoDB network errors) outlast sync.retry_for; each attempt resumes from
// what the previous one recorded. A stop request ends the wait at once.
template <typename Attempt>
Step with_retries(Worker& w, RunShared& run, const std::string& label, Attempt attempt) {
  const auto& cfg = run.cfg;
  std::optional<std::chrono::steady_clock::time_point> first_failure;
  Step step;
  for (int n = 1;; ++n) {
    step = attempt(n);
    if (step.split) break;
    const auto& t = step.report;
    if (!t.error || !t.error->transient || stopping(run.options)) break;
    if (!first_failure) first_failure = std::chrono::steady_clock::now();
    const auto backoff = retry_backoff(
        n, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - *first_failure),
        cfg.sync.retry_for);
    if (!backoff) {
      run.log.warn("{}: giving up after retrying for {} (sync.retry_for)", label, format_duration(cfg.sync.retry_for));
      break;
    }
    run.log.warn("{}: {}; retrying in {} (attempt {})", label, t.error->message, format_duration(*backoff), n + 1);
    const auto* stop = run.options.stop;
    if (stop ? !stop->sleep_for(*backoff) : (std::this_thread::sleep_for(*backoff), false)) break;
    // A lost connection cannot be reused; a fresh one costs little. If the server is still away, the
    // next attempt fails the same way and waits again.
    if (auto fresh = mysql::Connection::open(cfg.mysql, run.log)) {
      w.cancel.reset();
      w.conn = std::move(*fresh);
      w.cancel = interruptible(w.conn, run.options.stop);
    }
  }
  return step;
}

// How many rows each key range of `plan`'s full sync holds this run; 0: the table is copied whole. The
// stored ranges of an interrupted split are resumed whatever the number of workers now; a table with a
// valid whole-table checkpoint resumes whole.
std::uint64_t split_size(const RunShared& run, const sync::TablePlan& plan, const std::optional<mongo::TableState>& prior) {
  if (!plan.has_key() || sync::valid_checkpoint(plan, prior)) return 0;
  // A binlog table's catch-up copy stays with the shard that stores its binlog position: its ranges would
  // be published for any shard to take.
  if (plan.change_source == mongo::ChangeSource::binlog && run.report.shard) return 0;
  if (sync::can_resume_split(plan, prior)) return 1;
  return sync::split_rows_per_range(plan.table.row_estimate, run.cfg.sync.split_rows, run.workers);
}

// A table unit: its decision, then the sync that decision calls for (or the start of a split full sync).
Step sync_table(Worker& w, RunShared& run, const sync::TablePlan& plan, const std::optional<mongo::TableState>& stored,
                bool quiet, bool taken_over) {
  const auto& options = run.options;
  auto& log = run.log;
  const auto& start = run.start;
  const auto& binlog_run = run.binlog_run;
  const auto& binlog_failure = run.binlog_failure;
  return with_retries(w, run, fmt::format("table {}", plan.table.name), [&](int attempt) {
    Step step;
    auto& t = step.report;
    // The state read at the start of the run, or after a failed attempt, what it left.
    Expected<std::optional<mongo::TableState>> prior = stored;
    if (attempt > 1) prior = w.meta.load(plan.table.name);
    if (!prior) {
      t = failed_report(plan, prior.failure());
      return step;
    }
    const auto view = view_of(*prior, run.binlog_current.count(plan.table.name) > 0);
    const Decision d = decide(plan, view, options.mode);
    // A table without a change column falls back every run: say so loudly once, then only with -v,
    // so cron does not mail the same warning every five minutes. The report always carries it.
    const bool repeated = d.why == Decision::Why::no_change_column && view && view->ever_succeeded;
    if (d.warn() && attempt == 1)
      log.write(repeated ? LogLevel::info : LogLevel::warning, fmt::format("table {}: {}", plan.table.name, d.reason()));
    sync::TableContext ctx = context_for(w, run, plan);
    ctx.taken_over = ctx.taken_over || taken_over;
    ctx.make_indexes = options.mode == Mode::full;
    ctx.nothing_to_read = attempt == 1 && quiet;
    // A binlog table whose log could not be applied this run is copied in full (DDL, another schema,
    // a lost position), with the reason.
    std::string binlog_reason;
    if (auto it = run.binlog_reasons.find(plan.table.name); it != run.binlog_reasons.end() &&
        (d.why == Decision::Why::binlog || d.why == Decision::Why::binlog_start || d.why == Decision::Why::resuming))
      binlog_reason = it->second;
    // TRUNCATE emptied it: the binlog proves that every document must go, past the delete guard.
    if (binlog_run && binlog_run->truncated.count(plan.table.name)) ctx.force_deletes = true;
    // An interrupted copy (whole or in key ranges) resumes only from the binlog position it started at;
    // without it, it starts over.
    std::optional<mongo::TableState> from_scratch;
    if (d.why == Decision::Why::resuming && plan.change_source == mongo::ChangeSource::binlog && attempt == 1) {
      const mongo::BinlogTablePosition* started = nullptr;
      if (start)
        if (auto it = start->usable.find(plan.table.name); it != start->usable.end()) started = &it->second;
      if (!started || !started->copying || !binlog_reason.empty()) {
        from_scratch = **prior;
        from_scratch->checkpoint.reset();
        from_scratch->split_ranges = 0;
        if (binlog_reason.empty()) binlog_reason = "the interrupted copy has no binlog position to resume from: full sync";
      }
    }
    const std::optional<mongo::TableState>& base = from_scratch ? from_scratch : *prior;
    const bool by_binlog = d.why == Decision::Why::binlog && binlog_reason.empty();
    const bool incremental = d.incremental() && binlog_reason.empty();
    const std::string reason = binlog_reason.empty() ? std::string(d.reason()) : binlog_reason;
    log.info("table {}: {} sync into {}{}", plan.table.name, incremental ? "incremental" : "full", plan.collection,
             reason.empty() ? "" : fmt::format(" ({})", reason));
    if (by_binlog && binlog_failure) {
      t = failed_report(plan, *binlog_failure);
      t.sync_type = mongo::SyncType::incremental;
    } else if (by_binlog) {
      sync::TableReport applied;
      if (binlog_run)
        if (auto it = binlog_run->tables.find(plan.table.name); it != binlog_run->tables.end()) applied = it->second;
      t = sync::binlog_sync(ctx, plan, **prior, applied, options.reconcile);
    } else if (incremental) {
      t = sync::incremental_sync(ctx, plan, **prior, options.reconcile);
    } else if (const auto rows = split_size(run, plan, base); rows > 0) {
      // A big table's full sync, as key ranges that every worker (and shard) can take.
      auto split = sync::start_split(ctx, plan, base, rows);
      if (split && split->split) {
        step.split = std::move(*split);
        t.table = plan.table.name;
        t.reason = reason;
        return step;
      }
      if (split) {
        t = sync::full_sync(ctx, plan, base);
      } else {
        t = failed_report(plan, split.failure());
        t.sync_type = mongo::SyncType::full;
        sync::record(ctx, plan, base, t, [](mongo::TableState&) {});
      }
    } else {
      t = sync::full_sync(ctx, plan, base);
    }
    if (t.reason.empty()) t.reason = reason;
    if (d.warn() && t.status == mongo::TableStatus::success) t.warnings.emplace_back(d.reason());
    return step;
  });
}

// A key range of a split table: its copy after its checkpoint and its deletes (see sync::copy_range).
sync::TableReport sync_range(Worker& w, RunShared& run, const sync::TablePlan& plan, const mongo::RangeState& range,
                             bool taken_over) {
  const std::string label = sync::describe_range(plan.table.name, range.index, range.count);
  return with_retries(w, run, label, [&](int attempt) {
           Step step;
           mongo::RangeState current = range;
           if (attempt > 1) {
             // Resume from what the failed attempt recorded.
             auto all = w.meta.load_ranges(plan.table.name);
             if (!all) {
               step.report = failed_report(plan, all.failure());
               return step;
             }
             for (const auto& r : *all)
               if (r.index == range.index) current = r;
           }
           sync::TableContext ctx = context_for(w, run, plan, label);
           ctx.taken_over = ctx.taken_over || taken_over;
           step.report = sync::copy_range(ctx, plan, current);
           return step;
         })
      .report;
}

// The record of a split table once its last range is done (see sync::finish_split).
sync::TableReport finish_table(Worker& w, RunShared& run, const sync::TablePlan& plan) {
  return with_retries(w, run, fmt::format("table {}", plan.table.name), [&](int) {
           Step step;
           auto prior = w.meta.load(plan.table.name);
           auto ranges = prior ? w.meta.load_ranges(plan.table.name) : Expected<std::vector<mongo::RangeState>>(prior.failure());
           if (!ranges) {
             step.report = failed_report(plan, ranges.failure());
             return step;
           }
           sync::TableContext ctx = context_for(w, run, plan);
           step.report = sync::finish_split(ctx, plan, *prior, *ranges);
           step.report.key_ranges = static_cast<std::int64_t>(ranges->size());
           return step;
         })
      .report;
}

// A table's end: its log lines, the display, the run's report, and its record queued for the next flush.
void table_ended(Worker& w, RunShared& run, sync::TableReport t) {
  auto& log = run.log;
  const std::string& name = t.table;
  if (t.error) log.error("table {}: {}", name, t.error->message);
  for (const auto& r : t.refused) log.error("table {}: row {} could not be stored: {}", name, r.described, r.reason);
  if (!t.error)
    log.info("table {}: {} rows copied, {} deleted in {:.2f}s", name, t.records_synced, t.deleted, t.duration_seconds);
  if (run.options.table_done) run.options.table_done(w.id, t);
  w.unflushed.push_back(name);
  {
    std::lock_guard lock(run.report_mutex);
    run.report.tables[name] = std::move(t);
  }
  if (std::chrono::steady_clock::now() - w.last_flush > std::chrono::seconds(2)) flush_records(w, run);
}

// A unit of work as a host's queue (or a shard's claim) hands it out.
struct Work {
  enum class Kind { table, range, finish };
  Kind kind = Kind::table;
  const sync::TablePlan* plan = nullptr;
  mongo::RangeState range;   // Kind::range
  std::string reason;        // Kind::range, Kind::finish: why the table is copied in full
  // A sharded run's claim (nullopt: this host's own queue); its table's document as claimed.
  std::optional<mongo::UnitClaim> claim;
  // How it ended: split into ranges, or the cause of its failure (Cause::none: done).
  bool split = false;
  Cause ended = Cause::none;
};

std::string_view kind_name(Work::Kind k) {
  switch (k) {
    case Work::Kind::table: return "table";
    case Work::Kind::range: return "range";
    case Work::Kind::finish: return "finish";
  }
  return "table";
}

// Where workers get their units from: this host's queue, or a sharded run's claims.
class Queue {
public:
  virtual ~Queue() = default;
  // The next unit, waiting while others may still add work; nullopt: nothing left (or a stop).
  virtual std::optional<Work> next(Worker& w) = 0;
  // A table unit split into these ranges (all of them, done ones included).
  virtual void split(Worker& w, Work& table, const std::vector<mongo::RangeState>& ranges) = 0;
  // A unit ended (its outcome recorded, see Work::split and Work::ended).
  virtual void ended(Worker& w, Work& unit) = 0;
  // A worker threw: no unit comes out any more, so that the others end.
  void abort() { aborted_.store(true); }

protected:
  std::atomic<bool> aborted_{false};
};

// Hands out a run's units to its workers on one host: table units in work_order, the ranges of a
// split table as soon as it is split (before other tables: they are the big ones), and a split table's
// finish as soon as its last range ended. Workers wait while another one may still add ranges.
class LocalQueue : public Queue {
public:
  LocalQueue(const std::vector<const sync::TablePlan*>& plans, int workers, const StopToken* stop) : stop_(stop) {
    std::vector<std::uint64_t> sizes;
    for (const auto* p : plans) sizes.push_back(p->table.row_estimate);
    for (auto i : work_order(sizes, workers)) {
      Work w;
      w.plan = plans[i];
      pending_.push_back(std::move(w));
    }
  }

  // After a stop request only the finish of split tables comes out (their ranges not started yet are
  // dropped), so that each records its outcome.
  std::optional<Work> next(Worker&) override {
    std::unique_lock lock(mutex_);
    while (true) {
      if (aborted_.load()) return std::nullopt;
      if (stop_ && stop_->requested()) drop_for_stop();
      if (!pending_.empty()) {
        Work w = std::move(pending_.front());
        pending_.pop_front();
        ++busy_;
        return w;
      }
      if (busy_ == 0) return std::nullopt;
      // Another worker may still split a table or end its last range; a stop wakes the wait too.
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }

  void split(Worker&, Work& table, const std::vector<mongo::RangeState>& ranges) override {
    std::lock_guard lock(mutex_);
    std::vector<Work> todo;
    for (const auto& r : ranges) {
      if (r.done) continue;
      Work w;
      w.kind = Work::Kind::range;
      w.plan = table.plan;
      w.range = r;
      w.reason = table.reason;
      todo.push_back(std::move(w));
    }
    ranges_left_[table.plan->table.name] = {todo.size(), table.reason};
    if (todo.empty()) push_finish(table.plan);
    for (auto it = todo.rbegin(); it != todo.rend(); ++it) pending_.push_front(std::move(*it));
    cv_.notify_all();
  }

  void ended(Worker&, Work& unit) override {
    std::lock_guard lock(mutex_);
    // A range ended (done or failed): the table's finish follows its last one.
    if (unit.kind == Work::Kind::range) {
      auto it = ranges_left_.find(unit.plan->table.name);
      if (it != ranges_left_.end() && it->second.first > 0 && --it->second.first == 0) push_finish(unit.plan);
    }
    --busy_;
    cv_.notify_all();
  }

private:
  void push_finish(const sync::TablePlan* plan) {
    Work w;
    w.kind = Work::Kind::finish;
    w.plan = plan;
    w.reason = ranges_left_[plan->table.name].second;
    pending_.push_front(std::move(w));
  }

  void drop_for_stop() {
    std::deque<Work> keep;
    for (auto& w : pending_) {
      if (w.kind == Work::Kind::finish) {
        keep.push_back(std::move(w));
      } else if (w.kind == Work::Kind::range) {
        auto& left = ranges_left_[w.plan->table.name];
        if (left.first > 0 && --left.first == 0) {
          Work f;
          f.kind = Work::Kind::finish;
          f.plan = w.plan;
          f.reason = left.second;
          keep.push_back(std::move(f));
        }
      }
    }
    pending_ = std::move(keep);
  }

  const StopToken* stop_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Work> pending_;
  int busy_ = 0;
  std::map<std::string, std::pair<std::size_t, std::string>> ranges_left_;  // table -> (ranges not ended, reason)
};

// A sharded run's units, claimed through leases in MongoDB (mongo/units.hpp): this shard's own first,
// then any pending one, then one whose lease expired. The shard that planned the run first works the
// tables only it can (those following the binlog it read). A worker with nothing to claim waits while
// units of the run are still held (their holder may split a table, or die and leave them to expire),
// and ends once every unit is done.
class ShardQueue : public Queue {
public:
  ShardQueue(RunShared& run, const std::vector<const sync::TablePlan*>& plans, const std::vector<const sync::TablePlan*>& local,
             int shard, mongo::UnitKeeper& keeper, const mongo::ShardSlot& slot)
      : run_(run), shard_(shard), keeper_(keeper), slot_(slot) {
    for (const auto* p : plans) plans_[p->table.name] = p;
    for (const auto* p : local) {
      Work w;
      w.plan = p;
      local_.push_back(std::move(w));
    }
  }

  std::optional<Work> next(Worker& w) override {
    int failures = 0;
    while (true) {
      if (stopping(run_.options) || aborted_.load()) return std::nullopt;
      {
        std::lock_guard lock(mutex_);
        if (!local_.empty()) {
          Work u = std::move(local_.front());
          local_.pop_front();
          return u;
        }
      }
      // This shard's place was taken over (it stalled past its lease): it takes nothing more.
      if (!slot_.held()) return std::nullopt;
      auto claim = w.board->claim(shard_);
      if (claim && *claim) {
        auto u = unit_of(w, std::move(**claim));
        if (u) return u;
        continue;
      }
      if (!claim) {
        run_.log.warn("shard {}: {}", shard_, claim.failure().message);
        if (++failures > 5) return std::nullopt;
      } else {
        auto left = w.board->unfinished();
        if (left && *left == 0) return std::nullopt;
        if (!left && ++failures > 5) return std::nullopt;
      }
      // Units are held elsewhere: wait for them to end, or for a lease to expire.
      const auto pause = std::chrono::milliseconds(std::clamp<std::int64_t>(run_.cfg.sync.unit_ttl.count() / 10, 100, 1000));
      if (run_.options.stop) run_.options.stop->sleep_for(pause);
      else std::this_thread::sleep_for(pause);
    }
  }

  void split(Worker& w, Work& table, const std::vector<mongo::RangeState>& ranges) override {
    std::vector<std::uint32_t> shards;
    for (const auto& r : ranges) shards.push_back(shard_of(unit_key(table.plan->table.name, r.index), count()));
    const std::uint64_t size = ranges.empty() ? 0 : table.plan->table.row_estimate / ranges.size();
    if (auto st = w.board->publish_ranges(table.plan->table.name, ranges, shards, size, table.reason); !st) {
      run_.log.error("table {}: {}", table.plan->table.name, st.failure().message);
      table.split = false;
      table.ended = st.failure().cause == Cause::unit_lost ? Cause::unit_lost : Cause::none;
      if (table.ended == Cause::none) table_ended(w, run_, failed_report(*table.plan, st.failure()));
    }
  }

  void ended(Worker& w, Work& unit) override {
    if (!unit.claim) return;  // one of the tables only this shard can do: no lease
    const auto& claim = *unit.claim;
    if (!unit.split && unit.kind != Work::Kind::range && unit.ended != Cause::unit_lost) {
      // The table's record, while the unit is still this worker's (the write requires its token).
      if (auto st = flush_records(w, run_); !st && st.failure().cause == Cause::unit_lost) unit.ended = Cause::unit_lost;
    }
    if (unit.ended == Cause::unit_lost) {
      run_.log.warn("{}: another shard took this unit over (this shard's lease on it had expired); it goes on there",
                    claim.label());
      // Its record, if the sync queued one, is stale: the new holder writes its own.
      w.meta.discard_queued();
      w.unflushed.clear();
    } else if (unit.split) {
      // publish_ranges handed the table unit on to its ranges.
    } else if (unit.ended == Cause::stopped || unit.ended == Cause::lease_lost) {
      // Stopped: any other shard can take it at once, rather than after its lease expires.
      if (auto st = w.board->release(claim); !st) run_.log.warn("{}: {}", claim.label(), st.failure().message);
    } else {
      if (auto st = w.board->complete(claim); !st) run_.log.error("{}: {}", claim.label(), st.failure().message);
      if (unit.kind == Work::Kind::range)
        if (auto st = w.board->range_ended(claim.table); !st) run_.log.error("{}: {}", claim.label(), st.failure().message);
    }
    keeper_.drop(claim);
    w.meta.release_unit();
  }

private:
  int count() const { return run_.report.shard ? run_.report.shard->count : 1; }

  std::optional<Work> unit_of(Worker& w, mongo::UnitClaim claim) {
    auto it = plans_.find(claim.table);
    if (it == plans_.end()) {
      // Not in this shard's plan (other settings, or a table this shard cannot see): a failure of this run,
      // not a unit to hand back and forth.
      const std::string message = fmt::format(
          "{}: the shard that planned the run published this table, which is not among this shard's tables; run "
          "every shard with the same settings and MySQL user",
          claim.label());
      run_.log.error("{}", message);
      {
        std::lock_guard lock(run_.report_mutex);
        auto& t = run_.report.tables[claim.table];
        t.table = claim.table;
        t.status = mongo::TableStatus::failed;
        t.error = Failure{Exit::tables_failed, message};
      }
      if (auto st = w.board->complete(claim); !st) run_.log.error("{}", st.failure().message);
      return std::nullopt;
    }
    w.meta.hold_unit(claim.table, claim.kind == mongo::UnitClaim::Kind::range ? claim.range : -1, claim.token);
    keeper_.hold(claim);
    if (claim.taken_over) run_.log.warn("{}: taken over from a shard whose lease on it expired", claim.label());
    Work u;
    u.plan = it->second;
    u.reason = claim.reason;
    switch (claim.kind) {
      case mongo::UnitClaim::Kind::table: u.kind = Work::Kind::table; break;
      case mongo::UnitClaim::Kind::range:
        u.kind = Work::Kind::range;
        u.range = *claim.range_state;
        break;
      case mongo::UnitClaim::Kind::finish: u.kind = Work::Kind::finish; break;
    }
    u.claim = std::move(claim);
    return u;
  }

  RunShared& run_;
  int shard_;
  mongo::UnitKeeper& keeper_;
  const mongo::ShardSlot& slot_;
  std::map<std::string, const sync::TablePlan*> plans_;
  std::mutex mutex_;
  std::deque<Work> local_;
};

void note_unit(Worker& w, RunShared& run, const Work& unit, const std::string& label, const sync::TableReport& t) {
  sync::UnitReport u;
  u.unit = label;
  u.kind = kind_name(unit.kind);
  u.worker = w.id;
  u.status = t.status;
  u.records_synced = t.records_synced;
  u.deleted = t.deleted;
  u.duration_seconds = t.duration_seconds;
  u.taken_over = unit.claim && unit.claim->taken_over;
  u.lost = unit.ended == Cause::unit_lost;
  u.error = t.error_message();
  std::lock_guard lock(run.report_mutex);
  run.report.units.push_back(std::move(u));
}

// One worker's loop over its queue; at its end its records are flushed.
void work(Worker& w, RunShared& run, Queue& queue) {
  while (auto unit = queue.next(w)) {
    const auto& plan = *unit->plan;
    const bool taken_over = unit->claim && unit->claim->taken_over;
    switch (unit->kind) {
      case Work::Kind::table: {
        if (stopping(run.options)) {
          unit->ended = Cause::stopped;
          break;
        }
        std::optional<mongo::TableState> stored;
        bool quiet = false;
        if (unit->claim) {
          stored = unit->claim->table_state;
          quiet = unit->claim->quiet;
          // A table's first sync: the document the run published is not a record yet.
          if (stored && stored->last_sync_time.empty() && !stored->last_success_ms && !stored->last_complete_ms &&
              !stored->checkpoint && !stored->split_ranges)
            stored.reset();
        } else if (const auto it = run.stored.find(plan.table.name); it != run.stored.end()) {
          stored = it->second;
          quiet = run.quiet.count(plan.table.name) > 0;
        }
        Step step = sync_table(w, run, plan, stored, quiet, taken_over);
        if (step.split) {
          unit->reason = step.report.reason;
          unit->split = true;
          queue.split(w, *unit, step.split->ranges);
        } else {
          unit->ended = step.report.error ? step.report.error->cause : Cause::none;
          note_unit(w, run, *unit, plan.table.name, step.report);
          if (unit->ended != Cause::unit_lost) table_ended(w, run, std::move(step.report));
        }
        break;
      }
      case Work::Kind::range: {
        sync::TableReport t = sync_range(w, run, plan, unit->range, taken_over);
        const std::string label = sync::describe_range(plan.table.name, unit->range.index, unit->range.count);
        unit->ended = t.error ? t.error->cause : Cause::none;
        if (t.error && unit->ended != Cause::unit_lost) run.log.error("{}: {}", label, t.error->message);
        else if (!t.error)
          run.log.info("{}: {} rows copied, {} deleted in {:.2f}s", label, t.records_synced, t.deleted, t.duration_seconds);
        note_unit(w, run, *unit, label, t);
        if (run.options.unit_done) run.options.unit_done(w.id);
        break;
      }
      case Work::Kind::finish: {
        sync::TableReport t = finish_table(w, run, plan);
        if (t.reason.empty()) t.reason = unit->reason;
        unit->ended = t.error ? t.error->cause : Cause::none;
        note_unit(w, run, *unit, plan.table.name, t);
        if (unit->ended != Cause::unit_lost) table_ended(w, run, std::move(t));
        break;
      }
    }
    queue.ended(w, *unit);
  }
  flush_records(w, run);
}

// The workers of this host: worker 0 on this thread with the run's connection, client and store, the
// others each with their own (opened here, before any starts: a server refusing more connections fails
// the run before any work). In a sharded run each worker also gets a view of the run's units.
class Workers {
public:
  Workers(RunShared& run, int jobs, mysql::Connection& conn, StopToken::Registration& cancel, mongo::Client& client,
          mongo::MetadataStore& meta, mongo::Pool& pool, std::int64_t token)
      : run_(run) {
    for (int i = 1; i < jobs; ++i) {
      auto o = std::unique_ptr<Own>(new Own{mysql::Connection::open(run.cfg.mysql, run.log).or_throw(), {}, pool.acquire(), {}});
      o->meta.emplace(o->client, run.db, pool.where(), token, run.options.stop);
      o->cancel = interruptible(o->conn, run.options.stop);
      own_.push_back(std::move(o));
    }
    workers_.push_back(std::make_unique<Worker>(Worker{0, conn, cancel, client, meta, {}, std::chrono::steady_clock::now(), {}}));
    for (int i = 1; i < jobs; ++i) {
      auto& o = *own_[static_cast<std::size_t>(i - 1)];
      workers_.push_back(std::make_unique<Worker>(Worker{i, o.conn, o.cancel, o.client, *o.meta, {}, std::chrono::steady_clock::now(), {}}));
    }
  }

  void for_each(const std::function<void(Worker&)>& fn) {
    for (auto& w : workers_) fn(*w);
  }

  // Every worker works the queue until it is empty; worker 0 on this thread. What a worker throws (a bug:
  // failures are values) ends the run as it would with one worker, once the others are done.
  void run(Queue& queue) {
    std::vector<std::thread> threads;
    std::mutex mutex;
    std::exception_ptr thrown;
    for (std::size_t i = 1; i < workers_.size(); ++i)
      threads.emplace_back([this, i, &queue, &mutex, &thrown] {
        try {
          work(*workers_[i], run_, queue);
        } catch (...) {
          std::lock_guard lock(mutex);
          if (!thrown) thrown = std::current_exception();
          queue.abort();
        }
      });
    try {
      work(*workers_[0], run_, queue);
    } catch (...) {
      std::lock_guard lock(mutex);
      if (!thrown) thrown = std::current_exception();
      queue.abort();
    }
    for (auto& t : threads) t.join();
    if (thrown) std::rethrow_exception(thrown);
  }

private:
  struct Own {
    mysql::Connection conn;
    StopToken::Registration cancel;
    mongo::Client client;
    std::optional<mongo::MetadataStore> meta;
  };
  RunShared& run_;
  std::vector<std::unique_ptr<Own>> own_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// No more workers than there can be units at once: a table that may be split gives every worker a
// range; any other table is one unit.
int useful_jobs(const RunShared& run, const std::vector<const sync::TablePlan*>& plans, bool sharded) {
  if (sharded) return std::max(1, run.cfg.sync.jobs);
  std::size_t useful = 0;
  for (const auto* p : plans) {
    const auto it = run.stored.find(p->table.name);
    const auto prior = it == run.stored.end() ? std::nullopt : std::optional<mongo::TableState>(it->second);
    const bool may_split = !decide(*p, view_of(prior, run.binlog_current.count(p->table.name) > 0), run.options.mode).incremental() && split_size(run, *p, prior) > 0;
    useful += may_split ? static_cast<std::size_t>(run.cfg.sync.jobs) : 1;
  }
  return static_cast<int>(std::clamp<std::size_t>(useful, 1, static_cast<std::size_t>(std::max(1, run.cfg.sync.jobs))));
}

std::vector<const sync::TablePlan*> pointers(const std::vector<sync::TablePlan>& plans) {
  std::vector<const sync::TablePlan*> out;
  for (const auto& p : plans) out.push_back(&p);
  return out;
}

// A sharded run's units on this host, once the run is published: `jobs` workers claim them.
void run_shard(RunShared& run, const std::vector<sync::TablePlan>& plans, const std::vector<const sync::TablePlan*>& local,
               mysql::Connection& conn, StopToken::Registration& cancel, mongo::Client& client,
               mongo::MetadataStore& meta, mongo::Pool& pool, std::int64_t token, const mongo::ShardSlot& slot) {
  const auto& shard = run.options.shard;
  const int jobs = useful_jobs(run, pointers(plans), true);
  run.report.jobs = jobs;
  mongo::UnitKeeper keeper(pool, run.db, token, run.cfg.sync.unit_ttl, run.log);
  Workers workers(run, jobs, conn, cancel, client, meta, pool, token);
  const std::string owner = mongo::lease_owner_id();
  workers.for_each([&](Worker& w) {
    w.board = std::make_unique<mongo::UnitBoard>(w.client, w.meta, run.db, pool.where(), token, owner, run.cfg.sync.unit_ttl);
  });
  ShardQueue queue(run, pointers(plans), local, shard.index, keeper, slot);
  workers.run(queue);
}

// The run's units on this host: `sync.jobs` workers take them from one queue.
void run_local(RunShared& run, const std::vector<sync::TablePlan>& plans, mysql::Connection& conn,
               StopToken::Registration& cancel, mongo::Client& client, mongo::MetadataStore& meta, mongo::Pool& pool,
               std::int64_t token) {
  const auto all = pointers(plans);
  const int jobs = useful_jobs(run, all, false);
  run.report.jobs = jobs;
  if (jobs > 1) run.log.debug("{} workers", jobs);
  Workers workers(run, jobs, conn, cancel, client, meta, pool, token);
  LocalQueue queue(all, jobs, run.options.stop);
  workers.run(queue);
}

// A shard that found the run lock held by a sharded run of as many shards: it joins that run (see
// mongo::ShardSlot), waits until the shard that planned it published its units, and claims units with
// the others until every one is done. The run's settings (--full, --reconcile, --force-deletes) are
// the planning shard's. Anything else holding the lock is `held` (exit 75). nullopt: the lock was
// released between the attempt to take it and this read (the run ended): take it again.
std::optional<SyncOutcome> join_shard_run(const config::Config& cfg, const SyncOptions& options, Logger& log,
                                          SyncOutcome& out, mysql::Connection& conn, StopToken::Registration& cancel,
                                          mongo::Pool& pool, mongo::Client& client, const std::string& db,
                                          const Failure& held) {
  auto& report = out.report;
  const auto& shard = options.shard;
  auto info = mongo::read_lease(client, db, pool.where()).or_throw();
  if (!info || !info->live(now_epoch_ms())) return std::nullopt;
  if (info->shards != shard.count) throw Error(held);
  const std::int64_t token = info->token;
  const std::string owner = mongo::lease_owner_id();
  auto slot = mongo::ShardSlot::take(pool, db, owner, shard.index, token, cfg.sync.unit_ttl, log).or_throw();
  while (!info->published) {
    if (stopping(options))
      throw Error(Failure{Exit::tempfail, "stopped while waiting for the sharded run to be planned", false, 0, Cause::stopped});
    if (options.stop) options.stop->sleep_for(std::chrono::milliseconds(200));
    else std::this_thread::sleep_for(std::chrono::milliseconds(200));
    info = mongo::read_lease(client, db, pool.where()).or_throw();
    // The run ended (or its planner died before publishing, and its lease expired): take the lock again.
    if (!info || info->token != token || !info->live(now_epoch_ms())) return std::nullopt;
  }
  log.info("joined the sharded run of {} (token {}) as shard {}/{}", info->owner, token, shard.index, shard.count);
  SyncOptions member = options;
  member.mode = info->settings.full ? Mode::full : Mode::incremental;
  member.reconcile = info->settings.reconcile;
  member.force_deletes = info->settings.force_deletes;
  report.sync_type = member.mode == Mode::full ? mongo::SyncType::full : mongo::SyncType::incremental;
  report.shard = sync::RunReport::Shard{shard.index, shard.count, token, false};

  mongo::MetadataStore meta(client, db, pool.where(), token, options.stop);
  const sync::ReadTime clock = sync::read_time(conn).or_throw();
  const mongo::WriteConcern wc(cfg.mongodb.write_concern);
  const std::map<std::string, mongo::TableState> stored;
  const std::set<std::string> quiet;
  const std::optional<BinlogStart> start;
  const std::optional<sync::BinlogRun> binlog_run;
  const std::optional<Failure> binlog_failure;
  const std::set<std::string> binlog_current;
  const std::map<std::string, std::string> binlog_reasons;
  RunShared run{cfg, member, log, db, wc, clock, info->settings.taken_over, std::max(1, cfg.sync.jobs) * shard.count,
                stored, quiet, start, binlog_run, binlog_failure, binlog_current, binlog_reasons, report, {}};
  run_shard(run, out.plan, {}, conn, cancel, client, meta, pool, token, *slot);
  if (auto st = meta.flush(); !st) log.error("{}", st.failure().message);
  report.end_ms = now_epoch_ms();
  return out;
}

}  // namespace

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

  mongo::Lease::Options lease_options{db, mongo::lease_owner_id(), cfg.sync.lock_ttl, options.wait, options.shard.count};
  auto acquired = mongo::Lease::acquire(*pool, lease_options, log, options.stop);
  // Another shard of a sharded run took the lock first: this one joins that run. A shard that comes as
  // that run ends finds the lock free again, and takes it (a few times at most: each miss means another
  // run started and ended meanwhile).
  for (int attempt = 1; !acquired && options.shard.active() && acquired.failure().cause == Cause::lock_held &&
                        !stopping(options);
       ++attempt) {
    if (auto joined = join_shard_run(cfg, options, log, out, conn, cancel_mysql, *pool, client, db, acquired.failure()))
      return std::move(*joined);
    if (attempt == 3) break;
    log.debug("the sharded run holding the lock ended; taking the lock again");
    acquired = mongo::Lease::acquire(*pool, lease_options, log, options.stop);
  }
  auto lease = std::move(acquired).or_throw();

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
    sync::TableContext probe{conn, client, db, cfg, wc, meta, log, options.force_deletes, options.stop, progress_of(options)};
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
      sync::TableContext ctx{conn, client, db, cfg, wc, meta, log, options.force_deletes, options.stop, progress_of(options)};
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
        // Every table still following is current up to where the reading stopped (stored at the end); a
        // table whose own position lies beyond it (nothing was read that far) keeps its own.
        for (const auto* f : follow) {
          auto& p = positions[f->table.name];
          if (!binlog_run->resync.count(f->table.name) && binlog::earlier({p.file, p.offset}, reached))
            p = {reached.file, reached.offset, false, p.as_of_ms};
        }
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
                           (it->second.checkpoint || it->second.split_ranges > 0) && !binlog_reasons.count(name);
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

  // The tables: the units of this run, on `sync.jobs` workers (see run_local), or, in a sharded run, on
  // every shard's (see run_shard).
  const auto& shard = options.shard;
  RunShared run{cfg, options, log, db, wc, clock, lease->taken_over_from().has_value(),
                std::max(1, cfg.sync.jobs) * std::max(1, shard.count), stored, quiet, start, binlog_run, binlog_failure,
                binlog_current, binlog_reasons, report, {}};
  std::unique_ptr<mongo::ShardSlot> slot;
  if (shard.active()) {
    report.shard = sync::RunReport::Shard{shard.index, shard.count, lease->token(), true};
    slot = mongo::ShardSlot::take(*pool, db, lease_options.owner, shard.index, lease->token(), cfg.sync.unit_ttl, log)
               .or_throw();
    // Every table is a unit any shard can claim, except those whose changes come from the binlog: this
    // shard read the log for them and stores their positions once their syncs (or catch-up copies) end.
    std::vector<mongo::PublishedUnit> units;
    std::vector<const sync::TablePlan*> local;
    for (const auto& p : out.plan) {
      if (p.change_source == mongo::ChangeSource::binlog) {
        local.push_back(&p);
        continue;
      }
      units.push_back(mongo::PublishedUnit{p.table.name, shard_of(unit_key(p.table.name), shard.count),
                                           p.table.row_estimate, quiet.count(p.table.name) > 0});
    }
    mongo::UnitBoard board(client, meta, db, pool->where(), lease->token(), lease_options.owner, cfg.sync.unit_ttl);
    board.publish(units).or_throw();
    lease->publish({options.mode == Mode::full, options.reconcile, options.force_deletes, run.taken_over}).or_throw();
    log.info("sharded run of {} shards (token {}): {} units published", shard.count, lease->token(), units.size());
    run_shard(run, out.plan, local, conn, cancel_mysql, client, meta, *pool, lease->token(), *slot);
  } else {
    run_local(run, out.plan, conn, cancel_mysql, client, meta, *pool, lease->token());
  }
  // The binlog positions for the next run: a table copied in full follows the log from where its copy
  // started once the copy is complete.
  // After the tables' records, so that a table whose record could not be written is not called current.
  if (auto st = meta.flush(); !st) log.error("{}", st.failure().message);
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
