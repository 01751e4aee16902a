// lib/convert: compare_values, MongoDB's sort order on BSON values (used by the merge of key streams).
#include "convert/convert.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

using namespace m2m::convert;

namespace {

// One BSON value, held as the only element of a document.
class Value {
public:
  Value() { bson_init(&doc_); }
  Value(const Value& other) { bson_copy_to(&other.doc_, &doc_); }
  Value& operator=(const Value&) = delete;
  ~Value() { bson_destroy(&doc_); }

  bson_t* doc() { return &doc_; }
  void iter(bson_iter_t* it) const {
    REQUIRE(bson_iter_init(it, &doc_));
    REQUIRE(bson_iter_next(it));
  }
  std::string describe() const {
    char* text = bson_as_canonical_extended_json(&doc_, nullptr);
    std::string out = text ? text : "?";
    bson_free(text);
    return out;
  }

private:
  bson_t doc_;
};

using V = std::shared_ptr<Value>;

V make() { return std::make_shared<Value>(); }
V i32(std::int32_t v) { auto x = make(); bson_append_int32(x->doc(), "v", 1, v); return x; }
V i64(std::int64_t v) { auto x = make(); bson_append_int64(x->doc(), "v", 1, v); return x; }
V dbl(double v) { auto x = make(); bson_append_double(x->doc(), "v", 1, v); return x; }
V d128(const char* text) {
  bson_decimal128_t d;
  REQUIRE(bson_decimal128_from_string(text, &d));
  auto x = make();
  bson_append_decimal128(x->doc(), "v", 1, &d);
  return x;
}
V str(const std::string& s) {
  auto x = make();
  bson_append_utf8(x->doc(), "v", 1, s.data(), static_cast<int>(s.size()));
  return x;
}
V bin(const std::string& bytes, bson_subtype_t subtype = BSON_SUBTYPE_BINARY) {
  auto x = make();
  bson_append_binary(x->doc(), "v", 1, subtype, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                     static_cast<std::uint32_t>(bytes.size()));
  return x;
}
V boolean(bool b) { auto x = make(); bson_append_bool(x->doc(), "v", 1, b); return x; }
V date(std::int64_t ms) { auto x = make(); bson_append_date_time(x->doc(), "v", 1, ms); return x; }
V null() { auto x = make(); bson_append_null(x->doc(), "v", 1); return x; }
V minkey() { auto x = make(); bson_append_minkey(x->doc(), "v", 1); return x; }
V maxkey() { auto x = make(); bson_append_maxkey(x->doc(), "v", 1); return x; }
V oid(const char* hex) {
  bson_oid_t o;
  bson_oid_init_from_string(&o, hex);
  auto x = make();
  bson_append_oid(x->doc(), "v", 1, &o);
  return x;
}
V timestamp(std::uint32_t t, std::uint32_t i) { auto x = make(); bson_append_timestamp(x->doc(), "v", 1, t, i); return x; }
V regex(const char* pattern, const char* options) {
  auto x = make();
  bson_append_regex(x->doc(), "v", 1, pattern, options);
  return x;
}
V json(const char* text) {
  auto x = make();
  REQUIRE(append_json(x->doc(), "v", text));
  return x;
}

int sign(int v) { return (v > 0) - (v < 0); }

int cmp(const V& a, const V& b) {
  bson_iter_t x, y;
  a->iter(&x);
  b->iter(&y);
  return sign(compare_values(x, y));
}

// Every earlier value sorts strictly before every later one, in both directions, and equals itself.
void check_ascending(const std::vector<V>& values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO(values[i]->describe());
    CHECK(cmp(values[i], values[i]) == 0);
    for (std::size_t j = i + 1; j < values.size(); ++j) {
      INFO("< " << values[j]->describe());
      CHECK(cmp(values[i], values[j]) == -1);
      CHECK(cmp(values[j], values[i]) == 1);
    }
  }
}

void check_equal(const V& a, const V& b) {
  INFO(a->describe() << " == " << b->describe());
  CHECK(cmp(a, b) == 0);
  CHECK(cmp(b, a) == 0);
}

}  // namespace

TEST_CASE("types sort in MongoDB's canonical order", "[convert][compare]") {
  check_ascending({minkey(), null(), dbl(-std::numeric_limits<double>::infinity()), i32(0), str(""), str("a"),
                   json("{}"), json(R"({"a": 1})"), json("[]"), json("[1]"), bin(""), bin("a"),
                   oid("000000000000000000000000"), oid("ffffffffffffffffffffffff"), boolean(false), boolean(true),
                   date(std::numeric_limits<std::int64_t>::min()), date(0), timestamp(0, 0), regex("a", ""),
                   maxkey()});
}

