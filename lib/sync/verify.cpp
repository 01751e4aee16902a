#include "sync/verify.hpp"
#include "sync/recipes.hpp"

#include "mongo/admin.hpp"
#include "mongo/cursor.hpp"
#include "mongo/writer.hpp"
#include "sync/copy.hpp"
#include "sync/document.hpp"
#include "sync/sql.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <unordered_map>

namespace m2m::sync {

std::string_view to_string(Finding f) {
  switch (f) {
    case Finding::missing: return "missing";
    case Finding::extra: return "extra";
    case Finding::different: return "different";
  }
  return "different";
}

// ---- comparing documents --------------------------------------------------------------------------------

namespace {

bool elements_equal(bson_iter_t& x, bson_iter_t& y) {
  for (;;) {
    const bool more_x = bson_iter_next(&x), more_y = bson_iter_next(&y);
    if (!more_x || !more_y) return more_x == more_y;
    if (bson_iter_key_len(&x) != bson_iter_key_len(&y) ||
        std::memcmp(bson_iter_key(&x), bson_iter_key(&y), bson_iter_key_len(&x)) != 0)
      return false;
    if (!values_equal(x, y)) return false;
  }
}

}  // namespace

bool values_equal(const bson_iter_t& a, const bson_iter_t& b) {
  const bson_type_t ta = bson_iter_type(&a), tb = bson_iter_type(&b);
  // The type a sync writes is part of the value: an int64 5 where a sync writes the int32 5 differs.
  if (ta != tb) return false;
  if (ta == BSON_TYPE_DOCUMENT || ta == BSON_TYPE_ARRAY) {
    // Element by element, with our own equality, so that a type changed deep inside counts too.
    bson_iter_t x, y;
    if (!bson_iter_recurse(&a, &x) || !bson_iter_recurse(&b, &y)) return false;
    return elements_equal(x, y);
  }
  return convert::compare_values(a, b) == 0;
}

std::vector<std::string> differing_fields(const bson_t* expected, const bson_t* actual, bool compare_id) {
  std::vector<std::string> out;
  auto ignored = [&](const bson_iter_t& it) {
    return !compare_id && bson_iter_key_len(&it) == 3 && std::memcmp(bson_iter_key(&it), "_id", 3) == 0;
  };
  // Both documents normally hold the same fields in the same order (MongoDB keeps a replacement's order
  // and puts _id first): walk them side by side, and look a field up by name only when they part.
  bson_iter_t e, a;
  if (!bson_iter_init(&e, expected) || !bson_iter_init(&a, actual)) return {"(invalid BSON)"};
  bool in_step = true;
  std::size_t matched = 0;
  while (bson_iter_next(&e)) {
    if (ignored(e)) continue;
    const char* key = bson_iter_key(&e);
    const std::size_t len = bson_iter_key_len(&e);
    bool found = false;
    bson_iter_t other;
    if (in_step) {
      bool more;
      while ((more = bson_iter_next(&a)) && ignored(a)) {
      }
      if (more && bson_iter_key_len(&a) == len && std::memcmp(bson_iter_key(&a), key, len) == 0) {
        other = a;
        found = true;
      } else {
        in_step = false;
      }
    }
    if (!found && bson_iter_init(&other, actual)) {
      while (bson_iter_next(&other))
        if (bson_iter_key_len(&other) == len && std::memcmp(bson_iter_key(&other), key, len) == 0) {
          found = true;
          break;
        }
    }
    if (found) ++matched;
    if (!found || !values_equal(e, other)) out.emplace_back(key, len);
  }
  // Fields a sync does not write (added in MongoDB, or a column excluded since).
  std::size_t actual_fields = 0;
  bson_iter_t it;
  if (bson_iter_init(&it, actual))
    while (bson_iter_next(&it)) actual_fields += !ignored(it);
  if (actual_fields > matched && bson_iter_init(&it, actual)) {
    while (bson_iter_next(&it)) {
      if (ignored(it)) continue;
      bson_iter_t probe;
      const std::string name(bson_iter_key(&it), bson_iter_key_len(&it));
      if (!bson_iter_init_find_w_len(&probe, expected, name.data(), static_cast<int>(name.size()))) out.push_back(name);
    }
  }
  return out;
}

// ---- the MySQL text of a key read from MongoDB -----------------------------------------------------------

std::optional<std::string> plain_decimal(std::string_view text) {
  if (text.empty() || text.find_first_of("NI") != std::string_view::npos) return std::nullopt;  // NaN, Infinity
  std::string sign;
  if (text.front() == '-' || text.front() == '+') {
    if (text.front() == '-') sign = "-";
    text.remove_prefix(1);
  }
  const auto e = text.find_first_of("eE");
  if (e == std::string_view::npos) return sign + std::string(text);
  const auto exponent = parse_int(text.substr(e + 1).front() == '+' ? text.substr(e + 2) : text.substr(e + 1));
  if (!exponent || *exponent > 6200 || *exponent < -6200) return std::nullopt;
  const std::string_view mantissa = text.substr(0, e);
  std::string digits;
  std::int64_t point = static_cast<std::int64_t>(mantissa.size());
  for (std::size_t i = 0; i < mantissa.size(); ++i) {
    if (mantissa[i] == '.') point = static_cast<std::int64_t>(i);
    else digits += mantissa[i];
  }
  point += *exponent;
  std::string out;
  if (point <= 0) out = "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
  else if (point >= static_cast<std::int64_t>(digits.size()))
    out = digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0');
  else out = digits.substr(0, static_cast<std::size_t>(point)) + "." + digits.substr(static_cast<std::size_t>(point));
  return sign + out;
}

namespace {

// Big-endian bytes of `value` in `width` bytes: how the text protocol sends a BIT(n) value.
std::string bit_bytes(std::uint64_t value, int bit_width) {
  const int width = std::max(1, (bit_width + 7) / 8);
  std::string out(static_cast<std::size_t>(width), '\0');
  for (int i = width - 1; i >= 0; --i, value >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
  return out;
}

// Proleptic Gregorian date of a day number (days since 1970-01-01; Howard Hinnant's civil_from_days).
void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

}  // namespace

std::optional<std::string> mysql_key_text(const convert::FieldPlan& field, const mysql::Column& column,
                                          const bson_iter_t& value) {
  const bool bit_column = column.data_type == "bit";
  switch (bson_iter_type(&value)) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64: {
      const std::int64_t v = bson_iter_as_int64(&value);
      if (bit_column) return v < 0 ? std::nullopt : std::optional<std::string>(bit_bytes(static_cast<std::uint64_t>(v), field.bit_width));
      return std::to_string(v);
    }
    case BSON_TYPE_BOOL: {
      const bool v = bson_iter_bool(&value);
      if (bit_column) return std::string(1, v ? '\x01' : '\x00');
      return std::string(v ? "1" : "0");
    }
    case BSON_TYPE_DECIMAL128: {
      bson_decimal128_t d;
      bson_iter_decimal128(&value, &d);
      char text[BSON_DECIMAL128_STRING];
      bson_decimal128_to_string(&d, text);
      auto plain = plain_decimal(text);
      if (!plain || !bit_column) return plain;
      // A BIT(64) value beyond 2^63 - 1 is stored as an integral Decimal128.
      std::uint64_t v = 0;
      for (char c : *plain) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (c < '0' || c > '9' || v > (UINT64_MAX - digit) / 10) return std::nullopt;
        v = v * 10 + digit;
      }
      return bit_bytes(v, field.bit_width);
    }
    case BSON_TYPE_DOUBLE: {
      const double d = bson_iter_double(&value);
      if (!std::isfinite(d)) return std::nullopt;
      return fmt::format("{}", d);  // the shortest text that reads back as this double
    }
    case BSON_TYPE_UTF8: {
      std::uint32_t len = 0;
      const char* s = bson_iter_utf8(&value, &len);
      return std::string(s, len);
    }
    case BSON_TYPE_BINARY: {
      bson_subtype_t subtype;
      std::uint32_t len = 0;
      const std::uint8_t* data = nullptr;
      bson_iter_binary(&value, &subtype, &len, &data);
      return std::string(reinterpret_cast<const char*>(data), len);
    }
    case BSON_TYPE_DATE_TIME: {
      const std::int64_t ms = bson_iter_date_time(&value);
      const std::int64_t days = (ms >= 0 ? ms : ms - 86'399'999) / 86'400'000;
      const std::int64_t in_day = ms - days * 86'400'000;
      std::int64_t y;
      unsigned m, d;
      civil_from_days(days, y, m, d);
      if (y < 0 || y > 9999) return std::nullopt;
      if (column.data_type == "date") return fmt::format("{:04}-{:02}-{:02}", y, m, d);
      std::string text = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", y, m, d, in_day / 3'600'000,
                                     in_day / 60'000 % 60, in_day / 1000 % 60);
      if (in_day % 1000) text += fmt::format(".{:03}", in_day % 1000);
      return text;
    }
    default:
      return std::nullopt;
  }
}

