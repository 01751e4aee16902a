// MongoDB's sort order on BSON values, exactly, so that a merge of MySQL's key stream with MongoDB's
// sorted key stream agrees with the server on every comparison.
//
// Types first, in MongoDB's canonical order (MinKey < Undefined < null < numbers < strings < objects <
// arrays < binary < ObjectId < bool < date < timestamp < regex < DBPointer < code < code with scope <
// MaxKey); then values. Numbers of different BSON types are compared by their exact mathematical value:
// every finite int32, int64, double and Decimal128 is m * 2^p2 * 5^p5 with integer m, which reduces any
// comparison to one between integers. NaN sorts below every other number and equals every NaN.
#include "convert/convert.hpp"
#include "convert/detail.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace m2m::convert {

namespace {

using detail::uint128;

int canonical_type(bson_type_t t) {
  switch (t) {
    case BSON_TYPE_MINKEY: return -1;
    case BSON_TYPE_EOD:
    case BSON_TYPE_UNDEFINED: return 0;
    case BSON_TYPE_NULL: return 5;
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DECIMAL128: return 10;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL: return 15;
    case BSON_TYPE_DOCUMENT: return 20;
    case BSON_TYPE_ARRAY: return 25;
    case BSON_TYPE_BINARY: return 30;
    case BSON_TYPE_OID: return 35;
    case BSON_TYPE_BOOL: return 40;
    case BSON_TYPE_DATE_TIME: return 45;
    case BSON_TYPE_TIMESTAMP: return 47;
    case BSON_TYPE_REGEX: return 50;
    case BSON_TYPE_DBPOINTER: return 55;
    case BSON_TYPE_CODE: return 60;
    case BSON_TYPE_CODEWSCOPE: return 65;
    case BSON_TYPE_MAXKEY: return 127;
  }
  return 0;
}

template <typename T>
int three_way(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

int compare_bytes(const void* a, std::size_t alen, const void* b, std::size_t blen) {
  const std::size_t n = alen < blen ? alen : blen;
  if (n > 0)
    if (const int c = std::memcmp(a, b, n)) return c < 0 ? -1 : 1;
  return three_way(alen, blen);
}

// An unsigned integer of any size, just enough arithmetic to compare m * 2^a * 5^b exactly.
class BigUint {
public:
  explicit BigUint(uint128 v) {
    while (v != 0) {
      limbs_.push_back(static_cast<std::uint32_t>(v));
      v >>= 32;
    }
  }

  void multiply(std::uint32_t factor) {
    std::uint64_t carry = 0;
    for (auto& limb : limbs_) {
      const std::uint64_t product = std::uint64_t{limb} * factor + carry;
      limb = static_cast<std::uint32_t>(product);
      carry = product >> 32;
    }
    if (carry != 0) limbs_.push_back(static_cast<std::uint32_t>(carry));
  }

  void multiply_pow5(unsigned k) {
    static constexpr std::uint32_t pow5[] = {1, 5, 25, 125, 625, 3125, 15625, 78125, 390625, 1953125,
                                             9765625, 48828125, 244140625, 1220703125};
    for (; k >= 13; k -= 13) multiply(pow5[13]);
    if (k > 0) multiply(pow5[k]);
  }

  void shift_left(unsigned bits) {
    if (limbs_.empty() || bits == 0) return;
    const unsigned words = bits / 32, rest = bits % 32;
    if (rest != 0) {
      std::uint32_t carry = 0;
      for (auto& limb : limbs_) {
        const std::uint32_t next = limb >> (32 - rest);
        limb = (limb << rest) | carry;
        carry = next;
      }
      if (carry != 0) limbs_.push_back(carry);
    }
    limbs_.insert(limbs_.begin(), words, 0);
  }

  friend int compare(const BigUint& a, const BigUint& b) {
    if (a.limbs_.size() != b.limbs_.size()) return three_way(a.limbs_.size(), b.limbs_.size());
    for (std::size_t i = a.limbs_.size(); i-- > 0;)
      if (a.limbs_[i] != b.limbs_[i]) return three_way(a.limbs_[i], b.limbs_[i]);
    return 0;
  }

private:
  std::vector<std::uint32_t> limbs_;  // little-endian, no leading zero limbs
};

// A number reduced to its class, sign, and magnitude m * 2^p2 * 5^p5 (m > 0 when sign != 0).
struct Number {
  enum class Class { nan, negative_infinity, finite, positive_infinity } cls = Class::finite;
  int sign = 0;
  uint128 m = 0;
  int p2 = 0;
  int p5 = 0;
};

Number from_int64(std::int64_t v) {
  Number n;
  n.sign = three_way<std::int64_t>(v, 0);
  n.m = v < 0 ? uint128{static_cast<std::uint64_t>(-(v + 1))} + 1 : uint128{static_cast<std::uint64_t>(v)};
  return n;
}

Number from_double(double d) {
  Number n;
  if (std::isnan(d)) {
    n.cls = Number::Class::nan;
  } else if (std::isinf(d)) {
    n.cls = d < 0 ? Number::Class::negative_infinity : Number::Class::positive_infinity;
  } else if (d != 0) {
    int exponent = 0;
    const double fraction = std::frexp(std::fabs(d), &exponent);  // |d| = fraction * 2^exponent
    n.sign = d < 0 ? -1 : 1;
    n.m = static_cast<std::uint64_t>(std::ldexp(fraction, 53));  // exact: 53 significant bits at most
    n.p2 = exponent - 53;
  }
  return n;
}

Number from_decimal(const bson_decimal128_t& value) {
  const detail::DecimalParts parts = detail::decode_decimal128(value);
  Number n;
  if (parts.cls == detail::DecimalParts::Class::nan) {
    n.cls = Number::Class::nan;
  } else if (parts.cls == detail::DecimalParts::Class::infinity) {
    n.cls = parts.negative ? Number::Class::negative_infinity : Number::Class::positive_infinity;
  } else if (parts.coefficient != 0) {
    n.sign = parts.negative ? -1 : 1;
    n.m = parts.coefficient;
    n.p2 = n.p5 = parts.exponent;
  }
  return n;
}

Number to_number(const bson_iter_t& it) {
  switch (bson_iter_type(&it)) {
    case BSON_TYPE_INT32: return from_int64(bson_iter_int32(&it));
    case BSON_TYPE_INT64: return from_int64(bson_iter_int64(&it));
    case BSON_TYPE_DOUBLE: return from_double(bson_iter_double(&it));
    default: {
      bson_decimal128_t value;
      bson_iter_decimal128(&it, &value);
      return from_decimal(value);
    }
  }
}

int bit_length(uint128 v) {
  int n = 0;
  for (; v != 0; v >>= 1) ++n;
  return n;
}

// Compares two positive magnitudes m * 2^p2 * 5^p5.
int compare_magnitudes(const Number& a, const Number& b) {
  if (a.p2 == b.p2 && a.p5 == b.p5) return three_way(a.m, b.m);
  // log2 of a value lies in [bits - 1 + p2 + p5*log2(5), bits + ...): far apart values need no big
  // arithmetic. The margin covers the rounding of the double estimates.
  constexpr double log2_5 = 2.321928094887362347870319429489390175864831393;
  const double la = bit_length(a.m) + a.p2 + a.p5 * log2_5;
  const double lb = bit_length(b.m) + b.p2 + b.p5 * log2_5;
  if (la + 1e-6 < lb - 1) return -1;
  if (lb + 1e-6 < la - 1) return 1;
  const int p2 = a.p2 < b.p2 ? a.p2 : b.p2;
  const int p5 = a.p5 < b.p5 ? a.p5 : b.p5;
  BigUint x(a.m), y(b.m);
  x.multiply_pow5(static_cast<unsigned>(a.p5 - p5));
  y.multiply_pow5(static_cast<unsigned>(b.p5 - p5));
  x.shift_left(static_cast<unsigned>(a.p2 - p2));
  y.shift_left(static_cast<unsigned>(b.p2 - p2));
  return compare(x, y);
}

int compare_numbers(const Number& a, const Number& b) {
  if (a.cls != b.cls) return three_way(static_cast<int>(a.cls), static_cast<int>(b.cls));
  if (a.cls != Number::Class::finite) return 0;
  if (a.sign != b.sign) return three_way(a.sign, b.sign);
  if (a.sign == 0) return 0;
  const int c = compare_magnitudes(a, b);
  return a.sign > 0 ? c : -c;
}

bool is_integer_type(bson_type_t t) { return t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64; }

std::int64_t integer_of(const bson_iter_t& it) {
  return bson_iter_type(&it) == BSON_TYPE_INT32 ? bson_iter_int32(&it) : bson_iter_int64(&it);
}

int compare_numeric(const bson_iter_t& a, const bson_iter_t& b) {
  const bson_type_t ta = bson_iter_type(&a), tb = bson_iter_type(&b);
  // Fast paths for the common cases; everything else goes through the exact general form.
  if (is_integer_type(ta) && is_integer_type(tb)) return three_way(integer_of(a), integer_of(b));
  if (ta == BSON_TYPE_DOUBLE && tb == BSON_TYPE_DOUBLE) {
    const double x = bson_iter_double(&a), y = bson_iter_double(&b);
    if (!std::isnan(x) && !std::isnan(y)) return three_way(x, y);
  }
  return compare_numbers(to_number(a), to_number(b));
}

int compare_iters(const bson_iter_t& a, const bson_iter_t& b);

// Element by element: canonical type, then field name, then value; the shorter object sorts first.
int compare_elements(bson_iter_t& x, bson_iter_t& y) {
  for (;;) {
    const bool more_x = bson_iter_next(&x), more_y = bson_iter_next(&y);
    if (!more_x || !more_y) return three_way(more_x, more_y);
    if (const int c = three_way(canonical_type(bson_iter_type(&x)), canonical_type(bson_iter_type(&y))))
      return c;
    if (const int c = compare_bytes(bson_iter_key(&x), bson_iter_key_len(&x), bson_iter_key(&y),
                                    bson_iter_key_len(&y)))
      return c;
    if (const int c = compare_iters(x, y)) return c;
  }
}

int compare_documents(const bson_iter_t& a, const bson_iter_t& b) {
  bson_iter_t x, y;
  if (!bson_iter_recurse(&a, &x) || !bson_iter_recurse(&b, &y)) return 0;
  return compare_elements(x, y);
}

struct Text {
  const char* data;
  std::uint32_t length;
};

Text text_of(const bson_iter_t& it) {
  Text t{nullptr, 0};
  switch (bson_iter_type(&it)) {
    case BSON_TYPE_SYMBOL: t.data = bson_iter_symbol(&it, &t.length); break;
    case BSON_TYPE_CODE: t.data = bson_iter_code(&it, &t.length); break;
    default: t.data = bson_iter_utf8(&it, &t.length); break;
  }
  return t;
}

int compare_iters(const bson_iter_t& a, const bson_iter_t& b) {
  const bson_type_t ta = bson_iter_type(&a), tb = bson_iter_type(&b);
  const int ca = canonical_type(ta), cb = canonical_type(tb);
  if (ca != cb) return three_way(ca, cb);
  switch (ca) {
    case 10:
      return compare_numeric(a, b);
    case 15:
    case 60: {
      const Text x = text_of(a), y = text_of(b);
      return compare_bytes(x.data, x.length, y.data, y.length);
    }
    case 20:
    case 25:
      return compare_documents(a, b);
    case 30: {
      bson_subtype_t sx, sy;
      std::uint32_t lx = 0, ly = 0;
      const std::uint8_t *dx = nullptr, *dy = nullptr;
      bson_iter_binary(&a, &sx, &lx, &dx);
      bson_iter_binary(&b, &sy, &ly, &dy);
      if (lx != ly) return three_way(lx, ly);
      if (sx != sy) return three_way(static_cast<int>(sx), static_cast<int>(sy));
      return compare_bytes(dx, lx, dy, ly);
    }
    case 35:
      return three_way(bson_oid_compare(bson_iter_oid(&a), bson_iter_oid(&b)), 0);
    case 40:
      return three_way(bson_iter_bool(&a), bson_iter_bool(&b));
    case 45:
      return three_way(bson_iter_date_time(&a), bson_iter_date_time(&b));
    case 47: {
      std::uint32_t tx = 0, ix = 0, ty = 0, iy = 0;
      bson_iter_timestamp(&a, &tx, &ix);
      bson_iter_timestamp(&b, &ty, &iy);
      return three_way((std::uint64_t{tx} << 32) | ix, (std::uint64_t{ty} << 32) | iy);
    }
    case 50: {
      const char *ox = nullptr, *oy = nullptr;
      const char* px = bson_iter_regex(&a, &ox);
      const char* py = bson_iter_regex(&b, &oy);
      if (const int c = three_way(std::strcmp(px, py), 0)) return c;
      return three_way(std::strcmp(ox, oy), 0);
    }
    case 55: {
      std::uint32_t lx = 0, ly = 0;
      const char *nx = nullptr, *ny = nullptr;
      const bson_oid_t *ox = nullptr, *oy = nullptr;
      bson_iter_dbpointer(&a, &lx, &nx, &ox);
      bson_iter_dbpointer(&b, &ly, &ny, &oy);
      if (const int c = compare_bytes(nx, lx, ny, ly)) return c;
      return three_way(bson_oid_compare(ox, oy), 0);
    }
    case 65: {
      std::uint32_t lx = 0, ly = 0, sx = 0, sy = 0;
      const std::uint8_t *scope_x = nullptr, *scope_y = nullptr;
      const char* cx = bson_iter_codewscope(&a, &lx, &sx, &scope_x);
      const char* cy = bson_iter_codewscope(&b, &ly, &sy, &scope_y);
      if (const int c = compare_bytes(cx, lx, cy, ly)) return c;
      bson_t dx, dy;
      bson_iter_t ix, iy;
      if (!bson_init_static(&dx, scope_x, sx) || !bson_init_static(&dy, scope_y, sy) ||
          !bson_iter_init(&ix, &dx) || !bson_iter_init(&iy, &dy))
        return 0;
      return compare_elements(ix, iy);
    }
    default:  // MinKey, MaxKey, null, undefined: one value each
      return 0;
  }
}

}  // namespace

int compare_values(const bson_iter_t& a, const bson_iter_t& b) { return compare_iters(a, b); }

}  // namespace m2m::convert
