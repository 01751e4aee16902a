#include "ops/units.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace m2m;
using ops::UnitView;

TEST_CASE("shard flag: --shard I/N, the index counts from 0 and must be below the count", "[ops][units]") {
  auto ok = ops::parse_shard("1/3");
  REQUIRE(ok);
  CHECK(ok->index == 1);
  CHECK(ok->count == 3);
  CHECK(ok->active());
  CHECK(ops::parse_shard("0/1"));
  for (const char* bad : {"3/3", "4/3"}) {
    auto r = ops::parse_shard(bad);
    REQUIRE_FALSE(r);
    CHECK(r.failure().code == Exit::usage);
    CHECK(r.failure().message.find("the index counts from 0") != std::string::npos);
  }
  for (const char* bad : {"", "1", "1/", "/3", "a/3", "1/b", "-1/3", "1/3/4", " 1/3", "1/0"}) {
    INFO(bad);
    auto r = ops::parse_shard(bad);
    REQUIRE_FALSE(r);
    CHECK(r.failure().code == Exit::usage);
  }
  CHECK_FALSE(ops::parse_shard("0/1025"));
  CHECK(ops::ShardSpec{}.active() == false);
}

TEST_CASE("shard flag: --shards N takes the index from JOB_COMPLETION_INDEX", "[ops][units]") {
  auto ok = ops::shard_from_index("3", std::string("2"));
  REQUIRE(ok);
  CHECK(ok->index == 2);
  CHECK(ok->count == 3);
  // The count is the flag's (usage); a missing index too: the flag was used where it cannot work.
  CHECK(ops::shard_from_index("0", std::string("0")).failure().code == Exit::usage);
  CHECK(ops::shard_from_index("x", std::string("0")).failure().code == Exit::usage);
  auto unset = ops::shard_from_index("3", std::nullopt);
  REQUIRE_FALSE(unset);
  CHECK(unset.failure().code == Exit::usage);
  CHECK(unset.failure().message.find("JOB_COMPLETION_INDEX") != std::string::npos);
  // A wrong index is the environment's: a configuration error.
  for (const char* bad : {"3", "-1", "one", ""}) {
    INFO(bad);
    auto r = ops::shard_from_index("3", std::string(bad));
    REQUIRE_FALSE(r);
    CHECK(r.failure().code == (std::string(bad).empty() ? Exit::usage : Exit::config));
  }
}

TEST_CASE("a unit's shard is a stable hash of its key, the same everywhere", "[ops][units]") {
  // Pinned: a change would send units to other shards than a running fleet expects.
  CHECK(ops::shard_of("orders", 3) == 1);
  CHECK(ops::shard_of("orders", 7) == 4);
  CHECK(ops::shard_of("customers", 3) == 0);
  CHECK(ops::shard_of(ops::unit_key("orders", 3), 3) == 1);
  CHECK(ops::shard_of(ops::unit_key("orders", 3), 7) == 2);
  CHECK(ops::shard_of("t00001", 3) == 2);
  CHECK(ops::shard_of("anything", 1) == 0);
  CHECK(ops::unit_key("orders") == "orders");
  CHECK(ops::unit_key("orders", 3) == std::string("orders\0" "3", 8));
  // Spread: 1,000 tables over 3 shards land roughly a third each.
  std::map<std::uint32_t, int> per_shard;
  for (int i = 0; i < 1000; ++i) ++per_shard[ops::shard_of("t" + std::to_string(i), 3)];
  REQUIRE(per_shard.size() == 3);
  for (const auto& [shard, n] : per_shard) CHECK((n > 280 && n < 390));
}

TEST_CASE("a host's queue keeps the plan's order for one worker and starts the largest first for several",
          "[ops][units]") {
  const std::vector<std::uint64_t> sizes{10, 500, 10, 9000, 500};
  CHECK(ops::work_order(sizes, 1) == std::vector<std::size_t>{0, 1, 2, 3, 4});
  CHECK(ops::work_order(sizes, 4) == std::vector<std::size_t>{3, 1, 4, 0, 2});
  CHECK(ops::work_order({}, 4).empty());
}

TEST_CASE("a shard claims its own units first, largest first, then any, then the longest expired", "[ops][units]") {
  const std::int64_t now = 1'000'000;
  std::vector<UnitView> units{
      {"a", 100, 0, true, false, 0},       // shard 0's, small
      {"b", 900, 1, true, false, 0},       // shard 1's, large
      {"c", 500, 0, true, false, 0},       // shard 0's, larger
      {"d", 50, 2, false, true, now - 10},  // held, expired 10 ms ago
      {"e", 50, 2, false, true, now - 99},  // held, expired longer ago
      {"f", 50, 2, false, true, now + 5000},  // held, alive
      {"g", 9000, 0, false, false, 0},     // done
  };
  CHECK(ops::next_claim(units, 0, now) == 2u);  // its own, the larger
  CHECK(ops::next_claim(units, 1, now) == 1u);
  CHECK(ops::next_claim(units, 2, now) == 1u);  // none of its own: the largest pending
  units[0].claimable = units[1].claimable = units[2].claimable = false;
  CHECK(ops::next_claim(units, 0, now) == 4u);  // nothing pending: the longest expired lease
  units[3].held = units[4].held = false;
  CHECK_FALSE(ops::next_claim(units, 0, now));  // only a live lease left: wait
  CHECK(ops::next_claim(units, 0, now + 6000) == 5u);
}
