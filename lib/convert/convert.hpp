// MySQL value -> BSON value: the type policy (mysql2mongo.toml(5), TYPE MAPPING) and the lossy-conversion report.
//
// Values arrive in MySQL's text protocol form (what mysql_fetch_row returns: bytes + length, nullptr for
// SQL NULL), with the session in utf8mb4 and time_zone '+00:00'.
#pragma once

#include "mongo/builder.hpp"
#include "mysql/schema.hpp"
#include "util/error.hpp"

#include <bson/bson.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace m2m::convert {

// How a column's values are stored in MongoDB.
enum class Kind {
  int32,       // TINYINT..MEDIUMINT (signed or not), INT signed, YEAR
  int64,       // INT UNSIGNED, BIGINT signed
  uint64,      // BIGINT UNSIGNED: int64 up to 2^63-1, Decimal128 above (exact, never wrapped)
  boolean,     // TINYINT(1) with tinyint1_as_bool, BIT(1), or an override
  decimal,     // DECIMAL/NUMERIC: Decimal128 when exact (<= 34 significant digits), else the exact string
  float64,     // FLOAT, DOUBLE
  date,        // DATE: BSON date at midnight UTC
  datetime,    // DATETIME(fsp), TIMESTAMP(fsp): BSON date (milliseconds; finer digits are counted as lossy)
  time,        // TIME: "[-]HHH:MM:SS[.ffffff]"
  string,      // CHAR, VARCHAR, *TEXT, ENUM, and any column overridden to "string"
  set,         // SET: array of strings ("" -> [])
  binary,      // BINARY, VARBINARY, *BLOB, GEOMETRY (WKB): binary subtype 0
  bit,         // BIT(n>1): int64 of the big-endian bits
  json,        // JSON: the embedded value, integers beyond int64 kept exact (Decimal128 or string)
};

// What to do with MySQL's zero dates ('0000-00-00', '2024-00-10'): null (default) or the original string.
enum class ZeroDate { null, string };

struct TypeOptions {
  bool tinyint1_as_bool = false;
  ZeroDate zero_date = ZeroDate::null;
};

// One column's conversion plan.
struct FieldPlan {
  std::string column;  // MySQL column name
  std::string field;   // MongoDB field name (after the renaming rule)
  Kind kind = Kind::string;
  int bit_width = 0;   // BIT(n)
  ZeroDate zero_date = ZeroDate::null;  // date/datetime: what a zero date becomes (from TypeOptions)
};

// A column whose name MongoDB cannot store as-is, and what it became.
struct Rename {
  std::string column;
  std::string field;
};

// Per-column overrides from [tables.<name>.types]: "auto", "string", "int64", "double", "decimal",
// "bool", "date", "binary", "json". Anything else is a configuration error.
using Overrides = std::map<std::string, std::string>;

// The field-name rule, applied in this order: NUL bytes are removed, '.' becomes '_', a leading '$'
// becomes '_'; then, while the result is "_id" or empty, '_' is appended. A column whose name needs no
// change keeps it; a renamed column whose new name is taken (by such a column or an earlier renamed one)
// gets further '_' appended. (field_name_for alone knows no other columns; plan_fields does the rest.)
std::string field_name_for(std::string_view column);

// The Kind a column gets without an override.
Kind auto_kind(const mysql::Column& column, const TypeOptions& options);

// Plans every column of a table (in column order), applying options and overrides. Fails with
// Exit::config when an override names an unknown column or type, or a type the column cannot take.
// Renamed columns are appended to *renames (may be null); nothing is appended on failure.
Expected<std::vector<FieldPlan>> plan_fields(const mysql::Table& table, const TypeOptions& options,
                                             const Overrides& overrides, std::vector<Rename>* renames);

// Lossy conversions, counted per column and reason ("fractional seconds beyond milliseconds truncated",
// "decimal wider than 34 digits stored as string", "zero date stored as null", ...; the full list is in
// convert/detail.hpp).
class LossReport {
public:
  LossReport() = default;
  // The copies and moves forget the last counter added to (it points into the other report's map).
  LossReport(const LossReport& other) : counts_(other.counts_) {}
  LossReport(LossReport&& other) noexcept : counts_(std::move(other.counts_)) { other.last_ = {}; }
  LossReport& operator=(const LossReport& other) {
    counts_ = other.counts_;
    last_ = {};
    return *this;
  }
  LossReport& operator=(LossReport&& other) noexcept {
    counts_ = std::move(other.counts_);
    last_ = {};
    other.last_ = {};
    return *this;
  }

  // A column with a lossy value usually has one in every row: the counter last added to is found again
  // without a lookup in the maps.
  void add(const std::string& column, std::string_view reason, std::uint64_t n = 1);
  void merge(const LossReport& other);
  std::uint64_t total() const;
  bool empty() const { return counts_.empty(); }
  // column -> reason -> count
  const std::map<std::string, std::map<std::string, std::uint64_t>>& counts() const { return counts_; }

private:
  std::map<std::string, std::map<std::string, std::uint64_t>> counts_;
  struct Last {
    std::string column, reason;
    std::uint64_t* count = nullptr;  // a node of counts_: map nodes stay where they are
  } last_;
};

// Appends one value (data == nullptr means SQL NULL) to doc under plan.field. Never throws on bad data:
// a value that cannot be converted as planned is stored as its exact string and counted in `loss`.
// Returns true when the value was stored exactly (nothing was counted).
bool append_value(mongo::BsonBuilder& doc, const FieldPlan& plan, const char* data, std::size_t length, LossReport& loss);

// Same, under an explicit key (used to build filters and _id documents).
bool append_value_as(mongo::BsonBuilder& doc, std::string_view key, const FieldPlan& plan, const char* data,
                     std::size_t length, LossReport& loss);

// The same conversions onto a libbson document, for code that builds one value at a time.
void append_value(bson_t* doc, const FieldPlan& plan, const char* data, std::size_t length,
                  LossReport& loss);
void append_value_as(bson_t* doc, std::string_view key, const FieldPlan& plan, const char* data,
                     std::size_t length, LossReport& loss);

// Appends the JSON text as a BSON value under key. False (and nothing appended) if the text is not JSON.
bool append_json(bson_t* doc, std::string_view key, std::string_view json_text);

// Total order on BSON values as MongoDB sorts them (for the types this tool writes: null, numbers of any
// BSON numeric type compared by value, string by bytes, object, array, binary by length then subtype then
// bytes, bool, date). Returns <0, 0, >0.
int compare_values(const bson_iter_t& a, const bson_iter_t& b);

}  // namespace m2m::convert
