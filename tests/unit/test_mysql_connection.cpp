// lib/mysql/connection: the pure parts of a MySQL session, which MySQL errors a run retries and how an
// identifier is quoted into SQL (the one way names enter SQL text).
#include "mysql/connection.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace m2m;

TEST_CASE("is_retryable: lock wait timeout, deadlock, server gone away, lost connection", "[mysql][retry]") {
  for (unsigned e : {1205u, 1213u, 2006u, 2013u}) {
    INFO(e);
    CHECK(mysql::is_retryable(e));
  }
  // Access denied, unknown database, no such table, connection refused, duplicate key, syntax: retrying
  // cannot help.
  for (unsigned e : {0u, 1045u, 1049u, 1146u, 2002u, 2003u, 1062u, 1064u}) {
    INFO(e);
    CHECK_FALSE(mysql::is_retryable(e));
  }
}

TEST_CASE("quote_identifier: backticks around, a backtick inside doubled, everything else as it is", "[mysql]") {
  CHECK(mysql::quote_identifier("film") == "`film`");
  CHECK(mysql::quote_identifier("a`b") == "`a``b`");
  CHECK(mysql::quote_identifier("``") == "``````");
  CHECK(mysql::quote_identifier("x`; DROP TABLE y; --") == "`x``; DROP TABLE y; --`");
  CHECK(mysql::quote_identifier("we\"ird $name.") == "`we\"ird $name.`");
  CHECK(mysql::quote_identifier("caf\xC3\xA9") == "`caf\xC3\xA9`");
  CHECK(mysql::quote_identifier("") == "``");
}
