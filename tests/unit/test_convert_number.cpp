// lib/convert's fast readers of MySQL's text values (number.cpp, and the fast paths of decimal.cpp and
// temporal.cpp): each must give exactly what the general reader gives, on valid and invalid text alike.
#include "convert/detail.hpp"

#include <catch2/catch.hpp>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <vector>

using namespace m2m::convert;

namespace {

// The reference: std::from_chars on the whole text, after one optional '+' that must precede a digit.
std::optional<std::int64_t> int64_reference(std::string_view text) {
  if (!text.empty() && text[0] == '+') {
    text.remove_prefix(1);
    if (text.empty() || text[0] == '-') return std::nullopt;
  }
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> int64_fast(std::string_view text) {
  std::int64_t v = 12345;  // unchanged on failure
  if (!detail::parse_int64(text, v)) {
    CHECK(v == 12345);
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> double_reference(std::string_view text) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return std::bit_cast<std::uint64_t>(v);
}

// The bits, so that -0.0 and 0.0 differ and NaN equals itself.
std::optional<std::uint64_t> double_fast(std::string_view text) {
  double v = 0;
  if (!detail::parse_double(text, v)) return std::nullopt;
  return std::bit_cast<std::uint64_t>(v);
}

std::string shortest(double d) {
  char buffer[64];
  const auto r = std::to_chars(buffer, buffer + sizeof buffer, d);
  return std::string(buffer, r.ptr);
}

std::string printf_g(double d, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", digits, d);
  return buffer;
}

std::string printf_f(double d, int decimals) {
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, d);
  return buffer;
}

// parse_datetime as it was written before its fast layout check: the reference for every input.
namespace before {
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool read_digits(std::string_view text, std::size_t pos, std::size_t n, int& value) {
  if (pos + n > text.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = text[pos + i];
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  value = v;
  return true;
}
bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29u : days[m - 1];
}
detail::DateParse parse_datetime(std::string_view text, std::int64_t& epoch_ms, bool& truncated) {
  truncated = false;
  int year = 0, month = 0, day = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !read_digits(text, 5, 2, month) ||
      text[7] != '-' || !read_digits(text, 8, 2, day))
    return detail::DateParse::invalid;
  int hour = 0, minute = 0, second = 0, millis = 0;
  std::size_t pos = 10;
  if (pos < text.size()) {
    if ((text[pos] != ' ' && text[pos] != 'T') || !read_digits(text, pos + 1, 2, hour) || text.size() < pos + 9 ||
        text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, minute) || text[pos + 6] != ':' ||
        !read_digits(text, pos + 7, 2, second))
      return detail::DateParse::invalid;
    pos += 9;
    if (pos < text.size()) {
      if (text[pos] != '.' || pos + 1 == text.size()) return detail::DateParse::invalid;
      for (std::size_t i = pos + 1; i < text.size(); ++i) {
        const char c = text[i];
        if (!is_digit(c)) return detail::DateParse::invalid;
        const std::size_t index = i - pos - 1;
        if (index < 3) millis += (c - '0') * (index == 0 ? 100 : index == 1 ? 10 : 1);
        else if (c != '0') truncated = true;
      }
    }
  }
  if (month == 0 || day == 0) return detail::DateParse::zero;
  if (month > 12 || static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)) || hour > 23 ||
      minute > 59 || second > 59)
    return detail::DateParse::invalid;
  const std::int64_t days = detail::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  epoch_ms = days * 86'400'000 + hour * 3'600'000LL + minute * 60'000LL + second * 1'000LL + millis;
  return detail::DateParse::ok;
}
}  // namespace before

void check_datetime_as_before(const std::string& text) {
  INFO("'" << text << "'");
  std::int64_t ms_new = -1, ms_old = -1;
  bool t_new = true, t_old = true;
  const auto r_new = detail::parse_datetime(text, ms_new, t_new);
  const auto r_old = before::parse_datetime(text, ms_old, t_old);
  REQUIRE(r_new == r_old);
  if (r_new == detail::DateParse::ok) {
    CHECK(ms_new == ms_old);
    CHECK(t_new == t_old);
  }
}

std::string decimal_text(const bson_decimal128_t& d) {
  char printed[BSON_DECIMAL128_STRING];
  bson_decimal128_to_string(&d, printed);
  return printed;
}

}  // namespace

