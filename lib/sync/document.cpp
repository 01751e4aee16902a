#include "sync/document.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace m2m::sync {

bool append_key(const TablePlan& plan, mongo::BsonBuilder& out, MYSQL_ROW row, const unsigned long* lengths,
                convert::LossReport& loss, bool key_as_id) {
  // With key_as_id, a one-column key is _id itself and a composite key is an embedded document.
  if (key_as_id && plan.key.size() == 1) {
    const auto k = plan.key[0];
    return convert::append_value_as(out, "_id", plan.fields[k], row[k], lengths[k], loss);
  }
  bool exact = true;
  if (key_as_id) {
    const std::size_t mark = out.mark();
    const std::size_t id = out.begin_document("_id");
    for (auto i : plan.key) exact &= convert::append_value(out, plan.fields[i], row[i], lengths[i], loss);
    if (id == 0 || !out.end(id)) {  // past BSON's 2 GiB: not a key MongoDB could hold
      out.truncate(mark);
      return false;
    }
    return exact;
  }
  for (auto i : plan.key) exact &= convert::append_value(out, plan.fields[i], row[i], lengths[i], loss);
  return exact;
}

void append_key(const TablePlan& plan, bson_t* out, MYSQL_ROW row, const unsigned long* lengths,
                convert::LossReport& loss, bool key_as_id) {
  mongo::BsonBuilder key;
  append_key(plan, key, row, lengths, loss, key_as_id);
  bson_concat(out, key.view());
}

bool build_document(const TablePlan& plan, bool key_as_id, MYSQL_ROW row, const unsigned long* lengths,
                    mongo::BsonBuilder& doc, mongo::BsonBuilder* selector, convert::LossReport& loss) {
  doc.clear();
  if (selector) selector->clear();
  const bool keyed_selector = selector && plan.has_key();
  bool key_exact = true;
  if (key_as_id && plan.has_key()) {
    // The selector is the document's _id element, byte for byte.
    const std::size_t start = doc.mark();
    key_exact = append_key(plan, doc, row, lengths, loss, true);
    if (keyed_selector) selector->append_raw(doc.bytes() + start, doc.mark() - start);
  }
  // Without key_as_id the selector is made of the key fields' elements of the document, copied in key
  // order: the same conversion, so they always match. Where each one lies (a key has few columns; a
  // longer one is converted a second time instead).
  constexpr std::size_t kSpans = 16;
  std::array<std::pair<std::size_t, std::size_t>, kSpans> spans{};
  const bool copy_spans = keyed_selector && !key_as_id && plan.key.size() <= kSpans;
  for (std::size_t i = 0; i < plan.fields.size(); ++i) {
    const std::size_t start = doc.mark();
    const bool exact = convert::append_value(doc, plan.fields[i], row[i], lengths[i], loss);
    if (!keyed_selector || key_as_id) continue;
    for (std::size_t k = 0; k < plan.key.size(); ++k) {
      if (plan.key[k] != i) continue;
      key_exact &= exact;
      if (copy_spans) spans[k] = {start, doc.mark()};
    }
  }
  if (keyed_selector && !key_as_id) {
    if (copy_spans) {
      for (std::size_t k = 0; k < plan.key.size(); ++k)
        selector->append_raw(doc.bytes() + spans[k].first, spans[k].second - spans[k].first);
    } else {
      convert::LossReport counted_already;  // the document's conversion counted these values
      append_key(plan, *selector, row, lengths, counted_already, false);
    }
  }
  return !keyed_selector || key_exact;
}

std::vector<std::string> key_text(const TablePlan& plan, MYSQL_ROW row, const unsigned long* lengths) {
  std::vector<std::string> out;
  out.reserve(plan.key.size());
  for (auto k : plan.key) out.push_back(row[k] ? std::string(row[k], lengths[k]) : std::string("NULL"));
  return out;
}

std::string describe_key(const TablePlan& plan, const std::vector<std::string>& key) {
  std::vector<std::string> shown;
  for (const auto& v : key) {
    // Binary keys and long texts are shown shortened and escaped: a message stays one readable line.
    std::string s;
    for (unsigned char c : v.substr(0, 64)) {
      if (c >= 0x20 && c < 0x7f && c != '\'') s += static_cast<char>(c);
      else s += fmt::format("\\x{:02x}", c);
    }
    if (v.size() > 64) s += "...";
    shown.push_back("'" + s + "'");
  }
  return fmt::format("({}) = ({})", join(plan.key_columns(), ", "), join(shown, ", "));
}

namespace {

// libbson's iterators: any BSON, as deep as it goes.
int nesting_depth_iterated(const bson_t* doc) {
  // Iterative, with a stack of iterators: a document may legitimately be as deep as MongoDB allows.
  std::vector<bson_iter_t> stack(1);
  if (!bson_iter_init(&stack.back(), doc)) return 1;
  int deepest = 1;
  while (!stack.empty()) {
    bson_iter_t& it = stack.back();
    if (!bson_iter_next(&it)) {
      stack.pop_back();
      continue;
    }
    if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
      // As MongoDB counts: an embedded document or array is a level when it holds something.
      bson_iter_t child, probe;
      if (bson_iter_recurse(&it, &child) && bson_iter_recurse(&it, &probe) && bson_iter_next(&probe)) {
        stack.push_back(child);
        deepest = std::max(deepest, static_cast<int>(stack.size()));
      }
    }
  }
  return deepest;
}

