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
#include <cstring>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

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

// True when a JSON number without an exponent has at most 15 significant digits (DBL_DIG) and at most 22
// after the point: its nearest double then prints back as the same decimal value, so the round trip
// below is known to succeed, and parse_double reads it exactly.
bool short_decimal(std::string_view text) {
  std::size_t significant = 0, fraction = 0;
  bool in_fraction = false;
  for (const char c : text) {
    if (c == '-') continue;
    if (c == '.') {
      in_fraction = true;
      continue;
    }
    if (c < '0' || c > '9') return false;  // an exponent
    if (significant > 0 || c != '0') ++significant;
    if (in_fraction) ++fraction;
  }
  return significant <= 15 && fraction <= 22;
}

class Parser {
public:
  Parser(std::string_view text, mongo::BsonBuilder& out) : s_(text), out_(out) {}

  std::uint64_t nul_keys = 0;
  std::uint64_t wide_integers = 0;    // kept as text
  std::uint64_t rounded_numbers = 0;  // stored as the nearest double, or as text

  // The whole text as one value, under `key` in the builder's document. On failure the builder may hold
  // part of it (the caller truncates).
  bool parse(std::string_view key) {
    key_ = key;
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
        if (!out_.end(f.at)) return false;
        stack_.pop_back();
        continue;
      }
      if (f.count > 0) {
        if (s_[pos_] != ',') return false;
        ++pos_;
        skip_ws();
      }
      if (f.is_array) {
        key_ = mongo::BsonBuilder::array_key(f.count, index_);
      } else {
        if (at_end() || s_[pos_] != '"' || !string_text(key_, key_buffer_)) return false;
        if (key_.find('\0') != std::string_view::npos) {
          if (key_.data() != key_buffer_.data()) key_buffer_.assign(key_);
          std::erase(key_buffer_, '\0');
          key_ = key_buffer_;
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
    std::size_t at = 0;  // the container's position in the builder
    bool is_array = false;
    std::uint32_t count = 0;
  };

  bool at_end() const { return pos_ >= s_.size(); }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

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
        const std::size_t at = is_array ? out_.begin_array(key_) : out_.begin_document(key_);
        if (at == 0) return false;
        stack_.push_back(Frame{at, is_array, 0});
        return true;
      }
      case '"': {
        std::string_view text;
        if (!string_text(text, value_buffer_)) return false;
        return out_.append_utf8(key_, text);
      }
      case 't': return literal("true") && out_.append_bool(key_, true);
      case 'f': return literal("false") && out_.append_bool(key_, false);
      case 'n': return literal("null") && out_.append_null(key_);
      default: return number();
    }
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
    if (integral) {
      std::int64_t v = 0;
      if (detail::parse_int64(text, v)) {
        if (v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max())
          return out_.append_int32(key_, static_cast<std::int32_t>(v));
        return out_.append_int64(key_, v);
      }
    }
    double d = 0;
    if (!integral && short_decimal(text) && detail::parse_double(text, d)) return out_.append_double(key_, d);
    const Decimal exact = reduce(text);
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    const bool have_double = ec == std::errc() && std::isfinite(d);
    if (have_double && !integral) {
      // The shortest text that reads back as d: if it is the same decimal value, d is the number.
      char buffer[32];
      const auto r = std::to_chars(buffer, buffer + sizeof buffer, d);
      if (r.ec == std::errc() && reduce(std::string_view(buffer, static_cast<std::size_t>(r.ptr - buffer))) == exact)
        return out_.append_double(key_, d);
    }
    // As written when that fits (the scale is kept: 1.50 stays 1.50), else with its zeros folded into the
    // exponent.
    bson_decimal128_t dec;
    if (detail::decimal128_from_text(text, dec) == detail::DecimalParse::ok || to_decimal128(exact, dec))
      return out_.append_decimal128(key_, dec);
    if (have_double && !integral) {
      ++rounded_numbers;
      return out_.append_double(key_, d);
    }
    ++(integral ? wide_integers : rounded_numbers);
    return out_.append_utf8(key_, text);
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

  static bool is_utf8(std::string_view text) { return detail::valid_utf8(text); }

  // A string at pos_ (which is '"'), escapes resolved; its bytes must be UTF-8. `out` is the text inside
  // the quotes when it has no escape, else `buffer` holding it resolved.
  bool string_text(std::string_view& out, std::string& buffer) {
    ++pos_;
    const std::size_t first = pos_;
    bool escaped = false;
    while (true) {
      // A run of plain bytes.
      const std::size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\' && static_cast<unsigned char>(s_[pos_]) >= 0x20) ++pos_;
      if (escaped) buffer.append(s_.data() + from, pos_ - from);
      if (at_end() || static_cast<unsigned char>(s_[pos_]) < 0x20) return false;
      if (s_[pos_] == '"') {
        out = escaped ? std::string_view(buffer) : s_.substr(first, pos_ - first);
        ++pos_;
        return is_utf8(out);
      }
      if (!escaped) {
        buffer.assign(s_.data() + first, pos_ - first);
        escaped = true;
      }
      ++pos_;  // the backslash
      if (at_end()) return false;
      const char e = s_[pos_++];
      switch (e) {
        case '"': buffer.push_back('"'); break;
        case '\\': buffer.push_back('\\'); break;
        case '/': buffer.push_back('/'); break;
        case 'b': buffer.push_back('\b'); break;
        case 'f': buffer.push_back('\f'); break;
        case 'n': buffer.push_back('\n'); break;
        case 'r': buffer.push_back('\r'); break;
        case 't': buffer.push_back('\t'); break;
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
          put_utf8(buffer, cp);
          break;
        }
        default: return false;
      }
    }
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  mongo::BsonBuilder& out_;
  std::vector<Frame> stack_;
  std::string_view key_;      // the key of the next value: into s_, key_buffer_ or index_
  std::string key_buffer_;    // a key with escapes or NUL bytes
  std::string value_buffer_;  // a string value with escapes
  char index_[16] = {};       // an array index
};

}  // namespace

namespace detail {

bool append_json_value(mongo::BsonBuilder& doc, std::string_view key, std::string_view json_text, JsonStats* stats) {
  // A parse error halfway leaves doc as it was: what was appended is cut off again.
  const std::size_t mark = doc.mark();
  Parser parser(json_text, doc);
  if (!parser.parse(key)) {
    doc.truncate(mark);
    return false;
  }
  if (stats) {
    stats->nul_keys += parser.nul_keys;
    stats->wide_integers += parser.wide_integers;
    stats->rounded_numbers += parser.rounded_numbers;
  }
  return true;
}

}  // namespace detail

bool append_json(bson_t* doc, std::string_view key, std::string_view json_text) {
  mongo::BsonBuilder one;
  if (!detail::append_json_value(one, key, json_text, nullptr)) return false;
  return bson_concat(doc, one.view());
}

}  // namespace m2m::convert
