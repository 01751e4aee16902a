// The plan: which tables to sync, into which collections, keyed and ordered how.
#pragma once

#include "config/config.hpp"
#include "convert/convert.hpp"
#include "mongo/metadata.hpp"
#include "mysql/connection.hpp"
#include "mysql/discovery.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace m2m::sync {

enum class KeySource { primary, unique, configured, none };
std::string_view to_string(KeySource k);

struct TablePlan {
  mysql::Table table;
  std::string collection;
  std::vector<convert::FieldPlan> fields;    // the columns copied, in column order
  std::vector<convert::Rename> renames;
  std::vector<std::string> excluded_columns;
  KeySource key_source = KeySource::none;
  std::vector<std::size_t> key;              // indexes into `fields`, in key order
  std::string change_column;                 // empty: no change column, incremental falls back to full
  std::string change_reason;                 // why this column: "ON UPDATE CURRENT_TIMESTAMP", ...
  std::size_t change_field = 0;              // index into `fields` of the change column (when there is one)
  bool change_instant = false;               // a TIMESTAMP: its values are instants (read in UTC)
  // A DATETIME/DATE change column holds wall-clock times of a zone: [tables.NAME] change_zone, else the
  // server's time zone (empty here: resolved at run time).
  std::string change_zone;
  std::vector<std::string> notes;            // decisions worth telling (a SET key stored as text, ...)
  config::Changes changes = config::Changes::automatic;  // as configured (sync.changes, [tables.NAME])
  // Where its changes come from this run: set by ops once the server's binlog is known (resolve_changes).
  mongo::ChangeSource change_source = mongo::ChangeSource::full;
  std::vector<std::vector<std::string>> index_fields;  // non-unique indexes (foreign keys), as field names
  std::string fingerprint;                   // changes when a column is added, dropped or retyped

  bool has_key() const { return !key.empty(); }
  // The change column's definition; nullptr without one.
  const mysql::Column* change() const { return change_column.empty() ? nullptr : table.find(change_column); }
  std::vector<std::string> key_fields() const;
  std::vector<std::string> key_columns() const;
};

// Chooses the tables (sync.tables / --tables, sync.exclude / --exclude, views only if asked), and plans
// each one. Unknown table names in the selection are errors (usage when they came from a flag, config
// otherwise); so are bad per-table settings.
struct Selection {
  std::vector<std::string> tables;   // names or globs; empty: all
  std::vector<std::string> exclude;  // globs
  bool tables_from_flag = false;
};

Expected<std::vector<TablePlan>> make_plan(mysql::Connection& conn, const config::Config& cfg,
                                           const Selection& selection, Logger& log);

// Collections the tool keeps for itself (or MongoDB does): never a table's.
bool is_reserved_collection(const std::string& name);

// The collection a table goes to: configured name, else prefix + table name with '$' replaced by '_'
// (and a leading "system." prefixed with '_').
std::string collection_name_for(const std::string& table, const config::Config& cfg);

// The change column: configured, else a TIMESTAMP/DATETIME with ON UPDATE CURRENT_TIMESTAMP, else a
// temporal column named updated_at, modified_at, last_update or last_modified (any case).
std::pair<std::string, std::string> detect_change_column(const mysql::Table& table);

// For `tables --json` and `sync --dry-run`.
nlohmann::ordered_json to_json(const TablePlan& plan);

}  // namespace m2m::sync
