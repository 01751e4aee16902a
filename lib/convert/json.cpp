// MySQL JSON text -> a BSON value, with a parser of our own.
//
// bson_new_from_json is not used: it only accepts a document at the root, interprets keys such as "$date"
// and "$oid" as Extended JSON, and rejects integers beyond int64. A general JSON library is not used
// either: those turn every number into a double or refuse what a double cannot hold (1e400 is valid
// JSON, and MariaDB's JSON columns store it). Here every key is kept verbatim and in order (duplicates
// too, as sent), a root array or scalar is stored as such, and numbers are kept exact where BSON can:
//   an integer fitting int32 -> int32; fitting int64 -> int64;
//   a number whose double reads back as the same decimal value (0.1, 1.5, 1e-5, 1e2) -> double;
//   any other number Decimal128 can hold exactly (<= 34 significant digits, exponent -6176..6111:
//   1.00000000000000000001, 1e-400, 1e400, a 30-digit integer) -> Decimal128;
//   the rest: an integer -> its exact text as a string; another number -> the nearest double (or its text
//   when it has none); both counted as lossy.
#include "convert/convert.hpp"
#include "convert/detail.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <system_error>

namespace m2m::convert {

namespace {

// A decimal number reduced to sign, significant digits (no leading or trailing zeros) and the exponent
// of the last digit: "-12.50e1" -> {true, "125", 0}. Zero has no digits.
struct Decimal {
  bool negative = false;
  std::string digits;
  long long exponent = 0;
  bool operator==(const Decimal& o) const {
    if (digits.empty() && o.digits.empty()) return negative == o.negative;
    return negative == o.negative && digits == o.digits && exponent == o.exponent;
  }
};

// `text` is a well-formed JSON number (or a number as std::to_chars writes it).
Decimal reduce(std::string_view text) {
  Decimal d;
  std::size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    d.negative = true;
    ++i;
  }
  long long fraction_digits = 0;
  bool in_fraction = false;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      in_fraction = true;
      continue;
    }
    if (in_fraction) ++fraction_digits;
    if (!d.digits.empty() || text[i] != '0') d.digits.push_back(text[i]);
  }
  long long exp = 0;
  if (i < text.size()) {
    const char* begin = text.data() + i + 1;
    if (*begin == '+') ++begin;
    const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), exp);
    // Exponents beyond what any representation holds: clamp, the value is then out of every range.
    if (ec == std::errc::result_out_of_range) exp = (*begin == '-') ? -1'000'000'000LL : 1'000'000'000LL;
    (void)end;
  }
  d.exponent = exp - fraction_digits;
  while (!d.digits.empty() && d.digits.back() == '0') {
    d.digits.pop_back();
    ++d.exponent;
  }
  return d;
}

// Decimal128's exact range: at most 34 significant digits, the last one's exponent from -6176 to 6111.
bool to_decimal128(const Decimal& d, bson_decimal128_t& out) {
  if (d.digits.size() > 34) return false;
  if (d.digits.empty()) return detail::decimal128_from_text(d.negative ? "-0" : "0", out) == detail::DecimalParse::ok;
  if (d.exponent < -6176 || d.exponent > 6111) return false;
  const std::string text = (d.negative ? "-" : "") + d.digits + "E" + std::to_string(d.exponent);
  return detail::decimal128_from_text(text, out) == detail::DecimalParse::ok;
}

class Parser {
public:
  Parser(std::string_view text, bson_t* root) : s_(text), root_(root) {}

  ~Parser() {
    // Closes any container left open by a parse error, so the scratch document can be destroyed.
    while (!stack_.empty()) {
      bson_t* parent = stack_.size() > 1 ? &stack_[stack_.size() - 2].doc : root_;
      if (stack_.back().is_array) bson_append_array_end(parent, &stack_.back().doc);
      else bson_append_document_end(parent, &stack_.back().doc);
      stack_.pop_back();
    }
  }

  std::uint64_t nul_keys = 0;
  std::uint64_t wide_integers = 0;    // kept as text
  std::uint64_t rounded_numbers = 0;  // stored as the nearest double, or as text

  // The whole text as one value, under `key` in the root document.
  bool parse(std::string_view key) {
    key_.assign(key);
    skip_ws();
    if (!value()) return false;
    // Containers are closed as their closing bracket is read; the loop handles them iteratively, so
    // depth costs no stack.
    while (!stack_.empty()) {
      skip_ws();
      if (at_end()) return false;
      Frame& f = stack_.back();
      const char close = f.is_array ? ']' : '}';
      if (s_[pos_] == close) {
        ++pos_;
        if (!end_container()) return false;
        continue;
      }
      if (f.count > 0) {
        if (s_[pos_] != ',') return false;
        ++pos_;
        skip_ws();
      }
      if (f.is_array) {
        char buffer[16];
        const char* k = nullptr;
        const std::size_t n = bson_uint32_to_string(f.count, &k, buffer, sizeof buffer);
        key_.assign(k, n);
      } else {
        if (at_end() || s_[pos_] != '"' || !string_text(key_)) return false;
        if (key_.find('\0') != std::string::npos) {
          std::erase(key_, '\0');
          ++nul_keys;
        }
        skip_ws();
        if (at_end() || s_[pos_] != ':') return false;
        ++pos_;
        skip_ws();
      }
      ++f.count;
      if (!value()) return false;
    }
    skip_ws();
    return at_end();
  }

private:
  struct Frame {
    bson_t doc;
    bool is_array = false;
    std::uint32_t count = 0;
  };

