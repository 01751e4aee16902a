// A bounds-checked cursor over event bytes. Every read checks the remaining length first; a read past the
// end sets a sticky failure flag and yields zeros, so a decoder can read a whole fixed block and test
// ok() once, and never touches memory outside the span.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace m2m::binlog {

using Bytes = std::span<const std::uint8_t>;

class Cursor {
public:
  Cursor() = default;
  explicit Cursor(Bytes b) : p_(b.data()), end_(b.data() + b.size()) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  bool empty() const { return p_ == end_; }
  const std::uint8_t* pos() const { return p_; }

  // Reserves n bytes: true and advances if they exist, else fails.
  bool need(std::size_t n) {
    if (!ok_ || n > remaining()) {
      ok_ = false;
      p_ = end_;
      return false;
    }
    return true;
  }
  bool skip(std::size_t n) {
    if (!need(n)) return false;
    p_ += n;
    return true;
  }
  Bytes take(std::size_t n) {
    if (!need(n)) return {};
    Bytes out(p_, n);
    p_ += n;
    return out;
  }
  std::string_view take_text(std::size_t n) {
    const Bytes b = take(n);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  Bytes rest() { return take(remaining()); }

  std::uint8_t u8() { return need(1) ? *p_++ : 0; }
  // Little-endian unsigned integer of n (1..8) bytes: the binlog's byte order for headers and most fields.
  std::uint64_t le(std::size_t n) {
    if (!need(n)) return 0;
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p_[i]} << (8 * i);
    p_ += n;
    return v;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(le(2)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(le(4)); }
  std::uint64_t u64() { return le(8); }

  // The protocol's length-encoded integer: < 0xfb itself, 0xfc + 2 bytes, 0xfd + 3 bytes, 0xfe + 8 bytes.
  // 0xfb (NULL) and 0xff are not valid here and fail the cursor.
  std::uint64_t packed() {
    const std::uint8_t b = u8();
    if (b < 0xfb) return b;
    if (b == 0xfc) return le(2);
    if (b == 0xfd) return le(3);
    if (b == 0xfe) return le(8);
    fail();
    return 0;
  }

  void fail() {
    ok_ = false;
    p_ = end_;
  }

private:
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  bool ok_ = true;
};

inline std::uint64_t load_le(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{p[i]} << (8 * i);
  return v;
}
inline std::uint64_t load_be(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Bit i of a bitmap stored least significant bit first in each byte (the binlog's column bitmaps).
inline bool bit_set(Bytes bitmap, std::size_t i) {
  return i / 8 < bitmap.size() && (bitmap[i / 8] >> (i % 8)) & 1;
}

}  // namespace m2m::binlog