// ---- the result ------------------------------------------------------------------------------------------

mongo::VerifyResult TableVerify::result() const {
  if (error) return mongo::VerifyResult::failed;
  return final_counts().differences() ? mongo::VerifyResult::different : mongo::VerifyResult::equal;
}

std::vector<const KeyFinding*> TableVerify::first(std::size_t n, std::optional<Finding> kind) const {
  std::vector<const KeyFinding*> out;
  for (const auto* list : {&findings, &overflow})
    for (const auto& f : *list) {
      if (out.size() >= n) return out;
      if (!f.settled && (!kind || f.kind == *kind)) out.push_back(&f);
    }
  return out;
}

namespace {

// A value as a message shows it: printable ASCII as it is, other bytes as \xNN, long values cut.
std::string shown(std::string_view v) {
  std::string s;
  for (unsigned char c : v.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7f && c != '\'') s += static_cast<char>(c);
    else s += fmt::format("\\x{:02x}", c);
  }
  if (v.size() > 64) s += "...";
  return s;
}

std::string hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string relaxed_json(const bson_t* doc, std::size_t limit) {
  std::size_t len = 0;
  char* s = bson_as_relaxed_extended_json(doc, &len);
  if (!s) return "(invalid BSON)";
  std::string out(s, len);
  bson_free(s);
  if (out.size() > limit) {
    out.resize(limit);
    // Never end inside a UTF-8 sequence (the JSON output must stay valid).
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80) out.pop_back();
    if (!out.empty() && (static_cast<unsigned char>(out.back()) & 0x80)) out.pop_back();
    out += "...";
  }
  return out;
}

bson_t view(const std::string& bytes) {
  bson_t b;
  if (!bson_init_static(&b, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size())) bson_init(&b);
  return b;
}

std::string bytes_of(const bson_t* b) { return std::string(reinterpret_cast<const char*>(bson_get_data(b)), b->len); }

}  // namespace

