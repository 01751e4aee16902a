#include "sync/binlog_sync.hpp"

#include "binlog/server.hpp"
#include "mongo/writer.hpp"
#include "sync/copy.hpp"
#include "sync/document.hpp"
#include "sync/sql.hpp"
#include "util/stopwatch.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cctype>

namespace m2m::sync {

namespace {

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

bool binary_column(const mysql::Column& c) { return c.charset.empty() || c.charset == "binary"; }

// The shortest text that reads back as the double, as a DOUBLE literal.
std::string double_literal(double d) {
  char buf[40];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string text(buf, static_cast<std::size_t>(r.ptr - buf));
  if (text.find_first_of("eE") == std::string::npos) text += "E0";
  return text;
}

// The members of an ENUM or SET from its COLUMN_TYPE: enum('a','it''s') -> {'a', 'it''s'} as SQL literals.
std::vector<std::string> member_literals(const std::string& column_type) {
  std::vector<std::string> out;
  const auto open = column_type.find('(');
  if (open == std::string::npos) return out;
  std::size_t i = open + 1;
  while (i < column_type.size() && column_type[i] == '\'') {
    std::size_t j = i + 1;
    while (j < column_type.size()) {
      if (column_type[j] == '\'' && j + 1 < column_type.size() && column_type[j + 1] == '\'') {
        j += 2;
        continue;
      }
      if (column_type[j] == '\'') break;
      ++j;
    }
    out.push_back(column_type.substr(i, j - i + 1));  // quotes included, '' kept: a valid SQL literal
    i = j + 1;
    if (i < column_type.size() && column_type[i] == ',') ++i;
  }
  return out;
}

}  // namespace

std::string key_value_literal(const binlog::KeyValue& v, const mysql::Column& column) {
  using T = binlog::KeyValue::Type;
  switch (v.type) {
    case T::null: return "NULL";
    case T::int_signed:
    case T::year: return std::to_string(v.i);
    case T::int_unsigned:
    case T::enum_index:  // MySQL compares an ENUM with a number by its index, a SET by its bits
    case T::set_bits:
    case T::bit: return std::to_string(v.u);
    case T::float32:
    case T::float64: return double_literal(v.f);
    case T::decimal: return v.text;
    case T::datetime:
    case T::date:
    case T::time: return "'" + v.text + "'";  // digits, '-', ':', '.', ' ': nothing to escape
    case T::bytes:
      if (binary_column(column)) return "X'" + hex(v.text) + "'";
      // An introducer keeps the literal coercible: the column's own collation compares it.
      return fmt::format("_{} X'{}'", column.charset, hex(v.text));
  }
  return "NULL";
}

std::string key_value_echo(const binlog::KeyValue& v, const mysql::Column& column) {
  using T = binlog::KeyValue::Type;
  if (v.type == T::enum_index) {
    const auto members = member_literals(column.column_type);
    return members.empty() ? std::to_string(v.u) : fmt::format("ELT({}, {})", v.u, join(members, ", "));
  }
  if (v.type == T::set_bits) {
    const auto members = member_literals(column.column_type);
    return members.empty() ? std::to_string(v.u) : fmt::format("MAKE_SET({}, {})", v.u, join(members, ", "));
  }
  // BIT arrives from a SELECT as its big-endian bytes.
  if (v.type == T::bit) return "X'" + hex(v.text) + "'";
  // FLOAT is selected as a DOUBLE (select_expression): the double literal prints the same.
  return key_value_literal(v, column);
}

std::optional<std::string> key_value_text(const binlog::KeyValue& v, const mysql::Column& column) {
  using T = binlog::KeyValue::Type;
  switch (v.type) {
    case T::int_signed: return std::to_string(v.i);
    case T::int_unsigned: return std::to_string(v.u);
    case T::bytes:
      // The connection's character set is utf8mb4: text in another one arrives converted.
      if (binary_column(column) || column.charset == "utf8mb4" || column.charset == "utf8mb3" ||
          column.charset == "utf8" || column.charset == "ascii")
        return v.text;
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::set<std::string> tables_named_in(std::string_view sql, const std::string& database,
                                      const std::string& default_database, const std::set<std::string>& tables) {
  // Names compare without case: with lower_case_table_names = 1 a statement may spell a table in any case.
  // A false match costs a full sync, a miss would cost data.
  const auto lower = [](std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const std::string db = lower(database);
  std::map<std::string, std::string> by_lower;
  for (const auto& t : tables) by_lower.emplace(lower(t), t);
  // Identifiers of the statement, in order, each with whether a '.' follows it: `a`.`b`, a . b, `a`, a.
  struct Ident {
    std::string name;  // lower case
    bool dot_after = false;
  };
  std::vector<Ident> idents;
  auto dot_follows = [&](std::size_t j) {
    while (j < sql.size() && std::isspace(static_cast<unsigned char>(sql[j]))) ++j;
    return j < sql.size() && sql[j] == '.';
  };
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    if (c == '`') {
      std::string name;
      std::size_t j = i + 1;
      for (; j < sql.size(); ++j) {
        if (sql[j] == '`' && j + 1 < sql.size() && sql[j + 1] == '`') {
          name += '`';
          ++j;
        } else if (sql[j] == '`') {
          break;
        } else {
          name += sql[j];
        }
      }
      idents.push_back({lower(name), dot_follows(j + 1)});
      i = j + 1;
    } else if (c == '\'' || c == '"') {  // a string literal: not a name
      std::size_t j = i + 1;
      while (j < sql.size() && sql[j] != c) j += sql[j] == '\\' ? 2 : 1;
      i = j + 1;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80) {
      std::size_t j = i;
      while (j < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_' || sql[j] == '$' ||
                                static_cast<unsigned char>(sql[j]) >= 0x80))
        ++j;
      idents.push_back({lower(sql.substr(i, j - i)), dot_follows(j)});
      i = j;
    } else {
      ++i;
    }
  }
  std::set<std::string> out;
  // DROP DATABASE / SCHEMA [IF EXISTS] db (after a comment, maybe): every table of it.
  for (std::size_t k = 0; k + 2 < idents.size(); ++k) {
    if (idents[k].name != "drop" || (idents[k + 1].name != "database" && idents[k + 1].name != "schema")) continue;
    const std::size_t at = k + 4 < idents.size() && idents[k + 2].name == "if" && idents[k + 3].name == "exists" ? k + 4 : k + 2;
    if (idents[at].name == db) return tables;
  }
  for (std::size_t k = 0; k < idents.size(); ++k) {
    const bool qualified_here = k > 0 && idents[k - 1].dot_after;
    if (idents[k].dot_after) continue;  // a database name
    if (qualified_here ? idents[k - 1].name != db : lower(default_database) != db) continue;
    if (auto it = by_lower.find(idents[k].name); it != by_lower.end()) out.insert(it->second);
  }
  return out;
}

Status apply_keys(TableContext& ctx, const TablePlan& plan, const std::vector<ChangedKey>& keys, TableReport& report) {
  if (keys.empty()) return success();
  const auto key_cols = key_columns(plan);
  std::vector<std::string> cols;
  for (const auto* c : key_cols) cols.push_back(mysql::quote_identifier(c->name));
  const std::string lhs = cols.size() == 1 ? cols[0] : fmt::format("({})", join(cols, ", "));
  const std::string where = fmt::format("MongoDB collection {}", plan.collection);
  constexpr std::size_t kPerStatement = 500;
  for (std::size_t from = 0; from < keys.size(); from += kPerStatement) {
    const std::size_t to = std::min(keys.size(), from + kPerStatement);
    std::vector<std::string> lits;
    for (std::size_t i = from; i < to; ++i) lits.push_back(keys[i].literals);
    // 1. The rows as they are now, written like every other sync writes them.
    std::set<std::string> written;
    const std::string select = fmt::format("{} WHERE {} IN ({})", select_all(plan), lhs, join(lits, ", "));
    if (auto st = copy_rows(ctx, plan, select, report, &written); !st) return st;
    // 2. The documents of keys no row answers to: their rows are gone (deleted, or moved to another key).
    //    Each key's document is found by converting the key as a SELECT of the column would send it:
    //    built here for integers and strings, asked of the server (the echo) for the others.
    mongo::BulkWriter remover(ctx.mongo, ctx.db, plan.collection, ctx.wc, static_cast<std::size_t>(ctx.cfg.sync.batch_size),
                              static_cast<std::size_t>(ctx.cfg.sync.batch_bytes), where);
    std::vector<const char*> row_values(plan.fields.size(), nullptr);
    std::vector<unsigned long> row_lengths(plan.fields.size(), 0);
    mongo::Bson selector;
    convert::LossReport ignored;
    auto remove_unless_written = [&](const char* const* values, const unsigned long* lengths) -> Status {
      for (std::size_t k = 0; k < plan.key.size(); ++k) {
        row_values[plan.key[k]] = values[k];
        row_lengths[plan.key[k]] = lengths[k];
      }
      selector.clear();
      append_key(plan, selector.get(), const_cast<char**>(row_values.data()), row_lengths.data(), ignored,
                 ctx.cfg.sync.key_as_id);
      const std::string id(reinterpret_cast<const char*>(bson_get_data(selector.get())), selector.get()->len);
      if (written.count(id)) return success();
      return remover.remove_one(selector.get());
    };
    std::vector<std::string> remote;
    std::vector<const char*> values(plan.key.size());
    std::vector<unsigned long> lengths(plan.key.size());
    for (std::size_t i = from; i < to; ++i) {
      if (!keys[i].texts) {
        remote.push_back("SELECT " + keys[i].echo);
        continue;
      }
      for (std::size_t k = 0; k < plan.key.size(); ++k) {
        values[k] = (*keys[i].texts)[k].data();
        lengths[k] = static_cast<unsigned long>((*keys[i].texts)[k].size());
      }
      if (auto st = remove_unless_written(values.data(), lengths.data()); !st) return st;
    }
    if (!remote.empty()) {
      auto rows = ctx.mysql.query(join(remote, " UNION ALL "));
      if (!rows) return rows.failure();
      while (MYSQL_ROW row = rows->next())
        if (auto st = remove_unless_written(row, rows->lengths()); !st) return st;
      if (rows->error()) return *rows->error();
    }
    if (auto st = remover.flush(); !st) return st;
    report.deleted += remover.counts().deleted;
  }
  return success();
}

Expected<BinlogRun> apply_binlog(TableContext& ctx, const std::vector<const TablePlan*>& plans,
                                 const std::map<std::string, binlog::Position>& since, std::uint32_t server_id,
                                 const std::function<Status(const binlog::Position&,
                                                            const std::map<std::string, std::string>& resync)>& save) {
  BinlogRun run;
  // From the earliest table's position; each table's events count from its own.
  binlog::Position from = since.begin()->second;
  for (const auto& [table, p] : since)
    if (binlog::earlier(p, from)) from = p;
  run.from = run.to = from;
  const std::string& database = ctx.cfg.mysql.database;
  std::map<std::string, const TablePlan*> by_name;
  std::set<std::string> names;
  for (const auto* p : plans) {
    by_name[p->table.name] = p;
    names.insert(p->table.name);
  }
  auto reader = binlog::LiveReader::open(ctx.cfg.mysql, ctx.log, {server_id, from, std::chrono::seconds(30)});
  if (!reader) return reader.failure();

  binlog::Decoder decoder;
  std::map<std::uint64_t, binlog::TableMap> maps;      // table id -> its map, for the tables followed
  std::map<std::string, std::vector<binlog::KeyColumn>> key_columns_of;
  for (const auto* p : plans) {
    auto& kc = key_columns_of[p->table.name];
    for (const auto* c : key_columns(*p)) kc.push_back({static_cast<unsigned>(c->ordinal - 1), binlog::hint_for(*c)});
  }
  // Changed keys waiting to be applied: table -> literal tuple -> echo tuple (deduplicated).
  std::map<std::string, std::map<std::string, ChangedKey>> pending;  // table -> literal tuple -> key
  std::size_t pending_count = 0;
  std::size_t unsaved = 0;  // keys applied since the position was last saved
  // Keys are applied (and the position saved at the next boundary) every few batches: memory stays
  // bounded, and a stopped or killed run has little to read again.
  const std::size_t apply_every =
      std::clamp<std::size_t>(4 * static_cast<std::size_t>(std::max(1, ctx.cfg.sync.batch_size)), 1'000, 100'000);
  binlog::Position boundary = from;
  bool standalone_pending = false;
  bool stop_at_boundary = false;
  const auto deadline = std::chrono::steady_clock::now() + ctx.cfg.binlog.max_seconds;

  auto flush = [&]() -> Status {
    for (auto& [table, keys] : pending) {
      const TablePlan& plan = *by_name.at(table);
      std::vector<ChangedKey> list;
      list.reserve(keys.size());
      for (auto& [lit, key] : keys) list.push_back(std::move(key));
      auto& report = run.tables[table];
      Stopwatch clock;
      auto st = apply_keys(ctx, plan, list, report);
      report.duration_seconds += clock.seconds();
      if (!st) return st;
    }
    pending.clear();
    unsaved += pending_count;
    pending_count = 0;
    return success();
  };
  auto at_boundary = [&](const binlog::Event& ev) -> Status {
    boundary = (*reader)->position();
    if (ev.header.timestamp) run.last_event_time = ev.header.timestamp;
    if (pending_count + unsaved >= apply_every) {
      if (auto st = flush(); !st) return st;
      if (auto st = save(boundary, run.resync); !st) return st;
      run.to = boundary;
      unsaved = 0;
    }
    if (static_cast<std::int64_t>(run.events) >= ctx.cfg.binlog.max_events || std::chrono::steady_clock::now() >= deadline)
      stop_at_boundary = true;
    return success();
  };
  auto add_key = [&](const TablePlan& plan, const binlog::Key& key) {
    const auto cols = key_columns(plan);
    std::vector<std::string> lits, echoes;
    std::optional<std::vector<std::string>> texts(std::in_place);
    for (std::size_t k = 0; k < key.size() && k < cols.size(); ++k) {
      lits.push_back(key_value_literal(key[k], *cols[k]));
      echoes.push_back(key_value_echo(key[k], *cols[k]));
      auto text = key_value_text(key[k], *cols[k]);
      if (text && texts) texts->push_back(std::move(*text));
      else texts.reset();
    }
    const std::string lit = lits.size() == 1 ? lits[0] : fmt::format("({})", join(lits, ", "));
    if (pending[plan.table.name].try_emplace(lit, ChangedKey{lit, join(echoes, ", "), std::move(texts)}).second) {
      ++pending_count;
      ++run.changed_keys;
    }
  };
  auto resync = [&](const std::string& table, std::string why) {
    if (!run.resync.count(table)) {
      ctx.log.info("table {}: {}: full sync", table, why);
      run.resync[table] = std::move(why);
    }
    pending_count -= std::min(pending_count, pending[table].size());
    pending.erase(table);
    for (auto it = maps.begin(); it != maps.end();)
      it = it->second.table == table ? maps.erase(it) : std::next(it);
  };

  // Whether the event at `at` is new to `table`: before its position, the table has it already.
  binlog::Position at = from;
  auto is_new = [&](const std::string& table) {
    auto it = since.find(table);
    return it == since.end() || !binlog::earlier(at, it->second);
  };

  binlog::RawEvent raw;
  std::vector<binlog::RowKeys> row_keys;
  while (true) {
    if (ctx.stop && ctx.stop->requested()) break;
    at = (*reader)->position();
    auto more = (*reader)->next(raw);
    if (!more) return more.failure();
    if (!*more) break;  // caught up with the end of the log
    ++run.events;
    auto decoded = decoder.decode(raw.bytes);
    if (!decoded) return decoded.failure();
    binlog::Event& ev = *decoded;
    bool boundary_here = false;
    if (const auto* tm = ev.as<binlog::TableMap>()) {
      if (tm->database == database && names.count(tm->table) && !run.resync.count(tm->table) && is_new(tm->table)) {
        if (auto fits = binlog::check_table_map(*tm, by_name.at(tm->table)->table); !fits)
          resync(tm->table, "the binlog holds changes written under another schema (" + fits.error().message + ")");
        else
          maps[tm->table_id] = *tm;
      }
    } else if (const auto* rows = ev.as<binlog::Rows>()) {
      if (auto it = maps.find(rows->table_id); it != maps.end()) {
        const auto& table = it->second.table;
        ++run.row_events;
        row_keys.clear();
        auto extracted = binlog::extract_keys(it->second, *rows, key_columns_of.at(table), row_keys);
        if (!extracted) {
          resync(table, "its binlog events cannot be read (" + extracted.error().message + ")");
        } else {
          const TablePlan& plan = *by_name.at(table);
          for (const auto& rk : row_keys) {
            if (rk.before) add_key(plan, *rk.before);
            if (rk.after) add_key(plan, *rk.after);
          }
          // One transaction may change millions of keys: they are applied as they come, not held until
          // its end, so memory stays bounded. Re-reading a key by its value is harmless at any point, and
          // the position still advances only at a transaction boundary.
          if (pending_count >= apply_every)
            if (auto st = flush(); !st) return st.failure();
        }
      }
    } else if (const auto* q = ev.as<binlog::Query>()) {
      const auto kind = q->kind();
      const std::string& qdb = q->database;
      if (kind == binlog::QueryKind::ddl || kind == binlog::QueryKind::truncate || kind == binlog::QueryKind::dml) {
        // Unqualified names belong to the statement's default database.
        const auto touched = tables_named_in(q->sql, database, qdb, names);
        for (const auto& t : touched) {
          if (!is_new(t)) continue;
          if (kind == binlog::QueryKind::truncate) run.truncated.insert(t);
          resync(t, kind == binlog::QueryKind::dml
                        ? "a statement-based change in the binlog (binlog_format is not ROW for that session)"
                        : fmt::format("changed by DDL in the binlog ({})", std::string(trim(q->sql)).substr(0, 60)));
        }
      }
      if (kind == binlog::QueryKind::commit || kind == binlog::QueryKind::rollback || standalone_pending) boundary_here = true;
      standalone_pending = false;
    } else if (ev.as<binlog::Xid>()) {
      boundary_here = true;
    } else if (const auto* g = ev.as<binlog::MariaGtid>()) {
      standalone_pending = g->is_standalone();
    } else if (const auto* inc = ev.as<binlog::Incident>()) {
      for (const auto& t : names)
        if (is_new(t)) resync(t, "the server logged an incident (events may be missing: " + inc->message + ")");
    }
    if (boundary_here) {
      if (auto st = at_boundary(ev); !st) return st.failure();
      if (stop_at_boundary) {
        run.limited = true;
        break;
      }
    }
  }
  if (auto st = flush(); !st) return st.failure();
  // The last boundary is not saved here: the caller stores it with the run's other positions at its end
  // (one write, not two). A run that dies before that reads these events again, which is harmless.
  run.to = boundary;
  return run;
}

}  // namespace m2m::sync
