// lib/sync/verify: what counts as equal (values, documents), and the MySQL text of a key read back from
// MongoDB, for every kind of key value a sync writes.
#include "sync/verify.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

using namespace m2m;

namespace {

mongo::Bson json(const std::string& text) { return mongo::Bson::from_json(text); }

// The first value of a one-field document.
bson_iter_t first(const mongo::Bson& doc) {
  bson_iter_t it;
  REQUIRE(bson_iter_init(&it, doc.get()));
  REQUIRE(bson_iter_next(&it));
  return it;
}

bool equal(const std::string& a, const std::string& b) {
  const auto x = json(a), y = json(b);
  return sync::values_equal(first(x), first(y));
}

std::vector<std::string> diff(const std::string& expected, const std::string& actual, bool compare_id = false) {
  const auto e = json(expected), a = json(actual);
  return sync::differing_fields(e.get(), a.get(), compare_id);
}

mysql::Column column(const std::string& data_type, const std::string& column_type = "", bool is_unsigned = false,
                     const std::string& charset = "") {
  mysql::Column c;
  c.name = "k";
  c.ordinal = 1;
  c.data_type = data_type;
  c.column_type = column_type.empty() ? data_type : column_type;
  c.is_unsigned = is_unsigned;
  c.charset = charset;
  c.nullable = false;
  return c;
}

// MySQL text -> the value a sync writes -> the MySQL text verify derives from it.
std::optional<std::string> round_trip(const mysql::Column& c, const std::string& text,
                                      const convert::TypeOptions& options = {}, const convert::Overrides& overrides = {}) {
  mysql::Table table;
  table.name = "t";
  table.columns.push_back(c);
  auto plans = convert::plan_fields(table, options, overrides, nullptr);
  REQUIRE(plans.ok());
  const auto& field = plans->front();
  mongo::Bson doc;
  convert::LossReport loss;
  convert::append_value(doc.get(), field, text.data(), text.size(), loss);
  INFO("converted: " << doc.json());
  REQUIRE(loss.empty());  // a key that converts lossily is refused before verify ever sees it
  bson_iter_t it;
  REQUIRE(bson_iter_init(&it, doc.get()));
  REQUIRE(bson_iter_next(&it));
  return sync::mysql_key_text(field, c, it);
}

}  // namespace

TEST_CASE("values are equal with the same BSON type and value, as MongoDB compares them", "[sync][verify]") {
  // Same type, same value.
  CHECK(equal(R"({"v": {"$numberInt": "5"}})", R"({"v": {"$numberInt": "5"}})"));
  CHECK(equal(R"({"v": "caf\u00e9"})", R"({"v": "caf\u00e9"})"));
  CHECK(equal(R"({"v": {"$date": {"$numberLong": "-500"}}})", R"({"v": {"$date": {"$numberLong": "-500"}}})"));
  CHECK(equal(R"({"v": null})", R"({"v": null})"));
  CHECK(equal(R"({"v": {"$numberDouble": "NaN"}})", R"({"v": {"$numberDouble": "NaN"}})"));
  // Decimal128 compares by value, as MongoDB's $eq does: the scale is not part of it.
  CHECK(equal(R"({"v": {"$numberDecimal": "1.0"}})", R"({"v": {"$numberDecimal": "1.00"}})"));
  // The type a sync writes is part of what it writes: the same number in another type differs.
  CHECK_FALSE(equal(R"({"v": {"$numberInt": "5"}})", R"({"v": {"$numberLong": "5"}})"));
  CHECK_FALSE(equal(R"({"v": {"$numberInt": "5"}})", R"({"v": {"$numberDouble": "5.0"}})"));
  CHECK_FALSE(equal(R"({"v": {"$numberDecimal": "5"}})", R"({"v": {"$numberLong": "5"}})"));
  CHECK_FALSE(equal(R"({"v": "5"})", R"({"v": {"$numberInt": "5"}})"));
  CHECK_FALSE(equal(R"({"v": null})", R"({"v": ""})"));
  // Strings by their bytes (no collation), dates by the millisecond, binary with its subtype.
  CHECK_FALSE(equal(R"({"v": "a"})", R"({"v": "A"})"));
  CHECK_FALSE(equal(R"({"v": {"$date": {"$numberLong": "1000"}}})", R"({"v": {"$date": {"$numberLong": "1001"}}})"));
  CHECK_FALSE(equal(R"({"v": {"$binary": {"base64": "AP8=", "subType": "00"}}})",
                    R"({"v": {"$binary": {"base64": "AP8=", "subType": "80"}}})"));
  CHECK_FALSE(equal(R"({"v": {"$binary": {"base64": "AP8=", "subType": "00"}}})",
                    R"({"v": {"$binary": {"base64": "AP4=", "subType": "00"}}})"));
  CHECK_FALSE(equal(R"({"v": true})", R"({"v": {"$numberInt": "1"}})"));
}

