// The row-image walker, type by type, from hand-built row images: integers (signedness from hints and from
// the optional metadata), floats, DECIMAL at byte boundaries, every temporal type and fsp, strings and
// BINARY padding, ENUM/SET/BIT, blobs/JSON/geometry skipped by their length; NULLs, MINIMAL images,
// UPDATE before/after keys, truncation, the TABLE_MAP compatibility check; and the cost of a 10,000-row
// DELETE.
#include "binlog/rows.hpp"
#include "unit/binlog_builder.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>

using namespace m2m::binlog;
using namespace binlog_test;
using T = ColumnType;

namespace {

struct Table {
  Decoder decoder;
  TableMap map;
  explicit Table(const std::vector<Col>& cols, const Vec& optional = {}) {
    REQUIRE(decoder.decode(format_description("10.11.6-MariaDB-log", true)).ok());
    auto e = decoder.decode(event(EventType::table_map, table_map_body(7, "db", "t", cols, optional), true));
    INFO((e.ok() ? std::string() : e.error().message));
    REQUIRE(e.ok());
    map = *e->as<TableMap>();
  }
  // The decoded event's row images point into the raw bytes: they are kept here.
  std::deque<Vec> raw;
  Event rows(EventType type, const Vec& before, const Vec& after, const Vec& images) {
    const bool update = type == EventType::update_rows_v1 || type == EventType::update_rows_v2;
    const int version = static_cast<unsigned>(type) >= 30 ? 2 : 1;
    raw.push_back(event(type, rows_body(version, update, 7, map.columns.size(), before, after, images), true));
    auto e = decoder.decode(raw.back());
    INFO((e.ok() ? std::string() : e.error().message));
    REQUIRE(e.ok());
    return std::move(e).value();
  }
  // The key values of the rows of a one-image event (WRITE: after, DELETE: before).
  std::vector<Key> keys(EventType type, const Vec& images, std::vector<KeyColumn> key, const Vec& present = {}) {
    const Vec bm = present.empty() ? bitmap_all(map.columns.size()) : present;
    const auto ev = rows(type, bm, bm, images);
    std::vector<RowKeys> out;
    auto n = extract_keys(map, *ev.as<Rows>(), key, out);
    INFO((n.ok() ? std::string() : n.error().message));
    REQUIRE(n.ok());
    std::vector<Key> keys;
    for (auto& rk : out) {
      auto& k = type == EventType::delete_rows_v1 || type == EventType::delete_rows_v2 ? rk.before : rk.after;
      REQUIRE(k.has_value());
      keys.push_back(*k);
    }
    return keys;
  }
};

// One column's value, decoded alone.
KeyValue one(const Col& col, const Vec& bytes, ColumnHint hint = {}) {
  Table t({col});
  Buf img;
  img.u8(0).raw(bytes);
  const auto keys = t.keys(EventType::write_rows_v1, img.b, {KeyColumn{0, hint}});
  REQUIRE(keys.size() == 1);
  return keys[0][0];
}

std::string text_of(const Col& col, const Vec& bytes) { return one(col, bytes).text; }

ColumnHint unsigned_hint() {
  ColumnHint h;
  h.is_unsigned = true;
  return h;
}
ColumnHint binary_hint(std::uint32_t n) {
  ColumnHint h;
  h.charset = "binary";
  h.binary_length = n;
  return h;
}

Vec le(std::uint64_t v, int n) { return Buf().le(v, n).b; }
Vec be(std::uint64_t v, int n) { return Buf().be(v, n).b; }

}  // namespace

