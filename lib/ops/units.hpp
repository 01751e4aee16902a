// Work units: the pure parts of how a run's work is divided and handed out (unit-tested).
//
// A run is a list of units: a whole table (a full, incremental or binlog sync), a key range of a big
// table's full sync (sync/ranges.hpp), and the finish of such a split table (its record once every range
// is done). On one host, `sync.jobs` workers take them from a queue; across hosts, each `--shard I/N`
// process claims them through leases in MongoDB (mongo/units.hpp), its own first.
#pragma once

#include "util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace m2m::ops {

// `--shard I/N` (or `--shards N` with JOB_COMPLETION_INDEX): this process is shard `index` of `count`.
struct ShardSpec {
  int index = 0;
  int count = 0;  // 0: not sharded
  bool active() const { return count > 0; }
};
inline constexpr int kMaxShards = 1024;

// "I/N" with 0 <= I < N <= kMaxShards; a Failure (usage) naming the fix otherwise.
Expected<ShardSpec> parse_shard(std::string_view text);
// `--shards N` with the index from JOB_COMPLETION_INDEX (`index_text`, nullopt when unset): usage errors
// for N and a missing index, config errors (78) for an index the environment got wrong.
Expected<ShardSpec> shard_from_index(std::string_view count_text, const std::optional<std::string>& index_text);

// The shard a unit belongs to first: a stable hash (FNV-1a, 64 bits) of its key modulo `count`. The
// same on every host and in every version, so shards agree without talking to each other.
std::uint32_t shard_of(std::string_view unit_key, int count);
// The key a unit is hashed by: the table's name, or the table's name and the range's index.
std::string unit_key(const std::string& table, std::int64_t range = -1);

// The order a host's queue hands table units out in: the plan's order for one worker (as runs always
// did), the largest first for several (so the longest table does not start last and end the run late;
// ties keep the plan's order). Returns indexes into `sizes`.
std::vector<std::size_t> work_order(const std::vector<std::uint64_t>& sizes, int workers);

// What a shard sees of a unit when choosing one to claim.
struct UnitView {
  std::string key;
  std::uint64_t size = 0;
  std::uint32_t shard = 0;     // shard_of(key)
  bool claimable = false;      // pending (never claimed in this run, or released unfinished)
  bool held = false;           // claimed and not done
  std::int64_t expires_ms = 0; // of a held unit's lease, on the server's clock
};

// The unit shard `shard` claims next at server time `now_ms` (the order the claim queries of
// mongo/units.cpp follow): its own claimable units, largest first; then any claimable unit, largest
// first; then a unit whose lease expired, the longest expired first. nullopt: none.
std::optional<std::size_t> next_claim(const std::vector<UnitView>& units, int shard, std::int64_t now_ms);

}  // namespace m2m::ops