  bool at_end() const { return pos_ >= s_.size(); }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bson_t* parent() { return stack_.empty() ? root_ : &stack_.back().doc; }
  const char* k() const { return key_.data(); }
  int klen() const { return static_cast<int>(key_.size()); }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // One value; a container is opened and left for parse() to fill.
  bool value() {
    if (at_end()) return false;
    switch (s_[pos_]) {
      case '{':
      case '[': {
        const bool is_array = s_[pos_] == '[';
        ++pos_;
        // std::deque keeps the address of every frame stable as frames are pushed: libbson's child
        // documents point at their parents.
        bson_t* p = parent();
        stack_.emplace_back();
        Frame& f = stack_.back();
        f.is_array = is_array;
        const bool ok = is_array ? bson_append_array_begin(p, k(), klen(), &f.doc)
                                 : bson_append_document_begin(p, k(), klen(), &f.doc);
        if (!ok) stack_.pop_back();
        return ok;
      }
      case '"': {
        std::string text;
        if (!string_text(text) || text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return false;
        return bson_append_utf8(parent(), k(), klen(), text.data(), static_cast<int>(text.size()));
      }
      case 't': return literal("true") && bson_append_bool(parent(), k(), klen(), true);
      case 'f': return literal("false") && bson_append_bool(parent(), k(), klen(), false);
      case 'n': return literal("null") && bson_append_null(parent(), k(), klen());
      default: return number();
    }
  }

  bool end_container() {
    Frame& f = stack_.back();
    bson_t* p = stack_.size() > 1 ? &stack_[stack_.size() - 2].doc : root_;
    const bool ok = f.is_array ? bson_append_array_end(p, &f.doc) : bson_append_document_end(p, &f.doc);
    stack_.pop_back();
    return ok;
  }

  bool number() {
    const std::size_t start = pos_;
    auto digits = [&] {
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '0') ++pos_;
    else if (digits() == 0) return false;
    bool integral = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) return false;
      integral = false;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) return false;
      integral = false;
    }
    const std::string_view text = s_.substr(start, pos_ - start);
    bson_t* p = parent();
    if (integral) {
      std::int64_t v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && end == text.data() + text.size()) {
        if (v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max())
          return bson_append_int32(p, k(), klen(), static_cast<std::int32_t>(v));
        return bson_append_int64(p, k(), klen(), v);
      }
    }
    const Decimal exact = reduce(text);
    double d = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    const bool have_double = ec == std::errc() && std::isfinite(d);
    if (have_double && !integral) {
      // The shortest text that reads back as d: if it is the same decimal value, d is the number.
      char buffer[32];
      const auto r = std::to_chars(buffer, buffer + sizeof buffer, d);
      if (r.ec == std::errc() && reduce(std::string_view(buffer, static_cast<std::size_t>(r.ptr - buffer))) == exact)
        return bson_append_double(p, k(), klen(), d);
    }
    // As written when that fits (the scale is kept: 1.50 stays 1.50), else with its zeros folded into the
    // exponent.
    bson_decimal128_t dec;
    if (detail::decimal128_from_text(text, dec) == detail::DecimalParse::ok || to_decimal128(exact, dec))
      return bson_append_decimal128(p, k(), klen(), &dec);
    if (have_double && !integral) {
      ++rounded_numbers;
      return bson_append_double(p, k(), klen(), d);
    }
    ++(integral ? wide_integers : rounded_numbers);
    return bson_append_utf8(p, k(), klen(), text.data(), static_cast<int>(text.size()));
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(unsigned& out) {
    if (pos_ + 4 > s_.size()) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex(s_[pos_++]);
      if (h < 0) return false;
      out = out * 16 + static_cast<unsigned>(h);
    }
    return true;
  }

  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // A string at pos_ (which is '"'), escapes resolved; its bytes must be UTF-8.
  bool string_text(std::string& out) {
    out.clear();
    ++pos_;
    while (true) {
      // Copy the run of plain bytes at once.
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\' && static_cast<unsigned char>(s_[pos_]) >= 0x20) ++pos_;
      out.append(s_.data() + from, pos_ - from);
      if (at_end() || static_cast<unsigned char>(s_[pos_]) < 0x20) return false;
      if (s_[pos_] == '"') {
        ++pos_;
        return bson_utf8_validate(out.data(), out.size(), true);
      }
      ++pos_;  // the backslash
      if (at_end()) return false;
      const char e = s_[pos_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          unsigned cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A high surrogate must be followed by its low half.
            unsigned low = 0;
            if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') return false;
            pos_ += 2;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          put_utf8(out, cp);
          break;
        }
        default: return false;
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  bson_t* root_;
  std::deque<Frame> stack_;
  std::string key_;
};

}  // namespace

namespace detail {

bool append_json_value(bson_t* doc, std::string_view key, std::string_view json_text, JsonStats* stats) {
  // The value is built in a scratch document first, so a parse error halfway leaves doc untouched.
  bson_t scratch;
  bson_init(&scratch);
  bool ok = false;
  JsonStats found;
  {
    Parser parser(json_text, &scratch);
    ok = parser.parse("v");
    found.nul_keys = parser.nul_keys;
    found.wide_integers = parser.wide_integers;
    found.rounded_numbers = parser.rounded_numbers;
  }
  bson_iter_t it;
  if (ok && bson_iter_init(&it, &scratch) && bson_iter_next(&it))
    ok = bson_append_iter(doc, key.data(), static_cast<int>(key.size()), &it);
  else
    ok = false;
  bson_destroy(&scratch);
  if (ok && stats) {
    stats->nul_keys += found.nul_keys;
    stats->wide_integers += found.wide_integers;
    stats->rounded_numbers += found.rounded_numbers;
  }
  return ok;
}

}  // namespace detail

bool append_json(bson_t* doc, std::string_view key, std::string_view json_text) {
  return detail::append_json_value(doc, key, json_text, nullptr);
}

}  // namespace m2m::convert
