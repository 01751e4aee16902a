#include "mongo/bson.hpp"
#include "sync/ranges.hpp"

#include <catch2/catch.hpp>

using namespace m2m;

namespace {

sync::TablePlan plan_with(std::vector<std::pair<std::string, convert::Kind>> key) {
  sync::TablePlan p;
  p.table.name = "orders";
  for (const auto& [name, kind] : key) {
    mysql::Column c;
    c.name = name;
    c.data_type = kind == convert::Kind::decimal ? "decimal" : "int";
    c.numeric_precision = 12;
    p.table.columns.push_back(c);
    convert::FieldPlan f;
    f.column = name;
    f.field = name;
    f.kind = kind;
    p.key.push_back(p.fields.size());
    p.fields.push_back(f);
  }
  return p;
}

}  // namespace

TEST_CASE("k boundaries make k + 1 ranges, open at both ends, each from lo (excluded) to hi (included)", "[sync][ranges][units]") {
  const auto none = sync::ranges_from_boundaries({});
  REQUIRE(none.size() == 1);
  CHECK_FALSE(none[0].lo);
  CHECK_FALSE(none[0].hi);
  const auto r = sync::ranges_from_boundaries({{"100"}, {"200"}});
  REQUIRE(r.size() == 3);
  CHECK(r[0].index == 0);
  CHECK_FALSE(r[0].lo);
  CHECK(*r[0].hi == std::vector<std::string>{"100"});
  CHECK(*r[1].lo == std::vector<std::string>{"100"});
  CHECK(*r[1].hi == std::vector<std::string>{"200"});
  CHECK(*r[2].lo == std::vector<std::string>{"200"});
  CHECK_FALSE(r[2].hi);
  CHECK(r[2].index == 2);
  // Composite keys: whole key tuples.
  const auto c = sync::ranges_from_boundaries({{"1", "b"}});
  CHECK(*c[0].hi == std::vector<std::string>{"1", "b"});
  CHECK(*c[1].lo == std::vector<std::string>{"1", "b"});
}

TEST_CASE("a table is split only when several workers can take its ranges and it exceeds split_rows",
          "[sync][ranges][units]") {
  // One worker: never (ranges would only add boundary reads and merges).
  CHECK(sync::split_rows_per_range(10'000'000, 2'000'000, 1) == 0);
  // Not above split_rows: whole.
  CHECK(sync::split_rows_per_range(2'000'000, 2'000'000, 4) == 0);
  // At least one range per worker...
  CHECK(sync::split_rows_per_range(3'000'000, 2'000'000, 4) == 750'000);
  CHECK(sync::split_rows_per_range(1'000'000, 250'000, 4) == 250'000);
  CHECK(sync::split_rows_per_range(1'000'000, 250'000, 2) == 250'000);
  // ...and none above split_rows.
  CHECK(sync::split_rows_per_range(10'000'000, 2'000'000, 2) == 1'666'667);  // 6 ranges, a multiple of 2
  // A multiple of the workers: an estimate just above 4 x split_rows makes 8 ranges for 4 workers, not 5.
  CHECK(sync::split_rows_per_range(1'020'000, 250'000, 4) == 127'500);
  CHECK(sync::split_rows_per_range(1'020'000, 250'000, 3) == 170'000);
  // At most kMaxRanges ranges.
  CHECK(sync::split_rows_per_range(10'000'000'000ULL, 1000, 2) == (10'000'000'000ULL + sync::kMaxRanges - 1) / sync::kMaxRanges);
}

TEST_CASE("only keys that order alike in MySQL and MongoDB reconcile their deletes range by range",
          "[sync][ranges][units]") {
  using convert::Kind;
  CHECK(sync::order_compatible(plan_with({{"id", Kind::int64}})));
  CHECK(sync::order_compatible(plan_with({{"a", Kind::int32}, {"b", Kind::datetime}})));
  CHECK(sync::order_compatible(plan_with({{"d", Kind::decimal}})));
  // Strings follow their collation in MySQL and their bytes in MongoDB; BinData orders by length first.
  CHECK_FALSE(sync::order_compatible(plan_with({{"s", Kind::string}})));
  CHECK_FALSE(sync::order_compatible(plan_with({{"a", Kind::int32}, {"s", Kind::string}})));
  CHECK_FALSE(sync::order_compatible(plan_with({{"b", Kind::binary}})));
  CHECK_FALSE(sync::order_compatible(plan_with({{"t", Kind::time}})));
  // A DECIMAL beyond 34 digits is stored as a string.
  auto wide = plan_with({{"d", Kind::decimal}});
  wide.table.columns[0].numeric_precision = 40;
  CHECK_FALSE(sync::order_compatible(wide));
  CHECK_FALSE(sync::order_compatible(sync::TablePlan{}));
}

TEST_CASE("a range's documents: the key fields between the bounds, converted as the copy converts them",
          "[sync][ranges][units]") {
  using convert::Kind;
  const auto one = plan_with({{"id", Kind::int64}});
  sync::KeyRange r{1, std::vector<std::string>{"100"}, std::vector<std::string>{"200"}};
  CHECK(sync::range_filter(one, false, r).json() == R"({ "id" : { "$gt" : 100, "$lte" : 200 } })");
  CHECK(sync::range_filter(one, true, r).json() == R"({ "_id" : { "$gt" : 100, "$lte" : 200 } })");
  CHECK(sync::range_filter(one, false, sync::KeyRange{0, std::nullopt, std::vector<std::string>{"5"}}).json() ==
        R"({ "id" : { "$lte" : 5 } })");
  CHECK(sync::range_filter(one, false, sync::KeyRange{}).json() == "{ }");
  const auto two = plan_with({{"a", Kind::int32}, {"b", Kind::int64}});
  sync::KeyRange c{1, std::vector<std::string>{"1", "7"}, std::vector<std::string>{"2", "3"}};
  CHECK(sync::range_filter(two, false, c).json() ==
        R"({ "$and" : [ { "$or" : [ { "a" : { "$gt" : 1 } }, { "a" : 1, "b" : { "$gt" : 7 } } ] }, )"
        R"({ "$or" : [ { "a" : { "$lt" : 2 } }, { "a" : 2, "b" : { "$lte" : 3 } } ] } ] })");
  CHECK(sync::range_filter(two, true, c).json().find(R"({ "_id.a" : 1, "_id.b" : { "$gt" : 7 } })") != std::string::npos);
  CHECK(sync::describe_range("orders", 2, 8) == "orders [3/8]");
}