TEST_CASE("embedded documents and arrays are equal element by element, names, order and types included",
          "[sync][verify]") {
  CHECK(equal(R"({"v": {"a": [1, {"b": "x"}], "c": {}}})", R"({"v": {"a": [1, {"b": "x"}], "c": {}}})"));
  CHECK(equal(R"({"v": []})", R"({"v": []})"));
  // A type changed deep inside.
  CHECK_FALSE(equal(R"({"v": {"a": [1, {"b": {"$numberInt": "2"}}]}})",
                    R"({"v": {"a": [1, {"b": {"$numberLong": "2"}}]}})"));
  // Order: JSON objects keep their keys' order in MongoDB, and an array is a sequence.
  CHECK_FALSE(equal(R"({"v": {"a": 1, "b": 2}})", R"({"v": {"b": 2, "a": 1}})"));
  CHECK_FALSE(equal(R"({"v": [1, 2]})", R"({"v": [2, 1]})"));
  // Length and names.
  CHECK_FALSE(equal(R"({"v": [1, 2]})", R"({"v": [1, 2, 3]})"));
  CHECK_FALSE(equal(R"({"v": {"a": 1}})", R"({"v": {"a": 1, "b": null}})"));
  CHECK_FALSE(equal(R"({"v": {"a": 1}})", R"({"v": {"A": 1}})"));
  // A document is not an array holding the same values.
  CHECK_FALSE(equal(R"({"v": {"0": 1}})", R"({"v": [1]})"));
}

TEST_CASE("the fields that differ: changed, missing or added, MongoDB's own _id aside", "[sync][verify]") {
  const std::string doc = R"({"id": 1, "name": "x", "price": {"$numberDecimal": "1.50"}})";
  // MongoDB puts _id first; it is MongoDB's own unless the key is the _id.
  CHECK(diff(doc, R"({"_id": {"$oid": "650000000000000000000001"}, "id": 1, "name": "x", "price": {"$numberDecimal": "1.50"}})")
            .empty());
  // A field in another place is the same field.
  CHECK(diff(doc, R"({"price": {"$numberDecimal": "1.50"}, "_id": 7, "name": "x", "id": 1})").empty());
  CHECK(diff(doc, R"({"_id": 7, "id": 1, "name": "y", "price": {"$numberDecimal": "1.50"}})") ==
        std::vector<std::string>{"name"});
  // Missing, changed, and added fields: in the order of the expected document, then the added ones.
  CHECK(diff(doc, R"({"_id": 7, "id": 1, "price": {"$numberDecimal": "2"}, "note": "hi", "x": null})") ==
        std::vector<std::string>{"name", "price", "note", "x"});
  // A field set to null is not a missing field, and the other way round.
  CHECK(diff(R"({"id": 1, "n": null})", R"({"id": 1})") == std::vector<std::string>{"n"});
  CHECK(diff(R"({"id": 1})", R"({"id": 1, "n": null})") == std::vector<std::string>{"n"});
  // With key_as_id the _id is the key, and compared.
  CHECK(diff(R"({"_id": 1, "name": "x"})", R"({"_id": 1, "name": "x"})", true).empty());
  CHECK(diff(R"({"_id": {"a": 1, "b": "x"}, "v": 2})", R"({"_id": {"b": "x", "a": 1}, "v": 2})", true) ==
        std::vector<std::string>{"_id"});
  CHECK(diff(R"({"_id": 1, "name": "x"})", R"({"name": "x"})", true) == std::vector<std::string>{"_id"});
}

TEST_CASE("Decimal128 text in plain notation", "[sync][verify]") {
  CHECK(sync::plain_decimal("12.50") == "12.50");
  CHECK(sync::plain_decimal("-0.01") == "-0.01");
  CHECK(sync::plain_decimal("1.23E-7") == "0.000000123");
  CHECK(sync::plain_decimal("-1E-30") == "-0.000000000000000000000000000001");
  CHECK(sync::plain_decimal("0E-30") == "0.000000000000000000000000000000");
  CHECK(sync::plain_decimal("1.5E+1") == "15");
  CHECK(sync::plain_decimal("1E+3") == "1000");
  CHECK(sync::plain_decimal("9.9999999999999999999999999999999990E+37") == "99999999999999999999999999999999990000");
  CHECK(sync::plain_decimal("18446744073709551615") == "18446744073709551615");
  CHECK_FALSE(sync::plain_decimal("NaN"));
  CHECK_FALSE(sync::plain_decimal("-Infinity"));
}

