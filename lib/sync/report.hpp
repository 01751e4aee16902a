// What a sync run did, per table and in total: the seed's trigger response, extended.
#pragma once

#include "convert/convert.hpp"
#include "mongo/metadata.hpp"
#include "util/error.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace m2m::sync {

// A row whose document MongoDB would not store (too large, too deep, refused by the server). The other
// rows are written; the table is reported failed with these listed, and the next run tries them again.
struct RefusedRow {
  std::vector<std::string> key;   // the key columns' source text ("row N" for a table without a key)
  std::string described;          // "(id) = ('5')"
  std::uint64_t bytes = 0;        // the document's size
  std::string reason;
};

struct TableReport {
  std::string table;
  std::string collection;
  mongo::SyncType sync_type = mongo::SyncType::full;       // what was done
  mongo::ChangeSource change_source = mongo::ChangeSource::full;  // where its changes came from
  mongo::TableStatus status = mongo::TableStatus::success;
  std::uint64_t records_synced = 0;
  std::uint64_t deleted = 0;
  double duration_seconds = 0;
  std::string reason;               // why this sync type ("first sync", "schema changed", ...)
  std::optional<Failure> error;
  convert::LossReport lossy;
  std::vector<std::string> warnings;
  std::vector<convert::Rename> renames;
  bool resumed = false;             // continued from a checkpoint
  std::int64_t key_ranges = 0;      // its full sync was copied as this many key ranges (0: whole)
  std::vector<RefusedRow> refused;  // rows MongoDB could not store

  // The error, or else the refused rows in one line; empty when the table succeeded.
  std::string error_message() const;
  // Sets `status` from the outcome: failed when there was an error or a refused row.
  void settle();
};

// One work unit this process worked on (a table, a key range, or a split table's finish).
struct UnitReport {
  std::string unit;                 // "orders", "orders [3/8]"
  std::string kind;                 // "table", "range", "finish"
  int worker = 0;                   // which of this host's workers (0-based)
  mongo::TableStatus status = mongo::TableStatus::success;
  std::uint64_t records_synced = 0;
  std::uint64_t deleted = 0;
  double duration_seconds = 0;
  bool taken_over = false;          // claimed after another shard's lease on it expired
  bool lost = false;                // another shard took it over while this one worked on it
  std::string error;
};

struct RunReport {
  mongo::SyncType sync_type = mongo::SyncType::incremental;  // what was asked
  std::int64_t start_ms = 0, end_ms = 0;
  bool dry_run = false;
  int jobs = 1;                               // workers on this host
  // A sharded run (--shard): this process's shard and the run it belongs to.
  struct Shard {
    int index = 0, count = 0;
    std::int64_t run = 0;                     // the run's fencing token
    bool planned = false;                     // this shard took the run lock and planned the run
  };
  std::optional<Shard> shard;
  std::vector<UnitReport> units;              // in the order they ended
  std::map<std::string, TableReport> tables;  // by table name
  std::vector<std::string> vanished;          // tables of earlier runs that no longer exist in MySQL
  // The binlog step of the run, when a table reads its changes from the binlog.
  struct Binlog {
    std::string from, to;          // "file:offset"
    std::uint64_t events = 0, row_events = 0, changed_keys = 0;
    bool limited = false;          // stopped by binlog.max_events / binlog.max_seconds; the next run goes on
    std::int64_t lag_bytes = 0, lag_seconds = 0;
    std::string fallback;          // why the binlog tables were synced in full instead (empty: they were not)
  };
  std::optional<Binlog> binlog;

  std::uint64_t total_records() const;
  std::size_t failed() const;
  std::size_t succeeded() const;
  // success (all tables), partial (some failed), failed (all failed).
  enum class Status { success, partial, failed };
  Status status() const;
  Exit exit_code() const;
};

std::string_view to_string(RunReport::Status s);
nlohmann::ordered_json to_json(const TableReport& t);
nlohmann::ordered_json to_json(const RunReport& r);

}  // namespace m2m::sync
