// What the sync recipes share (table_sync.cpp: full and incremental; ranges.cpp: a split full sync).
#pragma once

#include "sync/sql.hpp"
#include "sync/table_sync.hpp"

#include <optional>
#include <string>

namespace m2m::sync {

// The connection's literal quoting, for the SQL builders.
Quote quoter(TableContext& ctx);
void log_losses(Logger& log, const std::string& table, const convert::LossReport& loss);
TableReport start_report(const TablePlan& plan, mongo::SyncType type);
// Rows MongoDB refused last time, read again by key and written if they fit now.
Status retry_refused(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior, TableReport& report);
// The window floor the next run must re-read from (see TableContext::taken_over).
std::optional<std::string> next_floor(const TableContext& ctx, const std::optional<mongo::TableState>& prior);
// The state a complete full sync leaves (whole or in key ranges): no checkpoint nor split, the mark read
// before the copy (`mark`), the next window's floor, deletes reconciled now.
void set_full_sync_done(const TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior,
                        const std::optional<std::vector<std::string>>& mark, mongo::TableState& s);
// The table's key is not the one its collection was built for: a staging rebuild.
bool key_changed(const TablePlan& plan, const std::optional<mongo::TableState>& prior);
// MongoDB refused an index because one of that name exists with other fields or options.
bool index_conflict(const Failure& f);
// The recorded layout made the collection's indexes already (no createIndexes on every run).
bool indexes_made(const TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior);
// The checkpoint of an interrupted full sync of the whole table, when it is valid for this plan.
std::optional<std::vector<std::string>> valid_checkpoint(const TablePlan& plan,
                                                         const std::optional<mongo::TableState>& prior);

}  // namespace m2m::sync
