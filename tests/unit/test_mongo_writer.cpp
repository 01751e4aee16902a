// lib/mongo/writer: the reply of an update command read into what the driver's bulk API reports for the
// same operations (counts, write errors, write concern errors, the error of the batch). No server: the
// replies are written here as a server sends them.
#include "mongo/writer.hpp"

#include <catch2/catch.hpp>

#include <mongoc/mongoc.h>

#include <string>

using namespace m2m;

namespace {

struct Result {
  bool ok = false;
  bson_error_t error{};
  mongo::Bson reply;
  std::string json;
};

Result result_of(const std::string& server_reply, bool command_ok = true, bson_error_t command_error = {}) {
  const mongo::Bson reply = mongo::Bson::from_json(server_reply);
  Result r;
  bson_t out;
  r.ok = mongo::bulk_result_of_update(reply.get(), command_ok, command_error, &out, &r.error);
  r.reply = mongo::Bson(bson_copy(&out));
  bson_destroy(&out);
  r.json = r.reply.json();
  return r;
}

std::int64_t field(const Result& r, const char* key) {
  bson_iter_t it;
  REQUIRE(bson_iter_init_find(&it, r.reply.get(), key));
  return bson_iter_as_int64(&it);
}

}  // namespace

TEST_CASE("an update command's counts become the bulk API's: matched excludes the upserted", "[mongo][writer]") {
  const auto r = result_of(R"({"n": 5, "nModified": 2, "upserted": [{"index": 0, "_id": 1}, {"index": 3, "_id": 2}],
                               "ok": 1.0})");
  CHECK(r.ok);
  CHECK(field(r, "nInserted") == 0);
  CHECK(field(r, "nUpserted") == 2);
  CHECK(field(r, "nMatched") == 3);
  CHECK(field(r, "nModified") == 2);
  CHECK(field(r, "nRemoved") == 0);
  CHECK(r.json.find(R"("writeErrors" : [  ])") != std::string::npos);
  CHECK(r.json.find("writeConcernErrors") == std::string::npos);

  // An unacknowledged write (w: 0) has no reply at all: nothing counted, nothing failed.
  const auto quiet = result_of("{}");
  CHECK(quiet.ok);
  CHECK(field(quiet, "nMatched") == 0);
}

TEST_CASE("write errors fail the batch with the first code and every message, as the bulk API words them",
          "[mongo][writer]") {
  const auto one = result_of(R"({"n": 1, "nModified": 0, "writeErrors": [
      {"index": 1, "code": 17420, "errmsg": "Document to upsert is larger than 16777216"}], "ok": 1.0})");
  CHECK_FALSE(one.ok);
  CHECK(one.error.domain == MONGOC_ERROR_SERVER);
  CHECK(one.error.code == 17420);
  CHECK(std::string(one.error.message) == "Document to upsert is larger than 16777216");
  CHECK(one.json.find(R"("writeErrors" : [ { "index" : 1, "code" : 17420)") != std::string::npos);
  CHECK(field(one, "nMatched") == 1);

  const auto two = result_of(R"({"n": 0, "nModified": 0, "writeErrors": [
      {"index": 0, "code": 11000, "errmsg": "E11000 duplicate key"},
      {"index": 2, "code": 52, "errmsg": "dollar"}], "ok": 1.0})");
  CHECK_FALSE(two.ok);
  CHECK(two.error.code == 11000);
  CHECK(std::string(two.error.message) == R"(Multiple write errors: "E11000 duplicate key", "dollar")");
}

TEST_CASE("a write concern error fails the batch in the write concern domain, after any write error",
          "[mongo][writer]") {
  bson_error_t driver;  // what the driver's command call says for it
  bson_set_error(&driver, MONGOC_ERROR_WRITE_CONCERN, 64, "Write Concern error: waiting for replication timed out");
  const auto concern = result_of(R"({"n": 2, "nModified": 2, "writeConcernError": {"code": 64,
      "codeName": "WriteConcernFailed", "errmsg": "waiting for replication timed out"}, "ok": 1.0})",
                                 false, driver);
  CHECK_FALSE(concern.ok);
  CHECK(concern.error.domain == MONGOC_ERROR_WRITE_CONCERN);
  CHECK(concern.error.code == 64);
  CHECK(std::string(concern.error.message) == "waiting for replication timed out");
  CHECK(concern.json.find(R"("writeConcernErrors" : [ { "code" : 64)") != std::string::npos);

  const auto both = result_of(R"({"n": 1, "nModified": 1, "writeErrors": [{"index": 1, "code": 2, "errmsg": "bad"}],
      "writeConcernError": {"code": 64, "errmsg": "timed out"}, "ok": 1.0})",
                              false, driver);
  CHECK_FALSE(both.ok);
  CHECK(both.error.domain == MONGOC_ERROR_SERVER);
  CHECK(both.error.code == 2);
  CHECK(both.json.find("writeConcernErrors") != std::string::npos);
}

TEST_CASE("a command that failed as a whole keeps the driver's error", "[mongo][writer]") {
  bson_error_t network;
  bson_set_error(&network, MONGOC_ERROR_STREAM, MONGOC_ERROR_STREAM_SOCKET, "Failed to read 4 bytes");
  const auto lost = result_of("{}", false, network);
  CHECK_FALSE(lost.ok);
  CHECK(lost.error.domain == MONGOC_ERROR_STREAM);
  CHECK(lost.error.code == MONGOC_ERROR_STREAM_SOCKET);
  CHECK(std::string(lost.error.message) == "Failed to read 4 bytes");

  bson_error_t refused;
  bson_set_error(&refused, MONGOC_ERROR_SERVER, 10334, "BSONObj size: 16793601 (0x1003E01) is invalid");
  const auto too_big = result_of(R"({"ok": 0.0, "code": 10334, "errmsg": "BSONObj size: 16793601 (0x1003E01) is invalid"})",
                                 false, refused);
  CHECK_FALSE(too_big.ok);
  CHECK(too_big.error.code == 10334);
  CHECK(field(too_big, "nMatched") == 0);
}
