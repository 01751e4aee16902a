// Binary log events decoded from their raw bytes (binlog format v4, as written by MySQL >= 5.0 and
// MariaDB; the layout of each event is described next to its decoder in event.cpp).
//
// A Decoder is fed every event of a stream in order, starting with the FORMAT_DESCRIPTION event (or the
// artificial ROTATE a server sends before it): that event tells it the checksum algorithm and the
// post-header lengths that every later event is decoded with. Checksums are verified and stripped.
//
// Lifetime: spans in a decoded event (the row images and bitmaps of a ROWS event) point into the raw bytes
// given to decode(), or into the event's own storage when it was decompressed: keep both alive while
// using them. Everything else (names, SQL text, TABLE_MAP contents) is copied.
#pragma once

#include "binlog/bytes.hpp"
#include "binlog/error.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace m2m::binlog {

// Event type codes, as both servers number them (MariaDB's own start at 160).
enum class EventType : std::uint8_t {
  unknown = 0,
  start_v3 = 1,
  query = 2,
  stop = 3,
  rotate = 4,
  intvar = 5,
  load = 6,
  slave = 7,
  create_file = 8,
  append_block = 9,
  exec_load = 10,
  delete_file = 11,
  new_load = 12,
  rand = 13,
  user_var = 14,
  format_description = 15,
  xid = 16,
  begin_load_query = 17,
  execute_load_query = 18,
  table_map = 19,
  pre_ga_write_rows = 20,
  pre_ga_update_rows = 21,
  pre_ga_delete_rows = 22,
  write_rows_v1 = 23,
  update_rows_v1 = 24,
  delete_rows_v1 = 25,
  incident = 26,
  heartbeat = 27,
  ignorable = 28,
  rows_query = 29,
  write_rows_v2 = 30,
  update_rows_v2 = 31,
  delete_rows_v2 = 32,
  gtid = 33,               // MySQL GTID_LOG_EVENT
  anonymous_gtid = 34,
  previous_gtids = 35,
  transaction_context = 36,
  view_change = 37,
  xa_prepare = 38,
  partial_update_rows = 39,  // MySQL, binlog_row_value_options=PARTIAL_JSON
  transaction_payload = 40,  // MySQL, binlog_transaction_compression=ON
  heartbeat_v2 = 41,
  gtid_tagged = 42,          // MySQL 8.3+ tagged GTIDs
  annotate_rows = 160,       // MariaDB
  binlog_checkpoint = 161,
  mariadb_gtid = 162,
  gtid_list = 163,
  start_encryption = 164,
  query_compressed = 165,
  write_rows_compressed_v1 = 166,
  update_rows_compressed_v1 = 167,
  delete_rows_compressed_v1 = 168,
  write_rows_compressed_v2 = 169,
  update_rows_compressed_v2 = 170,
  delete_rows_compressed_v2 = 171,
};

std::string_view event_type_name(std::uint8_t type);

// Column type codes of a TABLE_MAP (the protocol's MYSQL_TYPE_* numbers).
enum class ColumnType : std::uint8_t {
  decimal = 0,  // the pre-5.0 DECIMAL
  tiny = 1,
  short_ = 2,
  long_ = 3,
  float_ = 4,
  double_ = 5,
  null = 6,
  timestamp = 7,
  longlong = 8,
  int24 = 9,
  date = 10,
  time = 11,
  datetime = 12,
  year = 13,
  newdate = 14,
  varchar = 15,
  bit = 16,
  timestamp2 = 17,
  datetime2 = 18,
  time2 = 19,
  typed_array = 20,
  vector = 242,  // MySQL 9
  json = 245,    // MySQL's binary JSON; MariaDB's JSON is a LONGTEXT and logged as blob
  newdecimal = 246,
  enum_ = 247,
  set = 248,
  tiny_blob = 249,
  medium_blob = 250,
  long_blob = 251,
  blob = 252,
  var_string = 253,
  string = 254,
  geometry = 255,
};

std::string_view column_type_name(ColumnType t);

enum class Checksum : std::uint8_t { off = 0, crc32 = 1, unknown = 0xff };
enum class Flavor : std::uint8_t { unknown, mysql, mariadb };

struct Header {
  std::uint32_t timestamp = 0;
  std::uint8_t type = 0;          // an EventType value; unknown codes are kept as they are
  std::uint32_t server_id = 0;
  std::uint32_t event_length = 0;  // the whole event, header and checksum included
  std::uint32_t log_pos = 0;       // end of this event in its file; 0 for artificial/resent events
  std::uint16_t flags = 0;

