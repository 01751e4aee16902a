#include "sync/sql.hpp"

#include "mysql/connection.hpp"

#include <fmt/format.h>

namespace m2m::sync {

using mysql::quote_identifier;

namespace {

bool is_numeric_type(const std::string& t) {
  return t == "tinyint" || t == "smallint" || t == "mediumint" || t == "int" || t == "integer" || t == "bigint" ||
         t == "decimal" || t == "numeric" || t == "float" || t == "double" || t == "real" || t == "year";
}

bool is_binary_type(const mysql::Column& c) {
  const auto& t = c.data_type;
  return t == "binary" || t == "varbinary" || t == "tinyblob" || t == "blob" || t == "mediumblob" ||
         t == "longblob" || t == "bit" || c.charset == "binary";
}

bool looks_numeric(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) return false;
  return true;
}

std::string hex_literal(std::string_view bytes) {
  static const char* digits = "0123456789ABCDEF";
  std::string out = "X'";
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  out += '\'';
  return out;
}

bool is_enum_or_set(const mysql::Column& c) { return c.data_type == "enum" || c.data_type == "set"; }

}  // namespace

bool is_float_type(const std::string& t) { return t == "float" || t == "double" || t == "real"; }

std::string key_literal(const mysql::Column& column, std::string_view text, const Quote& quote) {
  if (is_float_type(column.data_type) && looks_numeric(text)) {
    // An exponent makes it a DOUBLE literal: compared as a double, never rounded through DECIMAL.
    if (text.find_first_of("eE") == std::string_view::npos) return std::string(text) + "E0";
    return std::string(text);
  }
  if (is_numeric_type(column.data_type) && looks_numeric(text)) return std::string(text);
  if (is_binary_type(column)) return hex_literal(text);
  return quote(text);
}

std::string select_expression(const mysql::Column& column) {
  // The text protocol prints FLOAT with 6 significant digits (16777217 comes back as 16777200, and
  // 1.0000001 as 1); as a DOUBLE it prints the float's exact value in full.
  if (column.data_type == "float") return fmt::format("({} + 0E0)", quote_identifier(column.name));
  return quote_identifier(column.name);
}

std::string key_expression(const mysql::Column& column) {
  if (is_enum_or_set(column)) return fmt::format("CAST({} AS CHAR)", quote_identifier(column.name));
  return quote_identifier(column.name);
}

std::string key_after(const std::vector<const mysql::Column*>& key, const std::vector<std::string>& values,
                      const Quote& quote) {
  std::vector<std::string> ors;
  for (std::size_t i = 0; i < key.size(); ++i) {
    std::string term;
    for (std::size_t j = 0; j < i; ++j)
      term += fmt::format("{} = {} AND ", key_expression(*key[j]), key_literal(*key[j], values[j], quote));
    term += fmt::format("{} > {}", key_expression(*key[i]), key_literal(*key[i], values[i], quote));
    ors.push_back(key.size() > 1 ? "(" + term + ")" : term);
  }
  return fmt::format("{}", fmt::join(ors, " OR "));
}

std::string key_at_most(const std::vector<const mysql::Column*>& key, const std::vector<std::string>& values,
                        const Quote& quote) {
  std::vector<std::string> ors;
  for (std::size_t i = 0; i < key.size(); ++i) {
    std::string term;
    for (std::size_t j = 0; j < i; ++j)
      term += fmt::format("{} = {} AND ", key_expression(*key[j]), key_literal(*key[j], values[j], quote));
    term += fmt::format("{} {} {}", key_expression(*key[i]), i + 1 == key.size() ? "<=" : "<",
                        key_literal(*key[i], values[i], quote));
    ors.push_back(key.size() > 1 ? "(" + term + ")" : term);
  }
  return fmt::format("{}", fmt::join(ors, " OR "));
}

std::vector<const mysql::Column*> key_columns(const TablePlan& plan) {
  std::vector<const mysql::Column*> out;
  for (auto i : plan.key) out.push_back(plan.table.find(plan.fields[i].column));
  return out;
}

namespace {

std::string field_list(const TablePlan& plan) {
  std::vector<std::string> cols;
  for (const auto& f : plan.fields) {
    const mysql::Column* c = plan.table.find(f.column);
    cols.push_back(c ? select_expression(*c) : quote_identifier(f.column));
  }
  return fmt::format("{}", fmt::join(cols, ", "));
}

}  // namespace

