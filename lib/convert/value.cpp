// One MySQL text-protocol value -> one BSON value, following the column's FieldPlan (mysql2mongo.toml(5), TYPE MAPPING).
//
// Nothing here throws on bad data: a value that cannot be converted as planned is kept as its exact text
// (a string when it is UTF-8, binary otherwise) and counted in the LossReport with the reason.
//
// The values are written by a mongo::BsonBuilder (mongo/builder.hpp): this runs for every column of every
// row, and libbson's own appenders cost more than most conversions.
#include "convert/convert.hpp"
#include "convert/detail.hpp"

#include "util/text.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>

namespace m2m::convert {

namespace {

namespace reason = detail::reason;

// Where a value goes and whom to blame for a loss. `counted` tells the caller whether the value was
// converted exactly.
struct Target {
  mongo::BsonBuilder& doc;
  std::string_view key;
  const std::string& column;
  LossReport& loss;
  bool& counted;

  void count(std::string_view why) const {
    loss.add(column, why);
    counted = true;
  }
};

constexpr std::size_t kMaxBsonValue = static_cast<std::size_t>(std::numeric_limits<int>::max()) - 1024;

void put_null(const Target& t) { t.doc.append_null(t.key); }

// An append fails only when the document would exceed BSON's 2 GiB limit (or the key holds a NUL byte,
// which field names never do).
void put_checked(const Target& t, bool appended) {
  if (!appended) {
    put_null(t);
    t.count(reason::too_large);
  }
}

void put_binary(const Target& t, std::string_view bytes) {
  if (bytes.size() > kMaxBsonValue) return put_checked(t, false);
  put_checked(t, t.doc.append_binary(t.key, bytes));
}

bool is_utf8(std::string_view text) { return detail::valid_utf8(text); }

// Appends text that is known to be valid UTF-8 (NUL bytes included).
void put_utf8(const Target& t, std::string_view text) {
  if (text.size() > kMaxBsonValue) return put_checked(t, false);
  put_checked(t, t.doc.append_utf8(t.key, text));
}

// A string when the bytes are UTF-8, binary (and counted) when they are not.
void put_text(const Target& t, std::string_view text) {
  if (is_utf8(text)) return put_utf8(t, text);
  put_binary(t, text);
  t.count(reason::invalid_utf8);
}

// The value could not be converted as planned: keep its exact text, and count why.
void put_fallback(const Target& t, std::string_view text, std::string_view what) {
  if (is_utf8(text)) {
    put_utf8(t, text);
    t.count(std::string(what) + " stored as string");
  } else {
    put_binary(t, text);
    t.count(std::string(what) + " stored as binary (invalid UTF-8)");
  }
}

void put_decimal(const Target& t, const bson_decimal128_t& value) {
  put_checked(t, t.doc.append_decimal128(t.key, value));
}

std::optional<std::int64_t> to_int64(std::string_view text) {
  std::int64_t value = 0;
  if (!detail::parse_int64(text, value)) return std::nullopt;
  return value;
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// "12", "-7", and integral decimals such as "12.000" (an int64 override on a DECIMAL column).
enum class IntParse { ok, out_of_range, invalid };
IntParse parse_integer(std::string_view text, std::int64_t& value) {
  if (const auto v = to_int64(text)) {
    value = *v;
    return IntParse::ok;
  }
  std::string_view body = text;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) body.remove_prefix(1);
  const auto dot = body.find('.');
  const std::string_view int_part = body.substr(0, dot);
  if (!all_digits(int_part)) return IntParse::invalid;
  if (dot != std::string_view::npos) {
    const std::string_view fraction = body.substr(dot + 1);
    if (fraction.empty() || fraction.find_first_not_of('0') != std::string_view::npos) return IntParse::invalid;
    if (const auto v = to_int64(text.substr(0, text.size() - fraction.size() - 1))) {
      value = *v;
      return IntParse::ok;
    }
  }
  return IntParse::out_of_range;
}

void put_integer(const Target& t, Kind kind, std::string_view text) {
  std::int64_t value = 0;
  switch (parse_integer(text, value)) {
    case IntParse::ok:
      if (kind == Kind::int32 && value >= std::numeric_limits<std::int32_t>::min() &&
          value <= std::numeric_limits<std::int32_t>::max())
        return put_checked(t, t.doc.append_int32(t.key, static_cast<std::int32_t>(value)));
      return put_checked(t, t.doc.append_int64(t.key, value));
    case IntParse::out_of_range:
      // BIGINT UNSIGNED above 2^63-1: exact as Decimal128, never wrapped.
      if (kind == Kind::uint64 && all_digits(text)) {
        bson_decimal128_t dec;
        if (detail::decimal128_from_text(text, dec) == detail::DecimalParse::ok) return put_decimal(t, dec);
      }
      return put_fallback(t, text, reason::int64_range);
    case IntParse::invalid:
      break;
  }
  put_fallback(t, text, reason::not_integer);
}

void put_double(const Target& t, std::string_view text) {
  double value = 0;
  if (!detail::parse_double(text, value) || !std::isfinite(value)) return put_fallback(t, text, reason::not_number);
  put_checked(t, t.doc.append_double(t.key, value));
}

void put_decimal_text(const Target& t, std::string_view text) {
  bson_decimal128_t dec;
  switch (detail::decimal128_from_text(text, dec)) {
    case detail::DecimalParse::ok:
      return put_decimal(t, dec);
    case detail::DecimalParse::too_wide:
      put_utf8(t, text);  // decimal text is ASCII
      return t.count(reason::wide_decimal);
    case detail::DecimalParse::invalid:
      break;
  }
  put_fallback(t, text, reason::not_decimal);
}

// BIT(n) arrives as ceil(n/8) raw big-endian bytes.
void put_bits(const Target& t, std::string_view bytes) {
  std::size_t first = 0;
  while (first < bytes.size() && bytes[first] == '\0') ++first;
  if (bytes.size() - first > 8) return put_fallback(t, bytes, reason::wide_bit);
  std::uint64_t value = 0;
  for (std::size_t i = first; i < bytes.size(); ++i)
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    const bson_decimal128_t dec = detail::decimal128_from_u64(value);
    return put_decimal(t, dec);
  }
  put_checked(t, t.doc.append_int64(t.key, static_cast<std::int64_t>(value)));
}

void put_bool(const Target& t, const FieldPlan& plan, std::string_view text) {
  bool value = false;
  bool beyond_01 = false;
  if (plan.bit_width > 0) {  // BIT: raw bytes
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto byte = static_cast<unsigned char>(text[i]);
      if (byte != 0) value = true;
      if (byte > (i + 1 == text.size() ? 1 : 0)) beyond_01 = true;
    }
  } else if (std::int64_t n = 0; parse_integer(text, n) == IntParse::ok) {
    value = n != 0;
    beyond_01 = n != 0 && n != 1;
  } else if (const auto b = parse_bool(text)) {
    value = *b;
  } else {
    return put_fallback(t, text, reason::not_boolean);
  }
  put_checked(t, t.doc.append_bool(t.key, value));
  if (beyond_01) t.count(reason::bool_not_01);
}

