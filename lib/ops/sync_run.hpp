// `sync` and `tables`: connect, plan, take the run lock, copy each table, record the outcome.
#pragma once

#include "config/config.hpp"
#include "ops/units.hpp"
#include "sync/plan.hpp"
#include "sync/report.hpp"
#include "util/log.hpp"
#include "util/stop.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>

namespace m2m::ops {

enum class Mode { full, incremental };

struct SyncOptions {
  Mode mode = Mode::incremental;
  sync::Selection selection;
  bool dry_run = false;
  bool force_deletes = false;
  bool reconcile = false;                         // reconcile deletes in this incremental run
  std::optional<std::chrono::milliseconds> wait;  // wait for the run lock (max(): forever)
  // --shard I/N: this process is one shard of a run spread over hosts (ops/units.hpp).
  ShardSpec shard;
  // Set by the signal handler or by a lost lease: stop after the current batch; also cuts waits short.
  StopToken* stop = nullptr;
  // Progress after every acknowledged batch (worker, unit: a table or "table [i/n]", rows done, rows
  // expected or 0); app draws it. Called from every worker's thread.
  std::function<void(int, const std::string&, std::uint64_t, std::uint64_t)> progress;
  // Each table's result as soon as it is done (app prints its final count on a terminal), from the
  // worker that ended it.
  std::function<void(int, const sync::TableReport&)> table_done;
  // A worker ended a unit that is not a whole table (a key range): its progress line goes.
  std::function<void(int)> unit_done;
};

struct SyncOutcome {
  sync::RunReport report;
  std::vector<sync::TablePlan> plan;  // for --dry-run
};

// Throws Error for what stops the whole run (a server unreachable, access denied, bad selection, the lock
// held elsewhere); table-level failures are in the report.
SyncOutcome run_sync(const config::Config& cfg, const SyncOptions& options, Logger& log);

// The plan alone (for `tables`).
std::vector<sync::TablePlan> plan_tables(const config::Config& cfg, const sync::Selection& selection, Logger& log);

// What decide() needs of the stored state.
struct TableStateView {
  bool ever_succeeded = false;
  bool has_checkpoint = false;
  bool has_mark = false;
  std::string fingerprint;
  mongo::ChangeSource change_source = mongo::ChangeSource::full;  // of its last completed sync
  // It has a usable binlog position: it was copied, and has followed the log since.
  bool binlog_current = false;
};

// Where a table's changes come from this run (pure; unit-tested): the binlog when it is configured or
// (auto) when the server offers it to this user (`binlog_ok`), else the change column, else nowhere (a
// full pass). A table without a key is always copied in full.
mongo::ChangeSource change_source(const sync::TablePlan& plan, bool binlog_ok);

// Which sync a table gets in an incremental run, and why (pure; unit-tested).
struct Decision {
  enum class Why {
    changes,            // incremental: what changed since the last run
    requested_full,     // --full
    no_key,             // no usable key: staging copy
    no_change_column,   // the seed's fallback to full
    resuming,           // an interrupted full sync continues
    first_sync,
    schema_changed,
    no_mark,
    binlog,             // incremental: the changes the binlog lists
    binlog_start,       // the first binlog run of a table: a full sync is its starting point
  };
  Why why = Why::changes;
  bool incremental() const { return why == Why::changes || why == Why::binlog; }
  // The reason as the report words it (the seed's text for no_change_column); empty for `changes`.
  std::string_view reason() const;
  // The reason deserves a warning (a fallback to full the operator may want to fix).
  bool warn() const { return why == Why::no_change_column || why == Why::schema_changed; }
};
Decision decide(const sync::TablePlan& plan, const std::optional<TableStateView>& prior, Mode mode);

// The wait before the next attempt after `attempt` attempts failed with a transient error and `spent` has
// passed since the first failure: 1 s, 2 s, 4 s, 8 s, then 10 s each, as long as the wait ends within
// `budget` (sync.retry_for); nullopt when it would not.
std::optional<std::chrono::milliseconds> retry_backoff(int attempt, std::chrono::milliseconds spent,
                                                       std::chrono::milliseconds budget);


}  // namespace m2m::ops
