// SQL text for reading a table: keyset pagination and the key order MongoDB sorts in. Pure functions,
// every identifier quoted, every value a literal built by the caller's escaping function.
#pragma once

#include "sync/plan.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace m2m::sync {

// Escapes a string as an SQL string literal (Connection::literal in production).
using Quote = std::function<std::string(std::string_view)>;

// The literal for one key value given as MySQL's text form: numbers as they are (a quoted number would
// be compared as a DOUBLE and lose precision beyond 2^53), binary and BIT as X'..', the rest quoted.
std::string key_literal(const mysql::Column& column, std::string_view text, const Quote& quote);

// The expression a column is read by: the column itself, except FLOAT, read as a DOUBLE so that its exact
// value arrives (the text protocol rounds FLOAT to 6 significant digits).
std::string select_expression(const mysql::Column& column);

// The expression a key column is ordered and compared by. ENUM and SET order by their internal index
// but compare with strings as text, so they are read through CAST(... AS CHAR) to keep both consistent.
std::string key_expression(const mysql::Column& column);

// (k1, k2, ...) > (v1, v2, ...), expanded to ORs so that every server uses the index range.
std::string key_after(const std::vector<const mysql::Column*>& key, const std::vector<std::string>& values,
                      const Quote& quote);

// (k1, k2, ...) <= (v1, v2, ...), expanded to ORs like key_after: the upper bound of a key range.
std::string key_at_most(const std::vector<const mysql::Column*>& key, const std::vector<std::string>& values,
                        const Quote& quote);

// The rows of a key range (lo, hi] as an SQL condition: key > lo AND key <= hi, each bound optional (an
// open end). Empty when both are open. Values are compared by the column's own collation, as the index
// orders them, so consecutive ranges share no row and miss none.
std::string range_condition(const TablePlan& plan, const std::optional<std::vector<std::string>>& lo,
                            const std::optional<std::vector<std::string>>& hi, const Quote& quote);

// SELECT <fields> FROM <table>: every row, in no particular order.
std::string select_all(const TablePlan& plan);

// SELECT <fields> FROM <table> WHERE (key) IN ((v1), (v2), ...): the rows of the given keys (source
// text values, as stored in the metadata).
std::string select_by_keys(const TablePlan& plan, const std::vector<std::vector<std::string>>& keys, const Quote& quote);

// SELECT <fields> FROM <table> [WHERE key > last [AND key <= upto]] ORDER BY key LIMIT n
std::string select_chunk(const TablePlan& plan, const std::optional<std::vector<std::string>>& after,
                         std::size_t limit, const Quote& quote,
                         const std::optional<std::vector<std::string>>& upto = std::nullopt);

// The key `n` rows after `after` (from the start when nullopt), read from the index alone: the end of a
// key range of n rows.
//   SELECT <key> FROM <table> [WHERE key > after] ORDER BY key LIMIT 1 OFFSET n-1
std::string select_boundary(const TablePlan& plan, const std::optional<std::vector<std::string>>& after,
                            std::uint64_t n, const Quote& quote);

// Incremental read, ordered by (change column, key) so that rows sharing one timestamp are never skipped.
// `mark` is (change value, key values...) of the last row written (or just the change value after a full
// sync, or empty: from the beginning). Rows beyond the mark are read, and so are rows in the re-read
// window, change >= `bound` (a constant SQL expression, see window_bound_sql; empty: no window), which
// catches a transaction that committed after the last run with an older timestamp.
//   SELECT <fields> FROM <table> WHERE ((chg, key) > mark OR chg >= bound) [AND (chg, key) > after]
//     ORDER BY chg, key LIMIT n
std::string select_changed(const TablePlan& plan, const std::vector<std::string>& mark, const std::string& bound,
                           const std::optional<std::vector<std::string>>& after, std::size_t limit, const Quote& quote);

// The condition of select_changed without the pagination: what an incremental run reads.
std::string changed_predicate(const TablePlan& plan, const std::vector<std::string>& mark, const std::string& bound,
                              const Quote& quote);

// One query telling which of `tables` (each with its changed_predicate) have a row to read: it returns
// the index of each such table. A run over many quiet tables thus reads none of them.
//   SELECT 0 FROM DUAL WHERE EXISTS (SELECT 1 FROM t0 WHERE ... LIMIT 1) UNION ALL SELECT 1 ...
std::string probe_changes(const std::vector<std::pair<const TablePlan*, std::string>>& tables);

// Rows whose change column is NULL cannot be placed in time: they are read on every incremental run.
//   SELECT <fields> FROM <table> WHERE chg IS NULL [AND key > after] ORDER BY key LIMIT n
std::string select_null_changed(const TablePlan& plan, const std::optional<std::vector<std::string>>& after,
                                std::size_t limit, const Quote& quote);

// SELECT <key> FROM <table> ORDER BY <key in MongoDB's order>: numbers and dates sort alike on both
// sides; strings are compared by their UTF-8 bytes (MongoDB's simple collation), binary values by
// length first, as MongoDB orders BinData.
// With `range` (a range_condition), only the keys of that range.
std::string select_keys_in_mongo_order(const TablePlan& plan, const std::string& range = {});

// SELECT <fields> FROM <table> ORDER BY <key in MongoDB's order>: whole rows in the order of
// select_keys_in_mongo_order, for verify's merge with the documents.
std::string select_rows_in_mongo_order(const TablePlan& plan);

std::vector<const mysql::Column*> key_columns(const TablePlan& plan);

}  // namespace m2m::sync
