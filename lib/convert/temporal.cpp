// Date, DATETIME and TIME text as MySQL's text protocol prints it (session time_zone '+00:00').
#include "convert/detail.hpp"

#include <cstddef>

namespace m2m::convert::detail {

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Reads exactly n digits at text[pos]; false if any is not a digit or the text is too short.
bool read_digits(std::string_view text, std::size_t pos, std::size_t n, int& value) noexcept {
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

// The two digits at p as a number, or -1.
int two_digits(const char* p) noexcept {
  const auto hi = static_cast<unsigned>(static_cast<unsigned char>(p[0]) - '0');
  const auto lo = static_cast<unsigned>(static_cast<unsigned char>(p[1]) - '0');
  if (hi > 9 || lo > 9) return -1;
  return static_cast<int>(hi * 10 + lo);
}

bool is_leap(std::int64_t y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29u : days[m - 1];
}

}  // namespace

std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept {
  const std::int64_t y = year - (month <= 2 ? 1 : 0);
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                     // [0, 399]
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

DateParse parse_datetime(std::string_view text, std::int64_t& epoch_ms, bool& truncated) noexcept {
  // Runs for every date of every row: the fixed layout is checked with direct indexing once the length
  // is known, instead of a bounds check per digit.
  truncated = false;
  const std::size_t n = text.size();
  const char* s = text.data();
  if (n < 10 || s[4] != '-' || s[7] != '-') return DateParse::invalid;
  const int y_hi = two_digits(s), y_lo = two_digits(s + 2), month = two_digits(s + 5), day = two_digits(s + 8);
  if ((y_hi | y_lo | month | day) < 0) return DateParse::invalid;
  const int year = y_hi * 100 + y_lo;

  int hour = 0, minute = 0, second = 0, millis = 0;
  if (n > 10) {
    if ((s[10] != ' ' && s[10] != 'T') || n < 19 || s[13] != ':' || s[16] != ':') return DateParse::invalid;
    hour = two_digits(s + 11);
    minute = two_digits(s + 14);
    second = two_digits(s + 17);
    if ((hour | minute | second) < 0) return DateParse::invalid;
    if (n > 19) {
      if (s[19] != '.' || n == 20) return DateParse::invalid;
      static constexpr int kScale[] = {100, 10, 1};
      for (std::size_t i = 20; i < n; ++i) {
        const char c = s[i];
        if (!is_digit(c)) return DateParse::invalid;
        if (i < 23) millis += (c - '0') * kScale[i - 20];
        else if (c != '0') truncated = true;
      }
    }
  }

  if (month == 0 || day == 0) return DateParse::zero;
  if (month > 12 || static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)) ||
      hour > 23 || minute > 59 || second > 59)
    return DateParse::invalid;

  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  epoch_ms = days * 86'400'000 + hour * 3'600'000LL + minute * 60'000LL + second * 1'000LL + millis;
  return DateParse::ok;
}

bool valid_time(std::string_view text) noexcept {
  std::size_t pos = 0;
  if (!text.empty() && text[0] == '-') pos = 1;
  std::size_t hour_digits = 0;
  while (pos + hour_digits < text.size() && is_digit(text[pos + hour_digits])) ++hour_digits;
  if (hour_digits < 2 || hour_digits > 3) return false;
  int hours = 0, minutes = 0, seconds = 0;
  read_digits(text, pos, hour_digits, hours);
  pos += hour_digits;
  if (text.size() < pos + 6 || text[pos] != ':' || !read_digits(text, pos + 1, 2, minutes) ||
      text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, seconds))
    return false;
  pos += 6;
  bool fraction_nonzero = false;
  if (pos < text.size()) {
    const std::size_t digits = text.size() - pos - 1;
    if (text[pos] != '.' || digits < 1 || digits > 6) return false;
    for (std::size_t i = pos + 1; i < text.size(); ++i) {
      if (!is_digit(text[i])) return false;
      if (text[i] != '0') fraction_nonzero = true;
    }
  }
  if (minutes > 59 || seconds > 59 || hours > 838) return false;
  if (hours == 838 && minutes == 59 && seconds == 59 && fraction_nonzero) return false;
  return true;
}

}  // namespace m2m::convert::detail
