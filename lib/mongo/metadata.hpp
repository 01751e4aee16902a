// `_sync_metadata`: one document per table with the seed's fields plus what the tool needs to resume.
#pragma once

#include "mongo/client.hpp"
#include "util/stop.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace m2m::mongo {

inline constexpr const char* kMetadataCollection = "_sync_metadata";

// What kind of sync a table got, and how it ended: enums inside the tool, rendered to the seed's words
// ("full", "incremental"; "success", "failed") only in _sync_metadata and in the output.
enum class SyncType { full, incremental };
enum class TableStatus {
  success,
  failed,
  planned,  // --dry-run: what a run would do
  dropped,  // the table no longer exists in MySQL
};
// Where a table's changes come from: the binary log, its change column, or nowhere (a full pass).
enum class ChangeSource { full, timestamp, binlog };
std::string_view to_string(ChangeSource c);
std::optional<ChangeSource> parse_change_source(std::string_view text);
template <typename BasicJsonType>
void to_json(BasicJsonType& j, const ChangeSource& c) {
  j = std::string(to_string(c));
}

std::string_view to_string(SyncType t);
std::string_view to_string(TableStatus s);
std::optional<SyncType> parse_sync_type(std::string_view text);
std::optional<TableStatus> parse_table_status(std::string_view text);

// In JSON output they are the same words (never their numbers).
template <typename BasicJsonType>
void to_json(BasicJsonType& j, const SyncType& t) {
  j = std::string(to_string(t));
}
template <typename BasicJsonType>
void to_json(BasicJsonType& j, const TableStatus& s) {
  j = std::string(to_string(s));
}

// How the table's last `verify` ended: MongoDB equal to MySQL, different, or not verified (a read failed).
enum class VerifyResult { equal, different, failed };
std::string_view to_string(VerifyResult r);
std::optional<VerifyResult> parse_verify_result(std::string_view text);

// The table's last `verify` (mysql2mongo(1), verify): written by verify alone, through save_verify; no sync
// decision reads it, and no sync write touches it (a sync's record $sets its own fields only).
struct VerifyRecord {
  std::int64_t time_ms = 0;  // when it ended
  VerifyResult result = VerifyResult::equal;  // after a repair, the state the repair left
  std::int64_t mysql_rows = 0, mongodb_documents = 0;
  // What the comparison found (before a repair): keys equal, only in MySQL, only in MongoDB, and in both
  // with different fields; keys that differed at first and were equal when read again.
  std::int64_t equal = 0, missing = 0, extra = 0, different = 0, changed_during_verify = 0;
  bool repaired = false;  // --repair ran on the table
  std::int64_t repaired_copied = 0, repaired_deleted = 0;
  std::string error;      // why the table could not be verified (result failed)
};

struct TableState {
  // The seed's fields.
  std::string table_name;
  SyncType sync_type = SyncType::full;
  std::int64_t records_synced = 0;
  TableStatus status = TableStatus::failed;
  double duration_seconds = 0;
  std::string last_sync_time;       // ISO 8601 UTC, as the seed shows it
  std::int64_t timestamp_ms = 0;    // stored as a BSON date
  // Added by mysql2mongo.
  std::string collection;
  std::string error;                // empty: none
  std::int64_t rows_deleted = 0;
  std::map<std::string, std::map<std::string, std::int64_t>> lossy;  // column -> reason -> count
  std::int64_t lossy_total = 0;
  std::vector<std::string> warnings;
  std::string schema_fingerprint;
  std::vector<std::string> key_fields;
  std::int64_t last_success_ms = 0;  // 0: never succeeded
  SyncType last_success_type = SyncType::full;
  // Incremental state: the high-water mark as the source's own text values (change column, then key),
  // and the number of incremental runs since the last delete reconciliation.
  std::optional<std::vector<std::string>> high_water_mark;
  std::int64_t runs_since_reconcile = 0;
  // A full sync in progress: the last acknowledged key (source text values), and the change column's
  // maximum read when that full sync started (the mark it leaves behind; [] for an empty table).
  std::optional<std::vector<std::string>> checkpoint;
  std::optional<std::vector<std::string>> pending_mark;
  // The schema fingerprint the checkpoint belongs to: written when a full sync starts, so that even a
  // first sync killed with SIGKILL resumes rather than starting over.
  std::string checkpoint_fingerprint;
  // A UTC instant the next incremental run must re-read from (its window reaches back at least to it):
  // the start of the oldest transaction that had written and was still open at the last read, or, after
  // a takeover of the run lock, where the taken-over run had started reading.
  std::optional<std::string> window_floor;
  // Rows MongoDB could not store (too large, too deep): the next run tries them again.
  struct Refused {
    std::vector<std::string> key;
    std::int64_t bytes = 0;
    std::string reason;
  };
  std::vector<Refused> refused;
  bool resumed = false;              // the last full sync continued from a checkpoint
  std::int64_t last_complete_ms = 0; // the last run that got through the table (refused rows aside)
  // The table no longer exists in MySQL (dropped or renamed): kept for the record, never synced again.
  bool dropped = false;
  std::int64_t dropped_ms = 0;
  bool collection_dropped = false;   // sync.drop_orphans removed its collection
  ChangeSource change_source = ChangeSource::full;  // what the last completed sync read changes from
  // A full sync in progress copied as key ranges (see RangeState): how many; 0 when not split. Written
  // with checkpoint_fingerprint and pending_mark when the split full sync starts.
  std::int64_t split_ranges = 0;
  std::int64_t split_started_ms = 0;  // when that split full sync started (its duration at the end)
  std::optional<VerifyRecord> last_verify;  // nullopt: never verified
};