std::string TableVerify::describe(const KeyFinding& f) const {
  if (!f.text) {
    const bson_t key = view(f.key);
    return fmt::format("({}) = {}", join(key_columns, ", "), relaxed_json(&key, 200));
  }
  std::vector<std::string> values;
  for (const auto& v : *f.text) values.push_back("'" + shown(v) + "'");
  return fmt::format("({}) = ({})", join(key_columns, ", "), join(values, ", "));
}

mongo::VerifyRecord TableVerify::record(std::int64_t time_ms) const {
  mongo::VerifyRecord r;
  r.time_ms = time_ms;
  r.result = result();
  r.mysql_rows = static_cast<std::int64_t>(mysql_rows);
  r.mongodb_documents = static_cast<std::int64_t>(mongodb_documents);
  r.equal = static_cast<std::int64_t>(found.equal);
  r.missing = static_cast<std::int64_t>(found.missing);
  r.extra = static_cast<std::int64_t>(found.extra);
  r.different = static_cast<std::int64_t>(found.different);
  r.changed_during_verify = static_cast<std::int64_t>(changed_during_verify);
  r.repaired = repaired;
  r.repaired_copied = static_cast<std::int64_t>(repaired_copied);
  r.repaired_deleted = static_cast<std::int64_t>(repaired_deleted);
  if (error) r.error = error->message;
  return r;
}

// ---- the keyed merge -------------------------------------------------------------------------------------

namespace {

constexpr int kMongoBatch = 2000;     // documents per getMore: one batch is all the cursor holds
constexpr std::uint64_t kEvery = 1024;  // rows between progress calls and stop checks

// A verify keeps nothing of a table it did not finish.
Failure stopped(const TableContext& ctx) { return stopped_failure(ctx, ""); }

// Element by element with MongoDB's order, as reconcile_deletes compares key tuples.
int compare_tuples(const bson_t* a, const bson_t* b) {
  bson_iter_t ia, ib;
  bson_iter_init(&ia, a);
  bson_iter_init(&ib, b);
  while (true) {
    const bool na = bson_iter_next(&ia), nb = bson_iter_next(&ib);
    if (!na || !nb) return na == nb ? 0 : (na ? 1 : -1);
    if (int c = convert::compare_values(ia, ib); c != 0) return c;
  }
}

struct TupleLess {
  bool operator()(const std::string& a, const std::string& b) const {
    const bson_t x = view(a), y = view(b);
    return compare_tuples(&x, &y) < 0;
  }
};

// The key of a document as the merge compares it: {f1: v1, ...} (a missing field is null, which sorts
// first) or {_id: v}.
void mongo_tuple(const TablePlan& plan, bool key_as_id, const bson_t* d, bson_t* out) {
  bson_reinit(out);
  bson_iter_t it;
  if (key_as_id) {
    if (bson_iter_init_find(&it, d, "_id")) bson_append_iter(out, "_id", 3, &it);
    return;
  }
  for (auto i : plan.key) {
    const auto& f = plan.fields[i].field;
    if (bson_iter_init_find_w_len(&it, d, f.data(), static_cast<int>(f.size())))
      bson_append_iter(out, f.data(), static_cast<int>(f.size()), &it);
    else bson_append_null(out, f.data(), static_cast<int>(f.size()));
  }
}

std::string id_of(const bson_t* doc) {
  mongo::Bson id;
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "_id")) bson_append_iter(id.get(), "_id", 3, &it);
  return bytes_of(id.get());
}

// The MySQL text of a key tuple read from MongoDB (see mysql_key_text).
std::optional<std::vector<std::string>> key_text_of(const TablePlan& plan, bool key_as_id, const bson_t* tuple) {
  bson_iter_t it;
  if (!bson_iter_init(&it, tuple) || !bson_iter_next(&it)) return std::nullopt;
  std::vector<std::string> out;
  auto add = [&](std::size_t k, const bson_iter_t& v) {
    const auto& f = plan.fields[plan.key[k]];
    const mysql::Column* c = plan.table.find(f.column);
    if (!c) return false;
    auto text = mysql_key_text(f, *c, v);
    if (!text) return false;
    out.push_back(std::move(*text));
    return true;
  };
  if (key_as_id && plan.key.size() > 1) {
    bson_iter_t parts;
    if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &parts)) return std::nullopt;
    for (std::size_t k = 0; k < plan.key.size(); ++k)
      if (!bson_iter_next(&parts) || !add(k, parts)) return std::nullopt;
    return out;
  }
  for (std::size_t k = 0; k < plan.key.size(); ++k) {
    if (k > 0 && !bson_iter_next(&it)) return std::nullopt;
    if (!add(k, it)) return std::nullopt;
  }
  return out;
}

Failure unstorable_key(const TablePlan& plan, const std::vector<std::string>& key) {
  return Failure{Exit::tables_failed,
                 fmt::format("the key {} cannot be stored exactly in MongoDB, so no sync writes its row; store the "
                             "key column as text with [tables.{}] types = {{ {} = \"string\" }}",
                             describe_key(plan, key), plan.table.name, plan.fields[plan.key[0]].column)};
}

// What a merge tells about each key.
class Sink {
public:
  virtual ~Sink() = default;
  struct Row {
    MYSQL_ROW row;
    const unsigned long* len;
    const bson_t* doc;  // the document a sync writes for it
    const bson_t* key;  // its key, as MongoDB holds it
  };
  virtual Status equal() = 0;
  virtual Status missing(const Row& r) = 0;
  virtual Status extra(const bson_t* doc, const bson_t* key) = 0;
  virtual Status different(const Row& r, const bson_t* doc, std::vector<std::string> fields) = 0;
};

