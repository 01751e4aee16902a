#include "sync/sql.hpp"

#include <catch2/catch.hpp>

using namespace m2m;

namespace {

mysql::Column col(const std::string& name, const std::string& type, const std::string& charset = "") {
  mysql::Column c;
  c.name = name;
  c.data_type = type;
  c.column_type = type;
  c.charset = charset;
  c.nullable = false;
  return c;
}

// A quoting function like Connection::literal for the tests: single quotes doubled.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

sync::TablePlan plan_of(std::vector<mysql::Column> cols, std::vector<std::size_t> key, std::string change = "") {
  sync::TablePlan p;
  p.table.name = "order items";
  p.table.columns = cols;
  for (const auto& c : cols) {
    convert::FieldPlan f;
    f.column = c.name;
    f.field = c.name;
    f.kind = c.data_type == "varchar" ? convert::Kind::string
             : c.data_type == "varbinary" ? convert::Kind::binary
                                          : convert::Kind::int64;
    p.fields.push_back(f);
  }
  p.key = std::move(key);
  p.change_column = std::move(change);
  return p;
}

}  // namespace

TEST_CASE("key literals never compare numbers as strings", "[sync][sql]") {
  CHECK(sync::key_literal(col("id", "bigint"), "18446744073709551615", quote) == "18446744073709551615");
  CHECK(sync::key_literal(col("d", "decimal"), "-12.50", quote) == "-12.50");
  CHECK(sync::key_literal(col("s", "varchar"), "it's", quote) == "'it''s'");
  CHECK(sync::key_literal(col("b", "varbinary"), std::string("\x00\xff", 2), quote) == "X'00FF'");
  CHECK(sync::key_literal(col("c", "char", "binary"), "AB", quote) == "X'4142'");
  // Text that is not a number in a numeric column is quoted, never spliced in.
  CHECK(sync::key_literal(col("id", "int"), "1 OR 1=1", quote) == "'1 OR 1=1'");
}

TEST_CASE("keyset predicates expand row comparisons", "[sync][sql]") {
  auto a = col("a", "int"), b = col("b`x", "varchar");
  CHECK(sync::key_after({&a}, {"5"}, quote) == "`a` > 5");
  CHECK(sync::key_after({&a, &b}, {"5", "q"}, quote) == "(`a` > 5) OR (`a` = 5 AND `b``x` > 'q')");
  auto e = col("e", "enum");
  CHECK(sync::key_expression(e) == "CAST(`e` AS CHAR)");
}

TEST_CASE("chunk queries page by key, quoting every identifier", "[sync][sql]") {
  auto p = plan_of({col("id", "int"), col("name", "varchar")}, {0});
  CHECK(sync::select_chunk(p, std::nullopt, 100, quote) == "SELECT `id`, `name` FROM `order items` ORDER BY `id` LIMIT 100");
  CHECK(sync::select_chunk(p, std::vector<std::string>{"42"}, 100, quote) ==
        "SELECT `id`, `name` FROM `order items` WHERE `id` > 42 ORDER BY `id` LIMIT 100");
  auto keyless = plan_of({col("x", "int")}, {});
  CHECK(sync::select_chunk(keyless, std::nullopt, 100, quote) == "SELECT `x` FROM `order items`");
}