TEST_CASE("integers: widths, sign extension, unsigned from hints or metadata", "[binlog]") {
  CHECK(one({T::tiny, {}}, le(0xff, 1)).i == -1);
  CHECK(one({T::tiny, {}}, le(0xff, 1), unsigned_hint()).u == 255);
  CHECK(one({T::short_, {}}, le(0x8000, 2)).i == -32768);
  CHECK(one({T::int24, {}}, le(0x800000, 3)).i == -8388608);
  CHECK(one({T::int24, {}}, le(0x7fffff, 3)).i == 8388607);
  CHECK(one({T::int24, {}}, le(0xffffff, 3), unsigned_hint()).u == 16777215);
  CHECK(one({T::long_, {}}, le(0xfffffffe, 4)).i == -2);
  const auto min = one({T::longlong, {}}, le(0x8000000000000000ULL, 8));
  CHECK(min.type == KeyValue::Type::int_signed);
  CHECK(min.i == std::numeric_limits<std::int64_t>::min());
  const auto big = one({T::longlong, {}}, le(0x8000000000000005ULL, 8), unsigned_hint());
  CHECK(big.type == KeyValue::Type::int_unsigned);
  CHECK(big.u == 9223372036854775813ULL);
  CHECK(one({T::longlong, {}}, le(~0ULL, 8), unsigned_hint()).u == 18446744073709551615ULL);

  // The optional metadata's signedness wins over the hint.
  Buf opt;
  opt.u8(1).packed(1).u8(0x80);
  Table t({{T::longlong, {}}}, opt.b);
  Buf img;
  img.u8(0).le(~0ULL, 8);
  const auto k = t.keys(EventType::write_rows_v1, img.b, {KeyColumn{0, ColumnHint{}}});
  CHECK(k[0][0].type == KeyValue::Type::int_unsigned);
  CHECK(k[0][0].u == ~0ULL);
}

TEST_CASE("floating point", "[binlog]") {
  Buf f;
  float x = -1.5f;
  std::uint32_t xb;
  std::memcpy(&xb, &x, 4);
  const auto fv = one({T::float_, {4}}, le(xb, 4));
  CHECK(fv.type == KeyValue::Type::float32);
  CHECK(fv.f == -1.5);
  double y = 1e300;
  std::uint64_t yb;
  std::memcpy(&yb, &y, 8);
  const auto dv = one({T::double_, {8}}, le(yb, 8));
  CHECK(dv.type == KeyValue::Type::float64);
  CHECK(dv.f == 1e300);
}

TEST_CASE("DECIMAL at every group boundary, negative values, zero", "[binlog]") {
  struct Case {
    int p, s;
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {1, 0, "7", "7"},
      {1, 0, "-7", "-7"},
      {2, 1, "-0.5", "-0.5"},
      {9, 0, "999999999", "999999999"},
      {10, 0, "1000000000", "1000000000"},
      {9, 9, "0.123456789", "0.123456789"},
      {10, 9, "-1.000000001", "-1.000000001"},
      {18, 9, "123456789.987654321", "123456789.987654321"},
      {19, 9, "-1234567890.000000001", "-1234567890.000000001"},
      {20, 6, "12345678901234.123456", "12345678901234.123456"},
      {20, 6, "-12345678901234.123456", "-12345678901234.123456"},
      {20, 6, "0.000001", "0.000001"},
      {20, 6, "0", "0.000000"},
      {20, 6, "-0.5", "-0.500000"},
      {12, 2, "-99.99", "-99.99"},
      {3, 2, "1.05", "1.05"},
      {65, 30, "-12345678901234567890123456789012345.123456789012345678901234567890",
       "-12345678901234567890123456789012345.123456789012345678901234567890"},
      {65, 0, "99999999999999999999999999999999999999999999999999999999999999999",
       "99999999999999999999999999999999999999999999999999999999999999999"},
      {30, 30, "0.000000000000000000000000000001", "0.000000000000000000000000000001"},
  };
  for (const auto& c : cases) {
    INFO(c.p << "," << c.s << " " << c.text);
    const Col col{T::newdecimal, {static_cast<std::uint8_t>(c.p), static_cast<std::uint8_t>(c.s)}};
    const auto v = one(col, decimal_bytes(c.text, c.p, c.s));
    CHECK(v.type == KeyValue::Type::decimal);
    CHECK(v.text == c.expected);
  }
  // A group holding 10^9 or more is not a valid decimal.
  Table t({{T::newdecimal, {10, 0}}});
  Buf img;
  img.u8(0).raw(Vec{0x80, 0xff, 0xff, 0xff, 0xff});
  const auto ev = t.rows(EventType::write_rows_v1, bitmap_all(1), {}, img.b);
  std::vector<RowKeys> out;
  const std::vector<KeyColumn> key = {{0, {}}};
  CHECK(extract_keys(t.map, *ev.as<Rows>(), key, out).error().kind == ErrorKind::corrupt);
}