std::string select_all(const TablePlan& plan) {
  return fmt::format("SELECT {} FROM {}", field_list(plan), quote_identifier(plan.table.name));
}

std::string select_by_keys(const TablePlan& plan, const std::vector<std::vector<std::string>>& keys, const Quote& quote) {
  const auto key = key_columns(plan);
  std::vector<std::string> cols, tuples;
  for (const auto* c : key) cols.push_back(quote_identifier(c->name));
  for (const auto& values : keys) {
    std::vector<std::string> lits;
    for (std::size_t i = 0; i < key.size() && i < values.size(); ++i) lits.push_back(key_literal(*key[i], values[i], quote));
    tuples.push_back(key.size() == 1 ? lits[0] : fmt::format("({})", fmt::join(lits, ", ")));
  }
  const std::string lhs = key.size() == 1 ? cols[0] : fmt::format("({})", fmt::join(cols, ", "));
  return fmt::format("SELECT {} FROM {} WHERE {} IN ({})", field_list(plan), quote_identifier(plan.table.name), lhs,
                     fmt::join(tuples, ", "));
}

std::string range_condition(const TablePlan& plan, const std::optional<std::vector<std::string>>& lo,
                            const std::optional<std::vector<std::string>>& hi, const Quote& quote) {
  const auto key = key_columns(plan);
  std::vector<std::string> parts;
  if (lo) parts.push_back("(" + key_after(key, *lo, quote) + ")");
  if (hi) parts.push_back("(" + key_at_most(key, *hi, quote) + ")");
  return fmt::format("{}", fmt::join(parts, " AND "));
}

std::string select_chunk(const TablePlan& plan, const std::optional<std::vector<std::string>>& after,
                         std::size_t limit, const Quote& quote, const std::optional<std::vector<std::string>>& upto) {
  std::string sql = select_all(plan);
  if (!plan.has_key()) return sql;
  const auto key = key_columns(plan);
  if (after && upto) sql += " WHERE " + range_condition(plan, after, upto, quote);
  else if (after) sql += " WHERE " + key_after(key, *after, quote);
  else if (upto) sql += " WHERE " + key_at_most(key, *upto, quote);
  std::vector<std::string> order;
  for (const auto* c : key) order.push_back(key_expression(*c));
  sql += fmt::format(" ORDER BY {} LIMIT {}", fmt::join(order, ", "), limit);
  return sql;
}

std::string select_boundary(const TablePlan& plan, const std::optional<std::vector<std::string>>& after,
                            std::uint64_t n, const Quote& quote) {
  const auto key = key_columns(plan);
  std::vector<std::string> cols, order;
  for (const auto* c : key) {
    cols.push_back(select_expression(*c));
    order.push_back(key_expression(*c));
  }
  std::string sql = fmt::format("SELECT {} FROM {}", fmt::join(cols, ", "), quote_identifier(plan.table.name));
  if (after) sql += " WHERE " + key_after(key, *after, quote);
  return sql + fmt::format(" ORDER BY {} LIMIT 1 OFFSET {}", fmt::join(order, ", "), n > 0 ? n - 1 : 0);
}

namespace {

std::vector<const mysql::Column*> change_order(const TablePlan& plan) {
  std::vector<const mysql::Column*> order{plan.table.find(plan.change_column)};
  for (const auto* k : key_columns(plan)) order.push_back(k);
  return order;
}

}  // namespace

std::string changed_predicate(const TablePlan& plan, const std::vector<std::string>& mark, const std::string& bound,
                              const Quote& quote) {
  const auto order = change_order(plan);
  const std::string c = quote_identifier(plan.change_column);
  if (mark.empty()) return fmt::format("{} IS NOT NULL", c);
  // With the key part, rows sharing the mark's time but already written are not read again; with the
  // time alone (the mark a full sync leaves), rows at that very time are.
  const std::string beyond = mark.size() == order.size() ? key_after(order, mark, quote)
                                                         : fmt::format("{} >= {}", c, quote(mark[0]));
  return bound.empty() ? "(" + beyond + ")" : fmt::format("({} OR {} >= {})", beyond, c, bound);
}

