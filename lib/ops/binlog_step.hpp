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

#include <map>
#include <optional>
#include <set>
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

// What the run can do with each binlog table's stored position, decided before any table is read.
struct BinlogStart {
  binlog::Position fresh;  // the server's position now, read before any table is copied
  // Why no stored position is usable at all (the first binlog run, another server); empty otherwise.
  std::string fallback;
  // The usable stored positions of this run's tables, and why the others' cannot be used (their file
  // was purged, the log was reset).
  std::map<std::string, mongo::BinlogTablePosition> usable;
  std::map<std::string, std::string> lost;
  // The stored positions of tables not in this run, kept as they are.
  std::map<std::string, mongo::BinlogTablePosition> others;
};
Expected<BinlogStart> binlog_start(mysql::Connection& conn, const binlog::Capabilities& caps,
                                   const std::optional<mongo::BinlogState>& stored, const std::set<std::string>& tables);

// The state to store: the tables' positions with the server's identity, and where the earliest of them
// stands now (the binlog bytes after it, whether it is in the oldest file left); `lag_seconds`, the age
// of the first event left unread.
Expected<mongo::BinlogState> binlog_state_after(mysql::Connection& conn, const binlog::Capabilities& caps,
                                               std::map<std::string, mongo::BinlogTablePosition> tables,
                                               std::int64_t lag_seconds);

std::string to_text(const binlog::Position& p);

}  // namespace m2m::ops