TEST_CASE("temporal types at every fsp", "[binlog]") {
  const std::uint32_t micros[7] = {0, 100000, 120000, 123000, 123400, 123450, 123456};
  const char* fractions[7] = {"", ".1", ".12", ".123", ".1234", ".12345", ".123456"};
  for (int fsp = 0; fsp <= 6; ++fsp) {
    INFO("fsp " << fsp);
    const Col dt{T::datetime2, {static_cast<std::uint8_t>(fsp)}};
    CHECK(text_of(dt, datetime2_bytes(2024, 2, 29, 23, 59, 58, micros[fsp], fsp)) ==
          std::string("2024-02-29 23:59:58") + fractions[fsp]);
    CHECK(text_of(dt, datetime2_bytes(1000, 1, 1, 0, 0, 0, 0, fsp)) ==
          std::string("1000-01-01 00:00:00") + (fsp ? "." + std::string(static_cast<std::size_t>(fsp), '0') : ""));
    CHECK(one(dt, datetime2_bytes(2024, 1, 1, 0, 0, 0, 0, fsp)).type == KeyValue::Type::datetime);

    const Col ts{T::timestamp2, {static_cast<std::uint8_t>(fsp)}};
    CHECK(text_of(ts, timestamp2_bytes(1700000000, micros[fsp], fsp)) == std::string("2023-11-14 22:13:20") + fractions[fsp]);
    CHECK(text_of(ts, timestamp2_bytes(2147483647, 0, fsp)).substr(0, 19) == "2038-01-19 03:14:07");
    CHECK(text_of(ts, timestamp2_bytes(0, 0, fsp)).substr(0, 19) == "0000-00-00 00:00:00");

    const Col tm{T::time2, {static_cast<std::uint8_t>(fsp)}};
    const auto v = one(tm, time2_bytes(false, 12, 34, 56, micros[fsp], fsp));
    CHECK(v.type == KeyValue::Type::time);
    CHECK(v.text == std::string("12:34:56") + fractions[fsp]);
    CHECK(text_of(tm, time2_bytes(true, 838, 59, 59, 0, fsp)) ==
          std::string("-838:59:59") + (fsp ? "." + std::string(static_cast<std::size_t>(fsp), '0') : ""));
    CHECK(text_of(tm, time2_bytes(true, 1, 2, 3, micros[fsp], fsp)) == std::string("-01:02:03") + fractions[fsp]);
    CHECK(text_of(tm, time2_bytes(true, 0, 0, 0, micros[fsp], fsp)) ==
          (fsp ? std::string("-00:00:00") + fractions[fsp] : std::string("00:00:00")));
    CHECK(text_of(tm, time2_bytes(false, 0, 0, 0, 0, fsp)).substr(0, 8) == "00:00:00");
  }
  // Negative fractions just below a whole second, where the integer part borrows.
  CHECK(text_of({T::time2, {2}}, time2_bytes(true, 0, 0, 1, 990000, 2)) == "-00:00:01.99");
  CHECK(text_of({T::time2, {4}}, time2_bytes(true, 0, 0, 1, 999900, 4)) == "-00:00:01.9999");
  CHECK(text_of({T::time2, {6}}, time2_bytes(true, 0, 0, 1, 1, 6)) == "-00:00:01.000001");

  // DATE: day | month << 5 | year << 9, 3 bytes little-endian.
  const auto d = one({T::date, {}}, le(29 | 2 << 5 | 2024 << 9, 3));
  CHECK(d.type == KeyValue::Type::date);
  CHECK(d.text == "2024-02-29");
  CHECK(text_of({T::date, {}}, le(0, 3)) == "0000-00-00");
  // YEAR: 1900 + byte, 0 for the zero year.
  CHECK(one({T::year, {}}, le(124, 1)).i == 2024);
  CHECK(one({T::year, {}}, le(0, 1)).i == 0);
  CHECK(one({T::year, {}}, le(0, 1)).type == KeyValue::Type::year);
  // The pre-5.6 formats.
  CHECK(text_of({T::time, {}}, le(static_cast<std::uint32_t>(-123456) & 0xffffff, 3)) == "-12:34:56");
  CHECK(text_of({T::datetime, {}}, le(20240229235958ULL, 8)) == "2024-02-29 23:59:58");
  CHECK(text_of({T::timestamp, {}}, le(1700000000, 4)) == "2023-11-14 22:13:20");
}

