#include "binlog/rows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cstring>

namespace m2m::binlog {

namespace {

BinlogError truncated_row(const TableMap& t, std::size_t row, std::string_view what) {
  return make_error(ErrorKind::truncated,
                    fmt::format("binlog row image of {}.{} truncated at row {}: {}", t.database, t.table, row + 1, what));
}
BinlogError bad_value(const ColumnDef& c, std::string what) {
  return make_error(ErrorKind::corrupt, fmt::format("binlog {} value corrupt: {}", column_type_name(c.type), what));
}

constexpr std::uint32_t kPow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
constexpr std::uint8_t kDecimalPartial[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

// Days since 1970-01-01 -> civil date (proleptic Gregorian), by eras of 400 years (146097 days).
void civil_from_days(std::int64_t days, int& y, unsigned& m, unsigned& d) {
  days += 719468;  // shift the epoch to 0000-03-01
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);                  // day of era [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // year of era [0, 399]
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                 // day of year, from March 1
  const unsigned mp = (5 * doy + 2) / 153;                                      // month from March [0, 11]
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

void append_fraction(std::string& out, std::uint32_t micros, unsigned fsp) {
  if (fsp == 0) return;
  const std::uint32_t v = micros / kPow10[6 - fsp];
  fmt::format_to(std::back_inserter(out), ".{:0{}}", v, fsp);
}

std::string format_datetime(unsigned year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                            unsigned second, std::uint32_t micros, unsigned fsp) {
  std::string s = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", year, month, day, hour, minute, second);
  append_fraction(s, micros, fsp);
  return s;
}

std::string format_timestamp(std::uint64_t seconds, std::uint32_t micros, unsigned fsp) {
  if (seconds == 0 && micros == 0) return format_datetime(0, 0, 0, 0, 0, 0, 0, fsp);
  int y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(static_cast<std::int64_t>(seconds / 86400), y, m, d);
  const auto rem = static_cast<unsigned>(seconds % 86400);
  return format_datetime(static_cast<unsigned>(y), m, d, rem / 3600, rem / 60 % 60, rem % 60, micros, fsp);
}

// DECIMAL's binary form: the integer digits, then the fractional digits, each part in groups of 9 decimal
// digits stored as 4-byte big-endian integers; the integer part's leftmost partial group and the
// fraction's rightmost one take only as many bytes as their digits need (1-2 -> 1, 3-4 -> 2, 5-6 -> 3,
// 7-8 -> 4). The top bit of the first byte is flipped (set for positive numbers), and a negative number
// has all its bytes inverted, so that the bytes sort as the numbers do.
Result<std::string> decode_decimal(const ColumnDef& c, Bytes data) {
  std::uint8_t buf[32];
  if (data.size() > sizeof buf || data.empty()) return bad_value(c, fmt::format("{} bytes", data.size()));
  std::memcpy(buf, data.data(), data.size());
  const bool negative = !(buf[0] & 0x80);
  buf[0] ^= 0x80;
  if (negative)
    for (std::size_t i = 0; i < data.size(); ++i) buf[i] = static_cast<std::uint8_t>(~buf[i]);
  const unsigned intg = c.precision - c.scale;
  std::size_t pos = 0;
  std::string digits;
  digits.reserve(72);
  auto group = [&](unsigned ndigits, std::string& out) -> bool {
    const unsigned nbytes = ndigits == 9 ? 4 : kDecimalPartial[ndigits];
    if (pos + nbytes > data.size()) return false;
    const auto v = static_cast<std::uint32_t>(load_be(buf + pos, nbytes));
    pos += nbytes;
    if (v >= kPow10[ndigits]) return false;
    fmt::format_to(std::back_inserter(out), "{:0{}}", v, ndigits);
    return true;
  };
  if (intg % 9 && !group(intg % 9, digits)) return bad_value(c, "integer digits out of range");
  for (unsigned g = 0; g < intg / 9; ++g)
    if (!group(9, digits)) return bad_value(c, "integer digits out of range");
  std::string fraction;
  for (unsigned g = 0; g < c.scale / 9u; ++g)
    if (!group(9, fraction)) return bad_value(c, "fraction digits out of range");
  if (c.scale % 9 && !group(c.scale % 9, fraction)) return bad_value(c, "fraction digits out of range");
  if (pos != data.size()) return bad_value(c, "length does not match precision and scale");

  const auto first = digits.find_first_not_of('0');
  std::string out;
  const bool zero = first == std::string::npos && fraction.find_first_not_of('0') == std::string::npos;
  if (negative && !zero) out += '-';
  out += first == std::string::npos ? std::string_view("0") : std::string_view(digits).substr(first);
  if (c.scale) {
    out += '.';
    out += fraction;
  }
  return out;
}

// TIME2 (MySQL 5.6+, MariaDB with mysql56_temporal_format): a 3-byte big-endian integer part offset by
// 0x800000 (sign bit, 1 bit unused, 10 bits hour, 6 minute, 6 second), then 0-3 bytes of fraction; a
// negative time with a fraction stores the integer part one less and the fraction as its complement, so
// that the bytes sort; fsp 5-6 store the whole value as a 6-byte integer offset by 0x800000000000.
Result<KeyValue> decode_time2(const ColumnDef& c, Bytes data) {
  const std::uint8_t* p = data.data();
  std::int64_t packed = 0;  // (hms << 24) | microseconds, signed
  switch (c.fsp) {
    case 0:
      packed = (static_cast<std::int64_t>(load_be(p, 3)) - 0x800000) * (std::int64_t{1} << 24);
      break;
    case 1:
    case 2: {
      std::int64_t intpart = static_cast<std::int64_t>(load_be(p, 3)) - 0x800000;
      std::int64_t frac = p[3];
      if (intpart < 0 && frac) {
        ++intpart;
        frac -= 0x100;
      }
      packed = intpart * (std::int64_t{1} << 24) + frac * 10000;
      break;
    }
    case 3:
    case 4: {
      std::int64_t intpart = static_cast<std::int64_t>(load_be(p, 3)) - 0x800000;
      std::int64_t frac = static_cast<std::int64_t>(load_be(p + 3, 2));
      if (intpart < 0 && frac) {
        ++intpart;
        frac -= 0x10000;
      }
      packed = intpart * (std::int64_t{1} << 24) + frac * 100;
      break;
    }
    default:
      packed = static_cast<std::int64_t>(load_be(p, 6)) - 0x800000000000LL;
      break;
  }
  KeyValue v;
  v.type = KeyValue::Type::time;
  const bool negative = packed < 0;
  const std::uint64_t mag = negative ? static_cast<std::uint64_t>(-packed) : static_cast<std::uint64_t>(packed);
  const std::uint64_t hms = mag >> 24;
  const auto micros = static_cast<std::uint32_t>(mag & 0xffffff);
  const unsigned hour = static_cast<unsigned>((hms >> 12) & 0x3ff);
  const unsigned minute = static_cast<unsigned>((hms >> 6) & 0x3f);
  const unsigned second = static_cast<unsigned>(hms & 0x3f);
  if (minute > 59 || second > 59 || micros > 999999 || hour > 838) return bad_value(c, "time out of range");
  v.text = fmt::format("{}{:02}:{:02}:{:02}", negative ? "-" : "", hour, minute, second);
  append_fraction(v.text, micros, c.fsp);
  return v;
}

// Reads the fraction that follows the integer part of DATETIME2 and TIMESTAMP2: 1 byte of 1/100 s for fsp
// 1-2, 2 bytes of 1/10000 s for fsp 3-4, 3 bytes of microseconds for fsp 5-6, big-endian.
std::uint32_t fraction_micros(const std::uint8_t* p, unsigned fsp) {
  switch (fsp) {
    case 0: return 0;
    case 1: case 2: return static_cast<std::uint32_t>(p[0]) * 10000;
    case 3: case 4: return static_cast<std::uint32_t>(load_be(p, 2)) * 100;
    default: return static_cast<std::uint32_t>(load_be(p, 3));
  }
}

// DATETIME2: 5 bytes big-endian offset by 0x8000000000: sign (1 bit), year*13+month (17 bits), day (5),
// hour (5), minute (6), second (6); then the fraction.
Result<KeyValue> decode_datetime2(const ColumnDef& c, Bytes data) {
  const std::uint8_t* p = data.data();
  const std::int64_t intpart = static_cast<std::int64_t>(load_be(p, 5)) - 0x8000000000LL;
  const std::uint32_t micros = fraction_micros(p + 5, c.fsp);
  if (intpart < 0 || micros > 999999) return bad_value(c, "negative datetime");
  const std::uint64_t v = static_cast<std::uint64_t>(intpart);
  const std::uint64_t ymd = v >> 17;
  const std::uint64_t ym = ymd >> 5;
  const std::uint64_t hms = v & 0x1ffff;
  KeyValue out;
  out.type = KeyValue::Type::datetime;
  out.text = format_datetime(static_cast<unsigned>(ym / 13), static_cast<unsigned>(ym % 13),
                             static_cast<unsigned>(ymd & 31), static_cast<unsigned>(hms >> 12),
                             static_cast<unsigned>((hms >> 6) & 63), static_cast<unsigned>(hms & 63), micros, c.fsp);
  return out;
}

bool is_unsigned(const ColumnDef& c, const ColumnHint& h) { return c.is_unsigned.value_or(h.is_unsigned); }

KeyValue integer(const ColumnDef& c, const ColumnHint& h, Bytes data) {
  const std::size_t n = data.size();
  const std::uint64_t raw = load_le(data.data(), n);
  KeyValue v;
  if (is_unsigned(c, h)) {
    v.type = KeyValue::Type::int_unsigned;
    v.u = raw;
  } else {
    v.type = KeyValue::Type::int_signed;
    const unsigned shift = static_cast<unsigned>(64 - 8 * n);
    v.i = static_cast<std::int64_t>(raw << shift) >> shift;  // sign-extend from n bytes
  }
  return v;
}

}  // namespace

ColumnHint hint_for(const mysql::Column& column) {
  ColumnHint h;
  h.is_unsigned = column.is_unsigned;
  h.charset = column.charset;
  if (column.data_type == "binary") {
    h.charset = "binary";
    // COLUMN_TYPE "binary(16)"
    const auto open = column.column_type.find('(');
    if (open != std::string::npos) {
      std::uint32_t n = 0;
      for (std::size_t i = open + 1; i < column.column_type.size() && std::isdigit(static_cast<unsigned char>(column.column_type[i])); ++i)
        n = n * 10 + static_cast<std::uint32_t>(column.column_type[i] - '0');
      h.binary_length = n;
    } else {
      h.binary_length = 1;
    }
  } else if (column.data_type == "uuid" || column.data_type == "inet6" || column.data_type == "inet4") {
    // MariaDB's fixed-size binary types are logged as BINARY(16) / BINARY(4) and lose trailing 0x00
    // bytes in row images like any BINARY.
    h.charset = "binary";
    h.binary_length = column.data_type == "inet4" ? 4 : 16;
  } else if (column.data_type == "varbinary" || column.data_type.ends_with("blob")) {
    h.charset = "binary";
  }
  return h;
}

Result<KeyValue> decode_value(const ColumnDef& c, const ColumnHint& h, Bytes data) {
  KeyValue v;
  auto need = [&](std::size_t n) { return data.size() == n; };
  switch (c.type) {
    case ColumnType::tiny:
    case ColumnType::short_:
    case ColumnType::int24:
    case ColumnType::long_:
    case ColumnType::longlong:
      if (!need(c.fixed_size)) break;
      return integer(c, h, data);
    case ColumnType::float_: {
      if (!need(4)) break;
      const auto bits = static_cast<std::uint32_t>(load_le(data.data(), 4));
      v.type = KeyValue::Type::float32;
      v.f = static_cast<double>(std::bit_cast<float>(bits));
      return v;
    }
    case ColumnType::double_: {
      if (!need(8)) break;
      v.type = KeyValue::Type::float64;
      v.f = std::bit_cast<double>(load_le(data.data(), 8));
      return v;
    }
    case ColumnType::newdecimal: {
      if (!need(c.fixed_size)) break;
      auto text = decode_decimal(c, data);
      if (!text) return text.error();
      v.type = KeyValue::Type::decimal;
      v.text = std::move(*text);
      return v;
    }
    case ColumnType::year:
      if (!need(1)) break;
      v.type = KeyValue::Type::year;
      v.i = data[0] ? 1900 + data[0] : 0;
      return v;
    // DATE: 3 bytes little-endian: day (5 bits), month (4), year (15).
    case ColumnType::date:
    case ColumnType::newdate: {
      if (!need(3)) break;
      const auto x = static_cast<std::uint32_t>(load_le(data.data(), 3));
      v.type = KeyValue::Type::date;
      v.text = fmt::format("{:04}-{:02}-{:02}", x >> 9, (x >> 5) & 15, x & 31);
      return v;
    }
    // Pre-5.6 TIME: 3 bytes little-endian, signed, the decimal number HHMMSS.
    case ColumnType::time: {
      if (!need(3)) break;
      const auto raw = static_cast<std::uint32_t>(load_le(data.data(), 3));
      const std::int32_t x = static_cast<std::int32_t>(raw << 8) >> 8;
      const std::uint32_t m = static_cast<std::uint32_t>(x < 0 ? -x : x);
      v.type = KeyValue::Type::time;
      v.text = fmt::format("{}{:02}:{:02}:{:02}", x < 0 ? "-" : "", m / 10000, m / 100 % 100, m % 100);
      return v;
    }
    // Pre-5.6 DATETIME: 8 bytes little-endian, the decimal number YYYYMMDDHHMMSS.
    case ColumnType::datetime: {
      if (!need(8)) break;
      const std::uint64_t x = load_le(data.data(), 8);
      const std::uint64_t d = x / 1000000, t = x % 1000000;
      v.type = KeyValue::Type::datetime;
      v.text = format_datetime(static_cast<unsigned>(d / 10000), static_cast<unsigned>(d / 100 % 100),
                               static_cast<unsigned>(d % 100), static_cast<unsigned>(t / 10000),
                               static_cast<unsigned>(t / 100 % 100), static_cast<unsigned>(t % 100), 0, 0);
      return v;
    }
    // Pre-5.6 TIMESTAMP: 4 bytes little-endian, seconds since the epoch.
    case ColumnType::timestamp:
      if (!need(4)) break;
      v.type = KeyValue::Type::datetime;
      v.text = format_timestamp(load_le(data.data(), 4), 0, 0);
      return v;
    // TIMESTAMP2: 4 bytes big-endian seconds since the epoch, then the fraction. Shown in UTC.
    case ColumnType::timestamp2: {
      if (!need(c.fixed_size)) break;
      const std::uint32_t micros = fraction_micros(data.data() + 4, c.fsp);
      if (micros > 999999) return bad_value(c, "fraction out of range");
      v.type = KeyValue::Type::datetime;
      v.text = format_timestamp(load_be(data.data(), 4), micros, c.fsp);
      return v;
    }
    case ColumnType::datetime2:
      if (!need(c.fixed_size)) break;
      return decode_datetime2(c, data);
    case ColumnType::time2:
      if (!need(c.fixed_size)) break;
      return decode_time2(c, data);
    case ColumnType::bit:
      if (!need(c.fixed_size)) break;
      v.type = KeyValue::Type::bit;
      v.u = load_be(data.data(), data.size());
      v.text.assign(reinterpret_cast<const char*>(data.data()), data.size());
      return v;
    case ColumnType::null:
      return v;
    case ColumnType::string:
    case ColumnType::enum_:
    case ColumnType::set:
      if (c.real_type == ColumnType::enum_ || c.real_type == ColumnType::set) {
        if (!need(c.fixed_size)) break;
        v.type = c.real_type == ColumnType::enum_ ? KeyValue::Type::enum_index : KeyValue::Type::set_bits;
        v.u = load_le(data.data(), data.size());
        return v;
      }
      [[fallthrough]];
    default: {
      // Strings, binary strings, blobs, JSON, geometry: the bytes after the length prefix.
      if (data.size() < c.prefix) break;
      const std::uint64_t len = load_le(data.data(), c.prefix);
      if (len != data.size() - c.prefix) break;
      v.type = KeyValue::Type::bytes;
      v.text.assign(reinterpret_cast<const char*>(data.data()) + c.prefix, static_cast<std::size_t>(len));
      // Fixed-length binary strings lose their trailing 0x00 pad bytes in row images (the server packs
      // CHAR/BINARY values without their padding): put them back, so that the key compares equal in SQL.
      // The declared length comes from the hint, or for a BINARY column described by the optional
      // metadata (collation 63, binary), from the TABLE_MAP's byte length.
      if (c.real_type == ColumnType::string) {
        std::uint32_t pad_to = h.binary_length;
        if (pad_to == 0 && c.collation == 63) pad_to = c.max_length;
        if (v.text.size() < pad_to) v.text.resize(pad_to, '\0');
      }
      return v;
    }
  }
  return bad_value(c, fmt::format("{} bytes do not fit the column", data.size()));
}

namespace {

// The walk shared by extract_keys and count_rows: `slots[col]` is the key position of a column or -1.
template <bool Decode>
Result<std::size_t> walk(const TableMap& t, const Rows& rows, std::span<const KeyColumn> key,
                         const std::vector<int>& slots, std::vector<RowKeys>* out) {
  if (!t.unsupported.empty()) return make_error(ErrorKind::unsupported, t.unsupported);
  if (rows.table_id != t.table_id)
    return make_error(ErrorKind::corrupt, fmt::format("ROWS event for table id {} decoded with the TABLE_MAP of id {}",
                                                      rows.table_id, t.table_id));
  const std::size_t ncols = t.columns.size();
  if (rows.column_count != ncols)
    return make_error(ErrorKind::schema_mismatch,
                      fmt::format("ROWS event of {}.{} has {} columns, its TABLE_MAP {}", t.database, t.table,
                                  rows.column_count, ncols));
  // Columns present in each image, as index lists, so the inner loop does not test every bit.
  std::vector<unsigned> present[2];
  for (int side = 0; side < 2; ++side) {
    const Bytes bitmap = side == 0 ? rows.columns_before : rows.columns_after;
    present[side].reserve(ncols);
    for (unsigned i = 0; i < ncols; ++i)
      if (bit_set(bitmap, i)) present[side].push_back(i);
  }
  std::size_t key_present[2] = {0, 0};
  for (int side = 0; side < 2; ++side)
    for (unsigned i : present[side])
      if (slots[i] >= 0) ++key_present[side];

  const bool update = rows.kind == RowsKind::update;
  // The image that names the row (the before image of UPDATE and DELETE, the after image of WRITE) must
  // hold every key column: with binlog_row_image=MINIMAL it holds the primary key only, so a key other
  // than the primary key cannot be known from it.
  const int naming = rows.kind == RowsKind::write ? 1 : 0;
  if (Decode && key_present[naming] != key.size())
    return make_error(ErrorKind::unsupported,
                      fmt::format("the {} images of {}.{} lack key columns (binlog_row_image=MINIMAL with a key that "
                                  "is not the primary key)",
                                  naming ? "after" : "before", t.database, t.table));
  // An UPDATE's MINIMAL after image holds only the changed columns: none of the key's, the key did not
  // change; some, the new key is the before key with those replaced.
  const bool partial_after = update && key_present[1] > 0 && key_present[1] < key.size();

  Cursor c(rows.images);
  std::size_t row = 0;
  Key scratch;
  while (!c.empty()) {
    RowKeys rk;
    for (int image = 0; image < (update ? 2 : 1); ++image) {
      const auto& cols = present[image];
      const Bytes nulls = c.take((cols.size() + 7) / 8);
      if (!c.ok()) return truncated_row(t, row, "null bitmap");
      const bool want = Decode && (key_present[image] == key.size() || (image == 1 && partial_after));
      if (want) {
        if (image == 1 && partial_after) scratch = *rk.before;
        else scratch.assign(key.size(), KeyValue{});
      }
      for (std::size_t k = 0; k < cols.size(); ++k) {
        if (bit_set(nulls, k)) continue;  // NULL: no bytes; the scratch value stays null
        const ColumnDef& col = t.columns[cols[k]];
        std::size_t size = col.fixed_size;
        if (col.prefix) {
          if (c.remaining() < col.prefix) return truncated_row(t, row, fmt::format("column {} length", cols[k] + 1));
          size = col.prefix + static_cast<std::size_t>(load_le(c.pos(), col.prefix));
        }
        const Bytes value = c.take(size);
        if (!c.ok())
          return truncated_row(t, row, fmt::format("column {} ({}) needs {} bytes", cols[k] + 1,
                                                   column_type_name(col.type), size));
        if constexpr (Decode) {
          const int slot = slots[cols[k]];
          if (want && slot >= 0) {
            auto v = decode_value(col, key[static_cast<std::size_t>(slot)].hint, value);
            if (!v) return v.error();
            scratch[static_cast<std::size_t>(slot)] = std::move(*v);
          }
        }
      }
      if constexpr (Decode) {
        if (want) {
          const bool before = update ? image == 0 : rows.kind == RowsKind::delete_;
          (before ? rk.before : rk.after) = std::move(scratch);
          scratch = Key{};
        }
      }
    }
    if constexpr (Decode) out->push_back(std::move(rk));
    ++row;
  }
  return row;
}

std::vector<int> slots_for(const TableMap& t, std::span<const KeyColumn> key, std::string& error) {
  std::vector<int> slots(t.columns.size(), -1);
  for (std::size_t k = 0; k < key.size(); ++k) {
    if (key[k].index >= t.columns.size()) {
      error = fmt::format("key column {} is beyond the {} columns of {}.{} in the binlog", key[k].index + 1,
                          t.columns.size(), t.database, t.table);
      break;
    }
    slots[key[k].index] = static_cast<int>(k);
  }
  return slots;
}

}  // namespace

Result<std::size_t> extract_keys(const TableMap& table, const Rows& rows, std::span<const KeyColumn> key,
                                 std::vector<RowKeys>& out) {
  std::string error;
  const auto slots = slots_for(table, key, error);
  if (!error.empty()) return make_error(ErrorKind::schema_mismatch, error);
  return walk<true>(table, rows, key, slots, &out);
}

Result<std::size_t> count_rows(const TableMap& table, const Rows& rows) {
  const std::vector<int> slots(table.columns.size(), -1);
  return walk<false>(table, rows, {}, slots, nullptr);
}

namespace {

enum class Family { integer, floating, decimal, date, time, datetime, timestamp, year, string, blob, enum_, set, bit,
                    json, geometry, null, other };

std::string_view family_name(Family f) {
  static constexpr std::string_view names[] = {"integer", "float", "decimal", "date", "time", "datetime",
                                               "timestamp", "year", "string", "blob/text", "enum", "set", "bit",
                                               "json", "geometry", "null", "other"};
  return names[static_cast<int>(f)];
}

Family family_of(const ColumnDef& c) {
  switch (c.type) {
    case ColumnType::tiny: case ColumnType::short_: case ColumnType::int24: case ColumnType::long_:
    case ColumnType::longlong: return Family::integer;
    case ColumnType::float_: case ColumnType::double_: return Family::floating;
    case ColumnType::newdecimal: case ColumnType::decimal: return Family::decimal;
    case ColumnType::date: case ColumnType::newdate: return Family::date;
    case ColumnType::time: case ColumnType::time2: return Family::time;
    case ColumnType::datetime: case ColumnType::datetime2: return Family::datetime;
    case ColumnType::timestamp: case ColumnType::timestamp2: return Family::timestamp;
    case ColumnType::year: return Family::year;
    case ColumnType::varchar: case ColumnType::var_string: return Family::string;
    case ColumnType::string: case ColumnType::enum_: case ColumnType::set:
      return c.real_type == ColumnType::enum_ ? Family::enum_ : c.real_type == ColumnType::set ? Family::set : Family::string;
    case ColumnType::bit: return Family::bit;
    case ColumnType::blob: case ColumnType::tiny_blob: case ColumnType::medium_blob: case ColumnType::long_blob:
      return Family::blob;
    case ColumnType::json: return Family::json;
    case ColumnType::geometry: return Family::geometry;
    case ColumnType::null: return Family::null;
    default: return Family::other;
  }
}

Family family_of(std::string_view data_type) {
  static const std::pair<std::string_view, Family> table[] = {
      {"tinyint", Family::integer}, {"smallint", Family::integer}, {"mediumint", Family::integer},
      {"int", Family::integer}, {"integer", Family::integer}, {"bigint", Family::integer},
      {"float", Family::floating}, {"double", Family::floating}, {"real", Family::floating},
      {"decimal", Family::decimal}, {"numeric", Family::decimal}, {"date", Family::date}, {"time", Family::time},
      {"datetime", Family::datetime}, {"timestamp", Family::timestamp}, {"year", Family::year},
      {"char", Family::string}, {"varchar", Family::string}, {"binary", Family::string},
      {"varbinary", Family::string}, {"uuid", Family::string}, {"inet6", Family::string}, {"inet4", Family::string},
      {"tinyblob", Family::blob}, {"blob", Family::blob}, {"mediumblob", Family::blob}, {"longblob", Family::blob},
      {"tinytext", Family::blob}, {"text", Family::blob}, {"mediumtext", Family::blob}, {"longtext", Family::blob},
      {"enum", Family::enum_}, {"set", Family::set}, {"bit", Family::bit}, {"json", Family::json},
      {"geometry", Family::geometry}, {"point", Family::geometry}, {"linestring", Family::geometry},
      {"polygon", Family::geometry}, {"multipoint", Family::geometry}, {"multilinestring", Family::geometry},
      {"multipolygon", Family::geometry}, {"geometrycollection", Family::geometry},
      {"geomcollection", Family::geometry}};
  for (const auto& [name, f] : table)
    if (name == data_type) return f;
  return Family::other;
}

}  // namespace

Result<Unit> check_table_map(const TableMap& t, const mysql::Table& expected) {
  auto mismatch = [&](std::string what) {
    return make_error(ErrorKind::schema_mismatch,
                      fmt::format("binlog events of {}.{} were written under another schema ({}); the table "
                                  "changed since: sync it in full",
                                  t.database, t.table, what));
  };
  if (t.columns.size() != expected.columns.size())
    return mismatch(fmt::format("{} columns in the binlog, {} now", t.columns.size(), expected.columns.size()));
  for (std::size_t i = 0; i < t.columns.size(); ++i) {
    const ColumnDef& c = t.columns[i];
    const mysql::Column& e = expected.columns[i];
    const Family have = family_of(c);
    Family want = family_of(e.data_type);
    // MariaDB's JSON is a LONGTEXT with a check constraint and is logged as a blob; MySQL's is binary JSON.
    if (want == Family::json && have == Family::blob) want = Family::blob;
    if (have != want)
      return mismatch(fmt::format("column {} '{}' is {} in the binlog, {} ({}) now", i + 1, e.name, family_name(have),
                                  family_name(want), e.data_type));
    if (!c.name.empty() && c.name != e.name)
      return mismatch(fmt::format("column {} is named '{}' in the binlog, '{}' now", i + 1, c.name, e.name));
  }
  return Unit{};
}

std::string KeyValue::debug() const {
  switch (type) {
    case Type::null: return "NULL";
    case Type::int_signed: case Type::year: return std::to_string(i);
    case Type::int_unsigned: case Type::enum_index: case Type::set_bits: return std::to_string(u);
    case Type::float32: case Type::float64: return fmt::format("{}", f);
    case Type::bit: return fmt::format("b'{:b}'", u);
    case Type::decimal: case Type::datetime: case Type::date: case Type::time: return text;
    case Type::bytes: {
      std::string s = "'";
      for (unsigned char ch : text) {
        if (ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '\\') s += static_cast<char>(ch);
        else fmt::format_to(std::back_inserter(s), "\\x{:02x}", ch);
      }
      return s + "'";
    }
  }
  return "?";
}

}  // namespace m2m::binlog