TEST_CASE("a key read from MongoDB has the MySQL text the sync converted it from, for every key type",
          "[sync][verify]") {
  const auto integer = column("int");
  for (const char* v : {"0", "-2147483648", "2147483647", "42"}) CHECK(round_trip(integer, v) == v);
  const auto big = column("bigint", "bigint(20) unsigned", true);
  for (const char* v : {"0", "9223372036854775807", "9223372036854775808", "18446744073709551615"})
    CHECK(round_trip(big, v) == v);
  CHECK(round_trip(column("bigint"), "-9223372036854775808") == "-9223372036854775808");
  CHECK(round_trip(column("year"), "2024") == "2024");
  const auto dec = column("decimal", "decimal(65,30)");
  for (const char* v : {"12.50", "-0.000000000000000000000000000001", "0.000000123", "1234567890123456789012345678901234"})
    CHECK(round_trip(dec, v) == v);
  // Doubles come back as the shortest text of the same double (select_by_keys compares them as doubles).
  CHECK(round_trip(column("double"), "0.30000000000000004") == "0.30000000000000004");
  CHECK(round_trip(column("double"), "1e300") == "1e+300");
  CHECK(round_trip(column("float"), "16777216") == "16777216");
  // Dates, in the session's UTC, with milliseconds only when there are any.
  CHECK(round_trip(column("date"), "2024-02-29") == "2024-02-29");
  CHECK(round_trip(column("date"), "1000-01-01") == "1000-01-01");
  CHECK(round_trip(column("datetime"), "2024-02-29 13:14:15") == "2024-02-29 13:14:15");
  CHECK(round_trip(column("datetime", "datetime(3)"), "1969-12-31 23:59:59.500") == "1969-12-31 23:59:59.500");
  CHECK(round_trip(column("timestamp", "timestamp(3)"), "2038-01-19 03:14:07.999") == "2038-01-19 03:14:07.999");
  CHECK(round_trip(column("datetime"), "9999-12-31 23:59:59") == "9999-12-31 23:59:59");
  // Text, times, ENUM, SET keys (stored as text), binary.
  const auto text = column("varchar", "varchar(20)", false, "utf8mb4");
  for (const char* v : {"", "caf\xC3\xA9", "it's", "\xF0\x9F\x98\x80"}) CHECK(round_trip(text, v) == v);
  CHECK(round_trip(column("time"), "-838:59:59") == "-838:59:59");
  CHECK(round_trip(column("enum", "enum('a','b')", false, "utf8mb4"), "b") == "b");
  const std::string raw("\x00\xff\x00", 3);
  CHECK(round_trip(column("varbinary", "varbinary(8)"), raw) == raw);
  // BIT: the bytes the text protocol sends, as wide as the column.
  CHECK(round_trip(column("bit", "bit(12)"), std::string("\x0a\xaa", 2)) == std::string("\x0a\xaa", 2));
  CHECK(round_trip(column("bit", "bit(1)"), std::string("\x01", 1)) == std::string("\x01", 1));
  CHECK(round_trip(column("bit", "bit(1)"), std::string("\x00", 1)) == std::string("\x00", 1));
  CHECK(round_trip(column("bit", "bit(64)"), std::string(8, '\xff')) == std::string(8, '\xff'));
  // TINYINT(1) as a boolean.
  convert::TypeOptions bools;
  bools.tinyint1_as_bool = true;
  CHECK(round_trip(column("tinyint", "tinyint(1)"), "1", bools) == "1");
  CHECK(round_trip(column("tinyint", "tinyint(1)"), "0", bools) == "0");
  // Keys stored as text or binary by a types override keep MySQL's own text.
  CHECK(round_trip(column("int"), "-17", {}, {{"k", "string"}}) == "-17");
  CHECK(round_trip(column("datetime"), "2024-01-02 03:04:05", {}, {{"k", "binary"}}) == "2024-01-02 03:04:05");
  CHECK(round_trip(column("int"), "77", {}, {{"k", "decimal"}}) == "77");
}

TEST_CASE("a MongoDB value no conversion of the column produces has no MySQL text", "[sync][verify]") {
  mysql::Table table;
  table.name = "t";
  table.columns.push_back(column("int"));
  auto plans = convert::plan_fields(table, {}, {}, nullptr);
  REQUIRE(plans.ok());
  for (const char* text : {R"({"v": {"$oid": "650000000000000000000001"}})", R"({"v": {"a": 1}})", R"({"v": [1]})",
                           R"({"v": {"$numberDouble": "Infinity"}})", R"({"v": null})",
                           R"({"v": {"$date": {"$numberLong": "253402300800000"}}})"}) {
    INFO(text);
    const auto doc = json(text);
    CHECK_FALSE(sync::mysql_key_text(plans->front(), table.columns[0], first(doc)));
  }
}