// One key range of a table whose full sync is split (sync/ranges.hpp), with its own checkpoint and
// outcome: one document in _sync_metadata per range ({_id: "m2m_range:INDEX:TABLE"}), so that a run
// resumes each range where it stopped, and whichever worker or shard finishes the last range can record
// the table from what every range did.
struct RangeState {
  std::string table;
  std::int64_t index = 0;                       // 0-based, in key order
  std::int64_t count = 0;                       // ranges of the split
  std::optional<std::vector<std::string>> lo;   // exclusive lower bound (source text); nullopt: open
  std::optional<std::vector<std::string>> hi;   // inclusive upper bound; nullopt: open
  std::optional<std::vector<std::string>> checkpoint;  // last acknowledged key
  bool done = false;                            // copied (and its deletes reconciled)
  // The outcome of the range once done (or failed: `error` set, done false).
  std::int64_t records_synced = 0;
  std::int64_t rows_deleted = 0;
  bool resumed = false;
  bool taken_over = false;                      // a shard took it over from one whose lease expired
  std::vector<TableState::Refused> refused;
  std::map<std::string, std::map<std::string, std::int64_t>> lossy;
  std::string error;
  // Its unit lease, when a shard holds it (read for `status`; written by mongo/units.cpp only).
  std::string owner;
  std::int64_t expires_ms = 0;
};


// Where each table that reads the binlog stands in it: every change logged before its position is in
// MongoDB. One document in _sync_metadata ({_id: "m2m_binlog"}) per source database, with the server the
// positions belong to. A position advances only at a transaction boundary, after everything before it
// was written. A table has its own position, so a run over some tables (--tables) leaves the others'
// where they were, and a table copied in full starts from the position read before its copy.
struct BinlogTablePosition {
  std::string file;
  std::uint64_t offset = 0;
  // A full copy of the table is under way (or was interrupted): it started after `file:offset`, and
  // the table follows the log from there once the copy is done.
  bool copying = false;
  // When a run last found the table current (it followed the log to here and succeeded). A run that
  // finds nothing to apply to a table writes no record for it: this is its last sync (see
  // ops::with_binlog_progress).
  std::int64_t as_of_ms = 0;
  bool operator==(const BinlogTablePosition&) const = default;
};

struct BinlogState {
  std::string identity;              // the server's (Capabilities::identity); another server: start over
  std::map<std::string, BinlogTablePosition> tables;
  std::int64_t updated_ms = 0;       // when a run last saved it
  // The earliest position of any table: where the next run starts reading, and what a purge must not
  // remove. With its standing at the end of the run that saved it:
  std::string file;                  // "mysql-bin.000042"
  std::uint64_t offset = 0;
  std::int64_t lag_bytes = 0;        // binlog bytes written after it
  std::int64_t lag_seconds = 0;      // age of the oldest event not yet applied (0: none)
  std::string oldest_file;           // the oldest binlog the server still had
  bool oldest = false;               // `file` was the oldest left: the next purge breaks the chain
};

// A table's document, and a range's, as read from _sync_metadata (for mongo/units.cpp).
TableState table_state_from(const bson_t* doc);
RangeState range_state_from(const bson_t* doc);

