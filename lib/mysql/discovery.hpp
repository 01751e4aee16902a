// Schema discovery from information_schema.
#pragma once

#include "mysql/connection.hpp"
#include "mysql/schema.hpp"

#include <string>
#include <vector>

namespace m2m::mysql {

struct TableName {
  std::string name;
  bool is_view = false;
  std::uint64_t row_estimate = 0;
};

// Every table and view of the database, sorted by name.
Expected<std::vector<TableName>> list_tables(Connection& conn, const std::string& database);

}  // namespace m2m::mysql