// One ordered pass over both sides: MySQL's rows in MongoDB's key order, the collection sorted by key.
Status merge(TableContext& ctx, const TablePlan& plan, Sink& sink, TableVerify& out) {
  const bool key_as_id = ctx.cfg.sync.key_as_id;
  const std::string where = fmt::format("MongoDB collection {}", plan.collection);
  // MySQL first: the statement's snapshot is the state every document is compared with (a row changed
  // later is read again by recheck).
  auto rows = ctx.mysql.stream(select_rows_in_mongo_order(plan));
  if (!rows) return rows.failure();
  mongo::SortedCursor cursor(ctx.mongo, ctx.db, plan.collection,
                             key_as_id ? std::vector<std::string>{"_id"} : plan.key_fields(), false, kMongoBatch, where);

  mongo::BsonBuilder doc, ykey;  // build_document's, as a sync builds them
  mongo::Bson mkey, prev_y, prev_m;
  bool have_m = false, have_y = false, seen_m = false, seen_y = false;
  const bson_t* mdoc = nullptr;
  MYSQL_ROW row = nullptr;
  const unsigned long* len = nullptr;
  convert::LossReport ignored;

  auto order_error = [&](const char* side, int c) { return key_order_failure(plan, side, c, "verify", ""); };
  auto next_mongo = [&]() -> Status {
    mdoc = cursor.next();
    have_m = mdoc != nullptr;
    if (!have_m) return cursor.error() ? Status(*cursor.error()) : success();
    // A collection of documents MySQL does not have is read to its end too: a stop must not wait for it.
    if (++out.mongodb_documents % kEvery == 0 && stop_requested(ctx)) return stopped(ctx);
    mongo_tuple(plan, key_as_id, mdoc, mkey.get());
    // Equal neighbours are two documents of one key (written around the unique index): the second is
    // extra. Only a step back means the sort is not the one expected.
    if (seen_m)
      if (const int c = compare_tuples(prev_m.get(), mkey.get()); c > 0) return order_error("MongoDB", c);
    bson_reinit(prev_m.get());
    bson_concat(prev_m.get(), mkey.get());
    seen_m = true;
    return success();
  };
  auto next_mysql = [&]() -> Status {
    row = rows->next();
    have_y = row != nullptr;
    if (!have_y) return rows->error() ? Status(*rows->error()) : success();
    len = rows->lengths();
    ++out.mysql_rows;
    doc.clear();
    ykey.clear();
    if (!build_document(plan, key_as_id, row, len, doc, &ykey, ignored))
      return unstorable_key(plan, key_text(plan, row, len));
    if (seen_y)
      if (const int c = compare_tuples(prev_y.get(), ykey.view()); c >= 0) return order_error("MySQL", c);
    bson_reinit(prev_y.get());
    bson_concat(prev_y.get(), ykey.view());
    seen_y = true;
    if (out.mysql_rows % kEvery == 0) {
      if (ctx.progress) ctx.progress(plan.table.name, out.mysql_rows, plan.table.row_estimate);
      if (stop_requested(ctx)) return stopped(ctx);
    }
    return success();
  };

  if (auto st = next_mongo(); !st) return st;
  if (auto st = next_mysql(); !st) return st;
  while (have_m || have_y) {
    const int c = !have_m ? 1 : !have_y ? -1 : compare_tuples(mkey.get(), ykey.view());
    Status st = success();
    if (c < 0) {
      st = sink.extra(mdoc, mkey.get());
      if (st) st = next_mongo();
    } else if (c > 0) {
      st = sink.missing({row, len, doc.view(), ykey.view()});
      if (st) st = next_mysql();
    } else {
      auto fields = differing_fields(doc.view(), mdoc, key_as_id);
      st = fields.empty() ? sink.equal() : sink.different({row, len, doc.view(), ykey.view()}, mdoc, std::move(fields));
      if (st) st = next_mongo();
      if (st) st = next_mysql();
    }
    if (!st) return st;
  }
  if (ctx.progress) ctx.progress(plan.table.name, out.mysql_rows, plan.table.row_estimate);
  return success();
}

// Records what the merge finds: counts, and the first differences.
class Recorder : public Sink {
public:
  Recorder(const TablePlan& plan, bool key_as_id, std::size_t max_keys, TableVerify& out)
      : plan_(plan), key_as_id_(key_as_id), per_kind_(std::max<std::size_t>(max_keys, 10)), out_(out) {}

  Status equal() override {
    ++out_.found.equal;
    return success();
  }
  Status missing(const Row& r) override {
    KeyFinding f;
    f.kind = Finding::missing;
    f.key = bytes_of(r.key);
    f.text = key_text(plan_, r.row, r.len);
    return add(std::move(f));
  }
  Status extra(const bson_t* doc, const bson_t* key) override {
    KeyFinding f;
    f.kind = Finding::extra;
    f.key = bytes_of(key);
    f.text = key_text_of(plan_, key_as_id_, key);
    f.id = id_of(doc);
    return add(std::move(f));
  }
  Status different(const Row& r, const bson_t* doc, std::vector<std::string> fields) override {
    KeyFinding f;
    f.kind = Finding::different;
    f.key = bytes_of(r.key);
    f.text = key_text(plan_, r.row, r.len);
    f.id = id_of(doc);
    f.fields = std::move(fields);
    return add(std::move(f));
  }

private:
  Status add(KeyFinding f) {
    ++out_.found.of(f.kind);
    if (out_.findings.size() < kMaxRecheck) {
      out_.findings.push_back(std::move(f));
    } else {
      ++out_.not_rechecked;
      std::size_t& kept = overflow_kept_[static_cast<std::size_t>(f.kind)];
      if (kept < per_kind_) {
        ++kept;
        out_.overflow.push_back(std::move(f));
      }
    }
    return success();
  }

