// lib/ops/test_connection: the result of `test-connection` (test_connection itself reaches both servers):
// which failure decides the exit code, and the --json response, the seed's shape with "mysql" and "mongodb".
#include "ops/test_connection.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace m2m;

namespace {

ops::TestConnectionResult reached() {
  ops::TestConnectionResult r;
  r.mysql_connected = true;
  r.database = "sakila";
  r.host = "db1";
  r.tables = {"actor", "film"};
  r.views = {"actor_info"};
  r.mysql_version = "10.11.6-MariaDB";
  r.mysql_tls_cipher = "TLS_AES_256_GCM_SHA384";
  r.mongodb_reachable = true;
  r.mongodb_url = "mongodb://u:***@mongo1:27017";
  r.mongodb_database = "sakila";
  r.mongodb_version = "7.0.2";
  return r;
}

std::vector<std::string> keys(const nlohmann::ordered_json& j) {
  std::vector<std::string> out;
  for (const auto& [k, v] : j.items()) out.push_back(k);
  return out;
}

}  // namespace

TEST_CASE("TestConnectionResult::exit_code: MySQL's failure first, then MongoDB's, else 0", "[ops][test-connection]") {
  auto r = reached();
  CHECK(r.exit_code() == Exit::ok);
  r.mongodb_error = Failure{Exit::noperm, "MongoDB: authentication failed"};
  CHECK(r.exit_code() == Exit::noperm);
  r.mysql_error = Failure{Exit::unavailable, "MySQL at db1:3306: cannot connect"};
  CHECK(r.exit_code() == Exit::unavailable);
  r.mongodb_error.reset();
  CHECK(r.exit_code() == Exit::unavailable);
}

TEST_CASE("to_json(TestConnectionResult): both servers reached", "[ops][test-connection]") {
  const auto j = ops::to_json(reached());
  CHECK(j.dump() ==
        R"js({"status":"success","connected":true,"database":"sakila","host":"db1","tables_count":2,)js"
        R"js("tables":["actor","film"],"mysql":{"connected":true,"server_version":"10.11.6-MariaDB",)js"
        R"js("tls_cipher":"TLS_AES_256_GCM_SHA384","views":["actor_info"]},"mongodb":{"reachable":true,)js"
        R"js("url":"mongodb://u:***@mongo1:27017","database":"sakila","server_version":"7.0.2"}})js");
}

TEST_CASE("to_json(TestConnectionResult): a failure gives the error and exit code at the top and on its side",
          "[ops][test-connection]") {
  auto r = reached();
  r.mysql_tls_cipher.clear();
  r.mongodb_reachable = false;
  r.mongodb_version.clear();
  r.mongodb_error = Failure{Exit::unavailable, "MongoDB at mongodb://u:***@mongo1:27017: cannot reach the server"};
  const auto j = ops::to_json(r);
  CHECK(keys(j) == std::vector<std::string>{"status", "connected", "database", "host", "tables_count", "tables",
                                            "error", "exit_code", "mysql", "mongodb"});
  CHECK(j["status"] == "error");
  CHECK(j["connected"] == true);  // the seed's field: MySQL's connection
  CHECK(j["error"] == "MongoDB at mongodb://u:***@mongo1:27017: cannot reach the server");
  CHECK(j["exit_code"] == 69);
  CHECK(j["mysql"]["tls_cipher"].is_null());  // no TLS negotiated
  CHECK_FALSE(j["mysql"].contains("error"));
  CHECK(j["mongodb"]["reachable"] == false);
  CHECK(j["mongodb"]["server_version"].is_null());
  CHECK(j["mongodb"]["error"] == j["error"]);

  // Both failing: the top-level error and exit code are MySQL's; each side keeps its own.
  ops::TestConnectionResult both;
  both.database = "sakila";
  both.host = "localhost";
  both.mysql_error = Failure{Exit::noperm, "MySQL: access denied for user 'm2m'"};
  both.mongodb_error = Failure{Exit::unavailable, "MongoDB: cannot reach the server"};
  const auto b = ops::to_json(both);
  CHECK(b["status"] == "error");
  CHECK(b["connected"] == false);
  CHECK(b["tables_count"] == 0);
  CHECK(b["error"] == "MySQL: access denied for user 'm2m'");
  CHECK(b["exit_code"] == 77);
  CHECK(b["mysql"]["error"] == "MySQL: access denied for user 'm2m'");
  CHECK(b["mysql"]["server_version"] == "");
  CHECK(b["mongodb"]["error"] == "MongoDB: cannot reach the server");
}
