// Internals of lib/convert shared by its source files and its unit tests. Not part of the library's API:
// nothing outside lib/convert/ and tests/unit/test_convert_*.cpp should include this header.
#pragma once

#include "mongo/builder.hpp"

#include <bson/bson.h>

#include <cstdint>
#include <string_view>

namespace m2m::convert::detail {

// GCC and Clang provide a 128-bit integer; __extension__ keeps -Wpedantic quiet about it. A Decimal128
// coefficient (at most 10^34 - 1) needs 113 bits.
__extension__ typedef unsigned __int128 uint128;

// The reasons counted in a LossReport. They appear verbatim in the run report, so tests pin them.
namespace reason {
inline constexpr std::string_view fraction = "fractional seconds beyond milliseconds truncated";
inline constexpr std::string_view zero_date_null = "zero date stored as null";
inline constexpr std::string_view zero_date_string = "zero date stored as string";
inline constexpr std::string_view wide_decimal = "decimal wider than 34 digits stored as string";
inline constexpr std::string_view invalid_utf8 = "invalid UTF-8 stored as binary";
inline constexpr std::string_view json_nul_key = "NUL removed from JSON key";
inline constexpr std::string_view json_wide_integer = "JSON integer beyond Decimal128 stored as string";
inline constexpr std::string_view json_rounded = "JSON number beyond Decimal128 rounded to double";
inline constexpr std::string_view bool_not_01 = "value other than 0 or 1 stored as true";
inline constexpr std::string_view too_large = "value too large for BSON stored as null";
// Values that cannot be converted as planned are kept as text; the reason is "<what> stored as string",
// or "<what> stored as binary (invalid UTF-8)" when the bytes are not UTF-8 either.
inline constexpr std::string_view not_integer = "not an integer";
inline constexpr std::string_view int64_range = "integer out of int64 range";
inline constexpr std::string_view not_number = "not a number";
inline constexpr std::string_view not_decimal = "not a decimal";
inline constexpr std::string_view not_boolean = "not a boolean";
inline constexpr std::string_view invalid_date = "invalid date";
inline constexpr std::string_view invalid_time = "unexpected TIME format";
inline constexpr std::string_view wide_bit = "BIT value wider than 64 bits";
inline constexpr std::string_view invalid_json = "invalid JSON";
}  // namespace reason

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm): independent of the
// local zone and valid far outside the range of time_t-based library calls.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept;

enum class DateParse { ok, zero, invalid };

// Parses "YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS[.f...]" (a 'T' is accepted in place of the space) as UTC.
// zero: a well-formed value with month 0 or day 0 (MySQL's zero dates). ok: epoch_ms is set, the
// fraction truncated to milliseconds (a floor in time, since the fraction is never negative), and
// truncated tells whether non-zero digits were dropped. Impossible dates ('2024-02-30') are invalid.
DateParse parse_datetime(std::string_view text, std::int64_t& epoch_ms, bool& truncated) noexcept;

// True if text is MySQL's TIME form "[-]HH:MM:SS[.ffffff]" (2 or 3 hour digits, within +-838:59:59).
bool valid_time(std::string_view text) noexcept;

// "[+|-]digits" as a whole, within int64: what std::from_chars accepts after an optional '+', written out
// because it runs for most columns of most rows. False for anything else (empty, other characters,
// overflow); value is then unchanged.
bool parse_int64(std::string_view text, std::int64_t& value) noexcept;

// The whole text as a double, exactly as std::from_chars (general format) reads it: the nearest double,
// "-0" is negative zero, "inf"/"nan" are read too (the caller rejects what is not finite). MySQL prints
// most DOUBLE values with at most 17 significant digits and no exponent: when the digits fit 2^53 and
// there are at most 22 after the point, one correctly rounded division gives the same double, and the
// rest goes to std::from_chars. False when from_chars would not read the whole text.
bool parse_double(std::string_view text, double& value) noexcept;

// Whether text is UTF-8 exactly as bson_utf8_validate(text, len, allow_null = true) judges it: the
// shortest form of code points up to U+10FFFF, no surrogates, NUL bytes allowed, and also the two-byte
// NUL C0 80 that libbson lets through. Written out because libbson's validator decodes every code point
// (about twenty instructions a byte) and runs for most text values; ASCII goes eight bytes at a time.
bool valid_utf8(std::string_view text) noexcept;

enum class DecimalParse { ok, too_wide, invalid };

// Exact conversion of decimal text ("-12.50", "1e3", "007") to Decimal128, keeping the scale ("1.50" has
// exponent -2). Trailing zeros are dropped only when the value would otherwise need more than 34 digits
// (the value stays exact, only the scale shrinks). too_wide: no exact Decimal128 exists.
DecimalParse decimal128_from_text(std::string_view text, bson_decimal128_t& out) noexcept;
bson_decimal128_t decimal128_from_u64(std::uint64_t value) noexcept;

// A Decimal128 taken apart: value = (-1)^negative * coefficient * 10^exponent when finite.
struct DecimalParts {
  enum class Class { finite, infinity, nan } cls = Class::finite;
  bool negative = false;
  uint128 coefficient = 0;
  int exponent = 0;
};
DecimalParts decode_decimal128(const bson_decimal128_t& value) noexcept;

// What converting one JSON text lost: NUL bytes removed from object keys (BSON keys cannot hold them),
// integers too wide for Decimal128 (kept as text), other numbers no exact type holds (nearest double).
struct JsonStats {
  std::uint64_t nul_keys = 0;
  std::uint64_t wide_integers = 0;
  std::uint64_t rounded_numbers = 0;
};

// Parses JSON text and appends it under key; on failure nothing is appended. Never throws.
bool append_json_value(mongo::BsonBuilder& doc, std::string_view key, std::string_view json_text, JsonStats* stats);

}  // namespace m2m::convert::detail