TEST_CASE("strings, BINARY padding, ENUM, SET, BIT and length-prefixed types", "[binlog]") {
  const auto v = one({T::varchar, {40, 0}}, Buf().u8(5).str("héllo").b.size() ? Buf().u8(6).str("héllo").b : Vec{});
  CHECK(v.type == KeyValue::Type::bytes);
  CHECK(v.text == "héllo");
  CHECK(one({T::varchar, {0x2c, 0x01}}, Buf().le(3, 2).str("abc").b).text == "abc");
  CHECK(one({T::varchar, {0x2c, 0x01}}, Buf().le(0, 2).b).text.empty());
  CHECK(one({T::string, {0xfe, 40}}, Buf().u8(2).str("ab").b).text == "ab");  // CHAR: trailing spaces stay stripped
  CHECK(one({T::string, {0xee, 0x2c}}, Buf().le(3, 2).str("xyz").b).text == "xyz");  // CHAR of 300 bytes
  // BINARY(16): trailing 0x00 bytes are missing from the image and come back from the hint...
  const auto b = one({T::string, {0xfe, 16}}, Buf().u8(3).str("abc").b, binary_hint(16));
  CHECK(b.text == std::string("abc") + std::string(13, '\0'));
  // ...or from the optional metadata's binary collation (63).
  {
    Buf opt;
    opt.u8(3).packed(1).packed(63);
    Table t({{T::string, {0xfe, 16}}}, opt.b);
    Buf img;
    img.u8(0).u8(2).str("\x01\x02");
    const auto k = t.keys(EventType::write_rows_v1, img.b, {KeyColumn{0, {}}});
    CHECK(k[0][0].text.size() == 16);
  }
  const auto e = one({T::string, {0xf7, 2}}, le(300, 2));
  CHECK(e.type == KeyValue::Type::enum_index);
  CHECK(e.u == 300);
  CHECK(one({T::enum_, {0xf7, 1}}, le(3, 1)).u == 3);  // ENUM written as its own type code
  const auto s = one({T::string, {0xf8, 8}}, le(0x8000000000000001ULL, 8));
  CHECK(s.type == KeyValue::Type::set_bits);
  CHECK(s.u == 0x8000000000000001ULL);
  const auto bit = one({T::bit, {3, 1}}, be(0x5a5, 2));
  CHECK(bit.type == KeyValue::Type::bit);
  CHECK(bit.u == 0x5a5);
  CHECK(bit.text == std::string("\x05\xa5", 2));
  CHECK(one({T::bit, {1, 0}}, be(1, 1)).u == 1);  // BIT(1)
  CHECK(one({T::bit, {0, 8}}, be(~0ULL, 8)).u == ~0ULL);  // BIT(64)
  CHECK(one({T::blob, {2}}, Buf().le(4, 2).str("blob").b).text == "blob");
  CHECK(one({T::json, {4}}, Buf().le(2, 4).raw(Vec{0x04, 0x01}).b).text == std::string("\x04\x01", 2));
  CHECK(one({T::geometry, {4}}, Buf().le(3, 4).str("geo").b).text == "geo");
}

