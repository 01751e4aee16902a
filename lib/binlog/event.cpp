#include "binlog/event.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

// What was tested against a server: everything MariaDB 10.11 writes (v1 and compressed row events,
// MariaDB GTID and GTID_LIST, ANNOTATE_ROWS, QUERY_COMPRESSED, the optional metadata of
// binlog_row_metadata=FULL). MySQL-only parts are written from the format and tested with hand-built
// events only: ROWS v2 and their extra data, GTID_LOG, ROWS_QUERY, binary JSON columns, MySQL's optional
// metadata fields (visibility), TRANSACTION_PAYLOAD and PARTIAL_UPDATE_ROWS detection.

namespace m2m::binlog {

namespace {

constexpr std::size_t kChecksumSize = 4;
// Neither server allows more columns in a table; a larger count in an event is corruption.
constexpr std::uint64_t kMaxColumns = 4096;
// max_allowed_packet is at most 1 GiB, and so is every event and every decompressed row block.
constexpr std::uint64_t kMaxEventBytes = std::uint64_t{1} << 30;

BinlogError truncated(std::string_view what) {
  return make_error(ErrorKind::truncated, fmt::format("binlog event truncated: {}", what));
}
BinlogError corrupt(std::string msg) { return make_error(ErrorKind::corrupt, "binlog event corrupt: " + msg); }

std::string_view as_text(Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Post-header lengths of binlog v4 for the events decoded here, used until a FORMAT_DESCRIPTION event
// gives the real ones (only the artificial ROTATE of a dump comes before it) or when its table is too
// short for a type.
std::uint8_t default_post_header(EventType t) {
  switch (t) {
    case EventType::query:
    case EventType::query_compressed:
      return 13;
    case EventType::execute_load_query:
      return 26;
    case EventType::rotate:
      return 8;
    case EventType::table_map:
    case EventType::write_rows_v1:
    case EventType::update_rows_v1:
    case EventType::delete_rows_v1:
    case EventType::write_rows_compressed_v1:
    case EventType::update_rows_compressed_v1:
    case EventType::delete_rows_compressed_v1:
      return 8;
    case EventType::write_rows_v2:
    case EventType::update_rows_v2:
    case EventType::delete_rows_v2:
    case EventType::write_rows_compressed_v2:
    case EventType::update_rows_compressed_v2:
    case EventType::delete_rows_compressed_v2:
    case EventType::partial_update_rows:
      return 10;
    case EventType::mariadb_gtid:
      return 19;
    case EventType::gtid_list:
      return 4;
    case EventType::incident:
      return 2;
    case EventType::gtid:
    case EventType::anonymous_gtid:
      return 42;
    default:
      return 0;
  }
}

// "8.0.36-log" -> 80036; "10.11.6-MariaDB-log" -> 101106.
unsigned version_product(std::string_view v) {
  unsigned parts[3] = {0, 0, 0};
  std::size_t i = 0;
  for (int k = 0; k < 3; ++k) {
    unsigned n = 0;
    bool any = false;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) {
      n = n * 10 + static_cast<unsigned>(v[i] - '0');
      if (n > 999) n = 999;
      ++i;
      any = true;
    }
    if (!any) break;
    parts[k] = n;
    if (i < v.size() && v[i] == '.') ++i;
    else break;
  }
  return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

// Decompresses MariaDB's compressed event payload (log_bin_compress): one header byte, 0x80 | algorithm
// << 4 | n, where algorithm 0 is zlib and n (1..4) is the number of bytes of the uncompressed length that
// follow, most significant first; then the zlib stream.
Result<std::vector<std::uint8_t>> mariadb_uncompress(Bytes in) {
  Cursor c(in);
  const std::uint8_t head = c.u8();
  if (!c.ok()) return truncated("compressed payload has no header");
  if (!(head & 0x80)) return corrupt(fmt::format("compressed payload header 0x{:02x} lacks its marker bit", head));
  const unsigned algorithm = (head >> 4) & 0x07;
  if (algorithm != 0)
    return make_error(ErrorKind::unsupported,
                      fmt::format("binlog event compressed with algorithm {}, only zlib (0) is known", algorithm));
  const unsigned lenlen = head & 0x07;
  if (lenlen < 1 || lenlen > 4) return corrupt(fmt::format("compressed payload length of {} bytes", lenlen));
  const Bytes len_bytes = c.take(lenlen);
  if (!c.ok()) return truncated("compressed payload length");
  const std::uint64_t len = load_be(len_bytes.data(), lenlen);
  if (len > kMaxEventBytes) return corrupt(fmt::format("compressed payload claims {} bytes", len));
  const Bytes data = c.rest();
  std::vector<std::uint8_t> out(static_cast<std::size_t>(len));
  uLongf out_len = static_cast<uLongf>(len);
  if (len == 0) return out;
  const int rc = uncompress(out.data(), &out_len, data.data(), static_cast<uLong>(data.size()));
  if (rc != Z_OK || out_len != len)
    return corrupt(fmt::format("zlib could not inflate the payload to its declared {} bytes (zlib error {})", len, rc));
  return out;
}

// Binary size of a NEWDECIMAL(precision, scale): each full group of 9 digits takes 4 bytes; a partial
// group of 1-2, 3-4, 5-6, 7-9 digits takes 1, 2, 3, 4 bytes; integer and fraction parts separately.
std::uint32_t decimal_size(unsigned precision, unsigned scale) {
  static constexpr std::uint8_t partial[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  const unsigned intg = precision - scale;
  return (intg / 9) * 4 + partial[intg % 9] + (scale / 9) * 4 + partial[scale % 9];
}

bool is_numeric(const ColumnDef& c) {
  switch (c.type) {
    case ColumnType::tiny:
    case ColumnType::short_:
    case ColumnType::int24:
    case ColumnType::long_:
    case ColumnType::longlong:
    case ColumnType::float_:
    case ColumnType::double_:
    case ColumnType::newdecimal:
    case ColumnType::decimal:
      return true;
    default:
      return false;
  }
}

bool is_enum_or_set(const ColumnDef& c) {
  return c.real_type == ColumnType::enum_ || c.real_type == ColumnType::set;
}

// Columns that carry a character set in the optional metadata: strings and blobs (binary ones too, with
// the binary collation 63), not ENUM/SET (they have their own fields), JSON or GEOMETRY.
bool is_character(const ColumnDef& c) {
  switch (c.type) {
    case ColumnType::string:
      return !is_enum_or_set(c);
    case ColumnType::varchar:
    case ColumnType::var_string:
    case ColumnType::blob:
    case ColumnType::tiny_blob:
    case ColumnType::medium_blob:
    case ColumnType::long_blob:
      return true;
    default:
      return false;
  }
}

// Reads the per-column metadata block of a TABLE_MAP. Each type has a fixed number of metadata bytes (0,
// 1 or 2); the layout of those bytes is noted per type. Also computes how a value of the column is
// skipped in a row image. Returns a reason when a column cannot be walked (the event still decodes).
std::string read_column_metadata(Cursor& meta, std::vector<ColumnDef>& cols) {
  for (std::size_t i = 0; i < cols.size(); ++i) {
    ColumnDef& c = cols[i];
    c.real_type = c.type;
    switch (c.type) {
      // No metadata; fixed sizes.
      case ColumnType::tiny: c.fixed_size = 1; break;
      case ColumnType::short_: c.fixed_size = 2; break;
      case ColumnType::int24: c.fixed_size = 3; break;
      case ColumnType::long_: c.fixed_size = 4; break;
      case ColumnType::longlong: c.fixed_size = 8; break;
      case ColumnType::null: c.fixed_size = 0; break;
      case ColumnType::year: c.fixed_size = 1; break;
      case ColumnType::date:
      case ColumnType::newdate: c.fixed_size = 3; break;
      case ColumnType::time: c.fixed_size = 3; break;        // pre-5.6 TIME: HHMMSS as an integer
      case ColumnType::datetime: c.fixed_size = 8; break;    // pre-5.6 DATETIME: YYYYMMDDHHMMSS
      case ColumnType::timestamp: c.fixed_size = 4; break;   // pre-5.6 TIMESTAMP: seconds
      case ColumnType::decimal:
        // The pre-5.0 DECIMAL has no metadata, so its size in a row image cannot be known.
        return fmt::format("column {} is a pre-5.0 DECIMAL; convert the table (ALTER TABLE ... FORCE)", i + 1);

      // One byte: the pack length.
      case ColumnType::float_:
      case ColumnType::double_:
        c.meta = meta.u8();
        c.fixed_size = c.type == ColumnType::float_ ? 4 : 8;
        break;
      // One byte: the number of fractional digits.
      case ColumnType::time2:
      case ColumnType::datetime2:
      case ColumnType::timestamp2: {
        c.meta = meta.u8();
        c.fsp = static_cast<std::uint8_t>(c.meta);
        if (c.fsp > 6) return fmt::format("column {} has fractional precision {} (at most 6)", i + 1, c.fsp);
        const std::uint32_t base = c.type == ColumnType::time2 ? 3 : c.type == ColumnType::datetime2 ? 5 : 4;
        c.fixed_size = base + (c.fsp + 1u) / 2u;
        break;
      }
      // One byte: how many bytes the little-endian length prefix of a value has.
      case ColumnType::blob:
      case ColumnType::tiny_blob:
      case ColumnType::medium_blob:
      case ColumnType::long_blob:
      case ColumnType::geometry:
      case ColumnType::json:
      case ColumnType::vector:
        c.meta = meta.u8();
        c.length_bytes = static_cast<std::uint8_t>(c.meta);
        if (c.length_bytes < 1 || c.length_bytes > 4)
          return fmt::format("column {} ({}) has a length prefix of {} bytes", i + 1, column_type_name(c.type),
                             c.length_bytes);
        c.prefix = c.length_bytes;
        break;
      // Two bytes, little-endian: the maximum length in bytes; values carry a 1-byte length prefix below
      // 256, else 2 bytes.
      case ColumnType::varchar:
      case ColumnType::var_string:
        c.meta = static_cast<std::uint16_t>(meta.le(2));
        c.max_length = c.meta;
        c.prefix = c.max_length < 256 ? 1 : 2;
        break;
      // Two bytes: the number of bits modulo 8, then the number of whole bytes. Values are big-endian.
      case ColumnType::bit: {
        const std::uint8_t rem = meta.u8();
        const std::uint8_t bytes = meta.u8();
        c.meta = static_cast<std::uint16_t>(rem | (bytes << 8));
        c.bits = static_cast<std::uint16_t>(bytes * 8u + rem);
        c.fixed_size = bytes + (rem ? 1u : 0u);
        if (c.bits < 1 || c.bits > 64) return fmt::format("column {} is BIT({})", i + 1, c.bits);
        break;
      }
      // Two bytes: precision, then scale.
      case ColumnType::newdecimal:
        c.precision = meta.u8();
        c.scale = meta.u8();
        c.meta = static_cast<std::uint16_t>((c.precision << 8) | c.scale);
        if (c.precision < 1 || c.precision > 65 || c.scale > 30 || c.scale > c.precision)
          return fmt::format("column {} is DECIMAL({},{})", i + 1, c.precision, c.scale);
        c.fixed_size = decimal_size(c.precision, c.scale);
        break;
      // Two bytes: the real type, then the low byte of the length. CHAR(n) columns of more than 255 bytes
      // keep the two high bits of the length in bits 4-5 of the first byte, XOR-ed into the real type
      // (whose bits 4-5 are always set: 0xfe STRING, 0xf7 ENUM, 0xf8 SET). For ENUM and SET the length
      // is the pack length of a value (ENUM 1-2 bytes, SET 1-8 bytes).
      case ColumnType::string:
      case ColumnType::enum_:
      case ColumnType::set: {
        const std::uint8_t b0 = meta.u8();
        const std::uint8_t b1 = meta.u8();
        c.meta = static_cast<std::uint16_t>((b0 << 8) | b1);
        std::uint32_t length = b1;
        std::uint8_t real = b0;
        if ((b0 & 0x30) != 0x30) {
          length |= static_cast<std::uint32_t>((b0 & 0x30) ^ 0x30) << 4;
          real = static_cast<std::uint8_t>(b0 | 0x30);
        }
        c.real_type = static_cast<ColumnType>(real);
        c.max_length = length;
        if (c.real_type == ColumnType::enum_ || c.real_type == ColumnType::set) {
          c.fixed_size = length;
          const bool ok = c.real_type == ColumnType::enum_ ? (length == 1 || length == 2) : (length >= 1 && length <= 8);
          if (!ok) return fmt::format("column {} is an {} of {} bytes", i + 1, column_type_name(c.real_type), length);
        } else if (c.real_type == ColumnType::string) {
          c.prefix = length < 256 ? 1 : 2;
        } else {
          return fmt::format("column {} is a STRING with real type {}", i + 1, static_cast<unsigned>(real));
        }
        break;
      }
      default:
        // An unknown type has an unknown amount of metadata: the rest of the block cannot be parsed.
        return fmt::format("column {} has type code {} ({}), which this tool cannot read", i + 1,
                           static_cast<unsigned>(c.type), column_type_name(c.type));
    }
    if (!meta.ok()) return fmt::format("the column metadata ends at column {}", i + 1);
  }
  return {};
}

// Values of a bitmap field of the optional metadata, most significant bit first.
bool msb_bit(Bytes b, std::size_t i) { return i / 8 < b.size() && (b[i / 8] >> (7 - i % 8)) & 1; }

template <typename Pred>
std::vector<ColumnDef*> columns_where(std::vector<ColumnDef>& cols, Pred pred) {
  std::vector<ColumnDef*> out;
  for (auto& c : cols)
    if (pred(c)) out.push_back(&c);
  return out;
}

// The optional metadata block of a TABLE_MAP (MySQL 8.0.1+ and MariaDB 10.5+ with binlog_row_metadata):
// a sequence of fields, each a type byte, a packed length and that many bytes.
Status parse_optional_metadata(Bytes block, TableMap& tm) {
  Cursor c(block);
  auto fail = [&](std::string_view what) {
    return Failure{Exit::unavailable, fmt::format("optional metadata field '{}' of table {}.{} is malformed", what,
                                                  tm.database, tm.table)};
  };
  auto charset_field = [&](Cursor& f, std::vector<ColumnDef*> targets, bool with_default) -> bool {
    if (with_default) {
      const std::uint64_t def = f.packed();
      for (auto* col : targets) col->collation = static_cast<std::uint32_t>(def);
      while (f.ok() && !f.empty()) {
        const std::uint64_t idx = f.packed();
        const std::uint64_t coll = f.packed();
        if (!f.ok() || idx >= targets.size()) return false;
        targets[idx]->collation = static_cast<std::uint32_t>(coll);
      }
      return f.ok();
    }
    for (auto* col : targets) col->collation = static_cast<std::uint32_t>(f.packed());
    return f.ok();
  };
  auto strings_field = [&](Cursor& f, std::vector<ColumnDef*> targets) -> bool {
    for (auto* col : targets) {
      const std::uint64_t n = f.packed();
      if (!f.ok() || n > f.remaining()) return false;
      col->enum_values.clear();
      col->enum_values.reserve(static_cast<std::size_t>(n));
      for (std::uint64_t k = 0; k < n; ++k) {
        const std::uint64_t len = f.packed();
        if (!f.ok() || len > f.remaining()) return false;
        col->enum_values.emplace_back(f.take_text(static_cast<std::size_t>(len)));
      }
    }
    return f.ok();
  };

  while (!c.empty()) {
    const std::uint8_t type = c.u8();
    const std::uint64_t len = c.packed();
    if (!c.ok() || len > c.remaining()) return fail("length");
    Cursor f(c.take(static_cast<std::size_t>(len)));
    switch (type) {
      case 1: {  // SIGNEDNESS: one bit per numeric column, 1 = unsigned
        const Bytes bits = f.rest();
        std::size_t k = 0;
        for (auto& col : tm.columns)
          if (is_numeric(col)) col.is_unsigned = msb_bit(bits, k++);
        if ((k + 7) / 8 > bits.size()) return fail("signedness");
        break;
      }
      case 2:  // DEFAULT_CHARSET: default collation, then (index, collation) pairs for the exceptions
        if (!charset_field(f, columns_where(tm.columns, is_character), true)) return fail("default charset");
        break;
      case 3:  // COLUMN_CHARSET: one collation per character column
        if (!charset_field(f, columns_where(tm.columns, is_character), false)) return fail("column charset");
        break;
      case 4:  // COLUMN_NAME: one length-prefixed name per column
        for (auto& col : tm.columns) {
          const std::uint64_t n = f.packed();
          if (!f.ok() || n > f.remaining()) return fail("column name");
          col.name = std::string(f.take_text(static_cast<std::size_t>(n)));
        }
        break;
      case 5:  // SET_STR_VALUE
        if (!strings_field(f, columns_where(tm.columns, [](const ColumnDef& d) { return d.real_type == ColumnType::set; })))
          return fail("set values");
        break;
      case 6:  // ENUM_STR_VALUE
        if (!strings_field(f, columns_where(tm.columns, [](const ColumnDef& d) { return d.real_type == ColumnType::enum_; })))
          return fail("enum values");
        break;
      case 7:  // GEOMETRY_TYPE: not needed
        break;
      case 8:  // SIMPLE_PRIMARY_KEY: column indexes
        tm.primary_key.clear();
        while (f.ok() && !f.empty()) {
          const std::uint64_t idx = f.packed();
          if (!f.ok() || idx >= tm.columns.size()) return fail("primary key");
          tm.primary_key.push_back(static_cast<unsigned>(idx));
        }
        break;
      case 9:  // PRIMARY_KEY_WITH_PREFIX: (index, prefix length) pairs
        tm.primary_key.clear();
        while (f.ok() && !f.empty()) {
          const std::uint64_t idx = f.packed();
          f.packed();
          if (!f.ok() || idx >= tm.columns.size()) return fail("primary key with prefix");
          tm.primary_key.push_back(static_cast<unsigned>(idx));
        }
        break;
      case 10:  // ENUM_AND_SET_DEFAULT_CHARSET
        if (!charset_field(f, columns_where(tm.columns, is_enum_or_set), true)) return fail("enum/set default charset");
        break;
      case 11:  // ENUM_AND_SET_COLUMN_CHARSET
        if (!charset_field(f, columns_where(tm.columns, is_enum_or_set), false)) return fail("enum/set charset");
        break;
      case 12: {  // COLUMN_VISIBILITY: one bit per column, 1 = visible
        const Bytes bits = f.rest();
        if ((tm.columns.size() + 7) / 8 > bits.size()) return fail("column visibility");
        for (std::size_t k = 0; k < tm.columns.size(); ++k) tm.columns[k].visible = msb_bit(bits, k);
        break;
      }
      default:  // fields added by later servers: skipped by their length
        break;
    }
  }
  if (!c.ok()) return fail("block");
  return success();
}

Result<TableMap> decode_table_map(Cursor post, std::size_t post_len, Cursor body) {
  TableMap tm;
  tm.table_id = post.le(post_len == 6 ? 4 : 6);
  tm.flags = post.u16();
  if (!post.ok()) return truncated("TABLE_MAP post-header");

  const std::uint8_t db_len = body.u8();
  tm.database = std::string(body.take_text(db_len));
  body.skip(1);  // NUL
  const std::uint8_t table_len = body.u8();
  tm.table = std::string(body.take_text(table_len));
  body.skip(1);
  const std::uint64_t count = body.packed();
  if (!body.ok()) return truncated("TABLE_MAP names");
  if (count == 0 || count > kMaxColumns) return corrupt(fmt::format("TABLE_MAP with {} columns", count));
  const Bytes types = body.take(static_cast<std::size_t>(count));
  const std::uint64_t meta_len = body.packed();
  const Bytes meta = body.take(static_cast<std::size_t>(std::min<std::uint64_t>(meta_len, kMaxEventBytes)));
  const Bytes nullable = body.take((static_cast<std::size_t>(count) + 7) / 8);
  if (!body.ok()) return truncated(fmt::format("TABLE_MAP of {}.{}", tm.database, tm.table));

  tm.columns.resize(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < tm.columns.size(); ++i) {
    tm.columns[i].type = static_cast<ColumnType>(types[i]);
    tm.columns[i].nullable = bit_set(nullable, i);
  }
  Cursor mc(meta);
  tm.unsupported = read_column_metadata(mc, tm.columns);
  if (!tm.unsupported.empty()) {
    tm.unsupported = fmt::format("table {}.{}: {}", tm.database, tm.table, tm.unsupported);
    return tm;  // the optional metadata refers to column kinds that are not known either
  }
  if (!mc.empty())
    return corrupt(fmt::format("TABLE_MAP of {}.{} has {} bytes of column metadata left over", tm.database, tm.table,
                               mc.remaining()));
  if (!body.empty()) {
    tm.has_optional_metadata = true;
    if (auto st = parse_optional_metadata(body.rest(), tm); !st) return corrupt(st.failure().message);
  }
  return tm;
}

Result<Rows> decode_rows(EventType type, Cursor post, std::size_t post_len, Cursor body) {
  Rows r;
  const auto t = static_cast<unsigned>(type);
  switch (type) {
    case EventType::write_rows_v1: case EventType::write_rows_v2:
    case EventType::write_rows_compressed_v1: case EventType::write_rows_compressed_v2:
      r.kind = RowsKind::write; break;
    case EventType::update_rows_v1: case EventType::update_rows_v2:
    case EventType::update_rows_compressed_v1: case EventType::update_rows_compressed_v2:
      r.kind = RowsKind::update; break;
    default:
      r.kind = RowsKind::delete_; break;
  }
  r.version = (t >= 30 && t <= 32) || t >= 169 ? 2 : 1;
  r.compressed = t >= 166;

  r.table_id = post.le(post_len == 6 ? 4 : 6);
  r.flags = post.u16();
  std::uint16_t extra_len = 0;
  if (r.version == 2) extra_len = post.u16();
  if (!post.ok()) return truncated(fmt::format("{} post-header", event_type_name(static_cast<std::uint8_t>(type))));
  if (r.version == 2) {
    // The length counts its own two bytes; what follows them is typed extra data (NDB, partitions).
    if (extra_len < 2) return corrupt(fmt::format("ROWS event extra-data length {}", extra_len));
    r.extra_data = body.take(extra_len - 2u);
  }
  r.column_count = body.packed();
  if (!body.ok()) return truncated("ROWS event column count");
  if (r.column_count == 0 || r.column_count > kMaxColumns)
    return corrupt(fmt::format("ROWS event with {} columns", r.column_count));
  const std::size_t bitmap_len = (static_cast<std::size_t>(r.column_count) + 7) / 8;
  r.columns_before = body.take(bitmap_len);
  // UPDATE events of both versions carry a second bitmap: the columns present in after images.
  r.columns_after = r.kind == RowsKind::update ? body.take(bitmap_len) : r.columns_before;
  if (!body.ok()) return truncated("ROWS event column bitmaps");
  const Bytes rest = body.rest();
  if (r.compressed) {
    auto out = mariadb_uncompress(rest);
    if (!out) return out.error();
    r.storage = std::move(*out);
    r.images = Bytes(r.storage);
  } else {
    r.images = rest;
  }
  return r;
}

Result<Query> decode_query(EventType type, Cursor post, Cursor body) {
  Query q;
  q.thread_id = post.u32();
  q.exec_time = post.u32();
  const std::uint8_t db_len = post.u8();
  q.error_code = post.u16();
  const std::uint16_t status_len = post.u16();
  if (!post.ok()) return truncated("QUERY post-header");
  // Status variables (sql_mode, charset, time zone, ...) are not needed: skipped by their total length.
  body.skip(status_len);
  q.database = std::string(body.take_text(db_len));
  body.skip(1);  // NUL
  if (!body.ok()) return truncated("QUERY status variables or database name");
  const Bytes sql = body.rest();
  if (type == EventType::query_compressed) {
    q.compressed = true;
    auto out = mariadb_uncompress(sql);
    if (!out) return out.error();
    q.sql.assign(reinterpret_cast<const char*>(out->data()), out->size());
  } else {
    q.sql = std::string(as_text(sql));
  }
  return q;
}

std::string hex_uuid(const std::array<std::uint8_t, 16>& b) {
  std::string s;
  s.reserve(36);
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

BinlogError unsupported_event(const Header& h) {
  const std::uint8_t t = h.type;
  if (t == static_cast<std::uint8_t>(EventType::transaction_payload))
    return make_error(ErrorKind::unsupported,
                      fmt::format("the binlog holds a compressed transaction (TRANSACTION_PAYLOAD event ending at "
                                  "position {}), which this tool cannot read; on the server run SET PERSIST "
                                  "binlog_transaction_compression = OFF, then FLUSH BINARY LOGS and sync --full",
                                  h.log_pos));
  if (t == static_cast<std::uint8_t>(EventType::partial_update_rows))
    return make_error(ErrorKind::unsupported,
                      fmt::format("the binlog holds a partial JSON update (PARTIAL_UPDATE_ROWS event ending at "
                                  "position {}), which this tool cannot read; on the server run SET PERSIST "
                                  "binlog_row_value_options = '', then FLUSH BINARY LOGS and sync --full",
                                  h.log_pos));
  if (t == static_cast<std::uint8_t>(EventType::start_encryption))
    return make_error(ErrorKind::unsupported,
                      "the binlog file is encrypted (encrypt_binlog=ON); read it through the server instead of "
                      "from the file");
  return make_error(ErrorKind::unsupported,
                    fmt::format("binlog event type {} ({}) cannot be read", t, event_type_name(t)));
}

}  // namespace

std::uint32_t crc32_of(Bytes b) { return crc32_continue(static_cast<std::uint32_t>(crc32(0L, Z_NULL, 0)), b); }

std::uint32_t crc32_continue(std::uint32_t running, Bytes b) {
  uLong crc = running;
  // zlib takes uInt lengths: feed large buffers in pieces.
  const std::uint8_t* p = b.data();
  std::size_t n = b.size();
  while (n > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(n, std::numeric_limits<uInt>::max()));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

std::optional<Header> peek_header(Bytes raw) {
  Cursor c(raw);
  Header h;
  h.timestamp = c.u32();
  h.type = c.u8();
  h.server_id = c.u32();
  h.event_length = c.u32();
  h.log_pos = c.u32();
  h.flags = c.u16();
  if (!c.ok()) return std::nullopt;
  return h;
}

std::uint8_t Decoder::post_header_length(EventType t) const {
  const auto idx = static_cast<std::size_t>(t);
  if (format_ && idx >= 1 && idx - 1 < format_->post_header_lengths.size()) {
    const std::uint8_t v = format_->post_header_lengths[idx - 1];
    // A zero for a type this decoder reads means the server did not describe it: use the v4 default.
    if (v != 0 || default_post_header(t) == 0) return v;
  }
  return default_post_header(t);
}

Result<Event> Decoder::decode(Bytes raw) {
  auto h = peek_header(raw);
  if (!h) return truncated(fmt::format("{} bytes, shorter than the 19-byte header", raw.size()));
  Event ev;
  ev.header = *h;
  if (h->event_length < Header::size) return corrupt(fmt::format("event length {} is shorter than its header", h->event_length));
  if (h->event_length > raw.size())
    return truncated(fmt::format("{} declares {} bytes, {} present", event_type_name(h->type), h->event_length, raw.size()));
  if (h->event_length < raw.size())
    return corrupt(fmt::format("{} declares {} bytes but {} were given", event_type_name(h->type), h->event_length,
                               raw.size()));
  const EventType type = h->event_type();

  // FORMAT_DESCRIPTION: binlog version (2), server version (50, NUL-padded), creation time (4), header
  // length (1), one post-header length per event type; then, from servers that know checksums (MySQL
  // 5.6.1+, MariaDB 5.3+), the checksum algorithm (1) and the event's own CRC32 (4), present whatever the
  // algorithm, so that a reader can tell the two apart before knowing the algorithm.
  if (type == EventType::format_description) {
    Cursor c(raw.subspan(Header::size));
    FormatDescription fd;
    fd.binlog_version = c.u16();
    const std::string_view version = c.take_text(50);
    fd.created = c.u32();
    fd.header_length = c.u8();
    if (!c.ok()) return truncated("FORMAT_DESCRIPTION");
    if (fd.binlog_version != 4)
      return make_error(ErrorKind::unsupported,
                        fmt::format("binlog format version {} (only version 4, MySQL 5.0+ and MariaDB, is supported)",
                                    fd.binlog_version));
    if (fd.header_length < Header::size) return corrupt(fmt::format("header length {}", fd.header_length));
    fd.server_version = std::string(version.substr(0, version.find('\0')));
    fd.flavor = fd.server_version.find("MariaDB") != std::string::npos ? Flavor::mariadb : Flavor::mysql;
    const unsigned product = version_product(fd.server_version);
    const bool checksum_aware = fd.flavor == Flavor::mariadb ? product >= 50300 : product >= 50601;
    Bytes lengths = c.rest();
    if (checksum_aware) {
      if (lengths.size() < 5) return truncated("FORMAT_DESCRIPTION checksum fields");
      const std::uint8_t alg = lengths[lengths.size() - 5];
      lengths = lengths.first(lengths.size() - 5);
      if (alg == 1) {
        fd.checksum = Checksum::crc32;
        const std::uint32_t stored = static_cast<std::uint32_t>(load_le(raw.data() + raw.size() - 4, 4));
        // The server sets LOG_EVENT_BINLOG_IN_USE_F (0x0001) in the header of the open file's
        // FORMAT_DESCRIPTION in place and clears it at close, without recomputing the checksum: the CRC
        // is that of the event with the flag clear.
        std::uint8_t head[Header::size];
        std::memcpy(head, raw.data(), Header::size);
        head[17] = static_cast<std::uint8_t>(head[17] & ~0x01u);
        const std::uint32_t computed =
            crc32_continue(crc32_of(Bytes(head, Header::size)), raw.subspan(Header::size, raw.size() - Header::size - 4));
        if (verify_ && stored != computed)
          return make_error(ErrorKind::checksum, "binlog event checksum mismatch in FORMAT_DESCRIPTION");
      } else if (alg == 0 || alg == 0xff) {
        fd.checksum = Checksum::off;
      } else {
        return corrupt(fmt::format("unknown checksum algorithm {}", alg));
      }
    }
    fd.post_header_lengths.assign(lengths.begin(), lengths.end());
    format_ = fd;
    ev.body = std::move(fd);
    return ev;
  }

  // Every other event: verify and strip the checksum. Before the first FORMAT_DESCRIPTION (the artificial
  // ROTATE that opens a dump) the algorithm is not known yet: a trailing CRC32 that matches is taken as
  // one; a false match has odds of 2^-32.
  Bytes data = raw;
  if (checksum() == Checksum::crc32) {
    if (raw.size() < Header::size + kChecksumSize) return truncated("event too short for its checksum");
    data = raw.first(raw.size() - kChecksumSize);
    const auto stored = static_cast<std::uint32_t>(load_le(raw.data() + data.size(), 4));
    if (verify_ && stored != crc32_of(data))
      return make_error(ErrorKind::checksum,
                        fmt::format("binlog event checksum mismatch in {} ending at position {}",
                                    event_type_name(h->type), h->log_pos));
  } else if (checksum() == Checksum::unknown && raw.size() >= Header::size + kChecksumSize) {
    const Bytes head = raw.first(raw.size() - kChecksumSize);
    if (static_cast<std::uint32_t>(load_le(raw.data() + head.size(), 4)) == crc32_of(head)) data = head;
  }

  const std::size_t header_len = format_ ? format_->header_length : Header::size;
  if (data.size() < header_len) return truncated("event shorter than the header length");
  const std::size_t post_len = post_header_length(type);
  const Bytes after_header = data.subspan(header_len);
  if (after_header.size() < post_len)
    return truncated(fmt::format("{} post-header needs {} bytes, {} present", event_type_name(h->type), post_len,
                                 after_header.size()));
  Cursor post(after_header.first(post_len));
  Cursor body(after_header.subspan(post_len));

  switch (type) {
    // ROTATE: position (8), then the next file's name up to the end.
    case EventType::rotate: {
      Rotate r;
      r.position = post_len >= 8 ? post.u64() : 4;
      r.next_file = std::string(as_text(body.rest()));
      if (r.next_file.empty()) return corrupt("ROTATE without a file name");
      ev.body = std::move(r);
      return ev;
    }
    // TABLE_MAP: table id (6, or 4 when the post-header is 6 bytes), flags (2); database and table names
    // (length byte, name, NUL), column count (packed), one type byte per column, the metadata block
    // (packed length), the nullable bitmap, and optionally the extended metadata fields.
    case EventType::table_map: {
      auto tm = decode_table_map(post, post_len, body);
      if (!tm) return tm.error();
      ev.body = std::move(*tm);
      return ev;
    }
    // ROWS: table id, flags; v2: extra-data length (2, counting itself) and extra data; column count
    // (packed), the columns-present bitmap, for UPDATE a second one for after images; then the row images
    // (zlib-compressed in MariaDB's compressed events).
    case EventType::write_rows_v1: case EventType::update_rows_v1: case EventType::delete_rows_v1:
    case EventType::write_rows_v2: case EventType::update_rows_v2: case EventType::delete_rows_v2:
    case EventType::write_rows_compressed_v1: case EventType::update_rows_compressed_v1:
    case EventType::delete_rows_compressed_v1: case EventType::write_rows_compressed_v2:
    case EventType::update_rows_compressed_v2: case EventType::delete_rows_compressed_v2: {
      auto rows = decode_rows(type, post, post_len, body);
      if (!rows) return rows.error();
      ev.body = std::move(*rows);
      return ev;
    }
    // QUERY: thread id (4), execution time (4), database name length (1), error code (2), status variables
    // length (2); status variables, database name, NUL, statement text (zlib-compressed in MariaDB's
    // QUERY_COMPRESSED).
    // EXECUTE_LOAD_QUERY (LOAD DATA logged as a statement) is a QUERY with 13 more post-header bytes
    // (file id, offsets of the file name, duplicate handling): its statement is read the same way.
    case EventType::query:
    case EventType::query_compressed:
    case EventType::execute_load_query: {
      if (post_len < 13) return corrupt(fmt::format("QUERY post-header of {} bytes", post_len));
      auto q = decode_query(type, post, body);
      if (!q) return q.error();
      ev.body = std::move(*q);
      return ev;
    }
    // XID: the transaction id (8); marks a commit of a transactional engine.
    case EventType::xid: {
      Xid x;
      x.xid = body.u64();
      if (!body.ok()) return truncated("XID");
      ev.body = x;
      return ev;
    }
    // MariaDB GTID: sequence number (8), domain id (4), flags (1), then a commit id (8) or 6 unused bytes,
    // then XA or extra fields that are not needed here.
    case EventType::mariadb_gtid: {
      // The commit id runs 2 bytes past the 19-byte post-header: read from the whole event.
      Cursor c(after_header);
      MariaGtid g;
      g.sequence = c.u64();
      g.domain_id = c.u32();
      g.flags = c.u8();
      g.server_id = h->server_id;
      if (g.flags & MariaGtid::group_commit) g.commit_id = c.u64();
      if (!c.ok()) return truncated("MariaDB GTID");
      ev.body = g;
      return ev;
    }
    // MySQL GTID_LOG / ANONYMOUS_GTID_LOG: flags (1), source UUID (16), GNO (8), then logical clock and
    // commit timestamps that are not needed here.
    case EventType::gtid:
    case EventType::anonymous_gtid: {
      Cursor c(after_header);
      MysqlGtid g;
      g.anonymous = type == EventType::anonymous_gtid;
      g.flags = c.u8();
      const Bytes sid = c.take(16);
      g.gno = static_cast<std::int64_t>(c.u64());
      if (!c.ok()) return truncated("GTID_LOG");
      std::copy(sid.begin(), sid.end(), g.sid.begin());
      ev.body = g;
      return ev;
    }
    // MariaDB GTID_LIST: count (4; the top 4 bits are flags), then (domain 4, server 4, sequence 8) each.
    case EventType::gtid_list: {
      const std::uint32_t count = post.u32() & 0x0fffffffu;
      if (!post.ok()) return truncated("GTID_LIST");
      if (std::uint64_t{count} * 16 > body.remaining()) return truncated("GTID_LIST entries");
      GtidList l;
      l.gtids.reserve(count);
      for (std::uint32_t i = 0; i < count; ++i) {
        GtidList::Entry e;
        e.domain_id = body.u32();
        e.server_id = body.u32();
        e.sequence = body.u64();
        l.gtids.push_back(e);
      }
      ev.body = std::move(l);
      return ev;
    }
    case EventType::annotate_rows: {
      ev.body = AnnotateRows{std::string(as_text(body.rest()))};
      return ev;
    }
    // ROWS_QUERY (MySQL, binlog_rows_query_log_events): a length byte (the length modulo 256, ignored),
    // then the statement.
    case EventType::rows_query: {
      body.skip(1);
      if (!body.ok()) return truncated("ROWS_QUERY");
      ev.body = AnnotateRows{std::string(as_text(body.rest()))};
      return ev;
    }
    // INCIDENT: number (2); message length (1), message.
    case EventType::incident: {
      Incident inc;
      inc.number = post.u16();
      const std::uint8_t len = body.u8();
      inc.message = std::string(body.take_text(len));
      if (!post.ok() || !body.ok()) return truncated("INCIDENT");
      ev.body = std::move(inc);
      return ev;
    }
    case EventType::transaction_payload:
    case EventType::partial_update_rows:
    case EventType::start_encryption:
      return unsupported_event(*h);
    default:
      ev.body = Skipped{};
      return ev;
  }
}

std::string MariaGtid::text() const { return fmt::format("{}-{}-{}", domain_id, server_id, sequence); }
std::string MysqlGtid::text() const { return fmt::format("{}:{}", hex_uuid(sid), gno); }

namespace {

bool starts_word(std::string_view s, std::string_view word) {
  if (s.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(s[i])) != word[i]) return false;
  return s.size() == word.size() || !(std::isalnum(static_cast<unsigned char>(s[word.size()])) || s[word.size()] == '_');
}

// Skips whitespace and comments; an executable comment (/*!50100 ... */, /*M!100100 ... */) is entered,
// since its content is part of the statement.
std::string_view skip_noise(std::string_view s) {
  for (;;) {
    std::size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    s.remove_prefix(i);
    if (s.starts_with("/*!") || s.starts_with("/*M!")) {
      s.remove_prefix(s[2] == 'M' ? 4 : 3);
      std::size_t d = 0;
      while (d < s.size() && std::isdigit(static_cast<unsigned char>(s[d]))) ++d;
      s.remove_prefix(d);
      continue;
    }
    if (s.starts_with("/*")) {
      const auto end = s.find("*/", 2);
      if (end == std::string_view::npos) return {};
      s.remove_prefix(end + 2);
      continue;
    }
    if (s.starts_with("#") || s.starts_with("-- ")) {
      const auto end = s.find('\n');
      if (end == std::string_view::npos) return {};
      s.remove_prefix(end + 1);
      continue;
    }
    return s;
  }
}

std::string_view next_word(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
  return skip_noise(s.substr(i));
}

}  // namespace

QueryKind classify_query(std::string_view sql) {
  const std::string_view s = skip_noise(sql);
  if (starts_word(s, "BEGIN")) return QueryKind::begin;
  if (starts_word(s, "START")) return starts_word(next_word(s), "TRANSACTION") ? QueryKind::begin : QueryKind::other;
  if (starts_word(s, "COMMIT")) return QueryKind::commit;
  if (starts_word(s, "ROLLBACK")) {
    const auto rest = next_word(s);
    if (starts_word(rest, "TO")) return QueryKind::savepoint;
    if (starts_word(rest, "WORK")) {
      if (starts_word(next_word(rest), "TO")) return QueryKind::savepoint;
    }
    return QueryKind::rollback;
  }
  if (starts_word(s, "SAVEPOINT") || starts_word(s, "RELEASE")) return QueryKind::savepoint;
  if (starts_word(s, "XA")) {
    const auto rest = next_word(s);
    if (starts_word(rest, "START") || starts_word(rest, "BEGIN")) return QueryKind::begin;
    if (starts_word(rest, "COMMIT")) return QueryKind::commit;
    if (starts_word(rest, "ROLLBACK")) return QueryKind::rollback;
    return QueryKind::other;
  }
  if (starts_word(s, "TRUNCATE")) return QueryKind::truncate;
  if (starts_word(s, "CREATE") || starts_word(s, "ALTER") || starts_word(s, "DROP") || starts_word(s, "RENAME"))
    return QueryKind::ddl;
  if (starts_word(s, "INSERT") || starts_word(s, "UPDATE") || starts_word(s, "DELETE") || starts_word(s, "REPLACE") ||
      starts_word(s, "LOAD") || starts_word(s, "WITH"))
    return QueryKind::dml;
  return QueryKind::other;
}

BinlogError statement_based_error(std::string_view database, std::string_view sql) {
  std::string shown(skip_noise(sql).substr(0, 60));
  for (char& ch : shown)
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
  return make_error(ErrorKind::unsupported,
                    fmt::format("the binlog holds a statement-based change in database '{}' ({}...), which carries "
                                "no row keys; set binlog_format = ROW on the server (SET PERSIST binlog_format = "
                                "ROW, or in its configuration file), then run sync --full",
                                database, shown));
}

std::string_view event_type_name(std::uint8_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::unknown: return "UNKNOWN";
    case EventType::start_v3: return "START_V3";
    case EventType::query: return "QUERY";
    case EventType::stop: return "STOP";
    case EventType::rotate: return "ROTATE";
    case EventType::intvar: return "INTVAR";
    case EventType::load: return "LOAD";
    case EventType::slave: return "SLAVE";
    case EventType::create_file: return "CREATE_FILE";
    case EventType::append_block: return "APPEND_BLOCK";
    case EventType::exec_load: return "EXEC_LOAD";
    case EventType::delete_file: return "DELETE_FILE";
    case EventType::new_load: return "NEW_LOAD";
    case EventType::rand: return "RAND";
    case EventType::user_var: return "USER_VAR";
    case EventType::format_description: return "FORMAT_DESCRIPTION";
    case EventType::xid: return "XID";
    case EventType::begin_load_query: return "BEGIN_LOAD_QUERY";
    case EventType::execute_load_query: return "EXECUTE_LOAD_QUERY";
    case EventType::table_map: return "TABLE_MAP";
    case EventType::pre_ga_write_rows: return "PRE_GA_WRITE_ROWS";
    case EventType::pre_ga_update_rows: return "PRE_GA_UPDATE_ROWS";
    case EventType::pre_ga_delete_rows: return "PRE_GA_DELETE_ROWS";
    case EventType::write_rows_v1: return "WRITE_ROWS_V1";
    case EventType::update_rows_v1: return "UPDATE_ROWS_V1";
    case EventType::delete_rows_v1: return "DELETE_ROWS_V1";
    case EventType::incident: return "INCIDENT";
    case EventType::heartbeat: return "HEARTBEAT";
    case EventType::ignorable: return "IGNORABLE";
    case EventType::rows_query: return "ROWS_QUERY";
    case EventType::write_rows_v2: return "WRITE_ROWS";
    case EventType::update_rows_v2: return "UPDATE_ROWS";
    case EventType::delete_rows_v2: return "DELETE_ROWS";
    case EventType::gtid: return "GTID_LOG";
    case EventType::anonymous_gtid: return "ANONYMOUS_GTID_LOG";
    case EventType::previous_gtids: return "PREVIOUS_GTIDS_LOG";
    case EventType::transaction_context: return "TRANSACTION_CONTEXT";
    case EventType::view_change: return "VIEW_CHANGE";
    case EventType::xa_prepare: return "XA_PREPARE_LOG";
    case EventType::partial_update_rows: return "PARTIAL_UPDATE_ROWS";
    case EventType::transaction_payload: return "TRANSACTION_PAYLOAD";
    case EventType::heartbeat_v2: return "HEARTBEAT_V2";
    case EventType::gtid_tagged: return "GTID_TAGGED_LOG";
    case EventType::annotate_rows: return "ANNOTATE_ROWS";
    case EventType::binlog_checkpoint: return "BINLOG_CHECKPOINT";
    case EventType::mariadb_gtid: return "GTID";
    case EventType::gtid_list: return "GTID_LIST";
    case EventType::start_encryption: return "START_ENCRYPTION";
    case EventType::query_compressed: return "QUERY_COMPRESSED";
    case EventType::write_rows_compressed_v1: return "WRITE_ROWS_COMPRESSED_V1";
    case EventType::update_rows_compressed_v1: return "UPDATE_ROWS_COMPRESSED_V1";
    case EventType::delete_rows_compressed_v1: return "DELETE_ROWS_COMPRESSED_V1";
    case EventType::write_rows_compressed_v2: return "WRITE_ROWS_COMPRESSED";
    case EventType::update_rows_compressed_v2: return "UPDATE_ROWS_COMPRESSED";
    case EventType::delete_rows_compressed_v2: return "DELETE_ROWS_COMPRESSED";
  }
  return "UNKNOWN_TYPE";
}

std::string_view column_type_name(ColumnType t) {
  switch (t) {
    case ColumnType::decimal: return "DECIMAL(old)";
    case ColumnType::tiny: return "TINY";
    case ColumnType::short_: return "SHORT";
    case ColumnType::long_: return "LONG";
    case ColumnType::float_: return "FLOAT";
    case ColumnType::double_: return "DOUBLE";
    case ColumnType::null: return "NULL";
    case ColumnType::timestamp: return "TIMESTAMP";
    case ColumnType::longlong: return "LONGLONG";
    case ColumnType::int24: return "INT24";
    case ColumnType::date: return "DATE";
    case ColumnType::time: return "TIME";
    case ColumnType::datetime: return "DATETIME";
    case ColumnType::year: return "YEAR";
    case ColumnType::newdate: return "NEWDATE";
    case ColumnType::varchar: return "VARCHAR";
    case ColumnType::bit: return "BIT";
    case ColumnType::timestamp2: return "TIMESTAMP2";
    case ColumnType::datetime2: return "DATETIME2";
    case ColumnType::time2: return "TIME2";
    case ColumnType::typed_array: return "TYPED_ARRAY";
    case ColumnType::vector: return "VECTOR";
    case ColumnType::json: return "JSON";
    case ColumnType::newdecimal: return "NEWDECIMAL";
    case ColumnType::enum_: return "ENUM";
    case ColumnType::set: return "SET";
    case ColumnType::tiny_blob: return "TINY_BLOB";
    case ColumnType::medium_blob: return "MEDIUM_BLOB";
    case ColumnType::long_blob: return "LONG_BLOB";
    case ColumnType::blob: return "BLOB";
    case ColumnType::var_string: return "VAR_STRING";
    case ColumnType::string: return "STRING";
    case ColumnType::geometry: return "GEOMETRY";
  }
  return "UNKNOWN";
}

}  // namespace m2m::binlog
