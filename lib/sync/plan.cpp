#include "sync/plan.hpp"
#include "sync/sql.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>
#include <set>

namespace m2m::sync {

std::string_view to_string(KeySource k) {
  switch (k) {
    case KeySource::primary: return "primary key";
    case KeySource::unique: return "unique key";
    case KeySource::configured: return "configured key";
    case KeySource::none: return "none";
  }
  return "?";
}

std::vector<std::string> TablePlan::key_fields() const {
  std::vector<std::string> out;
  for (auto i : key) out.push_back(fields[i].field);
  return out;
}

std::vector<std::string> TablePlan::key_columns() const {
  std::vector<std::string> out;
  for (auto i : key) out.push_back(fields[i].column);
  return out;
}

bool is_reserved_collection(const std::string& name) {
  auto ends_with = [&](std::string_view suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return name == "_sync_metadata" || name == "_sync_lock" || name.rfind("system.", 0) == 0 ||
         ends_with("__m2m_staging");
}

std::string collection_name_for(const std::string& table, const config::Config& cfg) {
  if (auto it = cfg.tables.find(table); it != cfg.tables.end() && !it->second.collection.empty())
    return it->second.collection;
  std::string name = cfg.sync.collection_prefix + table;
  std::replace(name.begin(), name.end(), '$', '_');
  // Names the tool or MongoDB use themselves get a '_' in front (or, for the staging suffix, behind).
  if (name.size() >= 13 && name.compare(name.size() - 13, 13, "__m2m_staging") == 0) name += "_";
  else if (is_reserved_collection(name)) name = "_" + name;
  return name;
}

namespace {

bool is_temporal(const mysql::Column& c) { return c.data_type == "timestamp" || c.data_type == "datetime"; }

}  // namespace

std::pair<std::string, std::string> detect_change_column(const mysql::Table& table) {
  for (const auto& c : table.columns)
    if (is_temporal(c) && c.extra.find("on update current_timestamp") != std::string::npos)
      return {c.name, "ON UPDATE CURRENT_TIMESTAMP"};
  for (const char* name : {"updated_at", "modified_at", "last_update", "last_modified"})
    for (const auto& c : table.columns)
      if (is_temporal(c) && to_lower(c.name) == name) return {c.name, fmt::format("named {}", name)};
  return {};
}

namespace {

std::string fingerprint_of(const mysql::Table& t, const std::vector<convert::FieldPlan>& fields,
                           const std::vector<std::string>& key, const std::string& settings) {
  // FNV-1a over what decides the documents' shape: columns, their full types, the key, the settings. Stable across
  // runs and platforms (std::hash is neither).
  std::string text;
  for (const auto& c : t.columns) text += c.name + '\x1f' + c.column_type + '\x1f' + (c.nullable ? "1" : "0") + '\x1e';
  for (const auto& f : fields) text += f.field + '\x1f' + std::to_string(static_cast<int>(f.kind)) + '\x1e';
  for (const auto& k : key) text += k + '\x1d';
  text += settings;
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:016x}", h);
}

Failure selection_error(bool from_flag, const std::string& message) {
  return Failure{from_flag ? Exit::usage : Exit::config, message};
}

bool has_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

}  // namespace

Expected<std::vector<TablePlan>> make_plan(mysql::Connection& conn, const config::Config& cfg,
                                           const Selection& sel, Logger& log) {
  auto names = mysql::list_tables(conn, cfg.mysql.database);
  if (!names) return names.failure();

  const std::string source = sel.tables_from_flag ? "--tables"
                             : cfg.origin.count("sync.tables") ? cfg.origin.at("sync.tables")
                                                               : "sync.tables";
  std::vector<mysql::TableName> chosen;
  if (sel.tables.empty()) {
    for (const auto& n : *names)
      if (!n.is_view || cfg.sync.include_views) chosen.push_back(n);
  } else {
    std::set<std::string> picked;
    for (const auto& pattern : sel.tables) {
      bool matched = false;
      for (const auto& n : *names) {
        const bool hit = has_glob(pattern) ? glob_match(pattern, n.name) : pattern == n.name;
        if (!hit) continue;
        // A glob never pulls in views unless views are enabled; a view named exactly is taken.
        if (n.is_view && has_glob(pattern) && !cfg.sync.include_views) continue;
        matched = true;
        if (picked.insert(n.name).second) chosen.push_back(n);
      }
      if (!matched)
        return selection_error(sel.tables_from_flag,
                               fmt::format("{}: no table '{}' in MySQL database '{}'; run 'mysql2mongo tables' to "
                                           "list them",
                                           source, pattern, cfg.mysql.database));
    }
  }
  std::vector<std::string> exclude = cfg.sync.exclude;
  exclude.insert(exclude.end(), sel.exclude.begin(), sel.exclude.end());
  std::erase_if(chosen, [&](const mysql::TableName& n) {
    return std::any_of(exclude.begin(), exclude.end(), [&](const std::string& p) { return glob_match(p, n.name); });
  });
  // Per-table settings for tables that do not exist are typos: say so rather than ignore them.
  for (const auto& [name, opts] : cfg.tables) {
    (void)opts;
    if (std::none_of(names->begin(), names->end(), [&](const auto& n) { return n.name == name; }))
      return Failure{Exit::config, fmt::format("[tables.{}]: no such table in MySQL database '{}'; fix the section name",
                                               name, cfg.mysql.database)};
  }

  auto described = mysql::describe_tables(conn, cfg.mysql.database, chosen);
  if (!described) return described.failure();

  convert::TypeOptions type_options;
  type_options.tinyint1_as_bool = cfg.sync.tinyint1_as_bool;
  type_options.zero_date = cfg.sync.zero_date == config::ZeroDate::string ? convert::ZeroDate::string : convert::ZeroDate::null;

  std::vector<TablePlan> plans;
  std::map<std::string, std::string> collection_owner;
  for (auto& table : *described) {
    TablePlan p;
    const config::TableOptions* opts = nullptr;
    if (auto it = cfg.tables.find(table.name); it != cfg.tables.end()) opts = &it->second;
    const std::string section = fmt::format("[tables.{}]", table.name);

    // Excluded columns: drop them before planning the fields.
    mysql::Table visible = table;
    if (opts) {
      for (const auto& col : opts->exclude_columns) {
        if (!table.find(col))
          return Failure{Exit::config, fmt::format("{} exclude_columns: no column '{}' in table '{}'; check the name",
                                                   section, col, table.name)};
        p.excluded_columns.push_back(col);
      }
      std::erase_if(visible.columns, [&](const mysql::Column& c) {
        return std::find(opts->exclude_columns.begin(), opts->exclude_columns.end(), c.name) != opts->exclude_columns.end();
      });
    }
    auto fields = convert::plan_fields(visible, type_options, opts ? opts->types : convert::Overrides{}, &p.renames);
    if (!fields) return fields.failure();
    p.fields = std::move(*fields);

    auto field_index = [&](const std::string& column) -> std::optional<std::size_t> {
      for (std::size_t i = 0; i < p.fields.size(); ++i)
        if (p.fields[i].column == column) return i;
      return std::nullopt;
    };
    auto set_key = [&](const std::vector<std::string>& cols, KeySource src) -> bool {
      std::vector<std::size_t> idx;
      for (const auto& c : cols) {
        auto i = field_index(c);
        if (!i) return false;
        idx.push_back(*i);
      }
      p.key = std::move(idx);
      p.key_source = src;
      return true;
    };

    if (opts && !opts->key_columns.empty()) {
      for (const auto& c : opts->key_columns)
        if (!table.find(c))
          return Failure{Exit::config, fmt::format("{} key_columns: no column '{}' in table '{}'; check the name",
                                                   section, c, table.name)};
      for (const auto& c : opts->key_columns)
        if (table.find(c)->nullable)
          return Failure{Exit::config, fmt::format("{} key_columns: column '{}' of table '{}' is nullable; a key must be "
                                                   "NOT NULL (or leave key_columns unset)",
                                                   section, c, table.name)};
      if (!set_key(opts->key_columns, KeySource::configured))
        return Failure{Exit::config, fmt::format("{} key_columns: a key column is also in exclude_columns; keep it",
                                                 section)};
    } else if (!table.primary_key.empty()) {
      if (!set_key(table.primary_key, KeySource::primary))
        return Failure{Exit::config, fmt::format("{} exclude_columns: the primary key column cannot be excluded", section)};
    } else {
      for (const auto& uk : table.unique_keys) {
        const bool not_null = std::all_of(uk.columns.begin(), uk.columns.end(), [&](const std::string& c) {
          const auto* col = table.find(c);
          return col && !col->nullable;
        });
        if (not_null && set_key(uk.columns, KeySource::unique)) break;
      }
    }

    if (opts && !opts->change_column.empty()) {
      const auto* col = table.find(opts->change_column);
      if (!col)
        return Failure{Exit::config, fmt::format("{} change_column: no column '{}' in table '{}'; check the name",
                                                 section, opts->change_column, table.name)};
      if (col->data_type != "timestamp" && col->data_type != "datetime" && col->data_type != "date")
        return Failure{Exit::config, fmt::format("{} change_column: column '{}' is {}, not a TIMESTAMP, DATETIME or DATE; "
                                                 "choose a time column", section, col->name, col->column_type)};
      p.change_column = col->name;
      p.change_reason = "configured";
    } else {
      std::tie(p.change_column, p.change_reason) = detect_change_column(table);
    }

    if (!p.change_column.empty()) {
      const auto chg = field_index(p.change_column);
      if (!chg)
        return Failure{Exit::config, fmt::format("{} exclude_columns: the change column '{}' cannot be excluded", section,
                                                 p.change_column)};
      p.change_field = *chg;
      p.change_instant = table.find(p.change_column)->data_type == "timestamp";
      if (opts && !opts->change_zone.empty()) {
        auto known = conn.scalar(select_zone_known(opts->change_zone, [&](std::string_view v) { return conn.literal(v); }));
        if (!known) return known.failure();
        if (known->value_or("0") != "1")
          return Failure{Exit::config,
                         fmt::format("{} change_zone: the server does not know the time zone '{}'; use an offset such "
                                     "as \"+01:00\", or load the server's time zone tables (mariadb-tzinfo-to-sql "
                                     "/usr/share/zoneinfo | mariadb mysql)",
                                     section, opts->change_zone)};
        p.change_zone = opts->change_zone;
      }
    }

    // Key columns: their MongoDB values must order as MySQL orders them (for the delete merge) and
    // convert without loss. A SET would be an array, which MongoDB refuses as _id and indexes per member:
    // it is stored as its text. Overrides keep only what keeps the order.
    for (auto k : p.key) {
      auto& f = p.fields[k];
      const mysql::Column* col = table.find(f.column);
      const convert::Kind natural = convert::auto_kind(*col, type_options);
      if (f.kind == convert::Kind::set) {
        f.kind = convert::Kind::string;
        p.notes.push_back(fmt::format("key column '{}' is a SET: stored as its text ('a,b'), since a key cannot be an "
                                      "array in MongoDB", f.column));
        continue;
      }
      using convert::Kind;
      const auto numeric = [](Kind x) { return x == Kind::int32 || x == Kind::int64 || x == Kind::uint64 || x == Kind::decimal; };
      const bool keeps_order = f.kind == natural || f.kind == Kind::string || f.kind == Kind::binary ||
                               (numeric(natural) && (f.kind == Kind::int64 || f.kind == Kind::decimal));
      if (!keeps_order)
        return Failure{Exit::config,
                       fmt::format("{} types: '{}' is a key column of type {}; a key keeps its type or is stored as "
                                   "\"string\" or \"binary\" (MySQL and MongoDB must order it alike to find deleted "
                                   "rows); change or remove the override",
                                   section, f.column, col->column_type)};
    }

    if (cfg.sync.index_foreign_keys) {
      std::set<std::vector<std::string>> seen;
      for (const auto& fk : table.foreign_keys) {
        std::vector<std::string> fs;
        for (const auto& c : fk.columns)
          if (auto i = field_index(c)) fs.push_back(p.fields[*i].field);
        if (fs.size() != fk.columns.size()) continue;
        // The unique key index serves lookups on any of its prefixes already.
        const auto key_fields = p.key_fields();
        if (fs.size() <= key_fields.size() && std::equal(fs.begin(), fs.end(), key_fields.begin())) continue;
        if (seen.insert(fs).second) p.index_fields.push_back(std::move(fs));
      }
    }

    p.changes = opts && opts->changes ? *opts->changes : cfg.sync.changes;
    // Until ops knows whether the server's binlog can be read: the change column, or a full pass.
    p.change_source = p.has_key() && !p.change_column.empty() ? mongo::ChangeSource::timestamp : mongo::ChangeSource::full;
    p.collection = collection_name_for(table.name, cfg);
    // MongoDB refuses namespaces (database.collection) longer than 255 bytes; the staging collection a
    // rebuild uses is 13 bytes longer.
    if (const auto ns = cfg.mongo_database().size() + 1 + p.collection.size() + 13; ns > 255)
      return Failure{Exit::config,
                     fmt::format("table '{}': the MongoDB namespace {}.{} (with the 13-byte staging suffix) is {} bytes, "
                                 "more than MongoDB's 255; set a shorter collection name with [tables.{}] collection",
                                 table.name, cfg.mongo_database(), p.collection, ns, table.name)};
    if (is_reserved_collection(p.collection))
      return Failure{Exit::config, fmt::format("{} collection: '{}' is reserved (_sync_metadata, _sync_lock, system.*, "
                                               "*__m2m_staging); choose another name",
                                               section, p.collection)};
    if (auto [it, inserted] = collection_owner.emplace(p.collection, table.name); !inserted)
      return Failure{Exit::config, fmt::format("tables '{}' and '{}' both map to collection '{}'; set "
                                               "[tables.<name>] collection for one of them",
                                               it->second, table.name, p.collection)};
    // Settings that change what the documents look like or where they go count as a schema change too,
    // so the next run resyncs in full instead of mixing old and new documents.
    p.fingerprint = fingerprint_of(table, p.fields, p.key_columns(),
                                   fmt::format("{}\x1f{}\x1f{}\x1f{}", p.collection, p.change_column,
                                               cfg.sync.key_as_id, static_cast<int>(cfg.sync.zero_date)));
    for (const auto& r : p.renames)
      log.debug("table {}: column '{}' is stored as field '{}'", table.name, r.column, r.field);
    p.table = std::move(table);
    plans.push_back(std::move(p));
  }
  return plans;
}

nlohmann::ordered_json to_json(const TablePlan& p) {
  nlohmann::ordered_json j;
  j["table"] = p.table.name;
  j["type"] = p.table.is_view ? "view" : "table";
  j["collection"] = p.collection;
  j["key"] = p.key_columns();
  j["key_source"] = std::string(to_string(p.key_source));
  j["key_fields"] = p.key_fields();
  j["change_column"] = p.change_column.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(p.change_column);
  j["change_source"] = p.change_source;
  j["change_reason"] = p.change_reason.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(p.change_reason);
  j["incremental"] = p.change_source != mongo::ChangeSource::full;
  j["rows_estimate"] = p.table.row_estimate;
  j["columns"] = p.fields.size();
  nlohmann::ordered_json renames = nlohmann::ordered_json::object();
  for (const auto& r : p.renames) renames[r.column] = r.field;
  j["renamed_columns"] = renames;
  j["excluded_columns"] = p.excluded_columns;
  j["indexes"] = p.index_fields;
  j["schema_fingerprint"] = p.fingerprint;
  if (!p.change_zone.empty()) j["change_zone"] = p.change_zone;
  j["notes"] = p.notes;
  return j;
}

}  // namespace m2m::sync