TEST_CASE("a wide row: every type is skipped by its size to reach the key", "[binlog]") {
  const std::vector<Col> cols = {
      {T::tiny, {}}, {T::short_, {}}, {T::int24, {}}, {T::long_, {}}, {T::longlong, {}}, {T::float_, {4}},
      {T::double_, {8}}, {T::newdecimal, {20, 6}}, {T::date, {}}, {T::time, {}}, {T::time2, {3}},
      {T::datetime, {}}, {T::datetime2, {6}}, {T::timestamp, {}}, {T::timestamp2, {1}}, {T::year, {}},
      {T::varchar, {0x2c, 0x01}}, {T::varchar, {10, 0}}, {T::string, {0xfe, 16}}, {T::string, {0xf7, 2}},
      {T::string, {0xf8, 3}}, {T::bit, {5, 2}}, {T::blob, {1}}, {T::blob, {3}}, {T::json, {4}},
      {T::geometry, {4}}, {T::null, {}}, {T::long_, {}}};
  Table t(cols);
  Buf img;
  img.raw(Vec((cols.size() + 7) / 8, 0));
  img.le(1, 1).le(2, 2).le(3, 3).le(4, 4).le(5, 8).le(0, 4).le(0, 8).raw(decimal_bytes("1.5", 20, 6));
  img.le(0, 3).le(0, 3).raw(time2_bytes(false, 1, 0, 0, 0, 3)).le(0, 8).raw(datetime2_bytes(2020, 1, 1, 0, 0, 0, 0, 6));
  img.le(0, 4).raw(timestamp2_bytes(1, 0, 1)).le(0, 1);
  img.le(300, 2).str(std::string(300, 'x')).u8(2).str("ab").u8(1).str("z").le(1, 2).le(5, 3).be(0x1fff, 3);
  img.u8(3).str("abc").le(70000, 3).str(std::string(70000, 'y')).le(1, 4).u8(0).le(0, 4);
  // the NULL type column has no bytes
  img.le(424242, 4);
  const auto keys = t.keys(EventType::write_rows_v1, img.b, {KeyColumn{27, {}}, KeyColumn{17, {}}, KeyColumn{7, {}}});
  REQUIRE(keys.size() == 1);
  CHECK(keys[0][0].i == 424242);
  CHECK(keys[0][1].text == "ab");
  CHECK(keys[0][2].text == "1.500000");
  CHECK(count_rows(t.map, *t.rows(EventType::write_rows_v1, bitmap_all(cols.size()), {}, img.b).as<Rows>()).value() == 1);
}

TEST_CASE("NULLs, several rows, composite keys", "[binlog]") {
  Table t({{T::long_, {}}, {T::varchar, {40, 0}}, {T::blob, {2}}, {T::long_, {}}});
  Buf img;
  // row 1: all present; null bitmap 0b0100 (column 2, the blob, NULL)
  img.u8(0x04).le(1, 4).u8(1).str("a").le(10, 4);
  // row 2: the key's second column NULL (bit 1), column 3 NULL (bit 3)
  img.u8(0x0a).le(2, 4).raw(Buf().le(5, 2).str("hello").b);
  // row 3: nothing NULL
  img.u8(0x00).le(3, 4).u8(2).str("bc").le(3, 2).str("xyz").le(30, 4);
  const auto keys = t.keys(EventType::write_rows_v2, img.b, {KeyColumn{0, {}}, KeyColumn{1, {}}});
  REQUIRE(keys.size() == 3);
  CHECK(keys[0][0].i == 1);
  CHECK(keys[0][1].text == "a");
  CHECK(keys[1][0].i == 2);
  CHECK(keys[1][1].is_null());
  CHECK(keys[2][1].text == "bc");
  CHECK(keys[1][1].debug() == "NULL");
  CHECK(keys[2][1].debug() == "'bc'");
}

