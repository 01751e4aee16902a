#include "sync/document.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace m2m::sync {

void append_key(const TablePlan& plan, bson_t* out, MYSQL_ROW row, const unsigned long* lengths,
                convert::LossReport& loss, bool key_as_id) {
  // With key_as_id, a one-column key is _id itself and a composite key is an embedded document.
  if (key_as_id && plan.key.size() == 1) {
    const auto& f = plan.fields[plan.key[0]];
    convert::append_value_as(out, "_id", f, row[plan.key[0]], lengths[plan.key[0]], loss);
    return;
  }
  if (key_as_id) {
    bson_t id;
    BSON_APPEND_DOCUMENT_BEGIN(out, "_id", &id);
    for (auto i : plan.key) convert::append_value(&id, plan.fields[i], row[i], lengths[i], loss);
    bson_append_document_end(out, &id);
    return;
  }
  for (auto i : plan.key) convert::append_value(out, plan.fields[i], row[i], lengths[i], loss);
}

bool build_document(const TablePlan& plan, bool key_as_id, MYSQL_ROW row, const unsigned long* lengths, bson_t* doc,
                    bson_t* selector, convert::LossReport& loss) {
  if (key_as_id && plan.has_key()) append_key(plan, doc, row, lengths, loss, true);
  for (std::size_t i = 0; i < plan.fields.size(); ++i)
    convert::append_value(doc, plan.fields[i], row[i], lengths[i], loss);
  if (selector && plan.has_key()) {
    // The selector's values come from the same conversion as the document's, so they always match.
    convert::LossReport key_loss;  // already counted once for the document
    append_key(plan, selector, row, lengths, key_loss, key_as_id);
    return key_loss.empty();
  }
  return true;
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

std::string refusal_reason(const TablePlan& plan, const bson_t* doc) {
  if (doc->len > kMaxDocumentBytes)
    return fmt::format("document of {} bytes is larger than MongoDB's limit of {} bytes", doc->len, kMaxDocumentBytes);
  // Only JSON values (and arrays) nest: skip the walk for tables without JSON columns.
  const bool may_nest = std::any_of(plan.fields.begin(), plan.fields.end(),
                                    [](const convert::FieldPlan& f) { return f.kind == convert::Kind::json; });
  if (may_nest) {
    if (const int depth = nesting_depth(doc); depth > kMaxNestingDepth)
      return fmt::format("document nested {} levels deep, more than MongoDB's limit of {}", depth, kMaxNestingDepth);
  }
  return {};
}

}  // namespace m2m::sync
