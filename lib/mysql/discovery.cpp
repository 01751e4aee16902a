#include "mysql/discovery.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace m2m::mysql {

Expected<std::vector<TableName>> list_tables(Connection& conn, const std::string& database) {
  const std::string sql = fmt::format(
      "SELECT TABLE_NAME, TABLE_TYPE, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES "
      "WHERE TABLE_SCHEMA = {} AND TABLE_TYPE IN ('BASE TABLE', 'VIEW', 'SYSTEM VERSIONED') "
      "ORDER BY TABLE_NAME",
      conn.literal(database));
  auto rows = conn.query(sql);
  if (!rows) return rows.failure();
  std::vector<TableName> out;
  while (MYSQL_ROW row = rows->next()) {
    const auto* len = rows->lengths();
    TableName t;
    t.name.assign(row[0], len[0]);
    t.is_view = std::string_view(row[1], len[1]) == "VIEW";
    t.row_estimate = std::strtoull(row[2], nullptr, 10);
    out.push_back(std::move(t));
  }
  if (rows->error()) return *rows->error();
  return out;
}

}  // namespace m2m::mysql