std::uint32_t read_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

}  // namespace

int nesting_depth(const bson_t* doc) {
  // Every row of a table with a JSON column is walked: libbson's iterators (a 128-byte aligned iterator
  // per level on the heap, each element decoded) cost as much as converting the row. This walks the bytes,
  // skipping each value by its length, with the open levels' ends in a fixed array. Anything it does not
  // expect (a type it does not know, a length that does not fit, more levels than the array holds) is
  // left to the iterators, so the answer is theirs whenever the fast walk cannot be sure.
  constexpr std::size_t kLevels = 128;  // beyond MongoDB's 100: a deeper document is refused either way
  const std::uint8_t* d = bson_get_data(doc);
  const std::size_t len = doc->len;
  if (len < 5 || d[len - 1] != 0) return nesting_depth_iterated(doc);
  std::array<std::size_t, kLevels> ends;  // where the terminator of each open level is
  std::size_t depth = 1;
  ends[0] = len - 1;
  std::size_t deepest = 1;
  std::size_t p = 4;
  while (depth > 0) {
    const std::size_t end = ends[depth - 1];
    if (p == end) {
      if (d[p] != 0) return nesting_depth_iterated(doc);
      ++p;
      --depth;
      continue;
    }
    if (p > end) return nesting_depth_iterated(doc);
    const std::uint8_t type = d[p++];
    const void* nul = std::memchr(d + p, 0, end - p);
    if (!nul) return nesting_depth_iterated(doc);
    p = static_cast<std::size_t>(static_cast<const std::uint8_t*>(nul) - d) + 1;
    const std::size_t room = end - p;  // bytes the value may take
    std::size_t n = 0;
    switch (type) {
      case BSON_TYPE_UNDEFINED: case BSON_TYPE_NULL: case BSON_TYPE_MINKEY: case BSON_TYPE_MAXKEY:
        n = 0;
        break;
      case BSON_TYPE_BOOL:
        n = 1;
        break;
      case BSON_TYPE_INT32:
        n = 4;
        break;
      case BSON_TYPE_DOUBLE: case BSON_TYPE_DATE_TIME: case BSON_TYPE_TIMESTAMP: case BSON_TYPE_INT64:
        n = 8;
        break;
      case BSON_TYPE_OID:
        n = 12;
        break;
      case BSON_TYPE_DECIMAL128:
        n = 16;
        break;
      case BSON_TYPE_UTF8: case BSON_TYPE_CODE: case BSON_TYPE_SYMBOL:
        if (room < 4) return nesting_depth_iterated(doc);
        n = 4 + static_cast<std::size_t>(read_u32(d + p));
        break;
      case BSON_TYPE_BINARY:
        if (room < 4) return nesting_depth_iterated(doc);
        n = 5 + static_cast<std::size_t>(read_u32(d + p));
        break;
      case BSON_TYPE_DOCUMENT: case BSON_TYPE_ARRAY: {
        if (room < 4) return nesting_depth_iterated(doc);
        const std::size_t size = read_u32(d + p);
        if (size < 5 || size > room) return nesting_depth_iterated(doc);
        if (size == 5) {  // empty: no level of its own, as MongoDB counts
          n = size;
          break;
        }
        if (depth == kLevels) return nesting_depth_iterated(doc);
        ends[depth++] = p + size - 1;
        deepest = std::max(deepest, depth);
        p += 4;
        continue;
      }
      default:  // regular expressions, DBPointer, code with scope: not in a converted row
        return nesting_depth_iterated(doc);
    }
    if (n > room) return nesting_depth_iterated(doc);
    p += n;
  }
  if (p != len) return nesting_depth_iterated(doc);
  return static_cast<int>(deepest);
}

bool may_nest(const TablePlan& plan) {
  return std::any_of(plan.fields.begin(), plan.fields.end(),
                     [](const convert::FieldPlan& f) { return f.kind == convert::Kind::json; });
}

std::string refusal_reason(const bson_t* doc, bool may_nest) {
  if (doc->len > kMaxDocumentBytes)
    return fmt::format("document of {} bytes is larger than MongoDB's limit of {} bytes", doc->len, kMaxDocumentBytes);
  // Only JSON values (and arrays) nest: no walk for tables without JSON columns.
  if (may_nest) {
    if (const int depth = nesting_depth(doc); depth > kMaxNestingDepth)
      return fmt::format("document nested {} levels deep, more than MongoDB's limit of {}", depth, kMaxNestingDepth);
  }
  return {};
}

std::string refusal_reason(const TablePlan& plan, const bson_t* doc) { return refusal_reason(doc, may_nest(plan)); }

}  // namespace m2m::sync
