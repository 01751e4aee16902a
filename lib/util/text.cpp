#include "util/text.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <ctime>
#include <fnmatch.h>

namespace m2m {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> split_list(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    const auto pos = s.find(sep);
    const auto item = trim(s.substr(0, pos));
    if (!item.empty()) out.emplace_back(item);
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

bool glob_match(std::string_view pattern, std::string_view text) {
  // glibc's fnmatch(3): the shell's rules, maintained elsewhere. No flags: '*' also matches '/', and
  // a leading '.' is an ordinary character (table names are not paths).
  const std::string p(pattern), t(text);
  return ::fnmatch(p.c_str(), t.c_str(), 0) == 0;
}

std::optional<bool> parse_bool(std::string_view s) {
  const auto v = to_lower(trim(s));
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s) {
  s = trim(s);
  if (s.empty()) return std::nullopt;
  if (auto plain = parse_int(s)) {
    if (*plain < 0) return std::nullopt;
    return std::chrono::seconds(*plain);
  }
  std::int64_t total = 0;
  while (!s.empty()) {
    std::int64_t n = 0;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || ptr == s.data() || n < 0) return std::nullopt;
    s.remove_prefix(static_cast<size_t>(ptr - s.data()));
    std::int64_t unit = 0;
    if (s.substr(0, 2) == "ms") { unit = 1; s.remove_prefix(2); }
    else if (!s.empty() && s[0] == 's') { unit = 1000; s.remove_prefix(1); }
    else if (!s.empty() && s[0] == 'm') { unit = 60'000; s.remove_prefix(1); }
    else if (!s.empty() && s[0] == 'h') { unit = 3'600'000; s.remove_prefix(1); }
    else if (!s.empty() && s[0] == 'd') { unit = 86'400'000; s.remove_prefix(1); }
    else return std::nullopt;
    if (n > (INT64_MAX - total) / unit) return std::nullopt;
    total += n * unit;
  }
  return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms < 0) return "-" + format_duration(std::chrono::milliseconds(-ms));
  if (ms < 1000) return fmt::format("{}ms", ms);
  auto s = ms / 1000;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return s % 60 ? fmt::format("{}m{}s", s / 60, s % 60) : fmt::format("{}m", s / 60);
  if (s < 86400) return (s / 60) % 60 ? fmt::format("{}h{}m", s / 3600, (s / 60) % 60) : fmt::format("{}h", s / 3600);
  return (s / 3600) % 24 ? fmt::format("{}d{}h", s / 86400, (s / 3600) % 24) : fmt::format("{}d", s / 86400);
}

std::string redact_uri(std::string_view uri) {
  const auto scheme = uri.find("://");
  if (scheme == std::string_view::npos) return std::string(uri);
  const auto start = scheme + 3;
  // The userinfo ends at the last '@' before the path: passwords may contain '@' only percent-encoded,
  // but be generous and take the last one before '/', '?' or the end.
  const auto path = uri.find_first_of("/?", start);
  const auto hosts_end = path == std::string_view::npos ? uri.size() : path;
  const auto at = uri.rfind('@', hosts_end);
  if (at == std::string_view::npos || at < start) return std::string(uri);
  const auto colon = uri.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(uri);  // user only, no secret
  return std::string(uri.substr(0, colon + 1)) + "***" + std::string(uri.substr(at));
}

std::string iso8601_utc(std::int64_t epoch_ms) {
  std::int64_t secs = epoch_ms / 1000;
  std::int64_t ms = epoch_ms % 1000;
  if (ms < 0) { ms += 1000; --secs; }
  const std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

std::int64_t now_epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace m2m
