// Integer and double text as MySQL's text protocol prints them, read without the general machinery of
// std::from_chars where a short exact path exists (detail.hpp).
#include "convert/detail.hpp"

#include <cfloat>
#include <charconv>
#include <limits>
#include <system_error>

// The fast path of parse_double relies on each double operation being rounded once, to double (SSE2,
// not the x87's extended registers).
static_assert(FLT_EVAL_METHOD == 0, "double arithmetic must not use wider intermediates");

namespace m2m::convert::detail {

bool parse_int64(std::string_view text, std::int64_t& value) noexcept {
  const char* p = text.data();
  const char* const end = p + text.size();
  bool negative = false;
  if (p != end && (*p == '-' || *p == '+')) negative = *p++ == '-';
  if (p == end) return false;
  // Accumulated as a magnitude: -2^63 has no positive int64.
  constexpr std::uint64_t limit = std::uint64_t{1} << 63;  // the magnitude of INT64_MIN
  std::uint64_t magnitude = 0;
  for (; p != end; ++p) {
    const auto digit = static_cast<unsigned>(static_cast<unsigned char>(*p) - '0');
    if (digit > 9) return false;
    if (magnitude > (limit - digit) / 10) return false;  // magnitude * 10 + digit > 2^63
    magnitude = magnitude * 10 + digit;
  }
  if (negative) {
    value = magnitude == limit ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(magnitude);
    return true;
  }
  if (magnitude == limit) return false;
  value = static_cast<std::int64_t>(magnitude);
  return true;
}

namespace {

bool parse_double_slow(std::string_view text, double& value) noexcept {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return false;
  value = v;
  return true;
}

}  // namespace

bool parse_double(std::string_view text, double& value) noexcept {
  // Exact powers of ten: every 10^k up to 10^22 is a double (5^22 < 2^53).
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                      1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  constexpr std::uint64_t kMaxExact = std::uint64_t{1} << 53;
  const char* p = text.data();
  const char* const end = p + text.size();
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  std::uint64_t digits = 0;
  std::size_t int_digits = 0, frac_digits = 0;
  for (; p != end; ++p, ++int_digits) {
    const auto d = static_cast<unsigned>(static_cast<unsigned char>(*p) - '0');
    if (d > 9) break;
    if (digits > kMaxExact) return parse_double_slow(text, value);
    digits = digits * 10 + d;
  }
  if (p != end && *p == '.') {
    for (++p; p != end; ++p, ++frac_digits) {
      const auto d = static_cast<unsigned>(static_cast<unsigned char>(*p) - '0');
      if (d > 9) break;
      if (digits > kMaxExact) return parse_double_slow(text, value);
      digits = digits * 10 + d;
    }
    if (frac_digits == 0) return parse_double_slow(text, value);  // "1." is for from_chars to judge
  }
  // Anything else (an exponent, ".5", inf, nan, garbage, too many digits) is for from_chars.
  if (p != end || int_digits == 0 || digits > kMaxExact || frac_digits > 22) return parse_double_slow(text, value);
  // Both operands are exact doubles, so the quotient is the correctly rounded value of the text.
  const double v = static_cast<double>(digits) / kPow10[frac_digits];
  value = negative ? -v : v;
  return true;
}

}  // namespace m2m::convert::detail
