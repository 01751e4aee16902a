// Exact decimal text <-> Decimal128 (IEEE 754-2008, binary integer decimal encoding, as BSON uses).
//
// bson_decimal128_from_string rounds silently when a value needs more than 34 digits, so the digits are
// counted here and the bits are built directly: a value is either stored exactly or reported as too wide.
#include "convert/detail.hpp"

#include <cstddef>

namespace m2m::convert::detail {

namespace {

constexpr int kMaxDigits = 34;
constexpr int kExponentBias = 6176;
constexpr int kMinExponent = -6176;
constexpr int kMaxExponent = 6111;

constexpr uint128 max_coefficient() {
  uint128 v = 1;
  for (int i = 0; i < kMaxDigits; ++i) v *= 10;
  return v - 1;
}

bson_decimal128_t encode(bool negative, uint128 coefficient, int exponent) noexcept {
  bson_decimal128_t out;
  const std::uint64_t biased = static_cast<unsigned>(exponent + kExponentBias);  // 0..12287
  out.high = (negative ? (std::uint64_t{1} << 63) : 0) | (biased << 49) |
             static_cast<std::uint64_t>(coefficient >> 64);
  out.low = static_cast<std::uint64_t>(coefficient);
  return out;
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

DecimalParse decimal128_from_text(std::string_view text, bson_decimal128_t& out) noexcept {
  // What DECIMAL(p <= 19) columns hold: "[-]digits[.digits]" with at most 19 digits in all. The digits
  // are the coefficient and the fraction's length the exponent, exactly what the general path below
  // gives for such text (no zero is dropped below 35 digits), in one pass.
  {
    const char* p = text.data();
    const char* const end = p + text.size();
    bool negative = false;
    if (p != end && (*p == '-' || *p == '+')) negative = *p++ == '-';
    std::uint64_t coefficient = 0;
    int int_digits = 0, frac_digits = 0;
    for (; p != end && is_digit(*p) && int_digits < 20; ++p, ++int_digits)
      coefficient = coefficient * 10 + static_cast<unsigned>(*p - '0');
    if (p != end && *p == '.') {
      for (++p; p != end && is_digit(*p) && int_digits + frac_digits < 20; ++p, ++frac_digits)
        coefficient = coefficient * 10 + static_cast<unsigned>(*p - '0');
    }
    if (p == end && int_digits + frac_digits > 0 && int_digits + frac_digits <= 19) {
      out = encode(negative, coefficient, -frac_digits);
      return DecimalParse::ok;
    }
  }

  std::size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) negative = text[pos++] == '-';

  // The digits are the integer part [int_begin, int_end) followed by the fraction [frac_begin, frac_end).
  const std::size_t int_begin = pos;
  while (pos < text.size() && is_digit(text[pos])) ++pos;
  const std::size_t int_end = pos;
  std::size_t frac_begin = pos, frac_end = pos;
  if (pos < text.size() && text[pos] == '.') {
    frac_begin = ++pos;
    while (pos < text.size() && is_digit(text[pos])) ++pos;
    frac_end = pos;
  }
  const std::size_t int_len = int_end - int_begin, frac_len = frac_end - frac_begin;
  if (int_len + frac_len == 0) return DecimalParse::invalid;

  long exponent_part = 0;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool exp_negative = false;
    if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) exp_negative = text[pos++] == '-';
    if (pos == text.size()) return DecimalParse::invalid;
    for (; pos < text.size() && is_digit(text[pos]); ++pos)
      if (exponent_part < 1'000'000) exponent_part = exponent_part * 10 + (text[pos] - '0');
    if (exp_negative) exponent_part = -exponent_part;
  }
  if (pos != text.size()) return DecimalParse::invalid;

  const std::size_t total = int_len + frac_len;
  auto digit = [&](std::size_t k) {
    return k < int_len ? text[int_begin + k] : text[frac_begin + (k - int_len)];
  };
  long exponent = exponent_part - static_cast<long>(frac_len);

  std::size_t first = 0;
  while (first < total && digit(first) == '0') ++first;
  if (first == total) {  // zero: any exponent in range is exact; keep the scale when possible
    if (exponent < kMinExponent) exponent = kMinExponent;
    if (exponent > kMaxExponent) exponent = kMaxExponent;
    out = encode(negative, 0, static_cast<int>(exponent));
    return DecimalParse::ok;
  }

  // Drop trailing zeros only as far as needed to fit 34 digits and the exponent range.
  std::size_t last = total - 1;
  while (digit(last) == '0' && last > first &&
         (last - first + 1 > static_cast<std::size_t>(kMaxDigits) || exponent < kMinExponent)) {
    --last;
    ++exponent;
  }
  std::size_t count = last - first + 1;
  if (count > static_cast<std::size_t>(kMaxDigits) || exponent < kMinExponent)
    return DecimalParse::too_wide;

  uint128 coefficient = 0;
  for (std::size_t k = first; k <= last; ++k) coefficient = coefficient * 10 + static_cast<unsigned>(digit(k) - '0');
  // A large exponent can be traded for trailing zeros in the coefficient while there is room.
  while (exponent > kMaxExponent && count < static_cast<std::size_t>(kMaxDigits)) {
    coefficient *= 10;
    --exponent;
    ++count;
  }
  if (exponent > kMaxExponent) return DecimalParse::too_wide;
  out = encode(negative, coefficient, static_cast<int>(exponent));
  return DecimalParse::ok;
}

bson_decimal128_t decimal128_from_u64(std::uint64_t value) noexcept { return encode(false, value, 0); }

DecimalParts decode_decimal128(const bson_decimal128_t& value) noexcept {
  DecimalParts parts;
  const std::uint64_t high = value.high;
  parts.negative = (high >> 63) != 0;
  if ((high & 0x7C00000000000000ULL) == 0x7C00000000000000ULL) {
    parts.cls = DecimalParts::Class::nan;
    return parts;
  }
  if ((high & 0x7C00000000000000ULL) == 0x7800000000000000ULL) {
    parts.cls = DecimalParts::Class::infinity;
    return parts;
  }
  std::uint64_t biased = 0;
  uint128 coefficient = 0;
  if ((high & 0x6000000000000000ULL) == 0x6000000000000000ULL) {
    // The "large coefficient" form always exceeds 10^34 - 1: non-canonical, which means zero.
    biased = (high >> 47) & 0x3FFF;
  } else {
    biased = (high >> 49) & 0x3FFF;
    coefficient = (static_cast<uint128>(high & ((std::uint64_t{1} << 49) - 1)) << 64) | value.low;
    if (coefficient > max_coefficient()) coefficient = 0;
  }
  parts.coefficient = coefficient;
  parts.exponent = static_cast<int>(biased) - kExponentBias;
  return parts;
}

}  // namespace m2m::convert::detail