TEST_CASE("UPDATE images: FULL and MINIMAL, key changes", "[binlog]") {
  Table t({{T::long_, {}}, {T::varchar, {40, 0}}, {T::long_, {}}});
  const std::vector<KeyColumn> key = {{0, {}}};
  SECTION("FULL: before and after keys, also when the key changes") {
    Buf img;
    img.u8(0).le(1, 4).u8(1).str("a").le(5, 4);   // before
    img.u8(0).le(1, 4).u8(1).str("b").le(5, 4);   // after: same key
    img.u8(0).le(2, 4).u8(1).str("c").le(5, 4);   // before
    img.u8(0).le(20, 4).u8(1).str("c").le(5, 4);  // after: key changed
    const auto ev = t.rows(EventType::update_rows_v1, bitmap_all(3), bitmap_all(3), img.b);
    std::vector<RowKeys> out;
    REQUIRE(extract_keys(t.map, *ev.as<Rows>(), key, out).value() == 2);
    REQUIRE(out[0].before);
    REQUIRE(out[0].after);
    CHECK((*out[0].before)[0].i == 1);
    CHECK((*out[0].after)[0].i == 1);
    CHECK((*out[1].before)[0].i == 2);
    CHECK((*out[1].after)[0].i == 20);
  }
  SECTION("MINIMAL: the before image holds the key, the after image only changed columns") {
    Buf img;
    img.u8(0).le(7, 4);         // before: column 0 only
    img.u8(0).u8(1).str("z");   // after: column 1 only
    img.u8(0).le(8, 4);         // before
    img.u8(0).u8(0);            // after: empty string
    const auto ev = t.rows(EventType::update_rows_v2, bitmap_of(3, {0}), bitmap_of(3, {1}), img.b);
    std::vector<RowKeys> out;
    REQUIRE(extract_keys(t.map, *ev.as<Rows>(), key, out).value() == 2);
    REQUIRE(out[0].before);
    CHECK((*out[0].before)[0].i == 7);
    CHECK_FALSE(out[0].after);  // the key did not change
    CHECK((*out[1].before)[0].i == 8);
  }
  SECTION("MINIMAL: a key update has the key in the after image; NULL bitmaps count present columns only") {
    Buf img;
    img.u8(0).le(7, 4);
    img.u8(0x02).le(70, 4);  // after: columns 0 and 2, column 2 NULL (bit 1 of the present columns)
    const auto ev = t.rows(EventType::update_rows_v1, bitmap_of(3, {0}), bitmap_of(3, {0, 2}), img.b);
    std::vector<RowKeys> out;
    REQUIRE(extract_keys(t.map, *ev.as<Rows>(), key, out).value() == 1);
    CHECK((*out[0].after)[0].i == 70);
  }
  SECTION("MINIMAL: a key of two columns of which one changed: the new key is the old with that one replaced") {
    const std::vector<KeyColumn> pair = {{0, {}}, {1, {}}};
    Buf img;
    img.u8(0).le(7, 4).u8(1).str("a");  // before: columns 0 and 1 (the key)
    img.u8(0).u8(1).str("b");            // after: column 1 only
    const auto ev = t.rows(EventType::update_rows_v2, bitmap_of(3, {0, 1}), bitmap_of(3, {1}), img.b);
    std::vector<RowKeys> out;
    REQUIRE(extract_keys(t.map, *ev.as<Rows>(), pair, out).value() == 1);
    REQUIRE(out[0].before);
    REQUIRE(out[0].after);
    CHECK((*out[0].before)[0].i == 7);
    CHECK((*out[0].before)[1].text == "a");
    CHECK((*out[0].after)[0].i == 7);
    CHECK((*out[0].after)[1].text == "b");
  }
  SECTION("MINIMAL: an image that names the row without every key column cannot be used") {
    // The key (column 2) is not the primary key (column 0), which is all MINIMAL before images hold.
    const std::vector<KeyColumn> other = {{2, {}}};
    Buf img;
    img.u8(0).le(7, 4);
    img.u8(0).u8(1).str("z");
    const auto ev = t.rows(EventType::update_rows_v2, bitmap_of(3, {0}), bitmap_of(3, {1}), img.b);
    std::vector<RowKeys> out;
    const auto r = extract_keys(t.map, *ev.as<Rows>(), other, out);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::unsupported);
    CHECK_THAT(r.error().message, Catch::Contains("lack key columns"));
    Buf del;
    del.u8(0).le(9, 4);
    const auto dev = t.rows(EventType::delete_rows_v1, bitmap_of(3, {0}), {}, del.b);
    CHECK_FALSE(extract_keys(t.map, *dev.as<Rows>(), other, out));
  }
  SECTION("MINIMAL DELETE: the before image holds the key only") {
    Buf img;
    img.u8(0).le(9, 4).u8(0).le(10, 4);
    const auto keys = t.keys(EventType::delete_rows_v1, img.b, key, bitmap_of(3, {0}));
    REQUIRE(keys.size() == 2);
    CHECK(keys[1][0].i == 10);
  }
}