  const TablePlan& plan_;
  bool key_as_id_;
  std::size_t per_kind_;
  std::array<std::size_t, 3> overflow_kept_{};
  TableVerify& out_;
};

// ---- tables without a key: multisets of documents --------------------------------------------------------

struct Digest {
  std::uint64_t a = 0, b = 0;
  bool operator==(const Digest& o) const { return a == o.a && b == o.b; }
};
struct DigestHash {
  std::size_t operator()(const Digest& d) const { return static_cast<std::size_t>(d.a ^ (d.b * 0x9E3779B97F4A7C15ULL)); }
};

// 128 bits from two unrelated 64-bit hashes of the document's bytes: two different documents taken for
// one would hide a difference, so a collision must be out of reach even over billions of rows.
Digest digest_of(const bson_t* doc) {
  const auto* p = bson_get_data(doc);
  std::uint64_t h = 1469598103934665603ULL;
  for (std::uint32_t i = 0; i < doc->len; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return {h, std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(p), doc->len))};
}

struct MultisetPass {
  // Documents one side has more of: + MySQL, - MongoDB. Both sides are read alternately and equal
  // documents cancel out, so the map holds only what differs or is out of step between the two orders
  // (a staging copy inserts rows in the order MySQL reads them, so normally next to nothing).
  std::unordered_map<Digest, std::int64_t, DigestHash> net;
  std::uint64_t mysql_rows = 0, mongodb_documents = 0;
};

// One pass; `describe` sees each document with its digest (to name the samples).
template <typename Describe>
Status multiset_pass(TableContext& ctx, const TablePlan& plan, MultisetPass& pass, Describe&& describe) {
  const std::string where = fmt::format("MongoDB collection {}", plan.collection);
  auto rows = ctx.mysql.stream(select_all(plan));
  if (!rows) return rows.failure();
  mongo::SortedCursor cursor(ctx.mongo, ctx.db, plan.collection, {}, false, kMongoBatch, where);
  mongo::BsonBuilder doc;
  mongo::Bson stripped;
  convert::LossReport ignored;
  bool have_y = true, have_m = true;
  auto count = [&](const Digest& d, std::int64_t delta) {
    auto [it, inserted] = pass.net.try_emplace(d, delta);
    if (!inserted && (it->second += delta) == 0) pass.net.erase(it);
  };
  while (have_y || have_m) {
    if (have_y) {
      if (MYSQL_ROW row = rows->next()) {
        doc.clear();
        build_document(plan, false, row, rows->lengths(), doc, nullptr, ignored);
        const Digest d = digest_of(doc.view());
        describe(d, doc.view());
        count(d, +1);
        if (++pass.mysql_rows % kEvery == 0) {
          if (ctx.progress) ctx.progress(plan.table.name, pass.mysql_rows, plan.table.row_estimate);
          if (stop_requested(ctx)) return stopped(ctx);
        }
      } else {
        if (rows->error()) return *rows->error();
        have_y = false;
      }
    }
    if (have_m) {
      if (const bson_t* mdoc = cursor.next()) {
        // The document as a sync wrote it: the insert put MongoDB's _id in front.
        stripped.clear();
        bson_copy_to_excluding_noinit(mdoc, stripped.get(), "_id", nullptr);
        const Digest d = digest_of(stripped.get());
        describe(d, stripped.get());
        count(d, -1);
        if (++pass.mongodb_documents % kEvery == 0 && stop_requested(ctx)) return stopped(ctx);
      } else {
        if (cursor.error()) return *cursor.error();
        have_m = false;
      }
    }
  }
  return success();
}

void settle_multiset(const MultisetPass& pass, TableVerify& out) {
  out.mysql_rows = pass.mysql_rows;
  out.mongodb_documents = pass.mongodb_documents;
  out.found = Counts{};
  for (const auto& [d, n] : pass.net) {
    if (n > 0) out.found.missing += static_cast<std::uint64_t>(n);
    else out.found.extra += static_cast<std::uint64_t>(-n);
  }
  out.found.equal = out.mysql_rows - std::min(out.mysql_rows, out.found.missing);
}

// A pass that also names the documents of `wanted` (digests a previous pass left over) it meets.
Status multiset_pass_with_samples(TableContext& ctx, const TablePlan& plan,
                                  const std::unordered_map<Digest, std::int64_t, DigestHash>& wanted, TableVerify& out) {
  std::unordered_map<Digest, std::string, DigestHash> names;
  MultisetPass pass;
  auto st = multiset_pass(ctx, plan, pass, [&](const Digest& d, const bson_t* doc) {
    if (wanted.count(d) && !names.count(d)) names.emplace(d, relaxed_json(doc, 200));
  });
  if (!st) return st;
  settle_multiset(pass, out);
  for (auto& list : out.documents) list.clear();
  for (const auto& [d, n] : pass.net) {
    auto name = names.find(d);
    if (name == names.end()) continue;
    out.documents[n > 0 ? 0 : 1].push_back({name->second, static_cast<std::uint64_t>(n > 0 ? n : -n)});
  }
  // The same report for the same data, whatever order the hash map keeps.
  for (auto& list : out.documents)
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.document < b.document; });
  return success();
}

// Up to `per_kind` digests of each side's surplus, for the next pass to name.
std::vector<DocumentDigest> pick_surplus(const MultisetPass& pass, std::size_t per_kind) {
  std::vector<DocumentDigest> out;
  std::array<std::size_t, 2> picked{};
  for (const auto& [d, n] : pass.net) {
    auto& k = picked[n > 0 ? 0 : 1];
    if (k < per_kind) {
      ++k;
      out.push_back({d.a, d.b, n});
    }
  }
  return out;
}

