// BsonBuilder: the BSON bytes of one document, written in place.
//
// libbson's bson_append_* go through a generic varargs appender that costs about 300 instructions per
// value, more than converting most values; a sync appends a dozen per row. This writes each element
// straight into a buffer that keeps its capacity from row to row, with the same limits libbson applies:
// a key may not contain a NUL byte, and the document may not grow past INT32_MAX bytes (an append that
// would is refused and leaves the document as it was). view() then lends the bytes to libbson and the
// driver as a read-only bson_t without copying them.
#pragma once

#include <bson/bson.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

namespace m2m::mongo {

class BsonBuilder {
public:
  BsonBuilder() { clear(); }
  BsonBuilder(const BsonBuilder&) = delete;
  BsonBuilder& operator=(const BsonBuilder&) = delete;

  // An empty document; the buffer keeps its capacity.
  void clear() { len_ = 4; }

  // The length of the document if it were finished now (header, elements, terminating NUL).
  std::size_t size() const { return len_ + 1; }
  bool empty() const { return len_ == 4; }

  // A position in the document, and the way back to it: what was appended after it is discarded (a
  // value whose conversion failed halfway). Containers opened after the mark must be closed or discarded
  // with it.
  std::size_t mark() const { return len_; }
  void truncate(std::size_t mark) {
    if (mark >= 4 && mark < len_) len_ = mark;
  }

  // Each returns false, leaving the document unchanged, when the key holds a NUL byte or the document
  // would exceed INT32_MAX bytes.
  bool append_null(std::string_view key) { return element(BSON_TYPE_NULL, key, 0) != nullptr; }
  bool append_bool(std::string_view key, bool value) {
    std::uint8_t* p = element(BSON_TYPE_BOOL, key, 1);
    if (!p) return false;
    *p = value ? 1 : 0;
    return true;
  }
  bool append_int32(std::string_view key, std::int32_t value) {
    return fixed(BSON_TYPE_INT32, key, static_cast<std::uint32_t>(value));
  }
  bool append_int64(std::string_view key, std::int64_t value) {
    return fixed(BSON_TYPE_INT64, key, static_cast<std::uint64_t>(value));
  }
  bool append_date_time(std::string_view key, std::int64_t epoch_ms) {
    return fixed(BSON_TYPE_DATE_TIME, key, static_cast<std::uint64_t>(epoch_ms));
  }
  bool append_double(std::string_view key, double value) {
    return fixed(BSON_TYPE_DOUBLE, key, std::bit_cast<std::uint64_t>(value));
  }
  bool append_decimal128(std::string_view key, const bson_decimal128_t& value) {
    std::uint8_t* p = element(BSON_TYPE_DECIMAL128, key, 16);
    if (!p) return false;
    put(p, value.low);
    put(p + 8, value.high);
    return true;
  }
  // The bytes as they are: the caller has checked that they are UTF-8 (NUL bytes are allowed).
  bool append_utf8(std::string_view key, std::string_view text) {
    if (text.size() >= kMaxSize) return false;
    std::uint8_t* p = element(BSON_TYPE_UTF8, key, 4 + text.size() + 1);
    if (!p) return false;
    put(p, static_cast<std::uint32_t>(text.size() + 1));
    if (!text.empty()) std::memcpy(p + 4, text.data(), text.size());
    p[4 + text.size()] = 0;
    return true;
  }
  // Binary subtype 0 (generic).
  bool append_binary(std::string_view key, std::string_view bytes) {
    if (bytes.size() >= kMaxSize) return false;
    std::uint8_t* p = element(BSON_TYPE_BINARY, key, 4 + 1 + bytes.size());
    if (!p) return false;
    put(p, static_cast<std::uint32_t>(bytes.size()));
    p[4] = BSON_SUBTYPE_BINARY;
    if (!bytes.empty()) std::memcpy(p + 5, bytes.data(), bytes.size());
    return true;
  }

  // A whole document as an embedded one (a selector or a document inside a write command).
  bool append_document(std::string_view key, const bson_t* doc) {
    std::uint8_t* p = element(BSON_TYPE_DOCUMENT, key, doc->len);
    if (!p) return false;
    std::memcpy(p, bson_get_data(doc), doc->len);
    return true;
  }