TEST_CASE("incremental queries read beyond the mark and the re-read window", "[sync][sql]") {
  auto p = plan_of({col("id", "int"), col("updated_at", "timestamp")}, {0}, "updated_at");
  const std::string bound = "CAST('2024-01-02 00:00:00.000000' AS DATETIME(6)) - INTERVAL 5000000 MICROSECOND";
  // From the beginning.
  CHECK(sync::select_changed(p, {}, "", std::nullopt, 10, quote) ==
        "SELECT `id`, `updated_at` FROM `order items` WHERE `updated_at` IS NOT NULL ORDER BY `updated_at`, `id` LIMIT 10");
  // After a full sync the mark is a time alone: rows at that very time are read again.
  CHECK(sync::select_changed(p, {"2024-01-01 00:00:00"}, bound, std::nullopt, 10, quote) ==
        "SELECT `id`, `updated_at` FROM `order items` WHERE (`updated_at` >= '2024-01-01 00:00:00' OR `updated_at` >= "
        "CAST('2024-01-02 00:00:00.000000' AS DATETIME(6)) - INTERVAL 5000000 MICROSECOND) ORDER BY `updated_at`, `id` LIMIT 10");
  // A full mark continues after (time, key); `after` continues the pagination within the run.
  CHECK(sync::select_changed(p, {"2024-01-01 00:00:00", "7"}, "X", std::vector<std::string>{"2024-01-03 00:00:00", "9"}, 10,
                             quote) ==
        "SELECT `id`, `updated_at` FROM `order items` WHERE ((`updated_at` > '2024-01-01 00:00:00') OR (`updated_at` = "
        "'2024-01-01 00:00:00' AND `id` > 7) OR `updated_at` >= X) AND "
        "((`updated_at` > '2024-01-03 00:00:00') OR (`updated_at` = '2024-01-03 00:00:00' AND `id` > 9)) ORDER BY "
        "`updated_at`, `id` LIMIT 10");
  // No window: the mark alone.
  CHECK(sync::select_changed(p, {"2024-01-01 00:00:00", "7"}, "", std::nullopt, 10, quote) ==
        "SELECT `id`, `updated_at` FROM `order items` WHERE ((`updated_at` > '2024-01-01 00:00:00') OR (`updated_at` = "
        "'2024-01-01 00:00:00' AND `id` > 7)) ORDER BY `updated_at`, `id` LIMIT 10");
  CHECK(sync::select_null_changed(p, std::vector<std::string>{"3"}, 10, quote) ==
        "SELECT `id`, `updated_at` FROM `order items` WHERE `updated_at` IS NULL AND (`id` > 3) ORDER BY `id` LIMIT 10");
}

TEST_CASE("FLOAT columns are read as DOUBLE, and float keys compare as doubles", "[sync][sql]") {
  auto p = plan_of({col("k", "float"), col("d", "double"), col("v", "varchar")}, {0});
  CHECK(sync::select_chunk(p, std::vector<std::string>{"1.0000001192092896"}, 5, quote) ==
        "SELECT (`k` + 0E0), `d`, `v` FROM `order items` WHERE `k` > 1.0000001192092896E0 ORDER BY `k` LIMIT 5");
  CHECK(sync::key_literal(col("k", "float"), "1.1754943508222875e-38", quote) == "1.1754943508222875e-38");
  CHECK(sync::key_literal(col("d", "double"), "16777218", quote) == "16777218E0");
  CHECK(sync::select_keys_in_mongo_order(p) == "SELECT (`k` + 0E0) FROM `order items` ORDER BY `k`");
}

TEST_CASE("rows are re-read by key with one IN list", "[sync][sql]") {
  auto one = plan_of({col("id", "int"), col("v", "varchar")}, {0});
  CHECK(sync::select_by_keys(one, {{"1"}, {"5"}}, quote) == "SELECT `id`, `v` FROM `order items` WHERE `id` IN (1, 5)");
  auto two = plan_of({col("a", "int"), col("b", "varchar")}, {0, 1});
  CHECK(sync::select_by_keys(two, {{"1", "x"}, {"2", "it's"}}, quote) ==
        "SELECT `a`, `b` FROM `order items` WHERE (`a`, `b`) IN ((1, 'x'), (2, 'it''s'))");
}

TEST_CASE("keys stored as binary order like MongoDB's BinData: by length, then the bytes sent", "[sync][sql]") {
  auto p = plan_of({col("s", "varchar", "latin1"), col("b", "varbinary")}, {0, 1});
  p.fields[0].kind = convert::Kind::binary;  // [tables.x] types = { s = "binary" }
  CHECK(sync::select_keys_in_mongo_order(p) ==
        "SELECT `s`, `b` FROM `order items` ORDER BY LENGTH(CONVERT(`s` USING utf8mb4)), CAST(CONVERT(`s` USING utf8mb4) "
        "AS BINARY), LENGTH(`b`), `b`");
}

TEST_CASE("key reads for the delete merge follow MongoDB's order", "[sync][sql]") {
  auto p = plan_of({col("s", "varchar"), col("b", "varbinary"), col("n", "int")}, {0, 1, 2});
  CHECK(sync::select_keys_in_mongo_order(p) ==
        "SELECT `s`, `b`, `n` FROM `order items` ORDER BY CAST(CONVERT(`s` USING utf8mb4) AS BINARY), LENGTH(`b`), `b`, `n`");
}

TEST_CASE("whole rows for verify come in the order of the delete merge's keys", "[sync][sql]") {
  auto p = plan_of({col("n", "int"), col("s", "varchar"), col("v", "varchar")}, {1, 0});
  CHECK(sync::select_keys_in_mongo_order(p) ==
        "SELECT `s`, `n` FROM `order items` ORDER BY CAST(CONVERT(`s` USING utf8mb4) AS BINARY), `n`");
  CHECK(sync::select_rows_in_mongo_order(p) ==
        "SELECT `n`, `s`, `v` FROM `order items` ORDER BY CAST(CONVERT(`s` USING utf8mb4) AS BINARY), `n`");
}

