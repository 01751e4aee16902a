// Delete reconciliation: documents whose key no longer exists in MySQL are removed, found by one ordered
// pass over both key streams.
#pragma once

#include "sync/ranges.hpp"
#include "sync/table_sync.hpp"

namespace m2m::sync {

// Removes documents whose key no longer exists in MySQL. Refuses (failure) to delete more than
// sync.max_delete_fraction of the collection unless forced. Returns the number deleted. With `range`
// (a key that orders alike on both sides, see order_compatible), only the keys of that range on both
// sides, and the fraction is of the range's documents.
Expected<std::uint64_t> reconcile_deletes(TableContext& ctx, const TablePlan& plan, const KeyRange* range = nullptr);

}  // namespace m2m::sync