  // An embedded document or array: begin returns its position (0 when refused, nothing appended), and
  // end closes the innermost one opened at that position. Array keys are "0", "1", ... (array_key).
  std::size_t begin_document(std::string_view key) { return begin(BSON_TYPE_DOCUMENT, key); }
  std::size_t begin_array(std::string_view key) { return begin(BSON_TYPE_ARRAY, key); }
  bool end(std::size_t at) {
    if (!grow(1)) return false;
    buf_[len_++] = 0;
    put(buf_.data() + at, static_cast<std::uint32_t>(len_ - at));
    return true;
  }

  // Copies elements as they are from another document's bytes (a range of BsonBuilder::bytes() or of a
  // bson_t's data between its header and its terminator): a selector made of the document's key
  // elements, or a value libbson built.
  bool append_raw(const std::uint8_t* elements, std::size_t n) {
    if (!grow(n)) return false;
    if (n > 0) std::memcpy(buf_.data() + len_, elements, n);
    len_ += n;
    return true;
  }
  bool append_elements_of(const bson_t* doc) {
    return doc->len <= 5 || append_raw(bson_get_data(doc) + 4, doc->len - 5);
  }

  // The bytes written so far (elements start at offset 4; the header and terminator are written by
  // view()).
  const std::uint8_t* bytes() const { return buf_.data(); }

  // The finished document, valid until the builder is changed or destroyed. No container may be open.
  const bson_t* view() {
    buf_[len_] = 0;  // grow() always leaves room for the terminator
    put(buf_.data(), static_cast<std::uint32_t>(len_ + 1));
    bson_init_static(&view_, buf_.data(), len_ + 1);
    return &view_;
  }

  // The key of array element i ("0", "1", ...), in buffer (at least 11 bytes).
  static std::string_view array_key(std::uint32_t i, char* buffer) {
    if (i < 10) {
      buffer[0] = static_cast<char>('0' + i);
      return {buffer, 1};
    }
    char tmp[10];
    std::size_t n = 0;
    while (i > 0) {
      tmp[n++] = static_cast<char>('0' + i % 10);
      i /= 10;
    }
    for (std::size_t k = 0; k < n; ++k) buffer[k] = tmp[n - 1 - k];
    return {buffer, n};
  }

private:
  // libbson's limit: a document's length is a signed 32-bit integer.
  static constexpr std::size_t kMaxSize = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());

  template <class T>
  static void put(std::uint8_t* p, T value) {
    if constexpr (std::endian::native == std::endian::big) {
      for (std::size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::uint8_t>(value >> (8 * i));
    } else {
      std::memcpy(p, &value, sizeof value);
    }
  }

  // Room for n more bytes and the terminator; false past the size limit.
  bool grow(std::size_t n) {
    if (n > kMaxSize - len_ - 1) return false;
    const std::size_t need = len_ + n + 1;
    if (need > buf_.size()) buf_.resize(std::max(need, buf_.size() * 2));
    return true;
  }

  // Writes the type and key and returns where the value's `value_bytes` go, or nullptr.
  std::uint8_t* element(bson_type_t type, std::string_view key, std::size_t value_bytes) {
    if (key.size() > kMaxSize || std::memchr(key.data(), 0, key.size()) != nullptr) return nullptr;
    const std::size_t n = 1 + key.size() + 1 + value_bytes;
    if (value_bytes > kMaxSize || !grow(n)) return nullptr;
    std::uint8_t* p = buf_.data() + len_;
    p[0] = static_cast<std::uint8_t>(type);
    if (!key.empty()) std::memcpy(p + 1, key.data(), key.size());
    p[1 + key.size()] = 0;
    len_ += n;
    return p + 1 + key.size() + 1;
  }

  template <class T>
  bool fixed(bson_type_t type, std::string_view key, T value) {
    std::uint8_t* p = element(type, key, sizeof value);
    if (!p) return false;
    put(p, value);
    return true;
  }

  std::size_t begin(bson_type_t type, std::string_view key) {
    std::uint8_t* p = element(type, key, 4);
    if (!p) return 0;
    return static_cast<std::size_t>(p - buf_.data());
  }

  std::vector<std::uint8_t> buf_ = std::vector<std::uint8_t>(512);
  std::size_t len_ = 4;
  bson_t view_;
};

}  // namespace m2m::mongo