TEST_CASE("numbers compare by value across int32, int64, double and Decimal128", "[convert][compare]") {
  check_equal(i32(1), i64(1));
  check_equal(i32(1), dbl(1.0));
  check_equal(i64(1), d128("1"));
  check_equal(d128("1"), d128("1.00"));
  check_equal(d128("1.00"), dbl(1.0));
  check_equal(i32(0), dbl(-0.0));
  check_equal(d128("-0"), i64(0));
  check_equal(d128("0E-30"), dbl(0.0));
  check_equal(i64(std::numeric_limits<std::int64_t>::min()), dbl(-9223372036854775808.0));
  check_equal(d128("9223372036854775807"), i64(std::numeric_limits<std::int64_t>::max()));
  check_equal(d128("9223372036854775808"), dbl(9223372036854775808.0));
  check_equal(d128("1.5"), dbl(1.5));
  check_equal(d128("15E-1"), d128("0.150E1"));

  // 2^53 + 1 is not a double: the int64 is larger than the nearest double below it.
  CHECK(cmp(i64(9007199254740993), dbl(9007199254740992.0)) == 1);
  CHECK(cmp(dbl(9007199254740992.0), i64(9007199254740993)) == -1);
  check_equal(i64(9007199254740992), dbl(9007199254740992.0));
  CHECK(cmp(i64(-9007199254740993), dbl(-9007199254740992.0)) == -1);
  // int64 max is below 2^63, the double it would round to.
  CHECK(cmp(i64(std::numeric_limits<std::int64_t>::max()), dbl(9223372036854775808.0)) == -1);
  CHECK(cmp(d128("18446744073709551615"), i64(std::numeric_limits<std::int64_t>::max())) == 1);
  CHECK(cmp(d128("18446744073709551615"), dbl(18446744073709551616.0)) == -1);
  CHECK(cmp(d128("-18446744073709551615"), i64(std::numeric_limits<std::int64_t>::min())) == -1);

  // The double 0.1 is 0.1000000000000000055511151231257827021181583404541015625.
  CHECK(cmp(d128("0.1"), dbl(0.1)) == -1);
  CHECK(cmp(d128("0.1000000000000000055511151231257827"), dbl(0.1)) == -1);
  CHECK(cmp(d128("0.1000000000000000055511151231257828"), dbl(0.1)) == 1);
  CHECK(cmp(d128("-0.1"), dbl(-0.1)) == 1);
  CHECK(cmp(d128("1E+300"), dbl(1e300)) == -1);
  CHECK(cmp(d128("1.000000000000000052504760255204421E+300"), dbl(1e300)) == 1);

  // Extremes of each type.
  CHECK(cmp(d128("1E+6111"), dbl(std::numeric_limits<double>::max())) == 1);
  CHECK(cmp(d128("1E-6176"), dbl(std::numeric_limits<double>::denorm_min())) == -1);
  CHECK(cmp(d128("1E-6176"), i32(0)) == 1);
  CHECK(cmp(d128("-1E-6176"), dbl(-0.0)) == -1);
  CHECK(cmp(dbl(std::numeric_limits<double>::denorm_min()), i32(0)) == 1);
  CHECK(cmp(i32(2), i64(3)) == -1);
  CHECK(cmp(d128("2.5"), i32(2)) == 1);
  CHECK(cmp(d128("12.50"), d128("12.5000001")) == -1);
}

TEST_CASE("NaN sorts below every number and infinities at the ends", "[convert][compare]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  check_ascending({null(), dbl(nan), dbl(-inf), i64(std::numeric_limits<std::int64_t>::min()), d128("-1.5"),
                   i32(0), d128("1E-6176"), i32(1), d128("18446744073709551615"), d128("1E+6111"), dbl(inf),
                   str("")});
  check_equal(dbl(nan), d128("NaN"));
  check_equal(dbl(nan), dbl(-nan));
  check_equal(dbl(inf), d128("Infinity"));
  check_equal(dbl(-inf), d128("-Infinity"));
}