void put_date(const Target& t, const FieldPlan& plan, std::string_view text) {
  std::int64_t ms = 0;
  bool truncated = false;
  switch (detail::parse_datetime(text, ms, truncated)) {
    case detail::DateParse::ok:
      put_checked(t, t.doc.append_date_time(t.key, ms));
      if (truncated) t.count(reason::fraction);
      return;
    case detail::DateParse::zero:
      if (plan.zero_date == ZeroDate::string) {
        put_utf8(t, text);  // well-formed, hence ASCII
        return t.count(reason::zero_date_string);
      }
      put_null(t);
      return t.count(reason::zero_date_null);
    case detail::DateParse::invalid:
      break;
  }
  put_fallback(t, text, reason::invalid_date);
}

void put_set(const Target& t, std::string_view text) {
  const std::size_t mark = t.doc.mark();
  const std::size_t array = t.doc.begin_array(t.key);
  if (array == 0) return put_checked(t, false);
  std::uint32_t index = 0;
  std::size_t start = 0;
  while (!text.empty() && start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    char buffer[16];
    const Target element{t.doc, mongo::BsonBuilder::array_key(index++, buffer), t.column, t.loss, t.counted};
    put_text(element, text.substr(start, end - start));
    start = end + 1;
  }
  if (!t.doc.end(array)) {
    t.doc.truncate(mark);
    put_checked(t, false);
  }
}

