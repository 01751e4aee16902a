// Small string helpers with no domain knowledge.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);

// Splits "a, b,,c" into {"a","b","c"}: items trimmed, empty items dropped.
std::vector<std::string> split_list(std::string_view s, char sep = ',');
std::string join(const std::vector<std::string>& items, std::string_view sep);

// Shell-style glob through fnmatch(3): '*' any run, '?' one character, '[abc]' / '[!abc]' a set, '\\'
// escapes. Case-sensitive, like MySQL table names on Linux.
bool glob_match(std::string_view pattern, std::string_view text);

// Parses "true/false/yes/no/on/off/1/0" (any case).
std::optional<bool> parse_bool(std::string_view s);

// Parses a whole decimal integer, rejecting trailing garbage and overflow.
std::optional<std::int64_t> parse_int(std::string_view s);

// Durations: "90", "90s", "5m", "1h30m", "250ms", "2d". A bare number is seconds.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view s);
// "4m", "1h2m", "3d4h", "12s", "350ms": short and human.
std::string format_duration(std::chrono::milliseconds d);

// Secrets. These are the one door every value that may hold a credential goes through before it is
// shown anywhere (stderr, the log file, --json, error messages). They are safe on any string, parsable
// as a URL or not.
//
// redact_uri: a value meant to be a MongoDB URL. Everything between "//" (or the start, without a
// scheme) and the last '@' is the userinfo: its password becomes "***", and all of it when the user
// name cannot be told apart ("u@pw@h", "a/b@h"); so do the values of password-like options
// (password=, tlsCertificateKeyFilePassword=, ...Password=, authMechanismProperties=), whatever their
// case or percent-encoding. "mongodb://u:***@h/?tlsCertificateKeyFilePassword=***".
std::string redact_uri(std::string_view uri);

// The secret parts of a MongoDB URL (as redact_uri finds them), each with the forms a driver or
// resolver message may quote: percent-decoded, and cut at URL delimiters into fragments (an unencoded
// '@' or '/' in a password makes the driver read part of it as a host name). For redact().
std::vector<std::string> uri_secrets(std::string_view uri);

// Any text (a driver's or a resolver's message, an error line, a JSON document): every URL-like word
// through redact_uri, then every occurrence of each secret, ignoring case (resolvers lower-case host
// names), replaced by "***". Secrets and fragments under 4 characters are not searched for in free
// text (they would blank out ordinary words).
std::string redact(std::string_view text, const std::vector<std::string>& secrets = {});

// ISO 8601 UTC with milliseconds: "2025-10-06T12:00:00.000Z". Input: milliseconds since the epoch.
std::string iso8601_utc(std::int64_t epoch_ms);
std::int64_t now_epoch_ms();

}  // namespace m2m
