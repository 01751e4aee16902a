#include "util/text.hpp"

#include <catch2/catch.hpp>

using namespace m2m;

TEST_CASE("redact_uri hides only the password") {
  CHECK(redact_uri("mongodb://user:pw@host:27017/db?x=1") == "mongodb://user:***@host:27017/db?x=1");
  CHECK(redact_uri("mongodb://user@host") == "mongodb://user@host");
  CHECK(redact_uri("mongodb://host:27017") == "mongodb://host:27017");
  CHECK(redact_uri("mongodb://u:p@ss@h1,h2/?replicaSet=r") == "mongodb://u:***@h1,h2/?replicaSet=r");
  CHECK(redact_uri("not a uri") == "not a uri");
}

TEST_CASE("durations parse and format") {
  using std::chrono::milliseconds;
  CHECK(parse_duration("90") == milliseconds(90'000));
  CHECK(parse_duration("1h30m") == milliseconds(5'400'000));
  CHECK(parse_duration("250ms") == milliseconds(250));
  CHECK(parse_duration("2d") == milliseconds(172'800'000));
  CHECK_FALSE(parse_duration("").has_value());
  CHECK_FALSE(parse_duration("5 minutes").has_value());
  CHECK_FALSE(parse_duration("-5s").has_value());
  CHECK(format_duration(milliseconds(240'000)) == "4m");
  CHECK(format_duration(milliseconds(3'720'000)) == "1h2m");
  CHECK(format_duration(milliseconds(350)) == "350ms");
}

TEST_CASE("globs and lists") {
  CHECK(glob_match("film*", "film_actor"));
  CHECK(glob_match("*_log", "audit_log"));
  CHECK_FALSE(glob_match("film*", "actor"));
  CHECK(glob_match("t?", "t1"));
  CHECK(glob_match("t[0-9]", "t5"));
  CHECK_FALSE(glob_match("t[!0-9]", "t5"));
  CHECK(split_list(" a, b,,c ") == std::vector<std::string>{"a", "b", "c"});
  CHECK(parse_bool("Yes") == true);
  CHECK(parse_bool("off") == false);
  CHECK_FALSE(parse_bool("maybe").has_value());
  CHECK(parse_int("42") == 42);
  CHECK_FALSE(parse_int("42x").has_value());
  CHECK(iso8601_utc(0) == "1970-01-01T00:00:00.000Z");
  CHECK(iso8601_utc(-1) == "1969-12-31T23:59:59.999Z");
}

TEST_CASE("glob_match follows fnmatch(3): escapes, POSIX classes, ']' first in a set") {
  CHECK(glob_match("t\\*", "t*"));
  CHECK_FALSE(glob_match("t\\*", "tx"));
  CHECK(glob_match("log_[[:digit:]]", "log_7"));
  CHECK_FALSE(glob_match("log_[[:digit:]]", "log_x"));
  CHECK(glob_match("a[]]b", "a]b"));
  CHECK(glob_match("*.bak", ".bak"));  // no FNM_PERIOD: a table name is not a path
  CHECK(glob_match("a*", "a/b"));      // no FNM_PATHNAME
}