TEST_CASE("one probe finds which incremental tables have rows to read", "[sync][sql]") {
  auto a = plan_of({col("id", "int"), col("updated_at", "timestamp")}, {0}, "updated_at");
  auto b = plan_of({col("id", "int"), col("updated_at", "timestamp")}, {0}, "updated_at");
  b.table.name = "b";
  b.table.columns[1].nullable = true;  // rows with NULL change values are read every run
  const std::string pa = sync::changed_predicate(a, {"2024-01-01 00:00:00", "7"}, "", quote);
  CHECK(pa == "((`updated_at` > '2024-01-01 00:00:00') OR (`updated_at` = '2024-01-01 00:00:00' AND `id` > 7))");
  CHECK(sync::probe_changes({{&a, pa}, {&b, "X"}}) ==
        "SELECT 0 FROM DUAL WHERE EXISTS (SELECT 1 FROM `order items` WHERE " + pa +
            " LIMIT 1) UNION ALL SELECT 1 FROM DUAL WHERE EXISTS (SELECT 1 FROM `b` WHERE (X OR `updated_at` IS NULL) "
            "LIMIT 1)");
}

TEST_CASE("key ranges: from lo (excluded) to hi (included) by the column's own comparison, composite keys expanded", "[sync][sql][units]") {
  auto a = col("a", "int"), b = col("b", "varchar");
  CHECK(sync::key_at_most({&a}, {"5"}, quote) == "`a` <= 5");
  CHECK(sync::key_at_most({&a, &b}, {"5", "q"}, quote) == "(`a` < 5) OR (`a` = 5 AND `b` <= 'q')");
  auto p = plan_of({col("a", "int"), col("b", "varchar"), col("v", "int")}, {0, 1});
  const std::vector<std::string> lo{"1", "x"}, hi{"5", "q"};
  CHECK(sync::range_condition(p, lo, hi, quote) ==
        "((`a` > 1) OR (`a` = 1 AND `b` > 'x')) AND ((`a` < 5) OR (`a` = 5 AND `b` <= 'q'))");
  CHECK(sync::range_condition(p, std::nullopt, hi, quote) == "((`a` < 5) OR (`a` = 5 AND `b` <= 'q'))");
  CHECK(sync::range_condition(p, lo, std::nullopt, quote) == "((`a` > 1) OR (`a` = 1 AND `b` > 'x'))");
  CHECK(sync::range_condition(p, std::nullopt, std::nullopt, quote).empty());
  // A range's chunks: after the checkpoint (or lo), never past hi.
  auto one = plan_of({col("id", "int"), col("v", "varchar")}, {0});
  CHECK(sync::select_chunk(one, std::vector<std::string>{"10"}, 50, quote, std::vector<std::string>{"20"}) ==
        "SELECT `id`, `v` FROM `order items` WHERE (`id` > 10) AND (`id` <= 20) ORDER BY `id` LIMIT 50");
  CHECK(sync::select_chunk(one, std::nullopt, 50, quote, std::vector<std::string>{"20"}) ==
        "SELECT `id`, `v` FROM `order items` WHERE `id` <= 20 ORDER BY `id` LIMIT 50");
  // The delete merge of one range.
  CHECK(sync::select_keys_in_mongo_order(one, sync::range_condition(one, std::vector<std::string>{"10"}, std::nullopt, quote)) ==
        "SELECT `id` FROM `order items` WHERE (`id` > 10) ORDER BY `id`");
}

TEST_CASE("range boundaries are read from the key alone, n rows on", "[sync][sql][units]") {
  auto p = plan_of({col("a", "int"), col("b", "varchar"), col("v", "int")}, {0, 1});
  CHECK(sync::select_boundary(p, std::nullopt, 1000, quote) ==
        "SELECT `a`, `b` FROM `order items` ORDER BY `a`, `b` LIMIT 1 OFFSET 999");
  CHECK(sync::select_boundary(p, std::vector<std::string>{"3", "it's"}, 1000, quote) ==
        "SELECT `a`, `b` FROM `order items` WHERE (`a` > 3) OR (`a` = 3 AND `b` > 'it''s') ORDER BY `a`, `b` LIMIT 1 "
        "OFFSET 999");
}
