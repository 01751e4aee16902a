// What the sync recipes share (table_sync.cpp: full and incremental; ranges.cpp: a split full sync).
#pragma once

#include "sync/sql.hpp"
#include "sync/table_sync.hpp"

#include <optional>
#include <string>

namespace m2m::sync {

// Whether the run was asked to stop (a signal, or the lease lost), and the failure a table then ends with:
// "stopped by a signal" + `saved` (what was kept, e.g. "; progress saved"), or the lease lost.
bool stop_requested(const TableContext& ctx);
Failure stopped_failure(const TableContext& ctx, std::string_view saved = "; progress saved");
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
// A merge of the two key streams (delete reconciliation, verify) met a key out of order on `side` ("MySQL"
// or "MongoDB"; `cmp` >= 0 against the previous key). The same key twice on the MySQL side means distinct
// MySQL keys convert to one MongoDB value: their rows share one document, which the message says rather
// than only that the order is off. `doing`: "reconcile deletes of", "verify"; `outcome`: appended to
// what happened ("; no document was deleted").
Failure key_order_failure(const TablePlan& plan, std::string_view side, int cmp, std::string_view doing,
                          std::string_view outcome);
// MongoDB refused an index because one of that name exists with other fields or options.
bool index_conflict(const Failure& f);
// The recorded layout made the collection's indexes already (no createIndexes on every run).
bool indexes_made(const TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior);
// The checkpoint of an interrupted full sync of the whole table, when it is valid for this plan.
std::optional<std::vector<std::string>> valid_checkpoint(const TablePlan& plan,
                                                         const std::optional<mongo::TableState>& prior);

}  // namespace m2m::sync
