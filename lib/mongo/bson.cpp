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

}  // namespace m2m::mongo
