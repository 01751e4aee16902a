// Builds binlog events byte by byte from the format (v4 header, post-header, body, CRC32), for the
// binlog unit tests. Kept independent of the decoder: values are encoded here from their definitions.
#pragma once

#include "binlog/event.hpp"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace binlog_test {

using Vec = std::vector<std::uint8_t>;

struct Buf {
  Vec b;
  Buf& u8(unsigned v) { b.push_back(static_cast<std::uint8_t>(v)); return *this; }
  Buf& le(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) b.push_back(i < 8 ? static_cast<std::uint8_t>(v >> (8 * i)) : 0);
    return *this;
  }
  Buf& be(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b.push_back(i < 8 ? static_cast<std::uint8_t>(v >> (8 * i)) : 0);
    return *this;
  }
  Buf& raw(const Vec& v) { b.insert(b.end(), v.begin(), v.end()); return *this; }
  Buf& str(std::string_view s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
  // Length-encoded integer.
  Buf& packed(std::uint64_t v) {
    if (v < 251) return u8(static_cast<unsigned>(v));
    if (v < 65536) return u8(0xfc).le(v, 2);
    if (v < (1u << 24)) return u8(0xfd).le(v, 3);
    return u8(0xfe).le(v, 8);
  }
  Buf& pstr(std::string_view s) { return packed(s.size()).str(s); }
};

inline std::uint32_t crc(const Vec& v, std::size_t n) {
  return static_cast<std::uint32_t>(crc32(crc32(0L, Z_NULL, 0), v.data(), static_cast<uInt>(n)));
}

// A whole event: 19-byte header, then `body` (post-header and payload), then the CRC32 if `checksum`.
inline Vec event(m2m::binlog::EventType type, const Vec& body, bool checksum, std::uint32_t log_pos = 0,
                 std::uint16_t flags = 0, std::uint32_t server_id = 1, std::uint32_t timestamp = 1700000000) {
  Buf h;
  const std::size_t len = 19 + body.size() + (checksum ? 4 : 0);
  h.le(timestamp, 4).u8(static_cast<unsigned>(type)).le(server_id, 4).le(len, 4).le(log_pos, 4).le(flags, 2);
  h.raw(body);
  if (checksum) h.le(crc(h.b, h.b.size()), 4);
  return h.b;
}

// Post-header lengths as MariaDB 10.11 announces them (types 1..171), index = type - 1.
inline Vec post_header_lengths() {
  Vec v(171, 0);
  auto set = [&](m2m::binlog::EventType t, std::uint8_t n) { v[static_cast<std::size_t>(t) - 1] = n; };
  using m2m::binlog::EventType;
  set(EventType::query, 13);
  set(EventType::rotate, 8);
  set(EventType::format_description, 0x55);
  set(EventType::table_map, 8);
  for (auto t : {EventType::write_rows_v1, EventType::update_rows_v1, EventType::delete_rows_v1,
                 EventType::write_rows_compressed_v1, EventType::update_rows_compressed_v1,
                 EventType::delete_rows_compressed_v1})
    set(t, 8);
  for (auto t : {EventType::write_rows_v2, EventType::update_rows_v2, EventType::delete_rows_v2,
                 EventType::write_rows_compressed_v2, EventType::update_rows_compressed_v2,
                 EventType::delete_rows_compressed_v2, EventType::partial_update_rows})
    set(t, 10);
  set(EventType::query_compressed, 13);
  set(EventType::mariadb_gtid, 19);
  set(EventType::gtid_list, 4);
  set(EventType::binlog_checkpoint, 4);
  set(EventType::incident, 2);
  set(EventType::gtid, 42);
  set(EventType::anonymous_gtid, 42);
  return v;
}

