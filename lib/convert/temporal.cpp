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
  truncated = false;
  int year = 0, month = 0, day = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day))
    return DateParse::invalid;

  int hour = 0, minute = 0, second = 0, millis = 0;
  std::size_t pos = 10;
  if (pos < text.size()) {
    if ((text[pos] != ' ' && text[pos] != 'T') || !read_digits(text, pos + 1, 2, hour) ||
        text.size() < pos + 9 || text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, minute) ||
        text[pos + 6] != ':' || !read_digits(text, pos + 7, 2, second))
      return DateParse::invalid;
    pos += 9;
    if (pos < text.size()) {
      if (text[pos] != '.' || pos + 1 == text.size()) return DateParse::invalid;
      for (std::size_t i = pos + 1; i < text.size(); ++i) {
        const char c = text[i];
        if (!is_digit(c)) return DateParse::invalid;
        const std::size_t index = i - pos - 1;  // 0 = tenths
        if (index < 3)
          millis += (c - '0') * (index == 0 ? 100 : index == 1 ? 10 : 1);
        else if (c != '0')
          truncated = true;
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
