// A big table's full sync as key ranges that several workers (or shards) copy at once: where the ranges
// start and end, copying one range with its own checkpoint and delete reconciliation, and the record of
// the table once every range is done.
//
// Ranges are (lo, hi] in the order of the table's key as MySQL's index keeps it (a string key by its
// column's collation), the first open below and the last open above, so every key, present or future,
// lies in exactly one range. Their boundaries are keys read from the index alone, n rows apart.
#pragma once

#include "mongo/metadata.hpp"
#include "sync/report.hpp"
#include "sync/table_sync.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace m2m::sync {

struct KeyRange {
  std::int64_t index = 0;                       // 0-based, in key order
  std::optional<std::vector<std::string>> lo;   // exclusive; nullopt: from the start of the key
  std::optional<std::vector<std::string>> hi;   // inclusive; nullopt: to the end of the key
};

// The ranges that k boundaries (ascending keys) make: k + 1 of them, open at both ends (pure).
std::vector<KeyRange> ranges_from_boundaries(const std::vector<std::vector<std::string>>& boundaries);

// Whether a full sync of a table estimated at `estimate` rows is split, and into ranges of how many
// rows (pure): when more than one worker can take them (`workers`: jobs x shards) and the estimate
// exceeds `split_rows`; then into a multiple of the workers' number of ranges, none above split_rows, at
// most kMaxRanges. 0: not split.
inline constexpr std::uint64_t kMaxRanges = 1024;
std::uint64_t split_rows_per_range(std::uint64_t estimate, std::int64_t split_rows, int workers);

// Whether every key column compares the same way in MySQL and in MongoDB (numbers, dates): then a range
// of keys is also a range of documents and each range reconciles its own deletes. Strings (collations),
// binary values (MongoDB orders them by length first) and the rest do not: their deletes are reconciled
// for the whole table once every range is copied (pure).
bool order_compatible(const TablePlan& plan);

// The documents whose key lies in `range`, as a MongoDB filter on the key fields (for order_compatible
// keys only).
mongo::Bson range_filter(const TablePlan& plan, bool key_as_id, const KeyRange& range);

// "orders [3/8]": a range as messages and progress show it (1-based).
std::string describe_range(const std::string& table, std::int64_t index, std::int64_t count);

// The start of a split full sync: either the stored ranges of an interrupted one (same fingerprint), or
// fresh ones: the mark to leave behind read first (as full_sync does), the indexes made, the boundaries
// read, and all of it recorded (ranges first, then the table's split_ranges) before any range is
// copied. `split` false: copy the table whole with full_sync instead (its indexes were built for another
// key, or its key changed: a staging rebuild, which is never split).
struct SplitStart {
  bool split = false;
  bool resumed = false;
  std::vector<mongo::RangeState> ranges;  // every range, done ones included
};
Expected<SplitStart> start_split(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior,
                                 std::uint64_t rows_per_range);

// The stored ranges of an interrupted split full sync that a run can resume (nullopt: none, or they
// belong to other columns or another key).
bool can_resume_split(const TablePlan& plan, const std::optional<mongo::TableState>& prior);

// Copies one range after its checkpoint and reconciles its deletes (order_compatible keys), recording its
// checkpoint after every acknowledged batch and its outcome at the end. The report counts the range only.
TableReport copy_range(TableContext& ctx, const TablePlan& plan, const mongo::RangeState& range);

// Once every range is done (or failed): the table's outcome from its ranges' (rows, deletes, refused
// rows, losses, errors), the whole table's deletes reconciled when the key is not order_compatible, and
// the table's record queued (see record in state.hpp), which ends the split when every range succeeded.
TableReport finish_split(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior,
                         const std::vector<mongo::RangeState>& ranges);

}  // namespace m2m::sync
