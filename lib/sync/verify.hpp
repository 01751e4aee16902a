// verify: is each collection what a sync would have written? A table is compared with its collection in
// one merge of both sides, streamed in the key order delete reconciliation uses (reconcile.hpp): each
// MySQL row becomes the document a sync writes (build_document: the same conversion, renames,
// exclusions, key_as_id and lossy rules), compared field by field with the document of the same key.
// A table without a key is compared as two multisets of documents. The keys that differ are read again
// on both sides at the end (recheck), so that a write in flight is not reported; --repair copies and
// deletes only what still differs.
#pragma once

#include "mongo/metadata.hpp"
#include "sync/report.hpp"
#include "sync/table_sync.hpp"

#include <bson/bson.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace m2m::sync {

// What a key is when it differs: only in MySQL, only in MongoDB, or in both with other field values.
enum class Finding { missing, extra, different };
inline constexpr std::array<Finding, 3> kFindings = {Finding::missing, Finding::extra, Finding::different};
std::string_view to_string(Finding f);

// The keys that differ in the merge are kept (with what is needed to read them again, repair them and
// name them) up to this many per table, about 200 bytes each: memory stays bounded whatever differs.
// A key beyond it keeps its first verdict (not_rechecked) and --repair reaches it through a second merge.
inline constexpr std::size_t kMaxRecheck = 10'000;

// Keys per statement when reading keys again (SELECT ... WHERE key IN (...), find {key: {$in: [...]}}).
inline constexpr std::size_t kKeysPerRead = 500;

// One key that differs.
struct KeyFinding {
  Finding kind = Finding::missing;
  std::string key;  // the key as MongoDB holds it, {field: value, ...} or {_id: value}, as BSON bytes
  // The key columns' values as MySQL's text (what select_by_keys reads by); nullopt when the key came
  // from MongoDB and has no MySQL form (a value no sync writes).
  std::optional<std::vector<std::string>> text;
  std::string id;                   // {_id: value} of the document (extra, different), BSON bytes
  std::vector<std::string> fields;  // different: the fields whose values differ, in document order
  bool settled = false;             // equal when read again: a write was in flight
};

// A document of a table without a key that one side holds more often than the other.
struct DocumentSample {
  std::string document;  // relaxed Extended JSON, cut at 200 bytes
  std::uint64_t count = 0;
};

// A document of a table without a key by its digest (128 bits of its bytes), and how many more of it one
// side holds: + MySQL, - MongoDB.
struct DocumentDigest {
  std::uint64_t a = 0, b = 0;
  std::int64_t surplus = 0;
};

struct Counts {
  std::uint64_t equal = 0, missing = 0, extra = 0, different = 0;
  std::uint64_t differences() const { return missing + extra + different; }
  std::uint64_t& of(Finding f) { return f == Finding::missing ? missing : f == Finding::extra ? extra : different; }
};

struct TableVerify {
  std::string table;
  std::string collection;
  std::vector<std::string> key_columns;  // empty: compared as multisets of documents
  std::vector<bool> key_binary;          // per key column: its MySQL text is bytes (binary types, BIT)
  std::uint64_t mysql_rows = 0, mongodb_documents = 0;
  Counts found;                         // after the re-check
  std::uint64_t changed_during_verify = 0;  // keys (documents) that differed at first and settled
  std::uint64_t not_rechecked = 0;      // differences beyond kMaxRecheck: their first verdict stands
  std::vector<KeyFinding> findings;     // the first kMaxRecheck differences, in key order
  std::vector<KeyFinding> overflow;     // beyond them, up to max(max_keys, 10) of each kind, in key order
  std::array<std::vector<DocumentSample>, 2> documents;  // no key: samples of missing and extra documents
  std::vector<DocumentDigest> surplus;  // no key: up to max(max_keys, 10) of each side's surplus, to name
  bool repaired = false;                // --repair ran
  std::uint64_t repaired_copied = 0, repaired_deleted = 0;
  Counts after_repair;                  // what verifying the repaired keys (or table) again found
  std::vector<std::string> warnings;
  std::optional<Failure> error;         // the table could not be verified (or repaired)
  double duration_seconds = 0;

  bool keyed() const { return !key_columns.empty(); }
  mongo::VerifyResult result() const;
  // The differences that remain: after a repair, those it left.
  const Counts& final_counts() const { return repaired ? after_repair : found; }
  // The first `n` differences in key order (re-checked ones first, then those beyond kMaxRecheck).
  std::vector<const KeyFinding*> first(std::size_t n, std::optional<Finding> kind = std::nullopt) const;
  // "(actor_id) = ('5')"
  std::string describe(const KeyFinding& f) const;
  mongo::VerifyRecord record(std::int64_t time_ms) const;
};

// The merge: counts and the first differences into `out` (out.error on failure, including a stop).
void verify_table(TableContext& ctx, const TablePlan& plan, std::size_t max_keys, TableVerify& out);

// Reads the keys that differ again, on both sides (the caller waited verify.settle first), and keeps only
// the verdicts that still hold; the others count as changed_during_verify. A table without a key is
// compared again as a whole when it differed.
void recheck(TableContext& ctx, const TablePlan& plan, TableVerify& out);

// Copies the rows of the missing and different keys and deletes the extra documents (under the delete
// guard: sync.max_delete_fraction, ctx.force_deletes), then verifies those keys again (after_repair). A
// table without a key is rebuilt as a sync rebuilds it (copy_staged). Needs the run lock.
void repair(TableContext& ctx, const TablePlan& plan, std::size_t max_keys, TableVerify& out);

// Document comparison (pure). Two values are equal when they have the same BSON type and MongoDB's
// order finds them equal (convert::compare_values: Decimal128 1.0 equals 1.00, strings by bytes, dates
// by millisecond), embedded documents and arrays element by element, names and order included.
bool values_equal(const bson_iter_t& a, const bson_iter_t& b);
// The top-level fields of `expected` (what a sync writes) and `actual` (the document in MongoDB) that
// differ: missing on one side or holding another value, in the order of `expected`, then those only in
// `actual`. `_id` is compared only when `compare_id` (key_as_id: it is the key); otherwise it is
// MongoDB's own.
std::vector<std::string> differing_fields(const bson_t* expected, const bson_t* actual, bool compare_id);

// The MySQL text of a key value read from MongoDB, such that select_by_keys finds the row it came from:
// the inverse of the conversion for the types a key can have (numbers, text, binary, BIT, dates).
// nullopt for a value no conversion of this column produces.
std::optional<std::string> mysql_key_text(const convert::FieldPlan& field, const mysql::Column& column,
                                          const bson_iter_t& value);
// A Decimal128's text (bson_decimal128_to_string, "1.23E-7") in plain notation ("0.000000123").
std::optional<std::string> plain_decimal(std::string_view text);

// The table's result as `verify --json` prints it (samples: up to max_keys per kind).
nlohmann::ordered_json to_json(const TableVerify& t, std::size_t max_keys);

}  // namespace m2m::sync
