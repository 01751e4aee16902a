// MySQL JSON text -> a BSON value, with nlohmann's SAX parser.
//
// bson_new_from_json is not used: it only accepts a document at the root, interprets keys such as "$date"
// and "$oid" as Extended JSON, and rejects integers beyond int64. Here every key is kept verbatim and in
// order, a root array or scalar is stored as such, and numbers follow one policy:
//   integer fitting int32 -> int32; fitting int64 -> int64; other integers -> Decimal128 when exact
//   (<= 34 significant digits), else the number's text as a string; fractions and exponents -> double.
#include "convert/convert.hpp"
#include "convert/detail.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <exception>
#include <limits>
#include <string>
#include <vector>

namespace m2m::convert {

namespace {

class BsonSax {
public:
  using json = nlohmann::json;

  explicit BsonSax(bson_t* root) : root_(root) {}

  // Closes any container left open by a parse error, so the temporary document can be destroyed.
  void unwind() {
    while (!stack_.empty()) close();
  }

  std::uint64_t nul_keys() const { return nul_keys_; }

  bool null() {
    return bson_append_null(parent(), key_.data(), static_cast<int>(key_.size())) && advance();
  }
  bool boolean(bool value) {
    return bson_append_bool(parent(), key_.data(), static_cast<int>(key_.size()), value) && advance();
  }
  bool number_integer(json::number_integer_t value) {
    bool ok;
    if (value >= std::numeric_limits<std::int32_t>::min() && value <= std::numeric_limits<std::int32_t>::max())
      ok = bson_append_int32(parent(), key_.data(), static_cast<int>(key_.size()),
                             static_cast<std::int32_t>(value));
    else
      ok = bson_append_int64(parent(), key_.data(), static_cast<int>(key_.size()), value);
    return ok && advance();
  }
  bool number_unsigned(json::number_unsigned_t value) {
    if (value <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return number_integer(static_cast<std::int64_t>(value));
    const bson_decimal128_t dec = detail::decimal128_from_u64(value);
    return bson_append_decimal128(parent(), key_.data(), static_cast<int>(key_.size()), &dec) && advance();
  }
  bool number_float(json::number_float_t value, const std::string& text) {
    // nlohmann reports integers beyond uint64 here too, with their text: keep those exact.
    if (text.find_first_of(".eE") == std::string::npos) {
      bson_decimal128_t dec;
      if (detail::decimal128_from_text(text, dec) == detail::DecimalParse::ok)
        return bson_append_decimal128(parent(), key_.data(), static_cast<int>(key_.size()), &dec) &&
               advance();
      return bson_append_utf8(parent(), key_.data(), static_cast<int>(key_.size()), text.data(),
                              static_cast<int>(text.size())) &&
             advance();
    }
    return bson_append_double(parent(), key_.data(), static_cast<int>(key_.size()), value) && advance();
  }
  bool string(std::string& value) {
    if (value.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) return false;
    return bson_append_utf8(parent(), key_.data(), static_cast<int>(key_.size()), value.data(),
                            static_cast<int>(value.size())) &&
           advance();
  }
  bool binary(json::binary_t&) { return false; }  // not produced by the JSON text parser

  bool start_object(std::size_t) { return open(false); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(true); }
  bool end_array() { return close(); }

  bool key(std::string& name) {
    if (name.find('\0') != std::string::npos) {
      std::erase(name, '\0');
      ++nul_keys_;
    }
    key_ = std::move(name);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

private:
  struct Frame {
    bson_t doc;
    bool is_array = false;
    std::uint32_t next_index = 0;
  };

  bson_t* parent() { return stack_.empty() ? root_ : &stack_.back().doc; }

  // Sets key_ for the next value: array elements are keyed "0", "1", ...; object members by key().
  bool advance() {
    if (!stack_.empty() && stack_.back().is_array) set_index_key();
    return true;
  }
  void set_index_key() {
    char buffer[16];
    const char* out = nullptr;
    const std::size_t n = bson_uint32_to_string(stack_.back().next_index++, &out, buffer, sizeof buffer);
    key_.assign(out, n);
  }

  bool open(bool is_array) {
    bson_t* p = parent();
    // std::deque keeps the address of every frame stable as frames are pushed: libbson's child
    // documents point at their parents.
    stack_.emplace_back();
    Frame& frame = stack_.back();
    frame.is_array = is_array;
    const bool ok = is_array ? bson_append_array_begin(p, key_.data(), static_cast<int>(key_.size()), &frame.doc)
                             : bson_append_document_begin(p, key_.data(), static_cast<int>(key_.size()), &frame.doc);
    if (!ok) {
      stack_.pop_back();
      return false;
    }
    if (is_array) set_index_key();
    return true;
  }

  bool close() {
    if (stack_.empty()) return false;
    Frame& frame = stack_.back();
    bson_t* p = stack_.size() > 1 ? &stack_[stack_.size() - 2].doc : root_;
    const bool ok = frame.is_array ? bson_append_array_end(p, &frame.doc) : bson_append_document_end(p, &frame.doc);
    stack_.pop_back();
    return ok && advance();
  }

  bson_t* root_;
  std::deque<Frame> stack_;
  std::string key_;
  std::uint64_t nul_keys_ = 0;
};

}  // namespace

namespace detail {

bool append_json_value(bson_t* doc, std::string_view key, std::string_view json_text,
                       std::uint64_t* nul_keys) {
  // The value is built in a scratch document first, so a parse error halfway leaves doc untouched.
  bson_t scratch;
  bson_init(&scratch);
  BsonSax sax(&scratch);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(json_text.data(), json_text.data() + json_text.size(), &sax,
                                   nlohmann::json::input_format_t::json, true, false);
  } catch (const std::exception&) {
    ok = false;
  }
  sax.unwind();
  bson_iter_t it;
  if (ok && bson_iter_init(&it, &scratch) && bson_iter_next(&it))
    ok = bson_append_iter(doc, key.data(), static_cast<int>(key.size()), &it);
  else
    ok = false;
  bson_destroy(&scratch);
  if (ok && nul_keys) *nul_keys += sax.nul_keys();
  return ok;
}

}  // namespace detail

bool append_json(bson_t* doc, std::string_view key, std::string_view json_text) {
  return detail::append_json_value(doc, key, json_text, nullptr);
}

}  // namespace m2m::convert
