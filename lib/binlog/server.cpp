#include "binlog/server.hpp"

#include <mysql.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <map>

// Tested against MariaDB 10.11 only. The MySQL branches (SHOW BINARY LOG STATUS from 8.2, server_uuid,
// binlog_transaction_compression, binlog_row_value_options, SUPER counting for REPLICATION CLIENT) follow
// MySQL's documentation and have not run against a MySQL server.

namespace m2m::binlog {

namespace {

constexpr unsigned kParseError = 1064;  // ER_PARSE_ERROR: the statement does not exist in this version

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

unsigned version_number(std::string_view v) {
  unsigned parts[3] = {0, 0, 0};
  std::size_t i = 0;
  for (int k = 0; k < 3 && i < v.size(); ++k) {
    unsigned n = 0;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) n = std::min(999u, n * 10 + unsigned(v[i++] - '0'));
    parts[k] = n;
    if (i < v.size() && v[i] == '.') ++i;
    else break;
  }
  return parts[0] * 10000 + parts[1] * 100 + parts[2];
}

// The global privileges of one SHOW GRANTS line: "GRANT A, B ON *.* TO ..." -> {"A", "B"}.
std::vector<std::string> global_privileges(const std::string& line) {
  const std::string u = upper(line);
  if (!u.starts_with("GRANT ")) return {};
  const auto on = u.find(" ON *.* TO ");
  if (on == std::string::npos) return {};
  std::vector<std::string> out;
  std::string_view list(u);
  list = list.substr(6, on - 6);
  while (!list.empty()) {
    const auto comma = list.find(',');
    out.push_back(trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

Failure denied(mysql::Connection& conn, std::string_view statement, std::string_view fix) {
  return Failure{Exit::noperm, fmt::format("{}: {} was refused: {}; {}", conn.description(), statement,
                                           mysql_error(conn.handle()), fix)};
}

// A number the server printed; 0 for anything else (never throws).
std::uint64_t number(const char* text) {
  std::uint64_t v = 0;
  if (text) std::from_chars(text, text + std::strlen(text), v);
  return v;
}

bool is_denied(unsigned err) { return err == 1227 || err == 1044 || err == 1045 || err == 1142; }

}  // namespace

std::string Capabilities::identity() const {
  if (flavor == Flavor::mysql && !server_uuid.empty()) return "mysql:" + server_uuid;
  return fmt::format("mariadb:{}@{}/{}", server_id, hostname, gtid_domain_id);
}

std::vector<Failure> Capabilities::problems() const {
  std::vector<Failure> out;
  const bool mariadb = flavor == Flavor::mariadb;
  const std::string persist = mariadb ? "SET GLOBAL ... and the same in the server's configuration file" : "SET PERSIST ...";
  if (!log_bin)
    out.push_back({Exit::config, "binary logging is off on the MySQL server (log_bin=OFF); start it with --log-bin "
                                 "(log_bin in its configuration) and binlog_format=ROW"});
  else if (upper(binlog_format) != "ROW")
    out.push_back({Exit::config, fmt::format("binlog_format is {} on the MySQL server; change capture needs ROW: {} "
                                             "(binlog_format = ROW), then sync --full",
                                             binlog_format.empty() ? "unknown" : binlog_format, persist)});
  if (upper(binlog_transaction_compression) == "ON")
    out.push_back({Exit::config, "binlog_transaction_compression is ON on the MySQL server, and compressed "
                                 "transactions cannot be read; SET PERSIST binlog_transaction_compression = OFF"});
  if (upper(binlog_row_value_options).find("PARTIAL_JSON") != std::string::npos)
    out.push_back({Exit::config, "binlog_row_value_options is PARTIAL_JSON on the MySQL server, and partial JSON "
                                 "updates cannot be read; SET PERSIST binlog_row_value_options = ''"});
  if (!replication_slave)
    out.push_back({Exit::noperm, "the MySQL user lacks the REPLICATION SLAVE privilege needed to read the binlog; "
                                 "GRANT REPLICATION SLAVE ON *.* TO the user"});
  if (!replication_client)
    out.push_back({Exit::noperm, mariadb && version_number >= 100502
                                     ? "the MySQL user lacks the BINLOG MONITOR privilege needed to read the binlog "
                                       "position; GRANT BINLOG MONITOR ON *.* TO the user"
                                     : "the MySQL user lacks the REPLICATION CLIENT privilege needed to read the "
                                       "binlog position; GRANT REPLICATION CLIENT ON *.* TO the user"});
  return out;
}

Expected<Capabilities> query_capabilities(mysql::Connection& conn) {
  Capabilities caps;
  {
    auto rows = conn.query("SELECT @@version, @@server_id, @@hostname");
    if (!rows) return rows.failure();
    MYSQL_ROW row = rows->next();
    if (!row) return rows->error() ? *rows->error() : Failure{Exit::internal, "SELECT @@version returned no row"};
    caps.version = row[0] ? row[0] : "";
    caps.server_id = static_cast<std::uint32_t>(number(row[1]));
    caps.hostname = row[2] ? row[2] : "";
  }
  caps.flavor = caps.version.find("MariaDB") != std::string::npos ? Flavor::mariadb : Flavor::mysql;
  caps.version_number = version_number(caps.version);

  // SHOW VARIABLES, unlike SELECT @@name, does not fail for a variable the other flavour lacks.
  std::map<std::string, std::string> vars;
  {
    auto rows = conn.query(
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', 'binlog_row_image', "
        "'binlog_checksum', 'binlog_row_metadata', 'binlog_transaction_compression', 'binlog_row_value_options', "
        "'log_bin_compress', 'server_uuid', 'gtid_domain_id')");
    if (!rows) return rows.failure();
    while (MYSQL_ROW row = rows->next()) vars[row[0] ? row[0] : ""] = row[1] ? row[1] : "";
    if (rows->error()) return *rows->error();
  }
  caps.log_bin = upper(vars["log_bin"]) == "ON" || vars["log_bin"] == "1";
  caps.binlog_format = upper(vars["binlog_format"]);
  caps.binlog_row_image = upper(vars["binlog_row_image"]);
  caps.binlog_checksum = upper(vars["binlog_checksum"]);
  caps.binlog_row_metadata = upper(vars["binlog_row_metadata"]);
  caps.binlog_transaction_compression = upper(vars["binlog_transaction_compression"]);
  caps.binlog_row_value_options = upper(vars["binlog_row_value_options"]);
  caps.log_bin_compress = upper(vars["log_bin_compress"]) == "ON";
  caps.server_uuid = vars["server_uuid"];
  caps.gtid_domain_id = static_cast<std::uint32_t>(number(vars["gtid_domain_id"].c_str()));

  // Grants: SHOW GRANTS for the current user lists global privileges as "GRANT a, b ON *.* TO ...".
  {
    auto rows = conn.query("SHOW GRANTS");
    if (!rows) return rows.failure();
    while (MYSQL_ROW row = rows->next()) {
      if (!row[0]) continue;
      for (const auto& p : global_privileges(row[0])) {
        if (p == "ALL PRIVILEGES" || p == "ALL") caps.replication_slave = caps.replication_client = true;
        if (p == "REPLICATION SLAVE" || p == "REPLICATION REPLICA") caps.replication_slave = true;
        if (p == "REPLICATION CLIENT" || p == "BINLOG MONITOR") caps.replication_client = true;
        // SUPER covers the position statements on MySQL and on MariaDB before 10.5.2.
        if (p == "SUPER" && (caps.flavor == Flavor::mysql || caps.version_number < 100502)) caps.replication_client = true;
      }
    }
    if (rows->error()) return *rows->error();
  }
  return caps;
}

Expected<Position> current_position(mysql::Connection& conn, const Capabilities& caps) {
  const bool mariadb = caps.flavor == Flavor::mariadb;
  const char* modern = mariadb ? "SHOW BINLOG STATUS" : "SHOW BINARY LOG STATUS";
  const bool use_modern = mariadb ? caps.version_number >= 100502 : caps.version_number >= 80200;
  const char* first = use_modern ? modern : "SHOW MASTER STATUS";
  const char* second = use_modern ? "SHOW MASTER STATUS" : modern;
  const char* privilege = mariadb && caps.version_number >= 100502 ? "BINLOG MONITOR" : "REPLICATION CLIENT";
  for (const char* statement : {first, second}) {
    auto rows = conn.query(statement);
    if (!rows) {
      const unsigned err = mysql_errno(conn.handle());
      if (err == kParseError && statement == first) continue;
      if (is_denied(err))
        return denied(conn, statement, fmt::format("GRANT {} ON *.* TO the user", privilege));
      return rows.failure();
    }
    MYSQL_ROW row = rows->next();
    if (!row) {
      if (rows->error()) return *rows->error();
      return Failure{Exit::config, fmt::format("{}: {} returned nothing: binary logging is off (log_bin=OFF); start "
                                               "the server with --log-bin and binlog_format=ROW",
                                               conn.description(), statement)};
    }
    if (!row[0] || !row[1]) return Failure{Exit::internal, fmt::format("{} returned NULL", statement)};
    return Position{row[0], number(row[1])};
  }
  return Failure{Exit::internal, "no binlog status statement is understood by the server"};
}

Expected<std::vector<BinaryLog>> binary_logs(mysql::Connection& conn) {
  auto rows = conn.query("SHOW BINARY LOGS");
  if (!rows) {
    const unsigned err = mysql_errno(conn.handle());
    if (is_denied(err))
      return denied(conn, "SHOW BINARY LOGS", "GRANT REPLICATION CLIENT (MariaDB 10.5+: BINLOG MONITOR) ON *.* TO the user");
    if (err == 1381)  // ER_NO_BINARY_LOGGING
      return Failure{Exit::config, fmt::format("{}: binary logging is off (log_bin=OFF); start the server with "
                                               "--log-bin and binlog_format=ROW", conn.description())};
    return rows.failure();
  }
  std::vector<BinaryLog> out;
  while (MYSQL_ROW row = rows->next()) {
    if (!row[0]) continue;
    out.push_back(BinaryLog{row[0], number(row[1])});
  }
  if (rows->error()) return *rows->error();
  return out;
}

int compare_files(std::string_view a, std::string_view b) {
  // "base.000042": the sequence number is decimal and grows past its zero-padded width (.999999 is
  // followed by .1000000), so the numbers are compared as numbers.
  const auto dot_a = a.rfind('.'), dot_b = b.rfind('.');
  const std::string_view base_a = a.substr(0, dot_a), base_b = b.substr(0, dot_b);
  if (base_a != base_b || dot_a == std::string_view::npos || dot_b == std::string_view::npos)
    return a < b ? -1 : a > b ? 1 : 0;
  std::string_view na = a.substr(dot_a + 1), nb = b.substr(dot_b + 1);
  while (na.size() > 1 && na.front() == '0') na.remove_prefix(1);
  while (nb.size() > 1 && nb.front() == '0') nb.remove_prefix(1);
  if (na.size() != nb.size()) return na.size() < nb.size() ? -1 : 1;
  return na < nb ? -1 : na > nb ? 1 : 0;
}

bool earlier(const Position& a, const Position& b) {
  const int files = compare_files(a.file, b.file);
  return files != 0 ? files < 0 : a.offset < b.offset;
}

PositionState locate(const std::vector<BinaryLog>& logs, const Position& pos) {
  for (const auto& l : logs)
    if (l.name == pos.file) return pos.offset <= l.size ? PositionState::available : PositionState::beyond_end;
  // Not listed: older than the oldest file means purged; anything else is not this server's history.
  if (!logs.empty() && compare_files(pos.file, logs.front().name) < 0) return PositionState::purged;
  if (logs.empty()) return PositionState::purged;
  return PositionState::beyond_end;
}

Standing standing(const std::vector<binlog::BinaryLog>& logs, const binlog::Position& position) {
  Standing s;
  bool after = false;
  for (const auto& l : logs) {
    if (l.name == position.file) {
      after = s.present = true;
      s.lag_bytes += l.size > position.offset ? static_cast<std::int64_t>(l.size - position.offset) : 0;
    } else if (after) {
      s.lag_bytes += static_cast<std::int64_t>(l.size);
    }
  }
  if (!logs.empty()) {
    s.oldest_file = logs.front().name;
    // The newest file is the one being written, which PURGE never removes.
    s.oldest = logs.front().name == position.file && logs.size() > 1;
  }
  return s;
}

}  // namespace m2m::binlog