TEST_CASE("truncated row images fail cleanly", "[binlog]") {
  Table t({{T::long_, {}}, {T::varchar, {0x2c, 0x01}}, {T::newdecimal, {20, 6}}, {T::blob, {4}}});
  Buf img;
  img.u8(0).le(1, 4).le(3, 2).str("abc").raw(decimal_bytes("1", 20, 6)).le(4, 4).str("blob");
  const std::vector<KeyColumn> key = {{0, {}}, {1, {}}};
  for (std::size_t n = 1; n < img.b.size(); ++n) {
    const Vec cut(img.b.begin(), img.b.begin() + static_cast<long>(n));
    const auto ev = t.rows(EventType::write_rows_v1, bitmap_all(4), {}, cut);
    std::vector<RowKeys> out;
    const auto r = extract_keys(t.map, *ev.as<Rows>(), key, out);
    REQUIRE_FALSE(r.ok());
    CHECK((r.error().kind == ErrorKind::truncated || r.error().kind == ErrorKind::corrupt));
  }
  SECTION("a length prefix larger than the image") {
    Buf bad;
    bad.u8(0).le(1, 4).le(60000, 2).str("abc");
    const auto ev = t.rows(EventType::write_rows_v1, bitmap_all(4), {}, bad.b);
    std::vector<RowKeys> out;
    CHECK(extract_keys(t.map, *ev.as<Rows>(), key, out).error().kind == ErrorKind::truncated);
  }
  SECTION("column counts that disagree") {
    Decoder& d = t.decoder;
    const Vec raw = event(EventType::write_rows_v1, rows_body(1, false, 7, 3, bitmap_all(3), {}, img.b), true);
    auto e = d.decode(raw);
    REQUIRE(e.ok());
    std::vector<RowKeys> out;
    CHECK(extract_keys(t.map, *e->as<Rows>(), key, out).error().kind == ErrorKind::schema_mismatch);
  }
  SECTION("a key column beyond the table") {
    const auto ev = t.rows(EventType::write_rows_v1, bitmap_all(4), {}, img.b);
    std::vector<RowKeys> out;
    const std::vector<KeyColumn> far = {{9, {}}};
    CHECK(extract_keys(t.map, *ev.as<Rows>(), far, out).error().kind == ErrorKind::schema_mismatch);
  }
}