// Every write is fenced twice: it is sent behind a guard that fails once a run with a newer fencing token
// (see Lease) claimed the store, and it applies only while no run with a newer token wrote the document.
// A write refused by the fence asks `stop` to stop (the lease was lost) and returns Exit::tempfail.
class MetadataStore {
public:
  // fence 0: a reader (status); it must not write.
  MetadataStore(Client& client, std::string db, std::string where, std::int64_t fence = 0, StopToken* stop = nullptr);
  Status ensure_indexes();
  // Makes the store this run's: from now on a run holding an older token (one whose lease expired while
  // it stalled) can no longer write any table's state. One write, however many tables.
  Status claim();
  Expected<std::optional<TableState>> load(const std::string& table);
  Expected<std::vector<TableState>> load_all();
  Status save(const TableState& state);
  // The end-of-run record of a table, written with the others in one bulk write by flush(): a run over a
  // thousand unchanged tables costs one command, not a thousand. `progress` also writes the checkpoint,
  // the marks and the window (otherwise those keep what the run wrote as it went, with save_field).
  void queue(const TableState& state, bool progress);
  std::size_t queued() const { return queued_.size(); }
  // Forgets what was queued: the records of a unit another shard took over must never be written.
  void discard_queued() { queued_.clear(); }
  // Writes what was queued (fenced, like every write); on failure none of it is known to be written.
  Status flush();
  // Writes one field only: "checkpoint" after each acknowledged batch of a full sync, "high_water_mark"
  // after each acknowledged batch of an incremental one, "pending_mark" when a full sync starts.
  Status save_field(const std::string& table, const char* field, const std::optional<std::vector<std::string>>& value);
  // Writes a few fields at once: (name, value) with a string array, a string, a number, or null.
  using FieldValue = std::variant<std::nullptr_t, std::string, std::vector<std::string>, std::int64_t>;
  Status save_fields(const std::string& table, const std::vector<std::pair<std::string, FieldValue>>& fields);
  // The ranges of a split table (by index), and their writes: all of them when the split starts (older
  // ranges of the table beyond the new count are removed), a range's checkpoint after each acknowledged
  // batch, and its outcome at its end.
  Expected<std::vector<RangeState>> load_ranges(const std::string& table);
  Status save_ranges(const std::string& table, const std::vector<RangeState>& ranges);
  Status save_range_checkpoint(const std::string& table, std::int64_t index, const std::vector<std::string>& key);
  Status save_range_outcome(const RangeState& range);
  // The source database's binlog position (nullopt: none stored yet), and its fenced write.
  Expected<std::optional<BinlogState>> load_binlog();
  Status save_binlog(const BinlogState& state);

  // While a shard works on a unit it claimed (mongo/units.hpp), every write of this store also requires
  // the unit's lease token, on the unit's own document (a table's record, or a range's): once another
  // shard took the unit over, the write is refused with Cause::unit_lost, and this store's other units
  // and the run go on. `range` < 0: the unit is the table itself.
  void hold_unit(const std::string& table, std::int64_t range, std::int64_t token);
  void release_unit() { unit_.reset(); }

  // The _id of a range's document.
  static std::string range_id(const std::string& table, std::int64_t index);

  // Fenced upserts of given updates ({$set: ...}) of tables' documents (by table_name) or ranges' (by
  // _id): for mongo/units.cpp, which knows the unit fields.
  Status update(const std::vector<std::pair<std::string, const Bson*>>& updates, bool by_id, std::string_view doing) {
    return write(updates, doing, by_id);
  }

  // Writes the verify fields (last_verify_time, last_verify_result, last_verify) of tables that have a
  // record, in one unordered bulk. Unlike every other write this one is not fenced, so that a verify
  // without --repair, which holds no lease and has no token, can store its result while a sync runs:
  // the fence keeps a stale run from moving a newer run's marks and checkpoints back, and this write
  // $sets only fields that no sync reads or writes, so it can neither move them nor be undone by a
  // sync's record. Each update applies only over an older verify of the table: of two verifies that
  // overlap, the one that ended last is what stays. A table without a record (never synced) gets none.
  Status save_verify(const std::vector<std::pair<std::string, VerifyRecord>>& records);

private:
  struct UnitFence {
    std::string key;  // table_name of a table, or _id of a range document
    bool by_id = false;
    std::int64_t token = 0;
  };
  Failure fenced(std::string_view doing);
  // One ordered bulk: the fence guard (and the unit's, see hold_unit), then each (table, update) as a
  // fenced upsert, then `remove`, a fenced delete_many filter, if given.
  Status write(const std::vector<std::pair<std::string, const Bson*>>& updates, std::string_view doing,
               bool by_id = false, const Bson* remove = nullptr);

  Client& client_;
  std::string db_;
  std::string where_;
  std::int64_t fence_;
  StopToken* stop_;
  std::vector<std::pair<std::string, Bson>> queued_;  // table name, {$set: ...}
  std::optional<UnitFence> unit_;
};

}  // namespace m2m::mongo
