// One MySQL row -> the MongoDB document written for it, and the selector that matches that document.
#pragma once

#include "convert/convert.hpp"
#include "sync/plan.hpp"

#include <bson/bson.h>
#include <mysql.h>

#include <string>
#include <vector>

namespace m2m::sync {

// MongoDB refuses documents larger than this or nested deeper (the top-level document is level 1; each
// embedded document or array that holds something adds a level).
inline constexpr std::size_t kMaxDocumentBytes = 16 * 1024 * 1024;
inline constexpr int kMaxNestingDepth = 100;

// Appends the key of `row` to `out`: the key fields, or with key_as_id an _id (the value itself for a
// one-column key, an embedded document for a composite one). Returns true when every key value was
// converted exactly.
bool append_key(const TablePlan& plan, mongo::BsonBuilder& out, MYSQL_ROW row, const unsigned long* lengths,
                convert::LossReport& loss, bool key_as_id);
void append_key(const TablePlan& plan, bson_t* out, MYSQL_ROW row, const unsigned long* lengths,
                convert::LossReport& loss, bool key_as_id);

// Builds the document for one row into `doc` (and the selector that matches it into `selector`, if given
// and the table has a key), both cleared first. Returns false when a key value converted lossily (a
// DATETIME(6) key beyond milliseconds, a zero date): two rows could then map to one document, so the
// caller must not write it.
bool build_document(const TablePlan& plan, bool key_as_id, MYSQL_ROW row, const unsigned long* lengths,
                    mongo::BsonBuilder& doc, mongo::BsonBuilder* selector, convert::LossReport& loss);

// The key columns' source text of `row`, for messages and for the list of refused rows.
std::vector<std::string> key_text(const TablePlan& plan, MYSQL_ROW row, const unsigned long* lengths);
// "(id, region) = (5, 'eu')"
std::string describe_key(const TablePlan& plan, const std::vector<std::string>& key);

// How deeply `doc` nests, as MongoDB counts (1 for a document without non-empty embedded documents or
// arrays).
int nesting_depth(const bson_t* doc);

// Why MongoDB would refuse `doc` (too large, too deep), or empty.
std::string refusal_reason(const TablePlan& plan, const bson_t* doc);
// Whether the table's documents can nest at all (only JSON values do), and the same check with that
// answered once per table instead of once per row.
bool may_nest(const TablePlan& plan);
std::string refusal_reason(const bson_t* doc, bool may_nest);

}  // namespace m2m::sync
