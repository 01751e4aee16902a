#include "ops/units.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace m2m::ops {

namespace {

std::optional<int> whole_number(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

Expected<ShardSpec> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  const auto index = slash == std::string_view::npos ? std::nullopt : whole_number(text.substr(0, slash));
  const auto count = slash == std::string_view::npos ? std::nullopt : whole_number(text.substr(slash + 1));
  if (!index || !count)
    return Failure{Exit::usage, fmt::format("--shard {}: expected INDEX/COUNT, e.g. --shard 0/3 for the first of three "
                                            "shards", text)};
  if (*count < 1 || *count > kMaxShards)
    return Failure{Exit::usage, fmt::format("--shard {}: the shard count must be from 1 to {}", text, kMaxShards)};
  if (*index >= *count)
    return Failure{Exit::usage, fmt::format("--shard {}: the index counts from 0, so it must be below {} (the last "
                                            "shard is {}/{})", text, *count, *count - 1, *count)};
  return ShardSpec{*index, *count};
}

Expected<ShardSpec> shard_from_index(std::string_view count_text, const std::optional<std::string>& index_text) {
  const auto count = whole_number(count_text);
  if (!count || *count < 1 || *count > kMaxShards)
    return Failure{Exit::usage, fmt::format("--shards {}: expected the number of shards, from 1 to {}", count_text, kMaxShards)};
  if (!index_text || index_text->empty())
    return Failure{Exit::usage,
                   fmt::format("--shards {} takes this shard's index from JOB_COMPLETION_INDEX, which is not set "
                               "(a Kubernetes Indexed Job sets it); set it, or pass --shard INDEX/{}", count_text, *count)};
  const auto index = whole_number(*index_text);
  if (!index || *index >= *count)
    return Failure{Exit::config, fmt::format("JOB_COMPLETION_INDEX (environment): '{}' is not a shard index for --shards "
                                             "{}; it must be a whole number from 0 to {} (check completions in the "
                                             "Job: it must equal the shard count)",
                                             *index_text, *count, *count - 1)};
  return ShardSpec{*index, *count};
}

std::uint32_t shard_of(std::string_view unit_key, int count) {
  if (count <= 1) return 0;
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : unit_key) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<std::uint32_t>(h % static_cast<std::uint64_t>(count));
}

std::string unit_key(const std::string& table, std::int64_t range) {
  // NUL cannot be part of a MySQL identifier: a table's key and a range's never collide.
  if (range < 0) return table;
  return table + std::string(1, '\0') + std::to_string(range);
}

std::vector<std::size_t> work_order(const std::vector<std::uint64_t>& sizes, int workers) {
  std::vector<std::size_t> order(sizes.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (workers > 1)
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
  return order;
}

std::optional<std::size_t> next_claim(const std::vector<UnitView>& units, int shard, std::int64_t now_ms) {
  std::optional<std::size_t> own, any, expired;
  for (std::size_t i = 0; i < units.size(); ++i) {
    const auto& u = units[i];
    if (u.claimable) {
      if (u.shard == static_cast<std::uint32_t>(shard) && (!own || u.size > units[*own].size)) own = i;
      if (!any || u.size > units[*any].size) any = i;
    } else if (u.held && u.expires_ms < now_ms && (!expired || u.expires_ms < units[*expired].expires_ms)) {
      expired = i;
    }
  }
  if (own) return own;
  if (any) return any;
  return expired;
}

}  // namespace m2m::ops
