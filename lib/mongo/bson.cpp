#include "mongo/bson.hpp"

#include "util/error.hpp"

#include <fmt/format.h>

namespace m2m::mongo {

namespace {
std::string to_json(const bson_t* b) {
  size_t len = 0;
  char* s = bson_as_relaxed_extended_json(b, &len);
  std::string out = s ? std::string(s, len) : std::string("{}");
  bson_free(s);
  return out;
}
}  // namespace

std::string Bson::json() const { return to_json(b_); }
std::string Reply::json() const { return to_json(&b_); }

Bson Bson::from_json(std::string_view json) {
  bson_error_t error;
  bson_t* b = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()), static_cast<ssize_t>(json.size()), &error);
  if (!b) throw Error(Exit::internal, fmt::format("invalid JSON literal: {}", error.message));
  return Bson(b);
}

void append_server_time_plus(bson_t* doc, const char* key, std::chrono::milliseconds ms) {
  bson_t add, args;
  BSON_APPEND_DOCUMENT_BEGIN(doc, key, &add);
  BSON_APPEND_ARRAY_BEGIN(&add, "$add", &args);
  BSON_APPEND_UTF8(&args, "0", "$$NOW");
  BSON_APPEND_INT64(&args, "1", ms.count());
  bson_append_array_end(&add, &args);
  bson_append_document_end(doc, &add);
}

void append_renewal(bson_t* statement, const char* key, std::chrono::milliseconds ms) {
  bson_t stages, stage, set;
  BSON_APPEND_ARRAY_BEGIN(statement, "u", &stages);
  BSON_APPEND_DOCUMENT_BEGIN(&stages, "0", &stage);
  BSON_APPEND_DOCUMENT_BEGIN(&stage, "$set", &set);
  append_server_time_plus(&set, key, ms);
  bson_append_document_end(&stage, &set);
  bson_append_document_end(&stages, &stage);
  bson_append_array_end(statement, &stages);
}

}  // namespace m2m::mongo