  EventType event_type() const { return static_cast<EventType>(type); }
  static constexpr std::size_t size = 19;
  static constexpr std::uint16_t artificial_flag = 0x20;  // LOG_EVENT_ARTIFICIAL_F: made up by the sender
};

// Reads the common header only (no checksum check): the readers use it to find event boundaries.
std::optional<Header> peek_header(Bytes raw);

struct FormatDescription {
  std::uint16_t binlog_version = 0;
  std::string server_version;        // "10.11.6-MariaDB-log", "8.0.36"
  Flavor flavor = Flavor::unknown;
  std::uint32_t created = 0;
  std::uint8_t header_length = 0;
  std::vector<std::uint8_t> post_header_lengths;  // [type - 1]
  Checksum checksum = Checksum::off;
};

struct Rotate {
  std::uint64_t position = 0;  // where the next file's events start (4 in practice)
  std::string next_file;
};

// One column of a TABLE_MAP with its metadata decoded (see table_map in event.cpp for the encoding).
struct ColumnDef {
  ColumnType type = ColumnType::null;       // as written
  ColumnType real_type = ColumnType::null;  // STRING carries ENUM or SET here; otherwise == type
  std::uint16_t meta = 0;                   // the raw metadata value
  std::uint32_t max_length = 0;   // STRING/VARCHAR: declared bytes; ENUM/SET: pack length (bytes)
  std::uint8_t length_bytes = 0;  // BLOB/GEOMETRY/JSON/VECTOR: bytes of the length prefix
  std::uint8_t precision = 0;     // NEWDECIMAL
  std::uint8_t scale = 0;         // NEWDECIMAL
  std::uint8_t fsp = 0;           // TIME2/DATETIME2/TIMESTAMP2: fractional digits 0..6
  std::uint16_t bits = 0;         // BIT(n): n
  bool nullable = true;

  // From the optional metadata block (binlog_row_metadata=MINIMAL/FULL), when present.
  std::optional<bool> is_unsigned;   // numeric columns
  std::uint32_t collation = 0;       // character and ENUM/SET columns; 0 = not given
  std::string name;                  // FULL only
  std::vector<std::string> enum_values;  // FULL only; ENUM or SET member names
  std::optional<bool> visible;       // MySQL 8.0.23+ FULL

  // How the walker skips a value: a fixed number of bytes, or a little-endian length prefix of
  // `prefix` bytes followed by that many bytes. Computed once per TABLE_MAP.
  std::uint32_t fixed_size = 0;
  std::uint8_t prefix = 0;
};

struct TableMap {
  std::uint64_t table_id = 0;
  std::uint16_t flags = 0;
  std::string database;
  std::string table;
  std::vector<ColumnDef> columns;
  std::vector<unsigned> primary_key;  // from the optional metadata (0-based column indexes), may be empty
  bool has_optional_metadata = false;
  // Non-empty when a column type cannot be walked (an unknown type code, the pre-5.0 DECIMAL): the event
  // decoded, but row images of this table cannot; the message says which column and why.
  std::string unsupported;
};

enum class RowsKind : std::uint8_t { write, update, delete_ };

struct Rows {
  RowsKind kind = RowsKind::write;
  std::uint8_t version = 1;   // 1: MySQL 5.1-5.5 and MariaDB; 2: MySQL 5.6+ (extra-data block)
  bool compressed = false;    // MariaDB log_bin_compress: the row images were zlib-compressed
  std::uint64_t table_id = 0;
  std::uint16_t flags = 0;
  Bytes extra_data;           // v2 only, without its length field
  std::uint64_t column_count = 0;
  Bytes columns_before;       // the columns present in before images (DELETE, UPDATE) or the only image
  Bytes columns_after;        // UPDATE: the columns present in after images; otherwise == columns_before
  std::vector<std::uint8_t> storage;  // decompressed row images, when compressed
  Bytes images;               // the row images (points into the raw event, or into storage)

  bool statement_end() const { return flags & 0x01; }
  Rows() = default;
  Rows(const Rows&) = delete;             // images may point into storage
  Rows& operator=(const Rows&) = delete;
  Rows(Rows&&) noexcept = default;        // vector moves keep their buffer: images stays valid
  Rows& operator=(Rows&&) noexcept = default;
};

