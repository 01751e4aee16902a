// Copying one table: full sync (keyset pagination, upserts, delete reconciliation) or a staging copy
// swapped in atomically for tables without a usable key.
#pragma once

#include "config/config.hpp"
#include "mongo/client.hpp"
#include "mongo/metadata.hpp"
#include "mongo/writer.hpp"
#include "mysql/connection.hpp"
#include "sync/plan.hpp"
#include "sync/report.hpp"
#include "util/log.hpp"

#include <atomic>
#include <functional>
#include <optional>

namespace m2m::sync {

struct TableContext {
  mysql::Connection& mysql;
  mongo::Client& mongo;
  const std::string& db;              // MongoDB database
  const config::Config& cfg;
  const mongo::WriteConcern& wc;
  mongo::MetadataStore& meta;
  Logger& log;
  bool force_deletes = false;
  const std::atomic<int>* stop = nullptr;  // non-zero: a signal asked us to stop after the current batch
  // Called after every acknowledged batch: table, rows done, rows expected (an estimate; 0 if unknown).
  std::function<void(const std::string&, std::uint64_t, std::uint64_t)> progress;
};

// Full sync of one table; never throws for data or server errors (they go into the report).
TableReport full_sync(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior);

// Incremental sync of a table that has a key, a change column and a previous successful sync.
// `reconcile` forces the delete reconciliation this run (it also happens every sync.reconcile_every runs).
TableReport incremental_sync(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior, bool reconcile);

// Removes documents whose key no longer exists in MySQL: one ordered pass over both key streams.
// Refuses (failure) to delete more than sync.max_delete_fraction of the collection unless forced.
Expected<std::uint64_t> reconcile_deletes(TableContext& ctx, const TablePlan& plan);

// Builds the document for one row (and the selector that matches it, if the table has a key). Returns
// false when a key value converted lossily (a DATETIME(6) key beyond milliseconds, a zero date): two rows
// could then map to one document, so the caller must not write it.
bool build_document(const TablePlan& plan, bool key_as_id, MYSQL_ROW row, const unsigned long* lengths,
                    bson_t* doc, bson_t* selector, convert::LossReport& loss);

}  // namespace m2m::sync
