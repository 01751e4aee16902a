// One immutable Config built from flags > environment > --env-file > TOML file > built-in defaults.
#pragma once

#include "util/log.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace m2m::config {

// How the MySQL connection uses TLS. Connector/C has no single "ssl mode" option; see mysql/connection.cpp
// and mysql2mongo.toml(5) for how each mode maps onto it.
enum class SslMode { disabled, preferred, required, verify_ca, verify_identity };
std::string_view to_string(SslMode mode);

enum class ZeroDate { null, string };

// Where changes come from: the binary log (every insert, update and delete, by key), the table's change
// column, or `automatic`: the binlog when the server offers it to this user, else the change column.
enum class Changes { automatic, binlog, timestamp };
std::string_view to_string(Changes c);

struct MySql {
  std::string host;       // empty: Connector/C's default (option files, then localhost)
  unsigned port = 0;      // 0: default (3306)
  std::string socket;
  std::string user;       // empty: option files, then the login name
  std::string password;   // secret: never logged or printed
  bool has_password = false;
  std::string database;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds read_timeout{600'000};
  SslMode ssl_mode = SslMode::preferred;
  std::string ssl_ca, ssl_cert, ssl_key;
  std::string option_file;   // a my.cnf to read (MYSQL_READ_DEFAULT_FILE)
  std::string option_group = "client";  // the group read from option files
};

struct MongoDb {
  std::string url = "mongodb://localhost:27017";  // may hold credentials: print only redact_uri(url)
  std::string database;   // empty: same name as the MySQL database
  std::chrono::milliseconds connect_timeout{10'000};
  std::string write_concern = "majority";  // "majority" or a number of nodes
};

struct TableOptions {
  std::string collection;                  // empty: prefix + table name
  std::string change_column;               // empty: detected
  std::vector<std::string> key_columns;    // empty: primary key, else a NOT NULL unique key
  std::vector<std::string> exclude_columns;
  std::map<std::string, std::string> types;  // column -> override type name
  // The time zone a DATETIME/DATE change column's values are written in ("+00:00", "Europe/Berlin");
  // empty: the server's time zone.
  std::string change_zone;
  std::optional<Changes> changes;  // unset: sync.changes
};

struct Sync {
  bool enabled = true;
  std::chrono::milliseconds interval{300'000};  // read by the shipped timer units, not by the tool
  int batch_size = 1000;
  std::int64_t batch_bytes = 8 * 1024 * 1024;
  std::vector<std::string> tables;    // empty: all
  std::vector<std::string> exclude;   // globs
  bool include_views = false;
  double max_delete_fraction = 0.5;
  bool key_as_id = false;
  bool index_foreign_keys = true;
  std::string collection_prefix;
  bool tinyint1_as_bool = false;
  ZeroDate zero_date = ZeroDate::null;
  std::chrono::milliseconds lookback{5'000};
  int reconcile_every = 12;   // incremental runs between key reconciliations; 0: only when asked
  std::chrono::milliseconds lock_ttl{120'000};
  // Work units (see ops/units.hpp): how many workers a run uses on this host, the row estimate above
  // which a table's full copy is split into key ranges (when more than one worker can take them), and
  // the lease of a unit claimed by a shard (--shard), renewed every third of it while worked on.
  int jobs = 1;
  std::int64_t split_rows = 2'000'000;
  std::chrono::milliseconds unit_ttl{60'000};
  // How long transient failures (a server restarting, a dropped connection) are retried before a table
  // fails: backoff 1, 2, 4, 8 s, then every 10 s.
  std::chrono::milliseconds retry_for{60'000};
  // Drop the collection of a table that no longer exists in MySQL (dropped or renamed). Off by default:
  // data is never deleted on a guess.
  bool drop_orphans = false;
  Changes changes = Changes::automatic;
};

// Reading the binary log (sync.changes = binlog or auto).
struct Binlog {
  std::uint32_t server_id = 0;  // the replica id of the dump; 0: derived from the host and database
  std::int64_t max_events = 1'000'000;  // one run applies at most this many events...
  std::chrono::milliseconds max_seconds{30'000};  // ...or reads for at most this long, then exits 0
};

// `verify`: how it re-checks keys that differ, and how many it names.
struct Verify {
  // How long to wait before re-reading the keys that differ, so that a sync running alongside (or a
  // change capture) can land the writes it has in flight; 0: re-read at once.
  std::chrono::milliseconds settle{2'000};
  int max_keys = 100;  // sample keys per category (missing, extra, different) in --json and _sync_metadata
};

struct Log {
  LogLevel level = LogLevel::warning;
  std::string file;
};

struct Config {
  MySql mysql;
  MongoDb mongodb;
  Sync sync;
  Binlog binlog;
  Verify verify;
  Log log;
  std::map<std::string, TableOptions> tables;
  // Where each setting came from: "mysql.host" -> "MYSQL_HOST (environment)", "config.toml:4", ...
  std::map<std::string, std::string> origin;
  // Settings whose value was typed as a flag (a wrong value there is a usage error, 64).
  std::set<std::string> flag_settings;
  // Every secret value and the forms a message may quote it in (the MySQL password, the MongoDB URL's
  // password and secret options, percent-decoded and in fragments): for redact(), which every line
  // shown anywhere goes through.
  std::vector<std::string> secrets;

  // The MongoDB database actually used.
  const std::string& mongo_database() const {
    return mongodb.database.empty() ? mysql.database : mongodb.database;
  }
};

// Everything the loader reads, gathered by app/ so the loader itself stays testable.
struct Inputs {
  std::optional<std::string> config_file;  // --config; unset: /etc/mysql2mongo/config.toml if it exists
  std::string default_config_file = "/etc/mysql2mongo/config.toml";
  std::optional<std::string> env_file;     // --env-file
  std::map<std::string, std::string> environment;  // the process environment
  // Flag values by setting key ("mysql.host", "sync.batch_size", ...), as typed on the command line.
  std::map<std::string, std::string> flags;
  // The flag each of those was given as ("sync.batch_size" -> "--batch-size"), for error messages.
  std::map<std::string, std::string> flag_names;
  // Overrides the log level after everything else (-v, -q).
  std::optional<LogLevel> log_level;
  // `status` reads MongoDB only: it needs a MongoDB database, not necessarily a MySQL one.
  bool needs_mysql = true;
};

// Builds the Config. Throws Error(Exit::config), or Exit::usage for a wrong flag value, with one line
// naming the setting, where it came from and how to fix it; the line never shows a secret. Checks the
// MongoDB URL's syntax and mongodb.write_concern; the driver's own parse of the URL is
// mongo::check_url, which app runs right after this.
Config load(const Inputs& inputs);

// Reads an env file (--env-file, the units' EnvironmentFile=) with systemd's grammar: (key, value,
// line) in file order. Throws Error(Exit::config) for a line systemd would ignore or read differently.
std::vector<std::tuple<std::string, std::string, int>> parse_env_file(const std::string& path);

// Reads the process environment into a map.
std::map<std::string, std::string> environment_snapshot();

// Setting keys that may be given as flags (used by app/ to map CLI11 options).
bool is_flag_setting(const std::string& key);

}  // namespace m2m::config
