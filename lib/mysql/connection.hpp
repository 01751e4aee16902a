// A MySQL session: RAII over MYSQL*, errors as values, identifiers and literals quoted safely.
#pragma once

#include "config/config.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <mysql.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace m2m::mysql {

struct ResultDeleter {
  void operator()(MYSQL_RES* r) const noexcept { mysql_free_result(r); }
};
using ResultPtr = std::unique_ptr<MYSQL_RES, ResultDeleter>;

// MySQL client errors worth retrying: lock wait timeout, deadlock, server gone away, lost connection.
bool is_retryable(unsigned error_number);

// A result set read row by row. With streaming (mysql_use_result) the rows come off the wire as they are
// read, so memory stays bounded; the connection is busy until the result is exhausted or destroyed.
class Rows {
public:
  Rows(MYSQL* conn, ResultPtr result) : conn_(conn), result_(std::move(result)) {}
  // Next row, or nullptr at the end (check error() then).
  MYSQL_ROW next();
  const unsigned long* lengths() const { return mysql_fetch_lengths(result_.get()); }
  unsigned field_count() const { return mysql_num_fields(result_.get()); }
  MYSQL_FIELD* fields() const { return mysql_fetch_fields(result_.get()); }
  // Non-empty when reading stopped because of an error rather than the end of the rows.
  const Failure* error() const { return failed_ ? &failure_ : nullptr; }
  unsigned error_number() const { return errno_; }

private:
  MYSQL* conn_;
  ResultPtr result_;
  bool failed_ = false;
  unsigned errno_ = 0;
  Failure failure_;
};

class Connection {
public:
  // Connects and prepares the session: utf8mb4, time_zone '+00:00', a long net_write_timeout so a slow
  // consumer of a streamed result is not cut off.
  static Expected<Connection> open(const config::MySql& cfg, Logger& log);

  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;

  MYSQL* handle() { return conn_.get(); }

  Status execute(std::string_view sql);
  // Small results, fully buffered.
  Expected<Rows> query(std::string_view sql);
  // Large results, streamed.
  Expected<Rows> stream(std::string_view sql);
  // The first column of the first row, or nullopt for no rows / NULL.
  Expected<std::optional<std::string>> scalar(std::string_view sql);

  // A string literal in the connection's character set: 'it''s' with every special byte escaped.
  std::string literal(std::string_view value);

  std::string server_version() const;
  std::string host_info() const;  // "127.0.0.1 via TCP/IP"
  std::string tls_cipher() const; // empty without TLS
  const std::string& description() const { return where_; }  // "MySQL at host:port"

  // The failure for the last error on this connection, with context and a fix.
  Failure last_failure(std::string_view doing) const;

private:
  struct Deleter {
    void operator()(MYSQL* m) const noexcept { mysql_close(m); }
  };
  Connection(std::unique_ptr<MYSQL, Deleter> conn, std::string where)
      : conn_(std::move(conn)), where_(std::move(where)) {}

  std::unique_ptr<MYSQL, Deleter> conn_;
  std::string where_;
};

// Makes every pending and later read or write on `m` fail at once (the socket is shut down): called
// from another thread to cut short a call that waits on a server that stopped answering.
void cancel(MYSQL* m) noexcept;

// "MariaDB Connector/C 3.3.8": the client library this process runs with (not the one it was built with).
std::string client_library_version();

// `name` with backticks doubled, inside backticks: safe for any identifier.
std::string quote_identifier(std::string_view name);

}  // namespace m2m::mysql