// ---- reading keys again ----------------------------------------------------------------------------------

// The state of some keys now, on both sides: the documents a sync would write and those MongoDB holds.
struct Reread {
  std::map<std::string, std::pair<mongo::Bson, std::vector<std::string>>, TupleLess> mysql;  // key -> document, text
  std::map<std::string, mongo::Bson, TupleLess> mongo;                                        // key -> document
};

Status reread(TableContext& ctx, const TablePlan& plan, const std::vector<KeyFinding*>& keys, Reread& out) {
  const bool key_as_id = ctx.cfg.sync.key_as_id;
  const std::string where = fmt::format("MongoDB collection {}", plan.collection);
  // MongoDB: {f: {$in: [...]}} for one key field (or _id), {$or: [{f1: v1, f2: v2}, ...]} otherwise.
  mongo::Bson filter;
  const bool one_field = key_as_id || plan.key.size() == 1;
  bson_t list;
  const std::string field = key_as_id ? "_id" : plan.fields[plan.key[0]].field;
  if (one_field) {
    bson_t in;
    bson_append_document_begin(filter.get(), field.data(), static_cast<int>(field.size()), &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
    std::uint32_t i = 0;
    for (const auto* k : keys) {
      const bson_t key = view(k->key);
      bson_iter_t it;
      if (!bson_iter_init(&it, &key) || !bson_iter_next(&it)) continue;
      const std::string n = std::to_string(i++);
      bson_append_iter(&list, n.c_str(), -1, &it);
    }
    bson_append_array_end(&in, &list);
    bson_append_document_end(filter.get(), &in);
  } else {
    BSON_APPEND_ARRAY_BEGIN(filter.get(), "$or", &list);
    std::uint32_t i = 0;
    for (const auto* k : keys) {
      const bson_t key = view(k->key);
      const std::string n = std::to_string(i++);
      bson_append_document(&list, n.c_str(), -1, &key);
    }
    bson_append_array_end(filter.get(), &list);
  }
  {
    auto coll = mongo::collection(ctx.mongo, ctx.db, plan.collection);
    mongo::Bson opts;
    BSON_APPEND_INT32(opts.get(), "batchSize", static_cast<int>(kKeysPerRead));
    mongo::CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
    const bson_t* d = nullptr;
    mongo::Bson tuple;
    while (mongoc_cursor_next(cursor.get(), &d)) {
      mongo_tuple(plan, key_as_id, d, tuple.get());
      out.mongo.emplace(bytes_of(tuple.get()), mongo::Bson(bson_copy(d)));
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) return mongo::classify(error, where, "reading documents by key");
  }
  // MySQL: the rows of the keys that have a MySQL form.
  std::vector<std::vector<std::string>> texts;
  for (const auto* k : keys)
    if (k->text) texts.push_back(*k->text);
  if (texts.empty()) return success();
  auto rows = ctx.mysql.stream(select_by_keys(plan, texts, quoter(ctx)));
  if (!rows) return rows.failure();
  convert::LossReport ignored;
  while (MYSQL_ROW row = rows->next()) {
    const unsigned long* len = rows->lengths();
    mongo::BsonBuilder doc, key;
    if (!build_document(plan, key_as_id, row, len, doc, &key, ignored)) continue;
    out.mysql.emplace(bytes_of(key.view()),
                      std::make_pair(mongo::Bson(bson_copy(doc.view())), key_text(plan, row, len)));
  }
  if (rows->error()) return *rows->error();
  return success();
}

// The verdict on each key now; returns how many settled (equal now, or gone from both sides).
Expected<std::uint64_t> judge_again(TableContext& ctx, const TablePlan& plan, std::vector<KeyFinding*>& keys,
                                    TableVerify& out) {
  std::uint64_t settled = 0;
  for (std::size_t from = 0; from < keys.size(); from += kKeysPerRead) {
    if (stop_requested(ctx)) return stopped(ctx);
    const std::vector<KeyFinding*> part(keys.begin() + static_cast<std::ptrdiff_t>(from),
                                        keys.begin() + static_cast<std::ptrdiff_t>(std::min(keys.size(), from + kKeysPerRead)));
    Reread now;
    if (auto st = reread(ctx, plan, part, now); !st) return st.failure();
    for (auto* f : part) {
      // A key without a MySQL form (a value no conversion of the key's columns produces) cannot be the
      // key of any row: only its document is read again.
      const auto y = f->text ? now.mysql.find(f->key) : now.mysql.end();
      const auto m = now.mongo.find(f->key);
      --out.found.of(f->kind);
      if (y != now.mysql.end() && m != now.mongo.end()) {
        f->fields = differing_fields(y->second.first.get(), m->second.get(), ctx.cfg.sync.key_as_id);
        f->id = id_of(m->second.get());
        f->kind = Finding::different;
        f->text = y->second.second;
        f->settled = f->fields.empty();
      } else if (y != now.mysql.end()) {
        f->kind = Finding::missing;
        f->text = y->second.second;
        f->fields.clear();
      } else if (m != now.mongo.end()) {
        f->kind = Finding::extra;
        f->id = id_of(m->second.get());
        f->fields.clear();
      } else {
        f->settled = true;  // deleted on both sides since
      }
      if (f->settled) {
        ++out.found.equal;
        ++settled;
      } else {
        ++out.found.of(f->kind);
      }
    }
  }
  return settled;
}

std::string pct(double part, double whole) { return fmt::format("{:.0f}%", whole > 0 ? 100.0 * part / whole : 0.0); }

// The delete guard of reconcile_deletes, for `n` of the collection's documents.
Status delete_guard(TableContext& ctx, const TablePlan& plan, std::uint64_t n, std::uint64_t total) {
  if (n == 0 || ctx.force_deletes) return success();
  if (static_cast<double>(n) <= ctx.cfg.sync.max_delete_fraction * static_cast<double>(total)) return success();
  return Failure{Exit::tables_failed,
                 fmt::format("refusing to delete {} of {} documents ({}) from collection {}: more than "
                             "sync.max_delete_fraction {}; check MYSQL_DATABASE, or if MySQL really lost these rows "
                             "rerun with --force-deletes",
                             n, total, pct(static_cast<double>(n), static_cast<double>(total)), plan.collection,
                             ctx.cfg.sync.max_delete_fraction)};
}

// --repair beyond kMaxRecheck differences: a second merge that writes as it goes.
class Repairer : public Sink {
public:
  Repairer(TableContext& ctx, const TablePlan& plan, TableVerify& out)
      : plan_(plan),
        out_(out),
        writer_(ctx.mongo, ctx.db, plan.collection, ctx.wc, static_cast<std::size_t>(ctx.cfg.sync.batch_size),
                static_cast<std::size_t>(ctx.cfg.sync.batch_bytes), fmt::format("MongoDB collection {}", plan.collection)) {}
  Status equal() override { return success(); }
  Status missing(const Row& r) override { return write(r); }
  Status different(const Row& r, const bson_t*, std::vector<std::string>) override { return write(r); }
  Status extra(const bson_t* doc, const bson_t*) override {
    const std::string id = id_of(doc);
    const bson_t sel = view(id);
    ++out_.repaired_deleted;
    return writer_.remove_one(&sel);
  }
  Status flush() { return writer_.flush(); }

private:
  Status write(const Row& r) {
    if (const std::string why = refusal_reason(plan_, r.doc); !why.empty()) {
      out_.warnings.push_back(fmt::format("row {} not repaired: {}", describe_key(plan_, key_text(plan_, r.row, r.len)), why));
      return success();
    }
    ++out_.repaired_copied;
    return writer_.replace_upsert(r.key, r.doc);
  }
  const TablePlan& plan_;
  TableVerify& out_;
  mongo::BulkWriter writer_;
};

}  // namespace