TEST_CASE("mixed numbers form one consistent total order", "[convert][compare]") {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<V> values = {
      i32(-1), i32(0), i32(1), i32(std::numeric_limits<std::int32_t>::max()),
      i64(std::numeric_limits<std::int64_t>::min()), i64(std::numeric_limits<std::int64_t>::max()),
      i64(9007199254740993), i64(9007199254740992), dbl(-inf), dbl(-1.5), dbl(-0.0), dbl(0.0), dbl(0.1), dbl(1.0),
      dbl(9007199254740992.0), dbl(9223372036854775808.0), dbl(1e300), dbl(inf),
      dbl(std::numeric_limits<double>::quiet_NaN()), dbl(std::numeric_limits<double>::denorm_min()),
      d128("NaN"), d128("-Infinity"), d128("Infinity"), d128("0.1"), d128("0.1000000000000000055511151231257828"),
      d128("1E+6111"), d128("1E-6176"), d128("-1E-6176"), d128("18446744073709551615"),
      d128("9223372036854775807"), d128("9223372036854775808"), d128("9007199254740993"), d128("1.00"), d128("-0"),
      d128("1E+300"), d128("-1.5"), d128("2147483647")};
  std::sort(values.begin(), values.end(), [](const V& a, const V& b) { return cmp(a, b) < 0; });
  for (std::size_t i = 0; i < values.size(); ++i)
    for (std::size_t j = i; j < values.size(); ++j) {
      INFO(values[i]->describe() << " vs " << values[j]->describe());
      CHECK(cmp(values[i], values[j]) <= 0);
      CHECK(cmp(values[i], values[j]) == -cmp(values[j], values[i]));
    }
}

TEST_CASE("strings compare by bytes, then length", "[convert][compare]") {
  check_ascending({str(""), str("A"), str("B"), str("a"), str(std::string("a\0", 2)), str(std::string("a\0b", 3)),
                   str("ab"), str("b"), str("z"), str("\xC3\xA9")});
  check_equal(str("abc"), str("abc"));
}

TEST_CASE("binary compares by length, then subtype, then bytes", "[convert][compare]") {
  check_ascending({bin(""), bin("\xff"), bin(std::string("\0\0", 2)), bin("ab"), bin("ac"),
                   bin("ab", BSON_SUBTYPE_UUID), bin("abc")});
  check_equal(bin(std::string("\0\1", 2)), bin(std::string("\0\1", 2)));
}

TEST_CASE("objects and arrays compare element by element", "[convert][compare]") {
  // Per element: the canonical type first, then the field name, then the value (as MongoDB does).
  check_ascending({json("{}"), json(R"({"a": 1})"), json(R"({"a": 1, "b": 1})"), json(R"({"a": 2})"),
                   json(R"({"b": 0})"), json(R"({"a": "x"})")});
  check_equal(json(R"({"a": 1})"), json(R"({"a": 1.0})"));
  check_ascending({json("[]"), json("[0]"), json("[1]"), json("[1, 2]"), json("[1, 3]"), json(R"(["a"])"),
                   json(R"([[]])")});
  check_equal(json("[1, [2, {\"x\": 3}]]"), json("[1.0, [2, {\"x\": 3.0}]]"));
}

TEST_CASE("bool, date, ObjectId, timestamp and regex values", "[convert][compare]") {
  check_ascending({boolean(false), boolean(true)});
  check_ascending({date(-62135596800000), date(-1), date(0), date(1709164800000)});
  check_ascending({oid("000000000000000000000001"), oid("00000000000000000000000a"), oid("100000000000000000000000")});
  check_ascending({timestamp(1, 5), timestamp(2, 0), timestamp(0xffffffff, 0)});
  check_ascending({regex("a", "i"), regex("a", "m"), regex("b", "")});
  check_equal(null(), null());
  check_equal(minkey(), minkey());
  check_equal(maxkey(), maxkey());
}

TEST_CASE("deprecated BSON types still have their place in the order", "[convert][compare]") {
  auto undefined = [] { auto x = make(); bson_append_undefined(x->doc(), "v", 1); return x; };
  auto symbol = [](const char* s) { auto x = make(); bson_append_symbol(x->doc(), "v", 1, s, -1); return x; };
  auto code = [](const char* s) { auto x = make(); bson_append_code(x->doc(), "v", 1, s); return x; };
  auto dbpointer = [](const char* ns, const char* hex) {
    bson_oid_t o;
    bson_oid_init_from_string(&o, hex);
    auto x = make();
    bson_append_dbpointer(x->doc(), "v", 1, ns, &o);
    return x;
  };
  auto code_w_scope = [](const char* s, const char* scope_json) {
    bson_error_t error;
    bson_t* scope = bson_new_from_json(reinterpret_cast<const std::uint8_t*>(scope_json), -1, &error);
    REQUIRE(scope != nullptr);
    auto x = make();
    bson_append_code_with_scope(x->doc(), "v", 1, s, scope);
    bson_destroy(scope);
    return x;
  };
  check_ascending({minkey(), undefined(), null(), i32(0), symbol("a"), str("b"), regex("z", ""),
                   dbpointer("db.a", "000000000000000000000001"), dbpointer("db.a", "000000000000000000000002"),
                   dbpointer("db.b", "000000000000000000000000"), code("a"), code("b"), code_w_scope("a", "{}"),
                   code_w_scope("a", R"({"x": 1})"), code_w_scope("a", R"({"x": 2})"), code_w_scope("b", "{}"),
                   maxkey()});
  check_equal(symbol("abc"), str("abc"));
}