std::string probe_changes(const std::vector<std::pair<const TablePlan*, std::string>>& tables) {
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const auto& [plan, predicate] = tables[i];
    std::string cond = predicate;
    // Rows whose change column is NULL are read on every run: a table that has any is never quiet.
    const mysql::Column* chg = plan->table.find(plan->change_column);
    if (chg && chg->nullable) cond = fmt::format("({} OR {} IS NULL)", cond, quote_identifier(plan->change_column));
    parts.push_back(fmt::format("SELECT {} FROM DUAL WHERE EXISTS (SELECT 1 FROM {} WHERE {} LIMIT 1)", i,
                                quote_identifier(plan->table.name), cond));
  }
  return fmt::format("{}", fmt::join(parts, " UNION ALL "));
}

std::string select_changed(const TablePlan& plan, const std::vector<std::string>& mark, const std::string& bound,
                           const std::optional<std::vector<std::string>>& after, std::size_t limit, const Quote& quote) {
  const auto order = change_order(plan);
  std::vector<std::string> where{changed_predicate(plan, mark, bound, quote)};
  if (after) where.push_back("(" + key_after(order, *after, quote) + ")");
  std::vector<std::string> by;
  for (const auto* col : order) by.push_back(key_expression(*col));
  return fmt::format("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT {}", field_list(plan),
                     quote_identifier(plan.table.name), fmt::join(where, " AND "), fmt::join(by, ", "), limit);
}

std::string select_null_changed(const TablePlan& plan, const std::optional<std::vector<std::string>>& after,
                                std::size_t limit, const Quote& quote) {
  const auto key = key_columns(plan);
  std::string sql = fmt::format("SELECT {} FROM {} WHERE {} IS NULL", field_list(plan), quote_identifier(plan.table.name),
                                quote_identifier(plan.change_column));
  if (after) sql += " AND (" + key_after(key, *after, quote) + ")";
  std::vector<std::string> by;
  for (const auto* col : key) by.push_back(key_expression(*col));
  return sql + fmt::format(" ORDER BY {} LIMIT {}", fmt::join(by, ", "), limit);
}

namespace {

// ORDER BY the key in the order MongoDB sorts its converted values (see select_keys_in_mongo_order).
std::string mongo_key_order(const TablePlan& plan) {
  std::vector<std::string> order;
  for (auto i : plan.key) {
    const auto& f = plan.fields[i];
    const mysql::Column* c = plan.table.find(f.column);
    const std::string q = quote_identifier(f.column);
    using convert::Kind;
    switch (f.kind) {
      case Kind::string:
      case Kind::time:
      case Kind::set:
      case Kind::json:
        order.push_back(fmt::format("CAST(CONVERT({} USING utf8mb4) AS BINARY)", q));
        break;
      case Kind::binary:
        // MongoDB orders BinData by length, then bytes. A text column stored as binary holds the bytes the
        // text protocol sends (utf8mb4), not those of its own character set and collation.
        if (c && !is_binary_type(*c))
          order.push_back(fmt::format("LENGTH(CONVERT({0} USING utf8mb4)), CAST(CONVERT({0} USING utf8mb4) AS BINARY)", q));
        else
          order.push_back(fmt::format("LENGTH({0}), {0}", q));
        break;
      default:
        order.push_back(c ? key_expression(*c) : q);
        break;
    }
  }
  return fmt::format("{}", fmt::join(order, ", "));
}

}  // namespace

std::string select_keys_in_mongo_order(const TablePlan& plan, const std::string& range) {
  std::vector<std::string> cols;
  for (auto i : plan.key) {
    const auto& f = plan.fields[i];
    const mysql::Column* c = plan.table.find(f.column);
    cols.push_back(c ? select_expression(*c) : quote_identifier(f.column));
  }
  return fmt::format("SELECT {} FROM {}{} ORDER BY {}", fmt::join(cols, ", "), quote_identifier(plan.table.name),
                     range.empty() ? "" : " WHERE " + range, mongo_key_order(plan));
}

std::string select_rows_in_mongo_order(const TablePlan& plan) {
  return fmt::format("{} ORDER BY {}", select_all(plan), mongo_key_order(plan));
}

}  // namespace m2m::sync
