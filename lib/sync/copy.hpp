// The copy engine: rows from a MySQL query to MongoDB documents, in batches bounded by count and bytes
// (BulkWriter owns that rule), with a callback after every acknowledged batch so the caller can record
// how far it got.
#pragma once

#include "sync/report.hpp"
#include "sync/table_sync.hpp"

#include <functional>
#include <set>
#include <optional>
#include <string>
#include <vector>

namespace m2m::sync {

// Rows per SELECT of the keyset pagination: large enough that the per-query cost vanishes, small enough
// that no statement holds the table for long.
inline constexpr std::size_t kChunkRows = 50'000;

// A copy of rows read in a total order (the key, or the change column then the key), chunk by chunk.
struct OrderedCopy {
  std::vector<std::size_t> order;                  // field indexes whose values order the rows
  std::optional<std::vector<std::string>> after;   // start after these ordering values (a resume)
  // The SELECT of the chunk after `after` (nullopt: the first chunk); it reads at most kChunkRows rows.
  std::function<std::string(const std::optional<std::vector<std::string>>& after)> sql;
  // After every acknowledged batch: the ordering values of its last row; `final` for the batch that ends
  // a copy that read every row (the caller's record at the end of the table covers it).
  std::function<Status(const std::vector<std::string>& last, bool final)> on_ack;
  std::uint64_t expected_rows = 0;                 // for progress; 0 if unknown
};

// Upserts the rows, matched on the key. Documents MongoDB would refuse (too large, too deep) and
// documents the server refused are not written: they go to report.refused by key, and the copy goes on.
// A key that cannot be stored exactly fails the copy. Stops (saving what was acknowledged) when a stop
// is requested.
Status copy_ordered(TableContext& ctx, const TablePlan& plan, const OrderedCopy& spec, TableReport& report);

// Upserts the rows of `select` (any order, read in one statement): for re-reading given keys. `written`,
// if given, receives the selector of every row read (its BSON bytes), whether MongoDB took it or not.
Status copy_rows(TableContext& ctx, const TablePlan& plan, const std::string& select, TableReport& report,
                 std::set<std::string>* written = nullptr);

// Copies the whole table into a fresh staging collection (inserts, duplicates kept), builds its indexes,
// and swaps it in for the table's collection with renameCollection: readers never see a half table.
// Used for tables without a usable key, and to rebuild a collection whose key changed. Refuses (delete
// guard) when the new collection would be smaller than the old by more than sync.max_delete_fraction.
Status copy_staged(TableContext& ctx, const TablePlan& plan, TableReport& report);

}  // namespace m2m::sync