TEST_CASE("TABLE_MAP compatibility with the discovered schema, and hints from discovery", "[binlog]") {
  Table t({{T::long_, {}}, {T::varchar, {40, 0}}, {T::string, {0xf7, 1}}, {T::blob, {4}}, {T::datetime2, {6}}});
  m2m::mysql::Table table;
  auto col = [](std::string name, std::string data_type, std::string column_type = {}) {
    m2m::mysql::Column c;
    c.name = std::move(name);
    c.data_type = std::move(data_type);
    c.column_type = column_type.empty() ? c.data_type : std::move(column_type);
    return c;
  };
  table.columns = {col("id", "int"), col("name", "varchar"), col("state", "enum"), col("doc", "json"),
                   col("at", "datetime")};
  CHECK(check_table_map(t.map, table).ok());
  table.columns[2] = col("state", "varchar");
  const auto r = check_table_map(t.map, table);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::schema_mismatch);
  CHECK(r.error().message.find("column 3 'state' is enum in the binlog") != std::string::npos);
  table.columns.pop_back();
  CHECK(check_table_map(t.map, table).error().message.find("5 columns in the binlog, 4 now") != std::string::npos);

  const auto h = hint_for(col("id", "binary", "binary(16)"));
  CHECK(h.binary_length == 16);
  CHECK(h.charset == "binary");
  auto u = col("n", "bigint", "bigint(20) unsigned");
  u.is_unsigned = true;
  CHECK(hint_for(u).is_unsigned);
}

TEST_CASE("a 10,000-row DELETE is cheap to walk (figures printed)", "[binlog]") {
  // id INT, name VARCHAR(64) utf8mb4, created DATETIME(6), amount DECIMAL(12,2), note TEXT
  Table t({{T::long_, {}, false}, {T::varchar, {0x00, 0x01}}, {T::datetime2, {6}}, {T::newdecimal, {12, 2}}, {T::blob, {2}}});
  Buf img;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    const std::string name = "customer-" + std::to_string(i);
    img.u8(0).le(static_cast<std::uint64_t>(i), 4).le(name.size(), 2).str(name);  // 256 bytes: 2-byte length
    img.raw(datetime2_bytes(2024, 5, 6, 7, 8, 9, 123456, 6)).raw(decimal_bytes("1234.50", 12, 2));
    img.le(40, 2).str(std::string(40, 'n'));
  }
  const auto ev = t.rows(EventType::delete_rows_v1, bitmap_all(5), {}, img.b);
  const auto& rows = *ev.as<Rows>();
  const std::vector<KeyColumn> key = {{0, {}}};
  std::vector<RowKeys> out;
  out.reserve(n);
  const int rounds = 20;
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    out.clear();
    REQUIRE(extract_keys(t.map, rows, key, out).value() == static_cast<std::size_t>(n));
  }
  const auto t1 = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) REQUIRE(count_rows(t.map, rows).value() == static_cast<std::size_t>(n));
  const auto t2 = std::chrono::steady_clock::now();
  CHECK((*out[n - 1].before)[0].i == n - 1);
  const double keys_us = std::chrono::duration<double, std::micro>(t1 - t0).count() / rounds;
  const double walk_us = std::chrono::duration<double, std::micro>(t2 - t1).count() / rounds;
  std::printf("binlog walker: 10,000-row DELETE (%zu bytes of images): %.0f us with INT keys decoded, %.0f us "
              "walk only (%.1f ns/row)\n",
              rows.images.size(), keys_us, walk_us, keys_us * 1000.0 / n);
  const std::vector<KeyColumn> composite = {{0, {}}, {1, {}}};
  const auto t3 = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    out.clear();
    REQUIRE(extract_keys(t.map, rows, composite, out).ok());
  }
  const auto t4 = std::chrono::steady_clock::now();
  std::printf("binlog walker: same event, (INT, VARCHAR) key: %.0f us\n",
              std::chrono::duration<double, std::micro>(t4 - t3).count() / rounds);
}
