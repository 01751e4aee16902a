#include "sync/document.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
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

int nesting_depth(const bson_t* doc) {
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
