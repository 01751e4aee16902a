// lib/mongo/client: what a driver error means for the run (the exit code, whether to retry), and the
// driver's own parse of the configured URL. No server: the errors are made here as the driver fills them.
#include "config/config.hpp"
#include "mongo/client.hpp"

#include <catch2/catch.hpp>

#include <mongoc/mongoc.h>

#include <string>

using namespace m2m;

namespace {

bson_error_t error(std::uint32_t domain, std::uint32_t code, const std::string& message = "it went wrong") {
  bson_error_t e;
  bson_set_error(&e, domain, code, "%s", message.c_str());
  return e;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("is_transient: network, server selection and the server's not-primary and shutdown codes",
          "[mongo][client][retry]") {
  CHECK(mongo::is_transient(error(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET)));
  CHECK(mongo::is_transient(error(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_CONNECT)));
  CHECK(mongo::is_transient(error(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE)));
  // NotWritablePrimary, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary, PrimarySteppedDown,
  // ShutdownInProgress, InterruptedAtShutdown, HostUnreachable, NetworkTimeout, ExceededTimeLimit.
  for (std::uint32_t code : {10107u, 13435u, 13436u, 189u, 91u, 11600u, 6u, 89u, 262u}) {
    INFO("code " << code);
    CHECK(mongo::is_transient(error(MONGOC_ERROR_SERVER, code)));
    CHECK(mongo::is_transient(error(MONGOC_ERROR_WRITE_CONCERN, code)));
  }
  // What retrying cannot fix: a duplicate key, a refused document, bad authentication, a client-side error.
  CHECK_FALSE(mongo::is_transient(error(MONGOC_ERROR_SERVER, 11000)));
  CHECK_FALSE(mongo::is_transient(error(MONGOC_ERROR_SERVER, 10334)));
  CHECK_FALSE(mongo::is_transient(error(MONGOC_ERROR_SERVER, 13)));
  CHECK_FALSE(mongo::is_transient(error(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_AUTHENTICATE)));
  CHECK_FALSE(mongo::is_transient(error(MONGOC_ERROR_BSON, MONGOC_ERROR_BSON_INVALID)));
}

TEST_CASE("classify: access denied 77, unreachable 69, transient 75, else 69 with the domain and code",
          "[mongo][client]") {
  const auto auth = mongo::classify(error(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_AUTHENTICATE, "bad auth"),
                                    "MongoDB at h", "connecting");
  CHECK(auth.code == Exit::noperm);
  CHECK(auth.message == "MongoDB at h: authentication failed (bad auth); check the user and password in MONGODB_URL");
  CHECK_FALSE(auth.transient);
  CHECK(auth.server_code == 0);

  for (std::uint32_t code : {13u, 18u}) {  // Unauthorized, AuthenticationFailed
    const auto denied = mongo::classify(error(MONGOC_ERROR_SERVER, code, "not authorized"), "MongoDB at h", "writing a batch");
    CHECK(denied.code == Exit::noperm);
    CHECK(denied.message == "MongoDB at h: not authorized (writing a batch); grant the user readWrite on the database");
    CHECK(denied.server_code == static_cast<int>(code));
    CHECK(mongo::classify(error(MONGOC_ERROR_QUERY, code), "w", "d").code == Exit::noperm);
  }

  const auto down = mongo::classify(error(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE,
                                          "No suitable servers found"),
                                    "MongoDB at h", "reading _sync_metadata");
  CHECK(down.code == Exit::unavailable);
  CHECK(down.message == "MongoDB at h: cannot reach the server (No suitable servers found); check MONGODB_URL and "
                        "that the server is running");
  CHECK(down.transient);
  CHECK(down.server_code == 0);
  CHECK(mongo::classify(error(MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET), "w", "d").code == Exit::unavailable);

  const auto stepped = mongo::classify(error(MONGOC_ERROR_SERVER, 189, "primary stepped down"), "MongoDB at h", "writing a batch");
  CHECK(stepped.code == Exit::tempfail);
  CHECK(stepped.transient);
  CHECK(stepped.server_code == 189);
  CHECK(stepped.message == "MongoDB at h: primary stepped down (writing a batch, error " +
                               std::to_string(MONGOC_ERROR_SERVER) + ".189)");

  const auto other = mongo::classify(error(MONGOC_ERROR_COMMAND, 2, "BadValue"), "MongoDB at h", "creating an index");
  CHECK(other.code == Exit::unavailable);
  CHECK_FALSE(other.transient);
  CHECK(other.server_code == 2);
  CHECK(mongo::classify(error(MONGOC_ERROR_CLIENT, 1), "w", "d").server_code == 0);
}

TEST_CASE("classify: a URL the driver quotes in its message is redacted", "[mongo][client][secrets]") {
  const auto f = mongo::classify(error(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE,
                                       "cannot connect to mongodb://admin:Sup3rSecret@db:27017"),
                                 "MongoDB at mongodb://admin:***@db:27017", "connecting");
  CHECK_FALSE(contains(f.message, "Sup3rSecret"));
  CHECK(contains(f.message, "mongodb://admin:***@db:27017"));
}

TEST_CASE("check_url: the driver's parse, 78 from a setting and 64 from --mongodb-url, redacted",
          "[mongo][client][config]") {
  config::Config cfg;
  cfg.mongodb.url = "mongodb://u:pw@h1:27017,h2:27018/db?replicaSet=rs&w=majority";
  CHECK(mongo::check_url(cfg).ok());

  // Passes config::load's syntax check, not the driver's: an option value of the wrong type.
  cfg.mongodb.url = "mongodb://u:Sup3rSecret@h/?connectTimeoutMS=soon";
  cfg.origin["mongodb.url"] = "MONGODB_URL (environment)";
  const auto bad = mongo::check_url(cfg);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.failure().code == Exit::config);
  CHECK(bad.failure().message.rfind("MONGODB_URL (environment): invalid MongoDB URL mongodb://u:***@h/?connectTimeoutMS=soon: ", 0) == 0);
  CHECK(contains(bad.failure().message, "Unsupported value for \"connecttimeoutms\""));
  CHECK(contains(bad.failure().message, "; use mongodb://[user@]host[:port][,host...][/database][?options]"));
  CHECK_FALSE(contains(bad.failure().message, "Sup3rSecret"));

  cfg.flag_settings.insert("mongodb.url");
  CHECK(mongo::check_url(cfg).failure().code == Exit::usage);

  config::Config unnamed;
  unnamed.mongodb.url = "mongodb://h/?connectTimeoutMS=soon";
  CHECK(mongo::check_url(unnamed).failure().message.rfind("mongodb.url (default): invalid MongoDB URL ", 0) == 0);
}
