// `status`: what _sync_metadata says about each table, and the Nagios/Icinga check built on it.
#pragma once

#include "binlog/server.hpp"
#include "config/config.hpp"
#include "mongo/lease.hpp"
#include "mongo/metadata.hpp"
#include "mongo/units.hpp"
#include "util/log.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace m2m::ops {

struct StatusReport {
  std::string database;                  // MongoDB database
  std::vector<mongo::TableState> tables; // by table name
  std::optional<std::string> lock_holder;  // a live run's "host:pid"
  // Work units held now (leases of a sharded run's shards), and that run's shards (empty unless a
  // sharded run holds the lock).
  std::vector<mongo::HeldUnit> units;
  int shard_count = 0;
  std::vector<mongo::ShardSlotInfo> shards;
  std::int64_t now_ms = 0;
  // The stored binlog position of the tables that read their changes from the binlog, if any.
  std::optional<mongo::BinlogState> binlog;
  // Where that position stands among the server's binlog files now: read when MySQL answers (status
  // itself needs only MongoDB); else binlog_now_error says why not.
  std::optional<binlog::Standing> binlog_now;
  std::string binlog_now_error;

  std::size_t failed() const;
  // The oldest last-success age among the tables (nullopt when a table never succeeded or none exist).
  std::optional<std::chrono::milliseconds> oldest_success_age() const;
  std::size_t never_succeeded() const;
  std::size_t dropped() const;  // tables that no longer exist in MySQL
  std::size_t verified() const;  // tables with a recorded verify (dropped ones aside)
  // Tables whose last verify found MongoDB different from MySQL (and did not repair it all).
  std::vector<std::string> verify_different() const;
};

// Reads the metadata (MongoDB only: it works while MySQL is down). Throws Error when it cannot. With a
// binlog position stored, also asks MySQL which binlog files it still has (best effort, within
// cfg.mysql.connect_timeout).
StatusReport load_status(const config::Config& cfg, Logger& log);

// "host" of a lease owner "host:pid".
std::string host_of_owner(const std::string& owner);

// The per-table metadata and the binlog position, or nothing when they cannot be read (for the metrics
// file after a failed run).
struct StoredState {
  std::vector<mongo::TableState> tables;
  std::optional<mongo::BinlogState> binlog;
};
StoredState try_load_state(const config::Config& cfg, Logger& log);

// The tables' records with what the binlog positions add: a run that found nothing to apply to a table
// writes no record for it, only the position's as_of time; that time is then the table's last sync and
// last success (see mongo::BinlogTablePosition).
std::vector<mongo::TableState> with_binlog_progress(std::vector<mongo::TableState> tables,
                                                    const std::optional<mongo::BinlogState>& binlog);

// The seed's status response: "scheduler" (here: the lock and the interval the timer uses) and
// "sync_data" {total_tables, tables{name: {last_sync_time, sync_type, records_synced, status,
// duration_seconds, ...}}}, extended.
nlohmann::ordered_json to_json(const StatusReport& r, const config::Config& cfg);

struct CheckResult {
  int code = 3;          // Nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
  std::string line;      // "MYSQL2MONGO OK - 16 tables, oldest sync 4m ago | age=240s;3600;10800 ..."
};

// OK when every table succeeded recently; WARNING when the oldest success is older than `warn`, a
// table's last run failed, a table's last verify found differences, or the binlog position is in the
// oldest binlog file left (the next purge breaks the chain); CRITICAL when older than `crit`, a table
// never succeeded or the position's binlog file is gone; UNKNOWN when nothing is recorded.
CheckResult check(const StatusReport& r, std::chrono::milliseconds warn, std::chrono::milliseconds crit);

// UNKNOWN with the reason, for when the metadata cannot be read at all: one line of at most
// kMaxUnknownLine bytes (a long reason is cut, with "...").
inline constexpr std::size_t kMaxUnknownLine = 119;
CheckResult check_unknown(const std::string& why);

}  // namespace m2m::ops
