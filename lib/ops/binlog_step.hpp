// The binlog's part in a sync run: which tables read their changes from it, where the run starts reading,
// the read itself, and the position and lag left for the next run.
#pragma once

#include "binlog/server.hpp"
#include "config/config.hpp"
#include "mongo/metadata.hpp"
#include "sync/binlog_sync.hpp"
#include "sync/plan.hpp"
#include "sync/report.hpp"
#include "util/log.hpp"

#include <optional>
#include <string>
#include <vector>

namespace m2m::ops {

// Sets each plan's change source (see change_source): asks the server about its binlog when a table may
// read it. A table configured to read the binlog (sync.changes or [tables.NAME] changes = "binlog") of a
// server that does not offer it is a configuration error (exit 78) naming what is missing. Returns the
// server's capabilities when they were read.
std::optional<binlog::Capabilities> resolve_changes(std::vector<sync::TablePlan>& plans, mysql::Connection& conn,
                                                    Logger& log);

// The replica id of this tool's binlog dumps: binlog.server_id, else derived from this host's name and
// the database (never 0 or 1, which are the usual ids of real servers).
std::uint32_t binlog_server_id(const config::Config& cfg);

// Where the run reads the binlog from, or why it cannot (the binlog tables then sync in full from a
// fresh position, read before any of them is copied).
struct BinlogStart {
  binlog::Position position;  // the stored position, or the fresh one
  std::string fallback;       // empty: `position` is the stored one and the log is read from it
  binlog::Position fresh;     // the server's current position, read now
};
Expected<BinlogStart> binlog_start(mysql::Connection& conn, const binlog::Capabilities& caps,
                                   const std::optional<mongo::BinlogState>& stored);

// The state to store after the run: `position` with the server's identity, the lag left (bytes of
// binlog after it; seconds since the oldest unapplied event), and whether it is in the oldest file left.
Expected<mongo::BinlogState> binlog_state_after(mysql::Connection& conn, const binlog::Capabilities& caps,
                                               const binlog::Position& position, std::int64_t lag_seconds);

std::string to_text(const binlog::Position& p);

}  // namespace m2m::ops