void put_value(const Target& t, const FieldPlan& plan, const char* data, std::size_t length) {
  if (data == nullptr) return put_null(t);
  const std::string_view text(data, length);
  switch (plan.kind) {
    case Kind::int32:
    case Kind::int64:
    case Kind::uint64:
      return put_integer(t, plan.kind, text);
    case Kind::boolean:
      return put_bool(t, plan, text);
    case Kind::decimal:
      return put_decimal_text(t, text);
    case Kind::float64:
      return put_double(t, text);
    case Kind::date:
    case Kind::datetime:
      return put_date(t, plan, text);
    case Kind::time:
      if (detail::valid_time(text)) return put_utf8(t, text);
      return put_fallback(t, text, reason::invalid_time);
    case Kind::string:
      return put_text(t, text);
    case Kind::set:
      return put_set(t, text);
    case Kind::binary:
      return put_binary(t, text);
    case Kind::bit:
      return put_bits(t, text);
    case Kind::json: {
      detail::JsonStats stats;
      if (detail::append_json_value(t.doc, t.key, text, &stats)) {
        if (stats.nul_keys > 0) t.loss.add(t.column, reason::json_nul_key, stats.nul_keys);
        if (stats.wide_integers > 0) t.loss.add(t.column, reason::json_wide_integer, stats.wide_integers);
        if (stats.rounded_numbers > 0) t.loss.add(t.column, reason::json_rounded, stats.rounded_numbers);
        if (stats.nul_keys + stats.wide_integers + stats.rounded_numbers > 0) t.counted = true;
        return;
      }
      return put_fallback(t, text, reason::invalid_json);
    }
  }
  put_text(t, text);  // not reached: every Kind is handled above
}

}  // namespace

bool append_value(mongo::BsonBuilder& doc, const FieldPlan& plan, const char* data, std::size_t length, LossReport& loss) {
  bool counted = false;
  put_value(Target{doc, plan.field, plan.column, loss, counted}, plan, data, length);
  return !counted;
}

bool append_value_as(mongo::BsonBuilder& doc, std::string_view key, const FieldPlan& plan, const char* data,
                     std::size_t length, LossReport& loss) {
  bool counted = false;
  put_value(Target{doc, key, plan.column, loss, counted}, plan, data, length);
  return !counted;
}

namespace {
// The value as its own one-element document, then copied into doc.
void append_through_builder(bson_t* doc, std::string_view key, const FieldPlan& plan, const char* data,
                            std::size_t length, LossReport& loss) {
  mongo::BsonBuilder one;
  bool counted = false;
  put_value(Target{one, key, plan.column, loss, counted}, plan, data, length);
  if (!bson_concat(doc, one.view())) {
    bson_append_null(doc, key.data(), static_cast<int>(key.size()));
    loss.add(plan.column, reason::too_large);
  }
}
}  // namespace

void append_value(bson_t* doc, const FieldPlan& plan, const char* data, std::size_t length, LossReport& loss) {
  append_through_builder(doc, plan.field, plan, data, length, loss);
}

void append_value_as(bson_t* doc, std::string_view key, const FieldPlan& plan, const char* data,
                     std::size_t length, LossReport& loss) {
  append_through_builder(doc, key, plan, data, length, loss);
}

}  // namespace m2m::convert

namespace m2m::convert::detail {

bool valid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char* const end = p + text.size();
  auto continuation = [](unsigned char c) { return (c & 0xC0) == 0x80; };
  for (;;) {
    // A run of ASCII: eight bytes at a time, then byte by byte up to the next lead byte or the end.
    for (std::uint64_t word; end - p >= 8; p += 8) {
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ULL) break;
    }
    while (p < end && *p < 0x80) ++p;
    if (p == end) return true;
    const unsigned char c = *p;
    if (c < 0xC0) {  // a continuation byte without a lead
      return false;
    } else if (c < 0xE0) {
      if (end - p < 2 || !continuation(p[1])) return false;
      // C0 and C1 lead overlong forms of U+0000..U+007F; libbson accepts the NUL among them.
      if (c < 0xC2 && !(c == 0xC0 && p[1] == 0x80)) return false;
      p += 2;
    } else if (c < 0xF0) {
      if (end - p < 3 || !continuation(p[1]) || !continuation(p[2])) return false;
      if (c == 0xE0 && p[1] < 0xA0) return false;   // overlong: below U+0800
      if (c == 0xED && p[1] >= 0xA0) return false;  // U+D800..U+DFFF, the surrogates
      p += 3;
    } else if (c < 0xF8) {
      if (end - p < 4 || !continuation(p[1]) || !continuation(p[2]) || !continuation(p[3])) return false;
      if (c == 0xF0 && p[1] < 0x90) return false;                // overlong: below U+10000
      if (c > 0xF4 || (c == 0xF4 && p[1] >= 0x90)) return false;  // beyond U+10FFFF
      p += 4;
    } else {
      return false;
    }
  }
}

}  // namespace m2m::convert::detail
