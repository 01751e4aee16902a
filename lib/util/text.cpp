#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
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

namespace {

// Secrets (and fragments) shorter than this are not searched for in free text: hiding every "ab" would
// garble every message and protect nothing (such a secret falls to guessing). URLs still hide the
// whole password, whatever its length.
constexpr std::size_t kMinScrubbed = 4;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Where the userinfo of a would-be URL lies: [begin, at), or nothing.
struct Userinfo {
  size_t begin = 0, at = std::string_view::npos;
  bool found() const { return at != std::string_view::npos; }
};

Userinfo find_userinfo(std::string_view uri) {
  Userinfo u;
  const auto slashes = uri.find("//");
  u.begin = slashes == std::string_view::npos ? 0 : slashes + 2;
  // The last '@': a password may hold unencoded '@', '/' or '?', and hiding too much is the safe side.
  const auto at = uri.rfind('@');
  if (at != std::string_view::npos && at >= u.begin) u.at = at;
  return u;
}

// The user name part worth keeping ("u:" of "u:pw"), or empty when none can be told apart safely.
std::string_view kept_user(std::string_view userinfo) {
  const auto colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    // No password separator: a plain user name is no secret ("mongodb://user@h", X.509), but a value
    // with delimiters in it ("u@pw", "h/db?x=a") may be a password that lost its ':'.
    return userinfo.find_first_of("@/?#") == std::string_view::npos ? userinfo : std::string_view{};
  }
  const auto user = userinfo.substr(0, colon + 1);
  return user.find_first_of("@/?#") == std::string_view::npos ? user : std::string_view{};
}

bool secret_option(std::string_view key) {
  const std::string k = to_lower(percent_decode(key));
  const std::string_view kv(k);
  return (kv.size() >= 8 && kv.substr(kv.size() - 8) == "password") || kv == "authmechanismproperties" ||
         kv == "secret" || kv.find("token") != std::string_view::npos;
}

bool option_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '%' || c == '_' || c == '-' || c == '.';
}

// The value spans of password-like options: after '=' (or a percent-encoded "%3D") up to '&', ';',
// whitespace or the end.
std::vector<std::pair<size_t, size_t>> secret_option_values(std::string_view s) {
  std::vector<std::pair<size_t, size_t>> spans;
  for (size_t i = 0; i < s.size(); ++i) {
    size_t value = 0;
    if (s[i] == '=') value = i + 1;
    else if (s[i] == '%' && i + 2 < s.size() && s[i + 1] == '3' && (s[i + 2] == 'd' || s[i + 2] == 'D')) value = i + 3;
    else continue;
    size_t k = i;
    while (k > 0 && option_key_char(s[k - 1])) --k;
    // "%3D" itself is made of key characters: a key ends where the encoded '=' begins.
    if (k == i || !secret_option(s.substr(k, i - k))) continue;
    size_t end = value;
    while (end < s.size() && s[end] != '&' && s[end] != ';' && !std::isspace(static_cast<unsigned char>(s[end])))
      ++end;
    if (end > value) spans.emplace_back(value, end);
    i = end == 0 ? i : end - 1;
  }
  return spans;
}

void add_variants(std::vector<std::string>& out, std::string_view secret) {
  if (secret.empty() || secret == "***") return;
  auto add = [&](std::string s) {
    if (!s.empty() && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
  };
  add(std::string(secret));
  add(percent_decode(secret));
  // Fragments: what a driver may quote after cutting the URL at a delimiter the password held.
  for (const auto& form : {std::string(secret), percent_decode(secret)}) {
    size_t b = 0;
    for (size_t i = 0; i <= form.size(); ++i) {
      if (i == form.size() || std::string_view("@/?:#[]&=,;%").find(form[i]) != std::string_view::npos) {
        if (i - b >= kMinScrubbed && i - b < form.size()) add(form.substr(b, i - b));
        b = i + 1;
      }
    }
  }
}

// Case-insensitive replacement of every occurrence of `needle` by "***".
void scrub(std::string& text, std::string_view needle) {
  if (needle.size() < kMinScrubbed) return;
  const std::string lower_needle = to_lower(needle);
  std::string lower = to_lower(text);
  size_t pos = 0;
  while ((pos = lower.find(lower_needle, pos)) != std::string::npos) {
    text.replace(pos, needle.size(), "***");
    lower.replace(pos, needle.size(), "***");
    pos += 3;
  }
}

}  // namespace

std::string redact_uri(std::string_view uri) {
  std::string out;
  const Userinfo u = find_userinfo(uri);
  if (u.found()) {
    const auto userinfo = uri.substr(u.begin, u.at - u.begin);
    const auto user = kept_user(userinfo);
    out = std::string(uri.substr(0, u.begin));
    if (user.size() == userinfo.size()) out += userinfo;  // a user name alone
    else out += std::string(user) + "***";
    out += uri.substr(u.at);
  } else {
    out = std::string(uri);
  }
  const auto spans = secret_option_values(out);
  for (auto it = spans.rbegin(); it != spans.rend(); ++it) out.replace(it->first, it->second - it->first, "***");
  return out;
}

std::vector<std::string> uri_secrets(std::string_view uri) {
  std::vector<std::string> out;
  const Userinfo u = find_userinfo(uri);
  if (u.found()) {
    const auto userinfo = uri.substr(u.begin, u.at - u.begin);
    const auto user = kept_user(userinfo);
    if (user.size() != userinfo.size()) add_variants(out, userinfo.substr(user.size()));
  }
  for (const auto& [b, e] : secret_option_values(uri)) add_variants(out, uri.substr(b, e - b));
  return out;
}

std::string redact(std::string_view text, const std::vector<std::string>& secrets) {
  std::string out(text);
  // Longest first, so a secret is never half-hidden by one of its own fragments.
  std::vector<std::string> sorted(secrets);
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  for (const auto& s : sorted) scrub(out, s);
  // Then every word that looks like a URL or an option list: no scheme is needed ("u:pw@host").
  std::string result;
  size_t i = 0;
  auto is_break = [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '(' || c == ')' ||
           c == '<' || c == '>' || c == '`';
  };
  while (i < out.size()) {
    if (is_break(out[i])) {
      result += out[i++];
      continue;
    }
    size_t j = i;
    while (j < out.size() && !is_break(out[j])) ++j;
    const std::string_view word(out.data() + i, j - i);
    result += word.find_first_of("@=%") == std::string_view::npos ? std::string(word) : redact_uri(word);
    i = j;
  }
  return result;
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
