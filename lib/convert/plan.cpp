// The type policy (mysql2mongo.toml(5), TYPE MAPPING): which Kind each column gets, per-column overrides, and field names.
#include "convert/convert.hpp"

#include "util/text.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>
#include <string>

namespace m2m::convert {

namespace {

// What a column holds, as far as overrides are concerned.
enum class Family { integer, bit, decimal, floating, date, time, text, set, binary, json, other };

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

Family family_of(const mysql::Column& c) {
  const std::string& t = c.data_type;
  if (is_one_of(t, {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"}))
    return Family::integer;
  if (t == "bit") return Family::bit;
  if (is_one_of(t, {"decimal", "numeric", "dec", "fixed"})) return Family::decimal;
  if (is_one_of(t, {"float", "double", "double precision", "real"})) return Family::floating;
  if (is_one_of(t, {"date", "datetime", "timestamp"})) return Family::date;
  if (t == "time") return Family::time;
  if (t == "set") return Family::set;
  if (t == "json") return Family::json;
  if (is_one_of(t, {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry",
                    "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
                    "geometrycollection", "geomcollection", "vector"}))
    return Family::binary;
  if (is_one_of(t, {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum"}))
    return c.charset == "binary" ? Family::binary : Family::text;
  return Family::other;  // e.g. MariaDB's inet4, inet6, uuid: text in the text protocol
}

// BIT(n): n from NUMERIC_PRECISION, else from COLUMN_TYPE "bit(n)"; a bare "bit" is BIT(1).
int bit_width_of(const mysql::Column& c) {
  if (c.numeric_precision && *c.numeric_precision > 0) return *c.numeric_precision;
  const auto open = c.column_type.find('(');
  if (open != std::string::npos)
    if (const auto n = parse_int(c.column_type.substr(open + 1, c.column_type.find(')', open) - open - 1)))
      if (*n > 0 && *n <= 64) return static_cast<int>(*n);
  return 1;
}

}  // namespace

Kind auto_kind(const mysql::Column& c, const TypeOptions& options) {
  const std::string& t = c.data_type;
  switch (family_of(c)) {
    case Family::integer:
      if (t == "tinyint" && options.tinyint1_as_bool && starts_with(to_lower(c.column_type), "tinyint(1)"))
        return Kind::boolean;
      if (t == "bigint") return c.is_unsigned ? Kind::uint64 : Kind::int64;
      if (t == "int" || t == "integer") return c.is_unsigned ? Kind::int64 : Kind::int32;
      return Kind::int32;
    case Family::bit:
      return bit_width_of(c) == 1 ? Kind::boolean : Kind::bit;
    case Family::decimal:
      return Kind::decimal;
    case Family::floating:
      return Kind::float64;
    case Family::date:
      return t == "date" ? Kind::date : Kind::datetime;
    case Family::time:
      return Kind::time;
    case Family::set:
      return Kind::set;
    case Family::binary:
      return Kind::binary;
    case Family::json:
      return Kind::json;
    case Family::text:
    case Family::other:
      return Kind::string;
  }
  return Kind::string;
}

namespace {

constexpr std::string_view kTypeNames = "auto, string, int64, double, decimal, bool, date, binary, json";

// The override types a column of this family can take ("auto", "string" and "binary" fit every column).
std::vector<std::string_view> allowed_overrides(Family f) {
  switch (f) {
    case Family::integer:
      return {"auto", "string", "int64", "double", "decimal", "bool", "binary"};
    case Family::bit:
      return {"auto", "string", "int64", "bool", "binary"};
    case Family::decimal:
    case Family::floating:
      return {"auto", "string", "int64", "double", "decimal", "binary"};
    case Family::date:
      return {"auto", "string", "date", "binary"};
    case Family::time:
    case Family::set:
      return {"auto", "string", "binary"};
    case Family::binary:  // a BLOB may hold JSON text
    case Family::json:
      return {"auto", "string", "binary", "json"};
    case Family::text:
    case Family::other:
      return {"auto", "string", "int64", "double", "decimal", "bool", "date", "binary", "json"};
  }
  return {"auto", "string", "binary"};
}

Kind override_kind(const mysql::Column& c, std::string_view type, const TypeOptions& options) {
  const Family f = family_of(c);
  if (type == "string") return Kind::string;
  if (type == "int64") return f == Family::bit ? Kind::bit : Kind::int64;
  if (type == "double") return Kind::float64;
  if (type == "decimal") return Kind::decimal;
  if (type == "bool") return Kind::boolean;
  if (type == "date") return c.data_type == "date" ? Kind::date : Kind::datetime;
  if (type == "binary") return Kind::binary;
  if (type == "json") return Kind::json;
  return auto_kind(c, options);  // "auto"
}

// The column an override key names: exact match first, else the one column equal ignoring case (MySQL
// column names are case-insensitive).
const mysql::Column* find_column(const mysql::Table& table, const std::string& name) {
  if (const auto* c = table.find(name)) return c;
  const mysql::Column* found = nullptr;
  const std::string lower = to_lower(name);
  for (const auto& c : table.columns)
    if (to_lower(c.name) == lower) {
      if (found) return nullptr;
      found = &c;
    }
  return found;
}

}  // namespace

std::string field_name_for(std::string_view column) {
  std::string field;
  field.reserve(column.size() + 1);
  for (char c : column) {
    // NUL bytes are removed before the leading-'$' test, so "\0$x" cannot turn into "$x".
    if (c == '\0') continue;
    field.push_back(c == '.' ? '_' : c);
  }
  if (!field.empty() && field[0] == '$') field[0] = '_';
  while (field.empty() || field == "_id") field.push_back('_');
  return field;
}

Expected<std::vector<FieldPlan>> plan_fields(const mysql::Table& table, const TypeOptions& options,
                                             const Overrides& overrides, std::vector<Rename>* renames) {
  // Validate every override before planning, so a configuration error leaves *renames untouched.
  std::map<const mysql::Column*, std::string> chosen;
  for (const auto& [name, raw_type] : overrides) {
    const mysql::Column* column = find_column(table, name);
    if (!column)
      return Failure{Exit::config,
                     fmt::format("tables.{}.types: unknown column '{}'; check the column name", table.name, name)};
    const std::string type = to_lower(trim(raw_type));
    if (!is_one_of(type, {"auto", "string", "int64", "double", "decimal", "bool", "date", "binary", "json"}))
      return Failure{Exit::config, fmt::format("tables.{}.types.{}: unknown type '{}'; use one of {}", table.name,
                                               name, raw_type, kTypeNames)};
    const auto allowed = allowed_overrides(family_of(*column));
    if (std::find(allowed.begin(), allowed.end(), type) == allowed.end())
      return Failure{Exit::config,
                     fmt::format("tables.{}.types.{}: type '{}' does not apply to column type {}; use one of {}",
                                 table.name, name, type, column->data_type, fmt::join(allowed, ", "))};
    if (const auto earlier = chosen.find(column); earlier != chosen.end())
      return Failure{Exit::config, fmt::format("tables.{}.types: column '{}' is given more than once (as '{}' and "
                                               "'{}'); keep one",
                                               table.name, column->name, earlier->second, type)};
    chosen[column] = type;
  }

  std::vector<FieldPlan> plans;
  plans.reserve(table.columns.size());
  // Columns MongoDB can store as they are keep their names whatever else the table holds; only renamed
  // columns step aside (by appending '_') when their new name is taken.
  std::set<std::string> taken;
  for (const auto& column : table.columns)
    if (field_name_for(column.name) == column.name) taken.insert(column.name);
  for (const auto& column : table.columns) {
    FieldPlan plan;
    plan.column = column.name;
    plan.field = field_name_for(column.name);
    if (plan.field != plan.column) {
      while (taken.count(plan.field)) plan.field.push_back('_');
      taken.insert(plan.field);
    }

    const auto it = chosen.find(&column);
    plan.kind = it == chosen.end() ? auto_kind(column, options) : override_kind(column, it->second, options);
    if (family_of(column) == Family::bit) plan.bit_width = bit_width_of(column);
    plan.zero_date = options.zero_date;
    if (renames && plan.field != plan.column) renames->push_back(Rename{plan.column, plan.field});
    plans.push_back(std::move(plan));
  }
  return plans;
}

}  // namespace m2m::convert
