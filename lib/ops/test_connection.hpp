// `test-connection`: reach both servers, list the tables, report what was found.
#pragma once

#include "config/config.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace m2m::ops {

struct TestConnectionResult {
  // MySQL side (the seed's fields).
  bool mysql_connected = false;
  std::string database;
  std::string host;
  std::vector<std::string> tables;  // base tables
  std::vector<std::string> views;
  std::string mysql_version;
  std::string mysql_tls_cipher;
  std::optional<Failure> mysql_error;

  // MongoDB side.
  bool mongodb_reachable = false;
  std::string mongodb_url;  // redacted
  std::string mongodb_database;
  std::string mongodb_version;
  std::optional<Failure> mongodb_error;

  // The exit code: the MySQL failure first, then MongoDB's, else ok.
  Exit exit_code() const;
};

TestConnectionResult test_connection(const config::Config& cfg, Logger& log);

// The seed's response shape, extended with "mysql" and "mongodb" sections.
nlohmann::ordered_json to_json(const TestConnectionResult& r);

}  // namespace m2m::ops