// What a QUERY event's statement is, as far as change capture cares.
enum class QueryKind : std::uint8_t {
  begin,      // BEGIN / START TRANSACTION / XA START: a transaction of row events follows
  commit,     // COMMIT / XA COMMIT / XA END...: the end of a transaction (non-transactional engines)
  rollback,   // ROLLBACK (of a transaction holding non-transactional changes)
  savepoint,
  ddl,        // CREATE, ALTER, DROP, RENAME, ...
  truncate,   // TRUNCATE TABLE: logged as a statement even with binlog_format=ROW; every row is gone
  dml,        // INSERT/UPDATE/DELETE/REPLACE/LOAD as a statement: binlog_format=STATEMENT or MIXED
  other,      // GRANT, SET, FLUSH, ...
};
QueryKind classify_query(std::string_view sql);

struct Query {
  std::uint32_t thread_id = 0;
  std::uint32_t exec_time = 0;
  std::uint16_t error_code = 0;
  std::string database;
  std::string sql;
  bool compressed = false;
  QueryKind kind() const { return classify_query(sql); }
};

struct Xid {
  std::uint64_t xid = 0;
};

// MariaDB's GTID event: starts every event group (a transaction, or one standalone statement).
struct MariaGtid {
  std::uint32_t domain_id = 0;
  std::uint32_t server_id = 0;  // from the event header
  std::uint64_t sequence = 0;
  std::uint8_t flags = 0;
  std::uint64_t commit_id = 0;  // group commit id when flags has 0x02
  static constexpr std::uint8_t standalone = 0x01;     // no BEGIN/COMMIT: one statement (DDL)
  static constexpr std::uint8_t group_commit = 0x02;
  static constexpr std::uint8_t transactional = 0x04;  // all changes in transactional engines
  static constexpr std::uint8_t prepared_xa = 0x40;
  static constexpr std::uint8_t completed_xa = 0x80;
  bool is_standalone() const { return flags & standalone; }
  bool is_transactional() const { return flags & transactional; }
  std::string text() const;  // "domain-server-sequence"
};

// MySQL's GTID_LOG / ANONYMOUS_GTID_LOG event.
struct MysqlGtid {
  bool anonymous = false;
  std::uint8_t flags = 0;                 // 0x01: the group may contain statement-based changes
  std::array<std::uint8_t, 16> sid{};     // the source server's UUID
  std::int64_t gno = 0;
  std::string text() const;  // "uuid:gno"
};

struct GtidList {
  struct Entry {
    std::uint32_t domain_id = 0;
    std::uint32_t server_id = 0;
    std::uint64_t sequence = 0;
  };
  std::vector<Entry> gtids;
};

struct AnnotateRows {
  std::string sql;  // the statement that produced the next row events (MariaDB ANNOTATE_ROWS, MySQL ROWS_QUERY)
};

// An INCIDENT event: the server says events may be missing here (e.g. a binlog cache overflowed).
struct Incident {
  std::uint16_t number = 0;
  std::string message;
};

// Every other event type: valid, of no use for change capture, skipped by its length.
struct Skipped {};

using Body = std::variant<Skipped, FormatDescription, Rotate, TableMap, Rows, Query, Xid, MariaGtid, MysqlGtid,
                          GtidList, AnnotateRows, Incident>;

struct Event {
  Header header;
  Body body;

  template <typename T> const T* as() const { return std::get_if<T>(&body); }
  template <typename T> T* as() { return std::get_if<T>(&body); }
};

class Decoder {
public:
  // Decodes one whole event (header, body and, when the stream has checksums, the trailing CRC32).
  Result<Event> decode(Bytes raw);

  // The format in force (after the first FORMAT_DESCRIPTION event), or nullptr.
  const FormatDescription* format() const { return format_ ? &*format_ : nullptr; }
  Checksum checksum() const { return format_ ? format_->checksum : Checksum::unknown; }
  // Verifying CRC32s costs about 1 ns a byte; on by default.
  void verify_checksums(bool on) { verify_ = on; }

private:
  std::uint8_t post_header_length(EventType t) const;
  std::optional<FormatDescription> format_;
  bool verify_ = true;
};

// Errors the caller raises when it meets a statement-based change (a DML QUERY event) or a row event of a
// format it cannot use: one line, naming the server setting and the fix.
BinlogError statement_based_error(std::string_view database, std::string_view sql);

std::uint32_t crc32_of(Bytes b);
std::uint32_t crc32_continue(std::uint32_t running, Bytes b);

}  // namespace m2m::binlog
