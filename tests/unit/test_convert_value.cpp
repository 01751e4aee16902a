// lib/convert: MySQL text-protocol values -> BSON (mysql2mongo.toml(5), TYPE MAPPING), asserted through canonical Extended
// JSON, which spells out both the BSON type and the exact value.
#include "convert/convert.hpp"
#include "convert/detail.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

using namespace m2m;
using namespace m2m::convert;

namespace {

mysql::Column column(const std::string& data_type, const std::string& column_type = "", bool is_unsigned = false) {
  mysql::Column c;
  c.name = "v";
  c.ordinal = 1;
  c.data_type = data_type;
  c.column_type = column_type.empty() ? data_type : column_type;
  c.is_unsigned = is_unsigned;
  if (data_type == "char" || data_type == "varchar" || data_type.find("text") != std::string::npos ||
      data_type == "enum" || data_type == "set") {
    c.charset = "utf8mb4";
    c.collation = "utf8mb4_general_ci";
  }
  return c;
}

FieldPlan plan_for(const mysql::Column& c, const TypeOptions& options = {}, const Overrides& overrides = {}) {
  mysql::Table table;
  table.name = "t";
  table.columns.push_back(c);
  auto plans = plan_fields(table, options, overrides, nullptr);
  REQUIRE(plans.ok());
  REQUIRE(plans->size() == 1);
  return plans->front();
}

std::string canonical(const bson_t* doc) {
  std::size_t length = 0;
  char* text = bson_as_canonical_extended_json(doc, &length);
  REQUIRE(text != nullptr);
  std::string out(text, length);
  bson_free(text);
  return out;
}

// The canonical Extended JSON of the one value appended for `value` (std::nullopt = SQL NULL), without
// the surrounding document: e.g. { "$numberInt" : "5" }.
std::string convert_with(const FieldPlan& plan, std::optional<std::string> value, LossReport& loss) {
  bson_t doc;
  bson_init(&doc);
  append_value(&doc, plan, value ? value->data() : nullptr, value ? value->size() : 0, loss);
  const std::string json = canonical(&doc);
  bson_destroy(&doc);
  const std::string prefix = "{ \"" + plan.field + "\" : ";
  REQUIRE(json.substr(0, prefix.size()) == prefix);
  REQUIRE(json.size() >= prefix.size() + 2);
  REQUIRE(json.substr(json.size() - 2) == " }");
  return json.substr(prefix.size(), json.size() - prefix.size() - 2);
}

// Converts and requires that nothing was counted as lossy.
std::string exact(const FieldPlan& plan, std::optional<std::string> value) {
  LossReport loss;
  std::string out = convert_with(plan, std::move(value), loss);
  INFO("loss total " << loss.total());
  CHECK(loss.empty());
  return out;
}

// Converts and requires that exactly one loss with this reason was counted for column "v".
std::string lossy(const FieldPlan& plan, std::optional<std::string> value, const std::string& reason) {
  LossReport loss;
  std::string out = convert_with(plan, std::move(value), loss);
  CHECK(loss.total() == 1);
  const auto column = loss.counts().find("v");
  REQUIRE(column != loss.counts().end());
  CHECK(column->second.count(reason) == 1);
  if (column->second.count(reason) == 0)
    for (const auto& [r, n] : column->second) FAIL_CHECK("counted instead: " << r);
  return out;
}

std::string i32(const std::string& v) { return "{ \"$numberInt\" : \"" + v + "\" }"; }
std::string i64(const std::string& v) { return "{ \"$numberLong\" : \"" + v + "\" }"; }
std::string dec(const std::string& v) { return "{ \"$numberDecimal\" : \"" + v + "\" }"; }
std::string date(const std::string& ms) { return "{ \"$date\" : { \"$numberLong\" : \"" + ms + "\" } }"; }
std::string str(const std::string& v) { return "\"" + v + "\""; }
std::string bin(const std::string& base64) {
  return "{ \"$binary\" : { \"base64\" : \"" + base64 + "\", \"subType\" : \"00\" } }";
}
std::string raw(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

}  // namespace

TEST_CASE("integers of every width map to int32 or int64 at their limits", "[convert][value]") {
  struct Row {
    const char* data_type;
    bool is_unsigned;
    const char* text;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {"tinyint", false, "-128", i32("-128")},
      {"tinyint", false, "127", i32("127")},
      {"tinyint", true, "0", i32("0")},
      {"tinyint", true, "255", i32("255")},
      {"smallint", false, "-32768", i32("-32768")},
      {"smallint", false, "32767", i32("32767")},
      {"smallint", true, "65535", i32("65535")},
      {"mediumint", false, "-8388608", i32("-8388608")},
      {"mediumint", false, "8388607", i32("8388607")},
      {"mediumint", true, "16777215", i32("16777215")},
      {"int", false, "-2147483648", i32("-2147483648")},
      {"int", false, "2147483647", i32("2147483647")},
      {"int", true, "0", i64("0")},
      {"int", true, "4294967295", i64("4294967295")},
      {"bigint", false, "-9223372036854775808", i64("-9223372036854775808")},
      {"bigint", false, "9223372036854775807", i64("9223372036854775807")},
      {"bigint", false, "0", i64("0")},
      {"bigint", true, "0", i64("0")},
      {"bigint", true, "9223372036854775807", i64("9223372036854775807")},
      {"bigint", true, "9223372036854775808", dec("9223372036854775808")},
      {"bigint", true, "18446744073709551615", dec("18446744073709551615")},
  };
  for (const auto& row : rows) {
    INFO(row.data_type << (row.is_unsigned ? " unsigned " : " ") << row.text);
    const FieldPlan plan = plan_for(column(row.data_type, "", row.is_unsigned));
    CHECK(exact(plan, row.text) == row.expected);
  }
}

TEST_CASE("BIGINT UNSIGNED max is an exact positive Decimal128, never wrapped", "[convert][value]") {
  const FieldPlan plan = plan_for(column("bigint", "bigint(20) unsigned", true));
  CHECK(plan.kind == Kind::uint64);
  bson_t doc;
  bson_init(&doc);
  LossReport loss;
  const std::string text = "18446744073709551615";
  append_value(&doc, plan, text.data(), text.size(), loss);
  bson_iter_t it;
  REQUIRE(bson_iter_init_find(&it, &doc, "v"));
  REQUIRE(bson_iter_type(&it) == BSON_TYPE_DECIMAL128);
  bson_decimal128_t value;
  REQUIRE(bson_iter_decimal128(&it, &value));
  char printed[BSON_DECIMAL128_STRING];
  bson_decimal128_to_string(&value, printed);
  CHECK(std::string(printed) == "18446744073709551615");
  CHECK(loss.empty());
  bson_destroy(&doc);
}

TEST_CASE("YEAR maps to int32, including YEAR 0000", "[convert][value]") {
  const FieldPlan plan = plan_for(column("year", "year(4)"));
  CHECK(plan.kind == Kind::int32);
  CHECK(exact(plan, "1901") == i32("1901"));
  CHECK(exact(plan, "2155") == i32("2155"));
  CHECK(exact(plan, "0000") == i32("0"));
}

TEST_CASE("TINYINT(1) is a bool only with tinyint1_as_bool", "[convert][value]") {
  TypeOptions as_bool;
  as_bool.tinyint1_as_bool = true;
  const FieldPlan b = plan_for(column("tinyint", "tinyint(1)"), as_bool);
  CHECK(b.kind == Kind::boolean);
  CHECK(exact(b, "0") == "false");
  CHECK(exact(b, "1") == "true");
  CHECK(lossy(b, "5", "value other than 0 or 1 stored as true") == "true");
  CHECK(lossy(b, "-1", "value other than 0 or 1 stored as true") == "true");
  CHECK(plan_for(column("tinyint", "tinyint(1) unsigned", true), as_bool).kind == Kind::boolean);

  CHECK(plan_for(column("tinyint", "tinyint(4)"), as_bool).kind == Kind::int32);
  CHECK(plan_for(column("tinyint", "tinyint"), as_bool).kind == Kind::int32);
  const FieldPlan n = plan_for(column("tinyint", "tinyint(1)"));
  CHECK(n.kind == Kind::int32);
  CHECK(exact(n, "1") == i32("1"));
}

TEST_CASE("DECIMAL is an exact Decimal128 that keeps its scale", "[convert][value]") {
  const FieldPlan plan = plan_for(column("decimal", "decimal(10,2)"));
  CHECK(plan.kind == Kind::decimal);
  CHECK(exact(plan, "-12345678.90") == dec("-12345678.90"));
  CHECK(exact(plan, "1.50") == dec("1.50"));
  CHECK(exact(plan, "0.00") == dec("0.00"));
  CHECK(exact(plan, "99999999.99") == dec("99999999.99"));
}

TEST_CASE("DECIMAL(65,30) beyond 34 digits is kept as its exact string and counted", "[convert][value]") {
  const FieldPlan plan = plan_for(column("decimal", "decimal(65,30)"));
  const std::string wide = "12345678901234567890123456789012345.123456789012345678901234567891";
  CHECK(lossy(plan, wide, "decimal wider than 34 digits stored as string") == str(wide));
  const std::string wide_int = "-99999999999999999999999999999999999999999999999999999999999999999";
  CHECK(lossy(plan_for(column("decimal", "decimal(65,0)")), wide_int,
              "decimal wider than 34 digits stored as string") == str(wide_int));
  // Exactly 34 significant digits still fit.
  CHECK(exact(plan, "1234.567890123456789012345678901234") == dec("1234.567890123456789012345678901234"));
  // 31 digits including the trailing zeros of the scale: exact, scale kept.
  CHECK(exact(plan, "1.000000000000000000000000000000") == dec("1.000000000000000000000000000000"));
  // Zero with scale 30.
  CHECK(exact(plan, "0.000000000000000000000000000000") == dec("0E-30"));
  // 36 digits, but the value is exact with fewer trailing zeros: the scale shrinks to fit 34 digits.
  CHECK(exact(plan, "123456.000000000000000000000000000000") == dec("123456.0000000000000000000000000000"));
  // Leading zeros are not significant.
  CHECK(exact(plan, "0.000000000000000000000000000001") == dec("1E-30"));
}

TEST_CASE("decimal128_from_text counts digits itself instead of rounding", "[convert][value]") {
  bson_decimal128_t d;
  char printed[BSON_DECIMAL128_STRING];
  CHECK(detail::decimal128_from_text("1234567890123456789012345678901234", d) == detail::DecimalParse::ok);
  bson_decimal128_to_string(&d, printed);
  CHECK(std::string(printed) == "1234567890123456789012345678901234");
  CHECK(detail::decimal128_from_text("12345678901234567890123456789012345", d) ==
        detail::DecimalParse::too_wide);
  CHECK(detail::decimal128_from_text("1000000000000000000000000000000000000000", d) == detail::DecimalParse::ok);
  bson_decimal128_to_string(&d, printed);
  CHECK(std::string(printed) == "1.000000000000000000000000000000000E+39");
  CHECK(detail::decimal128_from_text("-1.5e3", d) == detail::DecimalParse::ok);
  bson_decimal128_to_string(&d, printed);
  CHECK(std::string(printed) == "-1.5E+3");
  CHECK(detail::decimal128_from_text("", d) == detail::DecimalParse::invalid);
  CHECK(detail::decimal128_from_text("-", d) == detail::DecimalParse::invalid);
  CHECK(detail::decimal128_from_text("1.2.3", d) == detail::DecimalParse::invalid);
  CHECK(detail::decimal128_from_text("1e", d) == detail::DecimalParse::invalid);
  CHECK(detail::decimal128_from_text("abc", d) == detail::DecimalParse::invalid);
  CHECK(detail::decimal128_from_text("1e7000", d) == detail::DecimalParse::too_wide);
  CHECK(detail::decimal128_from_text("1e-7000", d) == detail::DecimalParse::too_wide);

  // Round trip through the decoder used by compare_values.
  REQUIRE(detail::decimal128_from_text("-123.4500", d) == detail::DecimalParse::ok);
  const auto parts = detail::decode_decimal128(d);
  CHECK(parts.cls == detail::DecimalParts::Class::finite);
  CHECK(parts.negative);
  CHECK(parts.coefficient == 1234500);
  CHECK(parts.exponent == -4);
}

TEST_CASE("FLOAT and DOUBLE map to double", "[convert][value]") {
  struct Row {
    const char* data_type;
    const char* text;
    double expected;
  };
  const std::vector<Row> rows = {
      {"double", "3.5", 3.5},
      {"double", "-1.7976931348623157e308", -1.7976931348623157e308},
      {"double", "2.2250738585072014e-308", 2.2250738585072014e-308},
      {"double", "1e-7", 1e-7},
      {"double", "0", 0.0},
      {"float", "0.1", 0.1},
      {"float", "3.40282e38", 3.40282e38},
  };
  for (const auto& row : rows) {
    INFO(row.data_type << " " << row.text);
    const FieldPlan plan = plan_for(column(row.data_type));
    CHECK(plan.kind == Kind::float64);
    bson_t doc;
    bson_init(&doc);
    LossReport loss;
    append_value(&doc, plan, row.text, std::strlen(row.text), loss);
    bson_iter_t it;
    REQUIRE(bson_iter_init_find(&it, &doc, "v"));
    CHECK(bson_iter_type(&it) == BSON_TYPE_DOUBLE);
    CHECK(bson_iter_double(&it) == row.expected);
    CHECK(loss.empty());
    bson_destroy(&doc);
  }
}

TEST_CASE("DATE is a BSON date at midnight UTC", "[convert][value]") {
  const FieldPlan plan = plan_for(column("date"));
  CHECK(plan.kind == Kind::date);
  CHECK(exact(plan, "2024-02-29") == date("1709164800000"));
  CHECK(exact(plan, "1970-01-01") == date("0"));
  CHECK(exact(plan, "1969-12-31") == date("-86400000"));
  CHECK(exact(plan, "1000-01-01") == date("-30610224000000"));
  CHECK(exact(plan, "0001-01-01") == date("-62135596800000"));
}

TEST_CASE("DATETIME and TIMESTAMP are BSON dates in UTC milliseconds", "[convert][value]") {
  const FieldPlan dt = plan_for(column("datetime"));
  CHECK(dt.kind == Kind::datetime);
  CHECK(exact(dt, "1000-01-01 00:00:00") == date("-30610224000000"));
  CHECK(exact(dt, "9999-12-31 23:59:59") == date("253402300799000"));
  CHECK(exact(dt, "1900-01-01 00:00:00") == date("-2208988800000"));
  CHECK(exact(dt, "1601-03-01 12:34:56.789") == date("-11639330703211"));
  // Before 1970 the fraction still moves the instant forward: truncation is a floor in time.
  CHECK(exact(dt, "1969-12-31 23:59:59.500") == date("-500"));
  CHECK(exact(dt, "1970-01-01 00:00:01.000000") == date("1000"));

  const FieldPlan dt6 = plan_for(column("datetime", "datetime(6)"));
  CHECK(lossy(dt6, "2024-02-29 23:59:59.999999", "fractional seconds beyond milliseconds truncated") ==
        date("1709251199999"));
  CHECK(exact(dt6, "2024-02-29 23:59:59.999000") == date("1709251199999"));

  const FieldPlan ts = plan_for(column("timestamp", "timestamp(6)"));
  CHECK(ts.kind == Kind::datetime);
  CHECK(lossy(ts, "2038-01-19 03:14:07.123456", "fractional seconds beyond milliseconds truncated") ==
        date("2147483647123"));
  CHECK(exact(ts, "1970-01-01 00:00:01") == date("1000"));
}

TEST_CASE("days_from_civil agrees with known day numbers", "[convert][value]") {
  CHECK(detail::days_from_civil(1970, 1, 1) == 0);
  CHECK(detail::days_from_civil(2000, 3, 1) == 11017);
  CHECK(detail::days_from_civil(1969, 12, 31) == -1);
  CHECK(detail::days_from_civil(0, 3, 1) == -719468);
  CHECK(detail::days_from_civil(9999, 12, 31) == 2932896);
}

TEST_CASE("zero dates become null or the original string, and are counted", "[convert][value]") {
  const FieldPlan d = plan_for(column("date"));
  CHECK(lossy(d, "0000-00-00", "zero date stored as null") == "null");
  CHECK(lossy(d, "2024-00-10", "zero date stored as null") == "null");
  CHECK(lossy(d, "2024-05-00", "zero date stored as null") == "null");
  const FieldPlan dt = plan_for(column("datetime"));
  CHECK(lossy(dt, "0000-00-00 00:00:00", "zero date stored as null") == "null");
  CHECK(lossy(plan_for(column("timestamp")), "0000-00-00 00:00:00", "zero date stored as null") == "null");

  TypeOptions keep;
  keep.zero_date = ZeroDate::string;
  const FieldPlan ds = plan_for(column("date"), keep);
  CHECK(ds.zero_date == ZeroDate::string);
  CHECK(lossy(ds, "0000-00-00", "zero date stored as string") == str("0000-00-00"));
  const FieldPlan dts = plan_for(column("datetime", "datetime(6)"), keep);
  CHECK(lossy(dts, "0000-00-00 00:00:00.000000", "zero date stored as string") ==
        str("0000-00-00 00:00:00.000000"));
  CHECK(lossy(dts, "2024-00-00 10:00:00", "zero date stored as string") == str("2024-00-00 10:00:00"));
  // Only zero dates are affected by the option.
  CHECK(exact(ds, "2024-02-29") == date("1709164800000"));
}

TEST_CASE("impossible dates are kept as strings and counted", "[convert][value]") {
  const FieldPlan dt = plan_for(column("datetime"));
  CHECK(lossy(dt, "2024-02-30 00:00:00", "invalid date stored as string") == str("2024-02-30 00:00:00"));
  CHECK(lossy(dt, "2023-02-29", "invalid date stored as string") == str("2023-02-29"));
  CHECK(lossy(dt, "2024-13-01", "invalid date stored as string") == str("2024-13-01"));
  CHECK(lossy(dt, "2024-01-01 24:00:00", "invalid date stored as string") == str("2024-01-01 24:00:00"));
  CHECK(lossy(dt, "yesterday", "invalid date stored as string") == str("yesterday"));
  CHECK(lossy(dt, "2024-01-01 10:00", "invalid date stored as string") == str("2024-01-01 10:00"));
  CHECK(lossy(dt, "2024-01-01 10:00:00.", "invalid date stored as string") == str("2024-01-01 10:00:00."));
}

TEST_CASE("TIME is kept as MySQL prints it", "[convert][value]") {
  const FieldPlan plan = plan_for(column("time", "time(6)"));
  CHECK(plan.kind == Kind::time);
  CHECK(exact(plan, "-838:59:59.000000") == str("-838:59:59.000000"));
  CHECK(exact(plan, "838:59:59") == str("838:59:59"));
  CHECK(exact(plan, "123:45:06") == str("123:45:06"));
  CHECK(exact(plan, "00:00:00") == str("00:00:00"));
  CHECK(exact(plan, "-00:00:01.5") == str("-00:00:01.5"));
  CHECK(lossy(plan, "839:00:00", "unexpected TIME format stored as string") == str("839:00:00"));
  CHECK(lossy(plan, "838:59:59.000001", "unexpected TIME format stored as string") == str("838:59:59.000001"));
  CHECK(lossy(plan, "1:00:00", "unexpected TIME format stored as string") == str("1:00:00"));
  CHECK(lossy(plan, "10:60:00", "unexpected TIME format stored as string") == str("10:60:00"));
  CHECK(lossy(plan, "10:00:00.1234567", "unexpected TIME format stored as string") == str("10:00:00.1234567"));
}

TEST_CASE("text columns are UTF-8 strings, invalid UTF-8 becomes binary", "[convert][value]") {
  const FieldPlan plan = plan_for(column("varchar", "varchar(20)"));
  CHECK(plan.kind == Kind::string);
  CHECK(exact(plan, "\xF0\x9F\x98\x80") == str("\xF0\x9F\x98\x80"));  // U+1F600, 4 bytes in utf8mb4
  CHECK(exact(plan, "") == str(""));
  CHECK(exact(plan, std::string("a\0b", 3)) == str("a\\u0000b"));
  CHECK(lossy(plan, "\xff\xfe", "invalid UTF-8 stored as binary") == bin("//4="));
  CHECK(exact(plan_for(column("enum", "enum('small','large')")), "small") == str("small"));
  CHECK(exact(plan_for(column("longtext")), "x") == str("x"));
  CHECK(plan_for(column("char", "char(3)")).kind == Kind::string);
  CHECK(plan_for(column("tinytext")).kind == Kind::string);
  CHECK(plan_for(column("mediumtext")).kind == Kind::string);
  CHECK(plan_for(column("inet6")).kind == Kind::string);  // MariaDB types we do not know: text
}

TEST_CASE("binary columns keep every byte", "[convert][value]") {
  const std::string blob = raw({0x00, 0x01, 0x00, 0xff});
  for (const char* type : {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}) {
    INFO(type);
    const FieldPlan plan = plan_for(column(type));
    CHECK(plan.kind == Kind::binary);
    CHECK(exact(plan, blob) == bin("AAEA/w=="));
    CHECK(exact(plan, "") == bin(""));
  }
  mysql::Column c = column("varchar", "varchar(10)");
  c.charset = "binary";
  const FieldPlan plan = plan_for(c);
  CHECK(plan.kind == Kind::binary);
  CHECK(exact(plan, blob) == bin("AAEA/w=="));
  for (const char* type : {"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
                           "multipolygon", "geometrycollection"}) {
    INFO(type);
    CHECK(plan_for(column(type)).kind == Kind::binary);
  }
  // POINT(1 2) with SRID 0, as MySQL returns it: 4-byte SRID then WKB.
  const std::string point = raw({0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40});
  CHECK(exact(plan_for(column("point")), point) == bin("AAAAAAEBAAAAAAAAAAAA8D8AAAAAAAAAQA=="));
}

TEST_CASE("BIT(1) is a bool and BIT(n) an int64 of its big-endian bytes", "[convert][value]") {
  mysql::Column b1 = column("bit", "bit(1)");
  b1.numeric_precision = 1;
  const FieldPlan p1 = plan_for(b1);
  CHECK(p1.kind == Kind::boolean);
  CHECK(p1.bit_width == 1);
  CHECK(exact(p1, raw({1})) == "true");
  CHECK(exact(p1, raw({0})) == "false");

  const FieldPlan p5 = plan_for(column("bit", "bit(5)"));  // width from COLUMN_TYPE
  CHECK(p5.kind == Kind::bit);
  CHECK(p5.bit_width == 5);
  CHECK(exact(p5, raw({0x1f})) == i64("31"));
  CHECK(exact(p5, raw({0x00})) == i64("0"));

  mysql::Column b10 = column("bit", "bit(10)");
  b10.numeric_precision = 10;
  CHECK(exact(plan_for(b10), raw({0x03, 0xff})) == i64("1023"));

  mysql::Column b64 = column("bit", "bit(64)");
  b64.numeric_precision = 64;
  const FieldPlan p64 = plan_for(b64);
  CHECK(p64.bit_width == 64);
  CHECK(exact(p64, raw({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})) == dec("18446744073709551615"));
  CHECK(exact(p64, raw({0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})) == i64("9223372036854775807"));
  CHECK(exact(p64, raw({0x80, 0, 0, 0, 0, 0, 0, 0})) == dec("9223372036854775808"));
  CHECK(lossy(p64, raw({1, 0, 0, 0, 0, 0, 0, 0, 0}), "BIT value wider than 64 bits stored as string") ==
        str("\\u0001\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000\\u0000"));
}

TEST_CASE("SET is an array of its members", "[convert][value]") {
  const FieldPlan plan = plan_for(column("set", "set('a','b','c')"));
  CHECK(plan.kind == Kind::set);
  CHECK(exact(plan, "") == "[  ]");
  CHECK(exact(plan, "a") == "[ \"a\" ]");
  CHECK(exact(plan, "a,b") == "[ \"a\", \"b\" ]");
  CHECK(exact(plan, "a,b,c") == "[ \"a\", \"b\", \"c\" ]");
}

TEST_CASE("JSON becomes the embedded value", "[convert][value][json]") {
  const FieldPlan plan = plan_for(column("json"));
  CHECK(plan.kind == Kind::json);
  CHECK(exact(plan, R"({"a": 1, "b": [true, null, "x"]})") ==
        R"({ "a" : { "$numberInt" : "1" }, "b" : [ true, null, "x" ] })");
  CHECK(exact(plan, "[1, 2]") == R"([ { "$numberInt" : "1" }, { "$numberInt" : "2" } ])");
  CHECK(exact(plan, "[]") == "[  ]");
  CHECK(exact(plan, "{}") == "{  }");
  CHECK(exact(plan, R"("s")") == str("s"));
  CHECK(exact(plan, "1") == i32("1"));
  CHECK(exact(plan, "true") == "true");
  CHECK(exact(plan, "false") == "false");
  CHECK(exact(plan, "null") == "null");
  CHECK(exact(plan, "3.5") == R"({ "$numberDouble" : "3.5" })");
  CHECK(exact(plan, "-2") == i32("-2"));
  CHECK(exact(plan, R"({"o": {"p": {"q": [[1], {"r": "s"}]}}})") ==
        R"({ "o" : { "p" : { "q" : [ [ { "$numberInt" : "1" } ], { "r" : "s" } ] } } })");
}

TEST_CASE("JSON numbers: int32, int64, exact Decimal128, string, double", "[convert][value][json]") {
  const FieldPlan plan = plan_for(column("json"));
  CHECK(exact(plan, "2147483647") == i32("2147483647"));
  CHECK(exact(plan, "-2147483648") == i32("-2147483648"));
  CHECK(exact(plan, "2147483648") == i64("2147483648"));
  CHECK(exact(plan, "-9223372036854775808") == i64("-9223372036854775808"));
  CHECK(exact(plan, "9223372036854775807") == i64("9223372036854775807"));
  CHECK(exact(plan, "9223372036854775808") == dec("9223372036854775808"));
  CHECK(exact(plan, "18446744073709551615") == dec("18446744073709551615"));
  CHECK(exact(plan, "123456789012345678901234567890") == dec("123456789012345678901234567890"));
  CHECK(exact(plan, "-123456789012345678901234567890") == dec("-123456789012345678901234567890"));
  CHECK(exact(plan, "[123456789012345678901234567890]") == "[ " + dec("123456789012345678901234567890") + " ]");
  // 40 significant digits: no exact Decimal128, so the number's exact text, counted.
  CHECK(lossy(plan, "1234567890123456789012345678901234567891", "JSON integer beyond Decimal128 stored as string") ==
        str("1234567890123456789012345678901234567891"));
  // Trailing zeros cost no digits: 10^39 is exact.
  CHECK(exact(plan, "1000000000000000000000000000000000000000") == dec("1.000000000000000000000000000000000E+39"));
  CHECK(exact(plan, "1.0") == R"({ "$numberDouble" : "1.0" })");
  CHECK(exact(plan, "1e2") == R"({ "$numberDouble" : "100.0" })");
  CHECK(exact(plan, "-0.5") == R"({ "$numberDouble" : "-0.5" })");
  CHECK(exact(plan, "0.1") == R"({ "$numberDouble" : "0.10000000000000000555" })");
  CHECK(exact(plan, "1.7976931348623157e308") == R"({ "$numberDouble" : "1.7976931348623157081e+308" })");
}

TEST_CASE("JSON numbers a double cannot hold exactly stay exact as Decimal128, or are counted", "[convert][value][json]") {
  const FieldPlan plan = plan_for(column("json"));
  // More digits than a double keeps.
  CHECK(exact(plan, "1.00000000000000000001") == dec("1.00000000000000000001"));
  CHECK(exact(plan, "0.30000000000000000000000001") == dec("0.30000000000000000000000001"));
  // Beyond a double's range, within Decimal128's.
  CHECK(exact(plan, "1e-400") == dec("1E-400"));
  CHECK(exact(plan, "-2.5e400") == dec("-2.5E+400"));
  CHECK(exact(plan, R"({"n": 1e400})") == R"({ "n" : )" + dec("1E+400") + " }");
  // Beyond both: the nearest double when there is one, else the text; counted either way.
  CHECK(lossy(plan, "0.12345678901234567890123456789012345678", "JSON number beyond Decimal128 rounded to double") ==
        R"({ "$numberDouble" : "0.12345678901234567737" })");
  CHECK(lossy(plan, "1e7000", "JSON number beyond Decimal128 rounded to double") == str("1e7000"));
  CHECK(lossy(plan, "-1e-7000", "JSON number beyond Decimal128 rounded to double") == str("-1e-7000"));
}

TEST_CASE("JSON: duplicate keys are kept as sent, and nesting costs no stack", "[convert][value][json]") {
  const FieldPlan plan = plan_for(column("json"));
  CHECK(exact(plan, R"({"a": 1, "a": 2})") == R"({ "a" : { "$numberInt" : "1" }, "a" : { "$numberInt" : "2" } })");
  // 100,000 levels: parsed without recursion (MongoDB refuses such a document later, by depth).
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  bson_t doc;
  bson_init(&doc);
  CHECK(append_json(&doc, "v", deep));
  bson_destroy(&doc);
  for (const char* bad : {"[1,]", "{\"a\":}", "{,}", "01", "1.", ".5", "-", "1e", "\"\\ud800\"", "\"\\x\"", "[1 2]",
                          "{\"a\" 1}", "tru", "nul", "\"a\u0001\"", "[]]"}) {
    INFO(bad);
    bson_t d;
    bson_init(&d);
    CHECK_FALSE(append_json(&d, "v", bad));
    bson_destroy(&d);
  }
}

TEST_CASE("JSON keys are kept verbatim, in order, never read as Extended JSON", "[convert][value][json]") {
  const FieldPlan plan = plan_for(column("json"));
  CHECK(exact(plan, R"({"$date": 1})") == R"({ "$date" : { "$numberInt" : "1" } })");
  CHECK(exact(plan, R"({"$oid": "5f0000000000000000000000"})") == R"({ "$oid" : "5f0000000000000000000000" })");
  CHECK(exact(plan, R"({"$numberLong": "1"})") == R"({ "$numberLong" : "1" })");
  CHECK(exact(plan, R"({"b": 1, "a": 2, "a.b": 3, "": 4})") ==
        R"({ "b" : { "$numberInt" : "1" }, "a" : { "$numberInt" : "2" }, "a.b" : { "$numberInt" : "3" }, "" : { "$numberInt" : "4" } })");
  CHECK(exact(plan, R"({"s": "\u00e9\ud83d\ude00"})") == "{ \"s\" : \"\xC3\xA9\xF0\x9F\x98\x80\" }");
  CHECK(exact(plan, R"({"s": "a\u0000b"})") == R"({ "s" : "a\u0000b" })");
  CHECK(lossy(plan, R"({"a\u0000b": 1})", "NUL removed from JSON key") == R"({ "ab" : { "$numberInt" : "1" } })");
}

TEST_CASE("invalid JSON is kept as a string and counted", "[convert][value][json]") {
  const FieldPlan plan = plan_for(column("json"));
  CHECK(lossy(plan, "{", "invalid JSON stored as string") == str("{"));
  CHECK(lossy(plan, R"({"a": 1} x)", "invalid JSON stored as string") == R"("{\"a\": 1} x")");
  CHECK(lossy(plan, "[1, 2", "invalid JSON stored as string") == str("[1, 2"));
  CHECK(lossy(plan, "", "invalid JSON stored as string") == str(""));
  CHECK(lossy(plan, "\"\xff\"", "invalid JSON stored as binary (invalid UTF-8)") == bin("Iv8i"));
}

TEST_CASE("append_json appends nothing when the text is not JSON", "[convert][value][json]") {
  bson_t doc;
  bson_init(&doc);
  CHECK(append_json(&doc, "a", R"({"x": [1, {"y": 2}]})"));
  CHECK_FALSE(append_json(&doc, "b", R"({"x": [1, {"y": )"));
  CHECK_FALSE(append_json(&doc, "c", "nope"));
  CHECK(append_json(&doc, "d", "[]"));
  CHECK(canonical(&doc) == R"({ "a" : { "x" : [ { "$numberInt" : "1" }, { "y" : { "$numberInt" : "2" } } ] }, "d" : [  ] })");
  bson_destroy(&doc);
}

TEST_CASE("SQL NULL is null for every kind, and never counted", "[convert][value]") {
  for (Kind kind : {Kind::int32, Kind::int64, Kind::uint64, Kind::boolean, Kind::decimal, Kind::float64,
                    Kind::date, Kind::datetime, Kind::time, Kind::string, Kind::set, Kind::binary, Kind::bit,
                    Kind::json}) {
    FieldPlan plan;
    plan.column = "v";
    plan.field = "v";
    plan.kind = kind;
    INFO("kind " << static_cast<int>(kind));
    CHECK(exact(plan, std::nullopt) == "null");
  }
  // And through planning, for a sample of MySQL types.
  for (const char* type : {"int", "bigint", "decimal", "double", "date", "datetime", "time", "varchar", "set",
                           "blob", "bit", "json", "year", "geometry"}) {
    INFO(type);
    CHECK(exact(plan_for(column(type)), std::nullopt) == "null");
  }
}

TEST_CASE("append_value_as writes under an explicit key", "[convert][value]") {
  const FieldPlan plan = plan_for(column("int"));
  bson_t doc;
  bson_init(&doc);
  LossReport loss;
  append_value_as(&doc, "_id", plan, "42", 2, loss);
  append_value_as(&doc, "k", plan, nullptr, 0, loss);
  CHECK(canonical(&doc) == R"({ "_id" : { "$numberInt" : "42" }, "k" : null })");
  bson_destroy(&doc);
}

TEST_CASE("overrides change how values are stored", "[convert][value][override]") {
  SECTION("string keeps the text") {
    const FieldPlan p = plan_for(column("int"), {}, {{"v", "string"}});
    CHECK(p.kind == Kind::string);
    CHECK(exact(p, "42") == str("42"));
    CHECK(exact(plan_for(column("date"), {}, {{"v", "string"}}), "0000-00-00") == str("0000-00-00"));
    CHECK(exact(plan_for(column("set"), {}, {{"v", "string"}}), "a,b") == str("a,b"));
    CHECK(exact(plan_for(column("json"), {}, {{"v", "string"}}), R"({"a":1})") == R"("{\"a\":1}")");
  }
  SECTION("int64") {
    const FieldPlan p = plan_for(column("varchar"), {}, {{"v", "int64"}});
    CHECK(p.kind == Kind::int64);
    CHECK(exact(p, "42") == i64("42"));
    CHECK(exact(p, "-7") == i64("-7"));
    CHECK(lossy(p, "abc", "not an integer stored as string") == str("abc"));
    CHECK(lossy(p, "1.5", "not an integer stored as string") == str("1.5"));
    CHECK(lossy(p, "18446744073709551615", "integer out of int64 range stored as string") ==
          str("18446744073709551615"));
    const FieldPlan d = plan_for(column("decimal", "decimal(10,2)"), {}, {{"v", "int64"}});
    CHECK(exact(d, "12.00") == i64("12"));
    CHECK(lossy(d, "12.50", "not an integer stored as string") == str("12.50"));
    CHECK(exact(plan_for(column("smallint"), {}, {{"v", "int64"}}), "5") == i64("5"));
    CHECK(plan_for(column("bit", "bit(1)"), {}, {{"v", "int64"}}).kind == Kind::bit);
  }
  SECTION("double") {
    const FieldPlan p = plan_for(column("decimal", "decimal(10,2)"), {}, {{"v", "double"}});
    CHECK(p.kind == Kind::float64);
    CHECK(exact(p, "1.50") == R"({ "$numberDouble" : "1.5" })");
    CHECK(lossy(plan_for(column("varchar"), {}, {{"v", "double"}}), "x1", "not a number stored as string") ==
          str("x1"));
  }
  SECTION("decimal") {
    const FieldPlan p = plan_for(column("varchar"), {}, {{"v", "decimal"}});
    CHECK(exact(p, "1.50") == dec("1.50"));
    CHECK(lossy(p, "1,50", "not a decimal stored as string") == str("1,50"));
  }
  SECTION("bool") {
    const FieldPlan p = plan_for(column("varchar"), {}, {{"v", "bool"}});
    CHECK(p.kind == Kind::boolean);
    CHECK(exact(p, "yes") == "true");
    CHECK(exact(p, "false") == "false");
    CHECK(exact(p, "0") == "false");
    CHECK(lossy(p, "maybe", "not a boolean stored as string") == str("maybe"));
    const FieldPlan b = plan_for(column("bit", "bit(3)"), {}, {{"v", "bool"}});
    CHECK(b.kind == Kind::boolean);
    CHECK(exact(b, raw({0x01})) == "true");
    CHECK(lossy(b, raw({0x04}), "value other than 0 or 1 stored as true") == "true");
  }
  SECTION("date") {
    const FieldPlan p = plan_for(column("varchar"), {}, {{"v", "date"}});
    CHECK(p.kind == Kind::datetime);
    CHECK(exact(p, "2024-01-02 03:04:05") == date("1704164645000"));
    CHECK(exact(p, "2024-01-02T03:04:05") == date("1704164645000"));
    CHECK(lossy(p, "02/01/2024", "invalid date stored as string") == str("02/01/2024"));
  }
  SECTION("binary") {
    const FieldPlan p = plan_for(column("text"), {}, {{"v", "binary"}});
    CHECK(p.kind == Kind::binary);
    CHECK(exact(p, "hi") == bin("aGk="));
  }
  SECTION("json on a MariaDB JSON (longtext) column") {
    const FieldPlan p = plan_for(column("longtext"), {}, {{"v", "json"}});
    CHECK(p.kind == Kind::json);
    CHECK(exact(p, R"({"a":[1]})") == R"({ "a" : [ { "$numberInt" : "1" } ] })");
  }
  SECTION("auto is the default mapping") {
    CHECK(plan_for(column("int"), {}, {{"v", "auto"}}).kind == Kind::int32);
    CHECK(plan_for(column("bigint", "", true), {}, {{"v", "auto"}}).kind == Kind::uint64);
  }
}

TEST_CASE("the UTF-8 check judges every sequence as libbson does", "[convert][utf8]") {
  auto same = [](std::string_view s) {
    return convert::detail::valid_utf8(s) == bson_utf8_validate(s.data(), s.size(), true);
  };
  // Every sequence of one, two and three bytes, alone.
  std::size_t differ = 0;
  std::string s;
  for (unsigned a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    differ += !same(s);
    for (unsigned b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      differ += !same(s);
      if (a < 0xC0) continue;  // no lead byte: judged by its first byte (and covered above)
      for (unsigned c = 0; c < 256; ++c) {
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        differ += !same(s);
      }
    }
  }
  CHECK(differ == 0);
  // Four bytes: every lead and second byte, the boundary values for the others.
  const unsigned char edges[] = {0x00, 0x41, 0x7F, 0x80, 0x81, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xF4, 0xFF};
  for (unsigned a = 0xF0; a < 256; ++a)
    for (unsigned b = 0; b < 256; ++b)
      for (unsigned char c : edges)
        for (unsigned char d : edges) {
          s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)});
          differ += !same(s);
        }
  CHECK(differ == 0);
  // Known answers: the two-byte NUL libbson accepts, an overlong slash, a surrogate, beyond U+10FFFF.
  CHECK(convert::detail::valid_utf8(std::string_view("a\xC0\x80z", 4)));
  CHECK_FALSE(convert::detail::valid_utf8("\xC0\xAF"));
  CHECK_FALSE(convert::detail::valid_utf8("\xED\xA0\x80"));
  CHECK_FALSE(convert::detail::valid_utf8("\xF4\x90\x80\x80"));
  CHECK(convert::detail::valid_utf8(std::string_view("Cr\xC3\xA8me \xF0\x9F\x98\x80\0x", 12)));

  // Random text mixing ASCII runs (the eight-byte path), valid characters, stray and truncated bytes at
  // every position.
  std::mt19937 rng(20240601);
  const std::string pieces[] = {"abcdefgh", "a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\x80", "\xC3",
                                "\xE2\x82", "\xF0\x9F\x98", "\xFF", std::string(1, '\0'), "\xED\xA0\x80", "0123456789"};
  const std::size_t valid[] = {0, 1, 2, 3, 4, 12};
  for (int i = 0; i < 200000; ++i) {
    s.clear();
    const int n = static_cast<int>(rng() % 12);
    for (int k = 0; k < n; ++k) {
      // Mostly valid pieces, so that an invalid one is often far from the start.
      const std::size_t pick = rng() % 4 == 0 ? rng() % std::size(pieces) : valid[rng() % std::size(valid)];
      s += pieces[pick];
    }
    differ += !same(s);
  }
  CHECK(differ == 0);
}
