// What the server offers for binlog change capture: its flavour and settings, the user's grants, its
// identity, the current binlog position and the binlog files it still has.
#pragma once

#include "binlog/event.hpp"
#include "binlog/reader.hpp"
#include "mysql/connection.hpp"
#include "util/error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace m2m::binlog {

struct Capabilities {
  Flavor flavor = Flavor::unknown;
  std::string version;             // @@version: "10.11.6-MariaDB-log", "8.0.36"
  unsigned version_number = 0;     // 101106, 80036

  bool log_bin = false;
  std::string binlog_format;       // ROW, MIXED, STATEMENT
  std::string binlog_row_image;    // FULL, MINIMAL, NOBLOB (MariaDB 11: FULL_NODUP)
  std::string binlog_checksum;     // CRC32, NONE
  std::string binlog_row_metadata; // MINIMAL, FULL (MySQL 8.0.1+, MariaDB 10.5+); empty when absent
  std::string binlog_transaction_compression;  // MySQL 8.0.20+: ON/OFF; empty when absent
  std::string binlog_row_value_options;        // MySQL 8.0.3+: "" or PARTIAL_JSON; absent: empty
  bool log_bin_compress = false;   // MariaDB: compressed events (decoded, fine)

  // Grants of the current user (from SHOW GRANTS; ALL PRIVILEGES and SUPER count as everything).
  bool replication_slave = false;   // needed for the binlog dump
  bool replication_client = false;  // needed for SHOW BINARY LOGS / the position (BINLOG MONITOR on MariaDB 10.5+)

  // Identity: a stored position is only meaningful on the server that wrote it.
  std::uint32_t server_id = 0;
  std::string server_uuid;      // MySQL
  std::string hostname;
  std::uint32_t gtid_domain_id = 0;  // MariaDB

  // "mysql:<server_uuid>" or "mariadb:<server_id>@<hostname>/<gtid_domain_id>".
  std::string identity() const;
  // Everything that prevents change capture, one line each with the fix; empty when all is well.
  std::vector<Failure> problems() const;
};

// Reads the settings, grants and identity. Fails only when the queries themselves fail.
Expected<Capabilities> query_capabilities(mysql::Connection& conn);

// The current end of the binlog: SHOW BINLOG STATUS (MariaDB 10.5.2+), SHOW BINARY LOG STATUS (MySQL
// 8.2+), else SHOW MASTER STATUS; when the server refuses the chosen statement's syntax the other is tried.
Expected<Position> current_position(mysql::Connection& conn, const Capabilities& caps);

struct BinaryLog {
  std::string name;
  std::uint64_t size = 0;
};

// SHOW BINARY LOGS: the files the server still has, oldest first.
Expected<std::vector<BinaryLog>> binary_logs(mysql::Connection& conn);

// Where a stored position stands among the server's files.
enum class PositionState {
  available,     // the file exists and the offset is within it
  purged,        // the file is gone: events were lost, a full sync is needed
  beyond_end,    // the offset is past the end of the file (another server, or a reset binlog)
};
PositionState locate(const std::vector<BinaryLog>& logs, const Position& pos);

// Binlog files in log order: "mysql-bin.000009" < "mysql-bin.000010" < "mysql-bin.1000000". -1, 0, 1.
int compare_files(std::string_view a, std::string_view b);
// `a` comes before `b` in the log.
bool earlier(const Position& a, const Position& b);

// Where a position stands among the server's binlog files (SHOW BINARY LOGS, oldest first).
struct Standing {
  bool present = false;        // its file is still on the server
  std::int64_t lag_bytes = 0;  // binlog bytes written after it (0 when its file is gone)
  std::string oldest_file;     // the oldest file the server still has
  bool oldest = false;         // its file is that one, and not the one being written: the next purge breaks the chain
};
Standing standing(const std::vector<binlog::BinaryLog>& logs, const binlog::Position& position);

}  // namespace m2m::binlog