// FORMAT_DESCRIPTION: version 4, server version (50 bytes), time, header length 19, post-header lengths,
// then (checksum-aware servers) the algorithm byte and the event's CRC32, present whatever the algorithm.
inline Vec format_description(std::string_view server_version, bool crc32_on, std::uint32_t log_pos = 256) {
  Buf b;
  b.le(4, 2);
  std::string v(server_version);
  v.resize(50, '\0');
  b.str(v).le(1700000000, 4).u8(19).raw(post_header_lengths()).u8(crc32_on ? 1 : 0);
  Buf h;
  const std::size_t len = 19 + b.b.size() + 4;
  h.le(1700000000, 4).u8(15).le(1, 4).le(len, 4).le(log_pos, 4).le(0, 2).raw(b.b);
  h.le(crc32_on ? crc(h.b, h.b.size()) : 0, 4);
  return h.b;
}

struct Col {
  m2m::binlog::ColumnType type;
  Vec meta;  // the column's metadata bytes, as the format lays them out
  bool nullable = true;
};

// TABLE_MAP: table id (6), flags (2); names; column count, types, metadata block, nullable bitmap; the
// optional metadata block appended as it is.
inline Vec table_map_body(std::uint64_t table_id, std::string_view db, std::string_view table, const std::vector<Col>& cols,
                          const Vec& optional = {}) {
  Buf b;
  b.le(table_id, 6).le(1, 2);
  b.u8(static_cast<unsigned>(db.size())).str(db).u8(0);
  b.u8(static_cast<unsigned>(table.size())).str(table).u8(0);
  b.packed(cols.size());
  for (const auto& c : cols) b.u8(static_cast<unsigned>(c.type));
  Buf meta;
  for (const auto& c : cols) meta.raw(c.meta);
  b.packed(meta.b.size()).raw(meta.b);
  Vec nulls((cols.size() + 7) / 8, 0);
  for (std::size_t i = 0; i < cols.size(); ++i)
    if (cols[i].nullable) nulls[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  b.raw(nulls).raw(optional);
  return b.b;
}

inline Vec bitmap_all(std::size_t n) {
  Vec v((n + 7) / 8, 0);
  for (std::size_t i = 0; i < n; ++i) v[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  return v;
}
inline Vec bitmap_of(std::size_t n, std::initializer_list<std::size_t> set) {
  Vec v((n + 7) / 8, 0);
  for (auto i : set) v[i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
  return v;
}

// ROWS body: table id (6), flags (2), v2: extra-data length (2, counting itself) and extra data; column
// count, present bitmap(s), then the row images.
inline Vec rows_body(int version, bool update, std::uint64_t table_id, std::size_t ncols, const Vec& before,
                     const Vec& after, const Vec& images, std::uint16_t flags = 1, const Vec& extra = {}) {
  Buf b;
  b.le(table_id, 6).le(flags, 2);
  if (version == 2) b.le(2 + extra.size(), 2).raw(extra);
  b.packed(ncols).raw(before);
  if (update) b.raw(after);
  b.raw(images);
  return b.b;
}

// MariaDB's compressed payload: 0x80 | length-of-length, the uncompressed length big-endian, zlib data.
inline Vec mariadb_compress(const Vec& data) {
  uLongf out_len = compressBound(static_cast<uLong>(data.size()));
  Vec out(out_len);
  compress(out.data(), &out_len, data.data(), static_cast<uLong>(data.size()));
  out.resize(out_len);
  const std::size_t n = data.size();
  const int lenlen = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
  Buf b;
  b.u8(0x80u | static_cast<unsigned>(lenlen)).be(n, lenlen).raw(out);
  return b.b;
}

// ---- values as they appear in row images --------------------------------------------------------------

// NEWDECIMAL(p, s) from its decimal text ("-123.45"): groups of 9 digits as 4-byte big-endian integers,
// a leading (integer) or trailing (fraction) partial group in 1-4 bytes; top bit flipped; negatives
// inverted.
inline Vec decimal_bytes(std::string text, int precision, int scale) {
  static const int partial[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  bool neg = false;
  if (!text.empty() && text[0] == '-') {
    neg = true;
    text.erase(0, 1);
  }
  std::string ip = text, fp;
  if (auto dot = text.find('.'); dot != std::string::npos) {
    ip = text.substr(0, dot);
    fp = text.substr(dot + 1);
  }
  const int intg = precision - scale;
  ip.erase(0, ip.find_first_not_of('0') == std::string::npos ? ip.size() : ip.find_first_not_of('0'));
  ip = std::string(static_cast<std::size_t>(intg) - ip.size(), '0') + ip;
  fp.resize(static_cast<std::size_t>(scale), '0');
  Buf b;
  std::size_t pos = 0;
  if (intg % 9) {
    b.be(std::stoull(ip.substr(0, static_cast<std::size_t>(intg % 9))), partial[intg % 9]);
    pos = static_cast<std::size_t>(intg % 9);
  }
  for (; pos < ip.size(); pos += 9) b.be(std::stoull(ip.substr(pos, 9)), 4);
  pos = 0;
  for (int g = 0; g < scale / 9; ++g, pos += 9) b.be(std::stoull(fp.substr(pos, 9)), 4);
  if (scale % 9) b.be(std::stoull(fp.substr(pos)), partial[scale % 9]);
  Vec v = b.b;
  if (neg)
    for (auto& x : v) x = static_cast<std::uint8_t>(~x);
  v[0] ^= 0x80;
  return v;
}

inline Vec frac_bytes(std::uint32_t micros, int fsp) {
  Buf b;
  if (fsp == 1 || fsp == 2) b.be(micros / 10000, 1);
  else if (fsp == 3 || fsp == 4) b.be(micros / 100, 2);
  else if (fsp >= 5) b.be(micros, 3);
  return b.b;
}

inline Vec datetime2_bytes(int y, int mo, int d, int h, int mi, int s, std::uint32_t micros, int fsp) {
  const std::uint64_t ymd = (static_cast<std::uint64_t>(y * 13 + mo) << 5) | static_cast<std::uint64_t>(d);
  const std::uint64_t hms = static_cast<std::uint64_t>(h << 12 | mi << 6 | s);
  Buf b;
  b.be(((ymd << 17) | hms) + 0x8000000000ULL, 5).raw(frac_bytes(micros, fsp));
  return b.b;
}

inline Vec timestamp2_bytes(std::uint32_t seconds, std::uint32_t micros, int fsp) {
  Buf b;
  b.be(seconds, 4).raw(frac_bytes(micros, fsp));
  return b.b;
}

// TIME2: the packed value (hms << 24 | microseconds, negated for negative times) split into an integer
// part (floor of packed / 2^24) stored with offset 0x800000, and the remainder (truncated toward zero) in
// 1-3 bytes; fsp 5-6 store packed + 0x800000000000 in 6 bytes.
inline Vec time2_bytes(bool negative, int h, int m, int s, std::uint32_t micros, int fsp) {
  const std::int64_t hms = (std::int64_t{h} << 12) | (m << 6) | s;
  std::int64_t packed = (hms << 24) + micros;
  if (negative) packed = -packed;
  Buf b;
  if (fsp >= 5) {
    b.be(static_cast<std::uint64_t>(packed + 0x800000000000LL), 6);
    return b.b;
  }
  const std::int64_t intpart = packed >= 0 ? packed >> 24 : -((-packed + (1 << 24) - 1) >> 24);
  const std::int64_t frac = packed % (std::int64_t{1} << 24);
  b.be(static_cast<std::uint64_t>(intpart + 0x800000), 3);
  if (fsp == 1 || fsp == 2) b.u8(static_cast<unsigned>(static_cast<std::uint8_t>(static_cast<std::int8_t>(frac / 10000))));
  else if (fsp == 3 || fsp == 4) b.be(static_cast<std::uint16_t>(static_cast<std::int16_t>(frac / 100)), 2);
  return b.b;
}

}  // namespace binlog_test
