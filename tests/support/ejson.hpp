// MongoDB values as the rig reads them back: canonical Extended JSON, where every BSON type is visible
// ({"$numberInt": "5"}, {"$numberDecimal": "1.5"}, ...). Builders to compare documents against, and readers.
#pragma once

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <set>
#include <string>

namespace rig {

using json = nlohmann::json;

inline json i32(long long v) { return {{"$numberInt", std::to_string(v)}}; }
inline json i64(const std::string& v) { return {{"$numberLong", v}}; }
inline json i64(long long v) { return i64(std::to_string(v)); }
inline json dec(const std::string& v) { return {{"$numberDecimal", v}}; }
inline json date(long long epoch_ms) { return {{"$date", {{"$numberLong", std::to_string(epoch_ms)}}}}; }
inline json bin(const std::string& base64) { return {{"$binary", {{"base64", base64}, {"subType", "00"}}}}; }

// A double's value. Canonical Extended JSON prints doubles with "%.20g": compare the value, not the text.
// strtod, not std::stod, which refuses subnormal values (5e-324).
inline double as_double(const json& v) {
  INFO("value: " << v.dump());
  REQUIRE(v.is_object());
  REQUIRE(v.contains("$numberDouble"));
  return std::strtod(v["$numberDouble"].get<std::string>().c_str(), nullptr);
}

// The member names of a JSON object.
inline std::set<std::string> keys_of(const json& object) {
  std::set<std::string> out;
  for (const auto& [k, v] : object.items()) out.insert(k);
  return out;
}

}  // namespace rig
