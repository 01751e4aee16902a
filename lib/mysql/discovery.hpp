// Schema discovery from information_schema: tables, columns with their full types, keys, foreign keys.
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

// Full descriptions of the named tables (a handful of queries for the whole set, not per table).
// MariaDB's JSON is LONGTEXT with a json_valid() check constraint: such columns get data_type "json".
Expected<std::vector<Table>> describe_tables(Connection& conn, const std::string& database,
                                             const std::vector<TableName>& tables);

}  // namespace m2m::mysql