TEST_CASE("parse_int64 reads what from_chars reads, at the limits and beyond", "[convert][number]") {
  CHECK(int64_fast("0") == 0);
  CHECK(int64_fast("-0") == 0);
  CHECK(int64_fast("+0") == 0);
  CHECK(int64_fast("+42") == 42);
  CHECK(int64_fast("-42") == -42);
  CHECK(int64_fast("000000000000000000000000000012") == 12);
  CHECK(int64_fast("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
  CHECK(int64_fast("-9223372036854775808") == std::numeric_limits<std::int64_t>::min());
  CHECK(int64_fast("-0009223372036854775808") == std::numeric_limits<std::int64_t>::min());
  for (const char* bad : {"9223372036854775808", "-9223372036854775809", "18446744073709551615",
                          "18446744073709551616", "99999999999999999999999", "", "-", "+", "+-5", "-+5", "--5",
                          " 5", "5 ", "5a", "a5", "1.0", "1e3", "0x10", "١"}) {
    INFO("'" << bad << "'");
    CHECK_FALSE(int64_fast(bad).has_value());
  }
  // Every length around the overflow boundary, and random text, agree with the reference.
  std::mt19937_64 rng(20240601);
  const std::string alphabet = "0123456789-+ .e";
  for (int i = 0; i < 200000; ++i) {
    std::string s;
    if (i % 2 == 0) {
      s = std::to_string(static_cast<std::int64_t>(rng()));
      if (i % 4 == 0 && s.size() > 1) s.back() = static_cast<char>('0' + rng() % 10);
      if (i % 8 == 0) s.insert(s[0] == '-' ? 1 : 0, std::string(rng() % 3, '0'));
    } else {
      const std::size_t n = rng() % 22;
      for (std::size_t k = 0; k < n; ++k) s.push_back(alphabet[rng() % (k == 0 ? alphabet.size() : 10)]);
    }
    INFO("'" << s << "'");
    REQUIRE(int64_fast(s) == int64_reference(s));
  }
}

TEST_CASE("parse_double gives from_chars' double, bit for bit", "[convert][number]") {
  // Negative zero stays negative; what from_chars reads beyond the fast path is read by it.
  CHECK(double_fast("-0") == std::bit_cast<std::uint64_t>(-0.0));
  CHECK(double_fast("-0.000") == std::bit_cast<std::uint64_t>(-0.0));
  CHECK(double_fast("0") == std::bit_cast<std::uint64_t>(0.0));
  CHECK(double_fast("1.") == double_reference("1."));
  CHECK(double_fast(".5") == double_reference(".5"));
  CHECK(double_fast("1e308") == double_reference("1e308"));
  CHECK(double_fast("1e400") == double_reference("1e400"));
  CHECK(double_fast("inf") == double_reference("inf"));
  CHECK(double_fast("-nan") == double_reference("-nan"));
  CHECK(double_fast("9007199254740993") == double_reference("9007199254740993"));  // 2^53 + 1: rounds
  CHECK(double_fast("0.1234567890123456789012") == double_reference("0.1234567890123456789012"));
  CHECK(double_fast("1.7976931348623157e308") == std::bit_cast<std::uint64_t>(1.7976931348623157e308));
  for (const char* bad : {"", "-", "+1", ".", "-.", "1.2.3", " 1", "1 ", "1e", "e5", "0x1p3", "1,5", "--1"}) {
    INFO("'" << bad << "'");
    CHECK_FALSE(double_fast(bad).has_value());
    CHECK_FALSE(double_reference(bad).has_value());
  }

  std::mt19937_64 rng(77);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto agree = [](const std::string& s) {
    INFO("'" << s << "'");
    REQUIRE(double_fast(s) == double_reference(s));
  };
  for (int i = 0; i < 100000; ++i) {
    // What MySQL prints for DOUBLE (the shortest text that reads back), for FLOAT, and fixed decimals.
    const double scale = std::pow(10.0, static_cast<int>(rng() % 40) - 20);
    const double d = (rng() % 2 ? -1 : 1) * unit(rng) * scale;
    agree(shortest(d));
    agree(printf_g(d, 17));
    agree(printf_g(d, 15));
    agree(printf_g(static_cast<float>(d), 6));
    agree(printf_f(d, static_cast<int>(rng() % 26)));
    // Random digit strings: up to 20 digits on each side of the point, around 2^53 and 10^22.
    std::string s = rng() % 2 ? "-" : "";
    const std::size_t int_digits = rng() % 21, frac_digits = rng() % 25;
    for (std::size_t k = 0; k < int_digits; ++k) s.push_back(static_cast<char>('0' + rng() % 10));
    if (rng() % 4) {
      s.push_back('.');
      for (std::size_t k = 0; k < frac_digits; ++k) s.push_back(static_cast<char>('0' + rng() % 10));
    }
    agree(s);
    agree(std::to_string(9007199254740992ULL - 5 + rng() % 10) + "." + std::to_string(rng() % 1000));
  }
}

TEST_CASE("decimal128_from_text: the short form gives what the general reader gives", "[convert][number]") {
  bson_decimal128_t d;
  auto text_of = [&](const std::string& s) {
    REQUIRE(detail::decimal128_from_text(s, d) == detail::DecimalParse::ok);
    return decimal_text(d);
  };
  CHECK(text_of("-0.00") == "-0.00");
  CHECK(text_of("0") == "0");
  CHECK(text_of("+5") == "5");
  CHECK(text_of("1.") == "1");
  CHECK(text_of(".5") == "0.5");
  CHECK(text_of("0000000000000000001") == "1");
  CHECK(text_of("9999999999999999999") == "9999999999999999999");     // 19 digits: the short form
  CHECK(text_of("99999999999999999999") == "99999999999999999999");   // 20: the general path
  CHECK(text_of("-1234567890.123456789") == "-1234567890.123456789");
  CHECK(text_of("0.0000000000000000001") == "1E-19");
  for (const char* bad : {"", "-", "+", ".", "-.", "1.2.3", "1 ", " 1", "1,5", "--1"}) {
    INFO("'" << bad << "'");
    CHECK(detail::decimal128_from_text(bad, d) == detail::DecimalParse::invalid);
  }
  // Against libbson's reader, which is exact up to 34 digits, on random short and long decimals.
  std::mt19937_64 rng(5);
  for (int i = 0; i < 100000; ++i) {
    std::string s = rng() % 3 == 0 ? "-" : "";
    const std::size_t int_digits = 1 + rng() % 20, frac_digits = rng() % 15;
    for (std::size_t k = 0; k < int_digits; ++k) s.push_back(static_cast<char>('0' + rng() % 10));
    if (frac_digits > 0) {
      s.push_back('.');
      for (std::size_t k = 0; k < frac_digits; ++k) s.push_back(static_cast<char>('0' + rng() % 10));
    }
    INFO(s);
    bson_decimal128_t expected;
    REQUIRE(bson_decimal128_from_string(s.c_str(), &expected));
    REQUIRE(detail::decimal128_from_text(s, d) == detail::DecimalParse::ok);
    REQUIRE(d.high == expected.high);
    REQUIRE(d.low == expected.low);
  }
}

TEST_CASE("parse_datetime reads every text as it did before its fast layout check", "[convert][number]") {
  for (const std::string s :
       {"2024-01-01", "2024-01-01 10:00:00", "2024-01-01T10:00:00", "2024-01-01 10:00:00.1", "2024-01-01 10:00:00.123456",
        "2024-01-01 10:00:00.000001", "1969-12-31 23:59:59.999", "0000-00-00", "0000-00-00 00:00:00", "2024-00-10",
        "2024-01-00 99:99:99", "2024-02-29", "2023-02-29", "2024-13-01", "2024-01-01 24:00:00", "2024-01-01 10:60:00",
        "2024-01-01 10:00:60", "2024-01-01 10:00", "2024-01-01 10:00:00.", "2024-01-01 10:00:00.12a", "2024-01-01x",
        "2024-1-01", "24-01-01", "", "2024-01-01 ", "2024-01-01 10:00:00 ", "9999-12-31 23:59:59.999999",
        "0001-01-01 00:00:00", "2024/01/01", "-024-01-01", "+024-01-01", "2024-01-01 -1:00:00"})
    check_datetime_as_before(s);
  // Every single-character change and truncation of a few valid texts.
  const std::string alphabet("0123456789 -:.Tx\0", 17);
  for (const std::string base : {"2024-02-29 23:59:59.123456", "1999-12-31T00:00:00", "2000-01-01"}) {
    for (std::size_t cut = 0; cut <= base.size(); ++cut) check_datetime_as_before(base.substr(0, cut));
    for (std::size_t i = 0; i < base.size(); ++i)
      for (const char c : alphabet) {
        std::string s = base;
        s[i] = c;
        check_datetime_as_before(s);
      }
  }
}
