#include "ops/binlog_step.hpp"

#include "ops/sync_run.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <unistd.h>

namespace m2m::ops {

std::string to_text(const binlog::Position& p) { return fmt::format("{}:{}", p.file, p.offset); }

std::optional<binlog::Capabilities> resolve_changes(std::vector<sync::TablePlan>& plans, mysql::Connection& conn,
                                                    Logger& log) {
  bool ask = false;
  for (const auto& p : plans) ask |= p.has_key() && p.changes != config::Changes::timestamp;
  std::optional<binlog::Capabilities> caps;
  bool ok = false;
  std::vector<Failure> problems;
  if (ask) {
    caps = binlog::query_capabilities(conn).or_throw();
    problems = caps->problems();
    ok = problems.empty();
    if (!ok)
      log.info("the binlog is not used ({}): tables with sync.changes = auto read their change column", problems[0].message);
  }
  for (auto& p : plans) {
    if (p.has_key() && p.changes == config::Changes::binlog && !ok)
      throw Error(Exit::config, fmt::format("table {}: changes = \"binlog\", but {}; or set sync.changes (SYNC_CHANGES, "
                                            "--changes) or [tables.{}] changes to \"timestamp\" or \"auto\"",
                                            p.table.name, problems.empty() ? "the server's binlog cannot be read" : problems[0].message,
                                            p.table.name));
    p.change_source = change_source(p, ok);
  }
  return caps;
}

std::uint32_t binlog_server_id(const config::Config& cfg) {
  if (cfg.binlog.server_id) return cfg.binlog.server_id;
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  // FNV-1a of "host/database": stable, and distinct for the tool's instances of one server.
  std::uint32_t h = 2166136261u;
  for (unsigned char c : std::string(host) + "/" + cfg.mysql.database) {
    h ^= c;
    h *= 16777619u;
  }
  // In [0x40000000, 0x7fffffff]: far from the small ids real servers are given, never 0 or 1.
  return 0x40000000u | (h & 0x3fffffffu);
}

Expected<BinlogStart> binlog_start(mysql::Connection& conn, const binlog::Capabilities& caps,
                                   const std::optional<mongo::BinlogState>& stored, const std::set<std::string>& tables) {
  BinlogStart out;
  auto current = binlog::current_position(conn, caps);
  if (!current) return current.failure();
  out.fresh = *current;
  if (!stored || stored->tables.empty()) {
    out.fallback = "the first binlog run: a full sync is the starting point";
    return out;
  }
  if (stored->identity != caps.identity()) {
    out.fallback = fmt::format("the MySQL server changed ({} -> {}: a failover or a restore); the stored binlog "
                               "positions mean nothing here: full sync",
                               stored->identity, caps.identity());
    return out;
  }
  auto logs = binlog::binary_logs(conn);
  if (!logs) return logs.failure();
  for (const auto& [table, p] : stored->tables) {
    if (!tables.count(table)) {
      out.others.emplace(table, p);
      continue;
    }
    const binlog::Position pos{p.file, p.offset};
    switch (binlog::locate(*logs, pos)) {
      case binlog::PositionState::available:
        out.usable.emplace(table, p);
        break;
      case binlog::PositionState::purged:
        out.lost.emplace(table, fmt::format("its binlog position is in {}, which is no longer on the server (purged); "
                                            "changes since were lost: full sync. Keep binlogs longer than the longest "
                                            "pause between runs",
                                            p.file));
        break;
      case binlog::PositionState::beyond_end:
        out.lost.emplace(table, fmt::format("its binlog position {} lies beyond the end of the server's log (a reset "
                                            "binlog): full sync",
                                            to_text(pos)));
        break;
    }
  }
  return out;
}

Expected<mongo::BinlogState> binlog_state_after(mysql::Connection& conn, const binlog::Capabilities& caps,
                                               std::map<std::string, mongo::BinlogTablePosition> tables,
                                               std::int64_t lag_seconds) {
  mongo::BinlogState s;
  s.identity = caps.identity();
  s.updated_ms = now_epoch_ms();
  s.lag_seconds = lag_seconds;
  // The earliest position: where the next run starts, and what a purge must leave.
  const mongo::BinlogTablePosition* first = nullptr;
  for (const auto& [table, p] : tables)
    if (!first || binlog::earlier({p.file, p.offset}, {first->file, first->offset})) first = &p;
  if (first) {
    s.file = first->file;
    s.offset = first->offset;
    auto logs = binlog::binary_logs(conn);
    if (!logs) return logs.failure();
    const auto at = binlog::standing(*logs, {s.file, s.offset});
    s.lag_bytes = at.lag_bytes;
    s.oldest_file = at.oldest_file;
    s.oldest = at.oldest;
  }
  s.tables = std::move(tables);
  return s;
}

}  // namespace m2m::ops