// ---- the three steps -------------------------------------------------------------------------------------

void verify_table(TableContext& ctx, const TablePlan& plan, std::size_t max_keys, TableVerify& out) {
  const auto start = std::chrono::steady_clock::now();
  out.table = plan.table.name;
  out.collection = plan.collection;
  out.key_columns = plan.key_columns();
  out.key_binary.clear();
  for (auto i : plan.key) {
    const auto& f = plan.fields[i];
    const mysql::Column* c = plan.table.find(f.column);
    out.key_binary.push_back(f.kind == convert::Kind::bit ||
                             (c && (c->data_type == "bit" || c->charset == "binary" ||
                                    c->data_type.find("binary") != std::string::npos ||
                                    c->data_type.find("blob") != std::string::npos)));
  }
  Status st = success();
  if (plan.has_key()) {
    Recorder recorder(plan, ctx.cfg.sync.key_as_id, max_keys, out);
    st = merge(ctx, plan, recorder, out);
  } else {
    MultisetPass pass;
    st = multiset_pass(ctx, plan, pass, [](const Digest&, const bson_t*) {});
    if (st) {
      settle_multiset(pass, out);
      out.surplus = pick_surplus(pass, std::max<std::size_t>(max_keys, 10));
    }
  }
  if (!st) out.error = st.failure();
  out.duration_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void recheck(TableContext& ctx, const TablePlan& plan, TableVerify& out) {
  if (out.error || out.found.differences() == 0) return;
  const auto start = std::chrono::steady_clock::now();
  if (plan.has_key()) {
    std::vector<KeyFinding*> keys;
    for (auto& f : out.findings) keys.push_back(&f);
    auto settled = judge_again(ctx, plan, keys, out);
    if (settled) out.changed_during_verify += *settled;
    else out.error = settled.failure();
  } else {
    // Documents have no key to read them by: the whole table again, naming the documents that differed
    // the first time.
    const std::uint64_t before = out.found.differences();
    std::unordered_map<Digest, std::int64_t, DigestHash> wanted;
    for (const auto& d : out.surplus) wanted.emplace(Digest{d.a, d.b}, d.surplus);
    if (auto st = multiset_pass_with_samples(ctx, plan, wanted, out); !st) out.error = st.failure();
    else if (out.found.differences() < before) out.changed_during_verify += before - out.found.differences();
  }
  out.duration_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void repair(TableContext& ctx, const TablePlan& plan, std::size_t max_keys, TableVerify& out) {
  if (out.error || out.found.differences() == 0) return;
  const auto start = std::chrono::steady_clock::now();
  out.repaired = true;
  Status st = success();
  if (!plan.has_key()) {
    // The table is copied whole on every sync already: the repair is that copy (staging collection,
    // swapped in; its delete guard counts the documents the swap would remove).
    TableReport report;
    st = copy_staged(ctx, plan, report);
    out.repaired_copied = report.records_synced;
    out.repaired_deleted = report.deleted;
    TableVerify again;
    if (st) {
      MultisetPass pass;
      st = multiset_pass(ctx, plan, pass, [](const Digest&, const bson_t*) {});
      if (st) settle_multiset(pass, again);
    }
    if (st) out.after_repair = again.found;
  } else if (out.not_rechecked == 0) {
    // Every difference is on the list: copy those rows, delete those documents, read those keys again.
    std::vector<std::vector<std::string>> copy;
    std::vector<std::string> doomed;
    for (const auto& f : out.findings) {
      if (f.settled) continue;
      if (f.kind == Finding::extra) doomed.push_back(f.id);
      else if (f.text) copy.push_back(*f.text);
    }
    TableReport report;
    for (std::size_t i = 0; st && i < copy.size(); i += kKeysPerRead) {
      const std::vector<std::vector<std::string>> part(copy.begin() + static_cast<std::ptrdiff_t>(i),
                                                       copy.begin() + static_cast<std::ptrdiff_t>(std::min(copy.size(), i + kKeysPerRead)));
      st = copy_rows(ctx, plan, select_by_keys(plan, part, quoter(ctx)), report);
    }
    out.repaired_copied = report.records_synced;
    for (const auto& r : report.refused) out.warnings.push_back(fmt::format("row {} not repaired: {}", r.described, r.reason));
    if (st) st = delete_guard(ctx, plan, doomed.size(), out.mongodb_documents);
    if (st && !doomed.empty()) {
      mongo::BulkWriter writer(ctx.mongo, ctx.db, plan.collection, ctx.wc, static_cast<std::size_t>(ctx.cfg.sync.batch_size),
                               static_cast<std::size_t>(ctx.cfg.sync.batch_bytes),
                               fmt::format("MongoDB collection {}", plan.collection));
      for (const auto& id : doomed) {
        const bson_t sel = view(id);
        if (st) st = writer.remove_one(&sel);
      }
      if (st) st = writer.flush();
      if (st) out.repaired_deleted = writer.counts().deleted;
    }
    if (st) {
      // The repaired keys, verified again: a copy of its own, so the findings keep what was found.
      TableVerify again;
      again.found = out.found;
      std::vector<KeyFinding> keys;
      for (const auto& f : out.findings)
        if (!f.settled) keys.push_back(f);
      std::vector<KeyFinding*> pointers;
      for (auto& k : keys) pointers.push_back(&k);
      auto settled = judge_again(ctx, plan, pointers, again);
      if (settled) out.after_repair = again.found;
      else st = settled.failure();
    }
  } else {
    // More differences than the list holds: a second merge repairs as it goes, under the guard decided
    // from what the first one counted; then the table is verified again.
    st = delete_guard(ctx, plan, out.found.extra, out.mongodb_documents);
    if (st) {
      TableVerify scratch;
      Repairer repairer(ctx, plan, out);
      st = merge(ctx, plan, repairer, scratch);
      if (st) st = repairer.flush();
    }
    if (st) {
      TableVerify again;
      Recorder recorder(plan, ctx.cfg.sync.key_as_id, max_keys, again);
      st = merge(ctx, plan, recorder, again);
      if (st) out.after_repair = again.found;
    }
  }
  if (!st) out.error = st.failure();
  out.duration_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- JSON ------------------------------------------------------------------------------------------------

nlohmann::ordered_json to_json(const TableVerify& t, std::size_t max_keys) {
  nlohmann::ordered_json j;
  j["result"] = std::string(mongo::to_string(t.result()));
  j["collection"] = t.collection;
  j["key"] = t.key_columns;
  j["mysql_rows"] = t.mysql_rows;
  j["mongodb_documents"] = t.mongodb_documents;
  j["equal"] = t.found.equal;
  j["missing"] = t.found.missing;
  j["extra"] = t.found.extra;
  j["different"] = t.found.different;
  j["changed_during_verify"] = t.changed_during_verify;
  j["not_rechecked"] = t.not_rechecked;
  j["duration_seconds"] = t.duration_seconds;
  nlohmann::ordered_json samples = nlohmann::ordered_json::object();
  for (const Finding kind : kFindings) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    if (t.keyed()) {
      for (const auto* f : t.first(max_keys, kind)) {
        nlohmann::ordered_json e;
        if (f->text) {
          nlohmann::ordered_json key = nlohmann::ordered_json::object();
          for (std::size_t i = 0; i < t.key_columns.size() && i < f->text->size(); ++i) {
            const std::string& v = (*f->text)[i];
            // Key values are MySQL's text; the bytes of a binary key as hexadecimal, as MySQL writes them.
            const bool binary = (i < t.key_binary.size() && t.key_binary[i]) || !bson_utf8_validate(v.data(), v.size(), false);
            key[t.key_columns[i]] = binary ? hex(v) : v;
          }
          e["key"] = key;
        } else {
          e["key"] = t.describe(*f);
        }
        if (kind == Finding::different) e["fields"] = f->fields;
        list.push_back(e);
      }
    } else if (kind != Finding::different) {
      const auto& docs = t.documents[kind == Finding::missing ? 0 : 1];
      for (std::size_t i = 0; i < docs.size() && i < max_keys; ++i)
        list.push_back({{"document", docs[i].document}, {"count", docs[i].count}});
    }
    samples[std::string(to_string(kind))] = list;
  }
  j["samples"] = samples;
  if (t.repaired) {
    nlohmann::ordered_json r;
    r["copied"] = t.repaired_copied;
    r["deleted"] = t.repaired_deleted;
    r["remaining"] = {{"missing", t.after_repair.missing}, {"extra", t.after_repair.extra},
                      {"different", t.after_repair.different}};
    j["repair"] = r;
  }
  if (!t.warnings.empty()) j["warnings"] = t.warnings;
  if (t.error) j["error"] = t.error->message;
  return j;
}

}  // namespace m2m::sync
