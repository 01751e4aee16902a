// The row-image walker: reads the row images of a ROWS event with the TABLE_MAP that describes them and
// decodes only the key columns. The binlog is used as a list of changed keys, never as a source of values.
#pragma once

#include "binlog/error.hpp"
#include "binlog/event.hpp"
#include "mysql/schema.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace m2m::binlog {

// One decoded key column value.
//   int_signed (i)                     TINYINT..BIGINT signed
//   int_unsigned (u)                   unsigned integers (BIGINT UNSIGNED up to 2^64-1)
//   float32, float64 (f)               FLOAT (widened exactly), DOUBLE
//   decimal (text)                     exact, with exactly `scale` fractional digits: "-1234.500000"
//   datetime (text)                    DATETIME and TIMESTAMP: "YYYY-MM-DD HH:MM:SS[.ffffff]" with the
//                                      column's fsp digits; TIMESTAMP in UTC ("0000-00-00 00:00:00" for 0)
//   date (text)                        "YYYY-MM-DD"
//   time (text)                        "[-]HH:MM:SS[.ffffff]", hours up to 838
//   year (i)                           1901..2155, or 0
//   enum_index (u)                     1-based ENUM index (0: the empty error value)
//   set_bits (u)                       SET members as a bit mask, bit 0 = first member
//   bit (u and bytes)                  BIT(n): the value, and its ceil(n/8) big-endian bytes
//   bytes (bytes)                      CHAR/VARCHAR/TEXT in the column's character set, BINARY (padded to
//                                      its declared length with 0x00), VARBINARY, BLOB, JSON, GEOMETRY
struct KeyValue {
  enum class Type : std::uint8_t {
    null, int_signed, int_unsigned, float32, float64, decimal, bytes, datetime, date, time, year,
    enum_index, set_bits, bit
  };
  Type type = Type::null;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double f = 0;
  std::string text;  // text for decimal and temporal values, raw bytes for bytes and bit

  bool is_null() const { return type == Type::null; }
  bool operator==(const KeyValue&) const = default;
  // For messages and tests: "42", "'abc'" (bytes shown hex-escaped where not printable), "NULL", ...
  std::string debug() const;
};

using Key = std::vector<KeyValue>;

// What the TABLE_MAP may not say (MariaDB without binlog_row_metadata=FULL, MySQL without it): whether a
// numeric column is unsigned, its character set, and BINARY(n)'s declared length. The optional metadata
// wins where present; the pad length always comes from here.
struct ColumnHint {
  bool is_unsigned = false;
  std::string charset;          // "utf8mb4", "latin1", "binary", ...; empty: unknown
  std::uint32_t binary_length = 0;  // BINARY(n): n; values shorter in the image are padded with 0x00
};

// A hint from what discovery read in information_schema.
ColumnHint hint_for(const mysql::Column& column);

struct KeyColumn {
  unsigned index = 0;  // 0-based position in the table (and in the TABLE_MAP)
  ColumnHint hint;
};

// The keys of one changed row. WRITE: after only; DELETE: before only; UPDATE: both. An image that lacks
// a key column (binlog_row_image=MINIMAL: an UPDATE's after image holds only the changed columns) gives
// nullopt: the key did not change.
struct RowKeys {
  std::optional<Key> before;
  std::optional<Key> after;
};

// Walks every row image of `rows` (described by `table`), appending one RowKeys per row to `out`.
// Fails (never reads out of bounds) on truncated or inconsistent images, and with `unsupported` when the
// TABLE_MAP has a column type that cannot be walked.
Result<std::size_t> extract_keys(const TableMap& table, const Rows& rows, std::span<const KeyColumn> key,
                                 std::vector<RowKeys>& out);

// Counts the rows of an event without decoding anything: the walk alone.
Result<std::size_t> count_rows(const TableMap& table, const Rows& rows);

// Whether a TABLE_MAP describes the table as discovery sees it now: the same number of columns, each of
// the same type family (integer, decimal, float, date, time, datetime, timestamp, year, string, blob,
// enum, set, bit, json, geometry). A mismatch means the event was written under another schema (an
// ALTER TABLE since): the caller should fall back to a full sync of the table.
Result<Unit> check_table_map(const TableMap& table, const mysql::Table& expected);

// Decoders for single values, exposed for tests. `data` holds exactly the column's bytes in the image.
Result<KeyValue> decode_value(const ColumnDef& column, const ColumnHint& hint, Bytes data);

}  // namespace m2m::binlog
