#include "mysql/discovery.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <regex>

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

namespace {

std::string text(MYSQL_ROW row, const unsigned long* len, int i) {
  return row[i] ? std::string(row[i], len[i]) : std::string();
}

std::optional<int> number(MYSQL_ROW row, int i) {
  if (!row[i]) return std::nullopt;
  return std::atoi(row[i]);
}

// Runs an information_schema query whose first column is TABLE_NAME and hands each row that belongs to
// one of the tables being described to `fn`.
template <typename Fn>
Status for_each_row(Connection& conn, const std::string& sql, std::map<std::string, Table>& tables, Fn fn) {
  auto rows = conn.query(sql);
  if (!rows) return rows.failure();
  while (MYSQL_ROW row = rows->next()) {
    const auto* len = rows->lengths();
    auto it = tables.find(text(row, len, 0));
    if (it != tables.end()) fn(it->second, row, len);
  }
  if (rows->error()) return *rows->error();
  return success();
}

}  // namespace

Expected<std::vector<Table>> describe_tables(Connection& conn, const std::string& database,
                                             const std::vector<TableName>& names) {
  std::map<std::string, Table> tables;
  for (const auto& n : names) {
    Table t;
    t.name = n.name;
    t.is_view = n.is_view;
    t.row_estimate = n.row_estimate;
    tables.emplace(n.name, std::move(t));
  }
  const std::string schema = conn.literal(database);

  {
    auto st = for_each_row(conn, fmt::format(
        "SELECT TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, "
        "NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME, ORDINAL_POSITION",
        schema), tables, [](Table& t, MYSQL_ROW row, const unsigned long* len) {
      Column c;
      c.name = text(row, len, 1);
      c.ordinal = std::atoi(row[2]);
      c.data_type = to_lower(text(row, len, 3));
      c.column_type = text(row, len, 4);
      const std::string lower_type = to_lower(c.column_type);
      c.is_unsigned = lower_type.find(" unsigned") != std::string::npos;
      c.nullable = text(row, len, 5) == "YES";
      c.numeric_precision = number(row, 6);
      c.numeric_scale = number(row, 7);
      c.datetime_precision = number(row, 8);
      c.charset = text(row, len, 9);
      c.collation = text(row, len, 10);
      c.extra = to_lower(text(row, len, 11));
      c.is_generated = c.extra.find("virtual") != std::string::npos || c.extra.find("stored") != std::string::npos ||
                       c.extra.find("persistent") != std::string::npos;
      if (c.data_type == "bit") {
        // information_schema reports BIT(n)'s width as NUMERIC_PRECISION; trust COLUMN_TYPE if it differs.
        if (auto open = lower_type.find('('); open != std::string::npos)
          c.numeric_precision = std::atoi(lower_type.c_str() + open + 1);
      }
      t.columns.push_back(std::move(c));
    });
    if (!st) return st.failure();
  }

  {
    auto st = for_each_row(conn, fmt::format(
        "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS "
        "WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        schema), tables, [](Table& t, MYSQL_ROW row, const unsigned long* len) {
      const std::string index = text(row, len, 1);
      const bool unique = std::string_view(row[2], len[2]) == "0";
      const std::string column = text(row, len, 3);
      if (index == "PRIMARY") {
        t.primary_key.push_back(column);
      } else if (unique) {
        if (t.unique_keys.empty() || t.unique_keys.back().name != index) t.unique_keys.push_back(Index{index, true, {}});
        t.unique_keys.back().columns.push_back(column);
      }
    });
    if (!st) return st.failure();
  }

  {
    auto st = for_each_row(conn, fmt::format(
        "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME "
        "FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = {} AND REFERENCED_TABLE_NAME IS NOT NULL "
        "ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        schema), tables, [](Table& t, MYSQL_ROW row, const unsigned long* len) {
      const std::string name = text(row, len, 1);
      if (t.foreign_keys.empty() || t.foreign_keys.back().name != name)
        t.foreign_keys.push_back(ForeignKey{name, {}, text(row, len, 3), {}});
      t.foreign_keys.back().columns.push_back(text(row, len, 2));
      t.foreign_keys.back().referenced_columns.push_back(text(row, len, 4));
    });
    if (!st) return st.failure();
  }

  // MariaDB: JSON columns are LONGTEXT guarded by CHECK (json_valid(`col`)). MySQL reports "json" itself,
  // and may not have CHECK_CONSTRAINTS (before 8.0.16): a failing query only means "no such columns".
  if (auto rows = conn.query(fmt::format(
          "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {}",
          schema))) {
    static const std::regex json_valid(R"(json_valid\(`((?:[^`]|``)+)`\))", std::regex::icase);
    while (MYSQL_ROW row = rows->next()) {
      const auto* len = rows->lengths();
      auto it = tables.find(text(row, len, 0));
      if (it == tables.end()) continue;
      const std::string clause = text(row, len, 1);
      // One constraint may check several columns: CHECK (json_valid(a) AND json_valid(b)).
      for (std::sregex_iterator m(clause.begin(), clause.end(), json_valid), end; m != end; ++m) {
        std::string column = (*m)[1].str();
        for (size_t p = 0; (p = column.find("``", p)) != std::string::npos; ++p) column.erase(p, 1);
        for (auto& c : it->second.columns)
          if (c.name == column && (c.data_type == "longtext" || c.data_type == "text")) c.data_type = "json";
      }
    }
  }

  std::vector<Table> out;
  for (auto& [name, t] : tables) out.push_back(std::move(t));
  return out;
}

}  // namespace m2m::mysql
