// What discovery learns about a table, straight from information_schema. No BSON here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace m2m::mysql {

struct Column {
  std::string name;
  int ordinal = 0;                 // ORDINAL_POSITION, 1-based
  std::string data_type;           // DATA_TYPE, lower case: "int", "decimal", "datetime", "set", ...
  std::string column_type;         // COLUMN_TYPE: "int(10) unsigned", "enum('a','b')", "bit(5)", ...
  bool is_unsigned = false;
  bool nullable = true;
  std::optional<int> numeric_precision;   // DECIMAL p, BIT width (from COLUMN_TYPE)
  std::optional<int> numeric_scale;       // DECIMAL s
  std::optional<int> datetime_precision;  // fsp of TIME/DATETIME/TIMESTAMP
  std::string charset;             // CHARACTER_SET_NAME; empty for non-text columns
  std::string collation;
  std::string extra;               // EXTRA: "on update current_timestamp()", "auto_increment", ...
  bool is_generated = false;       // VIRTUAL/STORED generated column
};

struct Index {
  std::string name;
  bool unique = false;
  std::vector<std::string> columns;  // in key order
};

struct ForeignKey {
  std::string name;
  std::vector<std::string> columns;
  std::string referenced_table;
  std::vector<std::string> referenced_columns;
};

struct Table {
  std::string name;
  bool is_view = false;
  std::vector<Column> columns;     // in ORDINAL_POSITION order
  std::vector<std::string> primary_key;          // empty when the table has none
  std::vector<Index> unique_keys;                // UNIQUE indexes other than the primary key
  std::vector<ForeignKey> foreign_keys;
  std::uint64_t row_estimate = 0;  // TABLE_ROWS: an estimate for InnoDB

  const Column* find(const std::string& column) const {
    for (const auto& c : columns)
      if (c.name == column) return &c;
    return nullptr;
  }
};

}  // namespace m2m::mysql
