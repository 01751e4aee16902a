// Syncing one table: the two recipes, full and incremental, built from the copy engine (copy.hpp), delete
// reconciliation (reconcile.hpp) and the table's state (state.hpp).
#pragma once

#include "config/config.hpp"
#include "mongo/client.hpp"
#include "mongo/metadata.hpp"
#include "mongo/writer.hpp"
#include "mysql/connection.hpp"
#include "sync/plan.hpp"
#include "sync/report.hpp"
#include "util/log.hpp"
#include "util/stop.hpp"

#include <atomic>
#include <functional>
#include <optional>

namespace m2m::sync {

struct ReadTime;

struct TableContext {
  mysql::Connection& mysql;
  mongo::Client& mongo;
  const std::string& db;              // MongoDB database
  const config::Config& cfg;
  const mongo::WriteConcern& wc;
  mongo::MetadataStore& meta;
  Logger& log;
  bool force_deletes = false;
  const StopToken* stop = nullptr;  // requested: stop after the current batch
  // Called after every acknowledged batch: table, rows done, rows expected (an estimate; 0 if unknown).
  std::function<void(const std::string&, std::uint64_t, std::uint64_t)> progress;
  // This run took the lock over from a run that may still be alive (its lease expired unreleased): that
  // run may still land a write of rows it read before they changed, so the next run re-reads this run's
  // window once more (see incremental_sync).
  bool taken_over = false;
  const ReadTime* clock = nullptr;  // the run's read time (state.hpp); required
  // Create the collection's indexes even when the recorded layout says they exist (sync --full: a
  // collection dropped by hand gets them back).
  bool make_indexes = false;
  // A probe of this run found nothing for the incremental read (see changed_condition): skip it.
  bool nothing_to_read = false;
  // Where the table's changes come from from now on: recorded with its state.
  mongo::ChangeSource change_source = mongo::ChangeSource::full;
};

// Records a table whose changes this run applied from the binlog (`applied`: what that did), reconciling
// deletes first when asked (--reconcile).
TableReport binlog_sync(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior, TableReport applied,
                        bool reconcile);

// What the incremental read of `plan` after `prior` selects, as an SQL condition.
std::string changed_condition(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior);

// Whether this incremental run reconciles deletes: on request, or every sync.reconcile_every runs.
bool reconcile_due(const config::Config& cfg, const mongo::TableState& prior, bool requested);

// Full sync of one table; never throws for data or server errors (they go into the report).
TableReport full_sync(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior);

// Incremental sync of a table that has a key, a change column and a previous successful sync.
// `reconcile` forces the delete reconciliation this run (it also happens every sync.reconcile_every runs).
TableReport incremental_sync(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior, bool reconcile);

// Creates the unique key index and the foreign-key indexes of `collection`.
Status ensure_indexes(TableContext& ctx, const TablePlan& plan, const std::string& collection);

}  // namespace m2m::sync
