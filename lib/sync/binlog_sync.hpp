// Change capture from the binary log: the log is read as a list of changed keys, never as a source of
// values. For each row event only the key columns of its images are decoded; the current rows of those
// keys are then read from MySQL with the same type mapping as every other sync: rows found are upserted,
// keys not found are deleted. Replaying an event twice is harmless, and events never need the schema they
// were written under.
#pragma once

#include "binlog/reader.hpp"
#include "binlog/rows.hpp"
#include "mongo/metadata.hpp"
#include "sync/report.hpp"
#include "sync/table_sync.hpp"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace m2m::sync {

// What one run read from the binlog and what it did with it.
struct BinlogRun {
  binlog::Position from, to;            // `to`: the position saved (a transaction boundary)
  std::uint64_t events = 0, row_events = 0, changed_keys = 0;
  bool limited = false;                 // stopped by binlog.max_events or binlog.max_seconds
  std::int64_t last_event_time = 0;     // Unix time of the last event applied; 0: none
  std::int64_t next_event_time = 0;     // Unix time of the first event left unread (when limited); 0: none
  // Tables the log says need a full sync: DDL (ALTER, RENAME, TRUNCATE, DROP, ...), events written under
  // another schema, statement-based changes. Table -> reason.
  std::map<std::string, std::string> resync;
  std::set<std::string> truncated;      // of those, emptied by TRUNCATE (their deletes need no guard)
  std::map<std::string, TableReport> tables;  // per table read from the log: rows upserted and deleted
};

// The SQL literal of a key value taken from a row image, for `(k...) IN (...)` against the column: numbers
// as numbers (an ENUM by its index, a SET by its bits, as MySQL compares them), temporal values as text,
// strings as _charset X'..' (coercible, so the column's collation decides), binary as X'..'.
std::string key_value_literal(const binlog::KeyValue& value, const mysql::Column& column);

// An SQL expression that returns the key value as the text protocol sends the column's own value
// (ENUM and SET by their names), so the deleted row's document can be found by the same conversion.
std::string key_value_echo(const binlog::KeyValue& value, const mysql::Column& column);

// The value as the text protocol sends the column's own value, when it is known without the server: an
// integer's decimal digits, the bytes of a binary string (BINARY(n) already padded) or of a string in a
// UTF-8 or ASCII character set (the connection's is utf8mb4). nullopt for the others (other character
// sets, ENUM and SET names, temporal and decimal formatting, floats, BIT), whose echo the server makes.
std::optional<std::string> key_value_text(const binlog::KeyValue& value, const mysql::Column& column);

// The names among `tables` (of `database`) that the statement names: `db`.`t` or db.t with db =
// `database`, or `t` / t when the statement ran in `default_database` = `database`. Which tables a DDL
// statement of the log touches; a name anywhere in the statement counts (conservative: a false match
// costs a full sync, a miss would cost data).
std::set<std::string> tables_named_in(std::string_view sql, const std::string& database,
                                      const std::string& default_database, const std::set<std::string>& tables);

// Reads the binlog from the earliest of the positions in `since` (one for each of `plans`, the tables of
// ctx.cfg's database that follow the log; each table counts events from its own) to the log's current
// end, bounded by binlog.max_events and binlog.max_seconds, and applies their changes in batches of keys.
// `save` stores a position; it is called at transaction boundaries once every change before it is
// written to MongoDB, with the tables resynced so far (which are not current up to it), every few
// batches of keys. The last boundary reached is BinlogRun::to, not saved: the caller stores it. Tables whose
// events cannot be applied (DDL, another schema) are listed in BinlogRun::resync, and their keys
// dropped: a full sync of them follows.
Expected<BinlogRun> apply_binlog(TableContext& ctx, const std::vector<const TablePlan*>& plans,
                                 const std::map<std::string, binlog::Position>& since, std::uint32_t server_id,
                                 const std::function<Status(const binlog::Position&,
                                                            const std::map<std::string, std::string>& resync)>& save);

// Applies changed keys of one table: reads the current rows of `keys` (literal tuples as
// key_value_literal builds them, each with its echo tuple), upserts them, and deletes the documents of
// keys no row answers to. Adds to report.records_synced and report.deleted.
struct ChangedKey {
  std::string literals;  // "(1, _utf8mb4 X'61')" or "1"
  std::string echo;      // "1, _utf8mb4 X'61'"
  // The key as the text protocol sends its columns, when that is known without asking the server
  // (integers, strings, binary strings: see key_value_text); then `echo` is not needed.
  std::optional<std::vector<std::string>> texts;
};
Status apply_keys(TableContext& ctx, const TablePlan& plan, const std::vector<ChangedKey>& keys, TableReport& report);

}  // namespace m2m::sync
