#include "mysql/connection.hpp"

#include "util/text.hpp"

#include <errmsg.h>
#include <mysqld_error.h>

#include <fmt/format.h>

#include <sys/socket.h>

namespace m2m::mysql {

bool is_retryable(unsigned e) {
  return e == 1205 /* ER_LOCK_WAIT_TIMEOUT */ || e == 1213 /* ER_LOCK_DEADLOCK */ ||
         e == 2006 /* CR_SERVER_GONE_ERROR */ || e == 2013 /* CR_SERVER_LOST */;
}

void cancel(MYSQL* m) noexcept {
#if defined(LIBMARIADB) || defined(MARIADB_BASE_VERSION)
  mariadb_cancel(m);
#else
  // Oracle's libmysqlclient has no cancel call; shutting the socket down has the same effect.
  if (m && m->net.fd >= 0) ::shutdown(m->net.fd, SHUT_RDWR);
#endif
}

std::string client_library_version() {
#if defined(LIBMARIADB) || defined(MARIADB_BASE_VERSION)
  return fmt::format("MariaDB Connector/C {}", mysql_get_client_info());
#else
  return fmt::format("MySQL client library {}", mysql_get_client_info());
#endif
}

std::string quote_identifier(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 2);
  out += '`';
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  out += '`';
  return out;
}

namespace {

// Maps a client error number to an exit code and a hint that tells the operator what to fix.
Failure classify_code(unsigned err, const std::string& where, std::string_view doing, const std::string& message) {
  switch (err) {
    case ER_ACCESS_DENIED_ERROR:
    case 1698:  // ER_ACCESS_DENIED_NO_PASSWORD_ERROR
      return {Exit::noperm, fmt::format("{}: {} ({}); check MYSQL_USER and MYSQL_PASSWORD", where, message, doing)};
    case ER_DBACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
    case ER_COLUMNACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
      return {Exit::noperm, fmt::format("{}: {} ({}); grant the user SELECT on the database", where, message, doing)};
    case ER_BAD_DB_ERROR:
      return {Exit::unavailable, fmt::format("{}: {}; check MYSQL_DATABASE", where, message)};
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_UNKNOWN_HOST:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_HANDSHAKE_ERR:
      return {Exit::unavailable, fmt::format("{}: {} ({}); check MYSQL_HOST and MYSQL_PORT and that the server is running",
                                             where, message, doing)};
    case CR_SSL_CONNECTION_ERROR:
      return {Exit::unavailable, fmt::format("{}: TLS failed: {}; check mysql.ssl_mode and mysql.ssl_ca (the CA that "
                                             "signed the server's certificate)", where, message)};
    default:
      break;
  }
  if (is_retryable(err)) return {Exit::tempfail, fmt::format("{}: {} ({}); retry later", where, message, doing)};
  return {Exit::unavailable, fmt::format("{}: error {}: {} ({})", where, err, message, doing)};
}

Failure classify(unsigned err, const std::string& where, std::string_view doing, const std::string& message) {
  // Over TLS a connection that dies mid-session (killed, server restarted) surfaces as a TLS error
  // ("unexpected eof while reading"), not as CR_SERVER_LOST: once connected, it is a lost connection,
  // worth retrying, not a TLS set-up problem.
  if (err == CR_SSL_CONNECTION_ERROR && doing != "connecting") err = CR_SERVER_LOST;
  Failure f = classify_code(err, where, doing, message);
  f.transient = is_retryable(err);
  f.server_code = static_cast<int>(err);
  return f;
}

}  // namespace

Failure Connection::last_failure(std::string_view doing) const {
  MYSQL* m = conn_.get();
  return classify(mysql_errno(m), where_, doing, mysql_error(m));
}

Expected<Connection> Connection::open(const config::MySql& cfg, Logger& log) {
  std::unique_ptr<MYSQL, Deleter> conn(mysql_init(nullptr));
  if (!conn) return Failure{Exit::internal, "mysql_init failed: out of memory"};
  MYSQL* m = conn.get();

  const std::string where = !cfg.socket.empty() && (cfg.host.empty() || cfg.host == "localhost")
                                ? fmt::format("MySQL at {}", cfg.socket)
                                : fmt::format("MySQL at {}:{}", cfg.host.empty() ? "localhost" : cfg.host,
                                              cfg.port ? cfg.port : 3306);

  // Option files first, so everything set below overrides them: the group makes Connector/C read
  // /etc/my.cnf and ~/.my.cnf ([client] and the named group), the file replaces the default list.
  if (!cfg.option_file.empty()) mysql_options(m, MYSQL_READ_DEFAULT_FILE, cfg.option_file.c_str());
  if (!cfg.option_group.empty()) mysql_options(m, MYSQL_READ_DEFAULT_GROUP, cfg.option_group.c_str());

  const unsigned connect_timeout = static_cast<unsigned>((cfg.connect_timeout.count() + 999) / 1000);
  const unsigned read_timeout = static_cast<unsigned>((cfg.read_timeout.count() + 999) / 1000);
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &read_timeout);
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  // Reconnecting silently would lose the session settings and the snapshot: never.
  bool no = false;
  mysql_options(m, MYSQL_OPT_RECONNECT, &no);

  using config::SslMode;
  if (cfg.ssl_mode != SslMode::disabled) {
    if (!cfg.ssl_ca.empty()) mysql_options(m, MYSQL_OPT_SSL_CA, cfg.ssl_ca.c_str());
    if (!cfg.ssl_cert.empty()) mysql_options(m, MYSQL_OPT_SSL_CERT, cfg.ssl_cert.c_str());
    if (!cfg.ssl_key.empty()) mysql_options(m, MYSQL_OPT_SSL_KEY, cfg.ssl_key.c_str());
  }
#if defined(LIBMARIADB) || defined(MARIADB_BASE_VERSION)
  // Connector/C has no ssl-mode option. Measured against MariaDB 10.11 (tests/integration, "MySQL
  // TLS"): nothing set means no TLS even when the server offers it; mysql_ssl_set() after
  // MYSQL_OPT_SSL_ENFORCE = false requests TLS and falls back to plain text when the server has none,
  // which is "preferred" (the certificate is not verified, as in the mysql client's preferred mode).
  // MYSQL_OPT_SSL_ENFORCE = true also falls back to plain text against a server without TLS, so
  // "required" is checked after connecting (below). Verification is MYSQL_OPT_SSL_VERIFY_SERVER_CERT,
  // which checks the chain against ssl_ca AND the host name, so verify_ca is as strict as
  // verify_identity here.
  if (cfg.ssl_mode == SslMode::preferred) {
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &no);
    mysql_ssl_set(m, cfg.ssl_key.empty() ? nullptr : cfg.ssl_key.c_str(),
                  cfg.ssl_cert.empty() ? nullptr : cfg.ssl_cert.c_str(),
                  cfg.ssl_ca.empty() ? nullptr : cfg.ssl_ca.c_str(), nullptr, nullptr);
    mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &no);
  } else if (cfg.ssl_mode != SslMode::disabled) {
    bool yes = true;
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &yes);
  }
  if (cfg.ssl_mode == SslMode::verify_ca || cfg.ssl_mode == SslMode::verify_identity) {
    bool yes = true;
    mysql_options(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
  }
#else
  // Oracle's libmysqlclient has the mode itself.
  unsigned mode = SSL_MODE_PREFERRED;
  switch (cfg.ssl_mode) {
    case SslMode::disabled: mode = SSL_MODE_DISABLED; break;
    case SslMode::preferred: mode = SSL_MODE_PREFERRED; break;
    case SslMode::required: mode = SSL_MODE_REQUIRED; break;
    case SslMode::verify_ca: mode = SSL_MODE_VERIFY_CA; break;
    case SslMode::verify_identity: mode = SSL_MODE_VERIFY_IDENTITY; break;
  }
  mysql_options(m, MYSQL_OPT_SSL_MODE, &mode);
#endif

  log.debug("connecting to {}", where);
  if (!mysql_real_connect(m, cfg.host.empty() ? nullptr : cfg.host.c_str(),
                          cfg.user.empty() ? nullptr : cfg.user.c_str(),
                          cfg.has_password ? cfg.password.c_str() : nullptr, cfg.database.c_str(), cfg.port,
                          cfg.socket.empty() ? nullptr : cfg.socket.c_str(), CLIENT_MULTI_RESULTS)) {
    return classify(mysql_errno(m), where, "connecting", mysql_error(m));
  }

  // Over a Unix socket the server never offers TLS, and needs none.
  const bool local_socket = std::string_view(mysql_get_host_info(m)).find("socket") != std::string_view::npos;
  if (!mysql_get_ssl_cipher(m) && !local_socket) {
    if (cfg.ssl_mode == SslMode::preferred)
      log.info("{}: the server offers no TLS; connected in plain text (mysql.ssl_mode = preferred; set required to "
               "refuse this)", where);
    else if (cfg.ssl_mode != SslMode::disabled)
      return Failure{Exit::unavailable,
                     fmt::format("{}: TLS failed: the server offers no TLS but mysql.ssl_mode is {}; enable TLS on the "
                                 "server, or set mysql.ssl_mode to preferred", where, config::to_string(cfg.ssl_mode))};
  }

  Connection c(std::move(conn), where);
  // TIMESTAMP values are read in UTC; DATETIME values carry no zone and are taken as UTC too.
  // net_write_timeout bounds how long the server waits for us to read a streamed row.
  const std::string setup = fmt::format(
      "SET time_zone = '+00:00', net_write_timeout = {0}, net_read_timeout = {0}", read_timeout);
  if (auto st = c.execute(setup); !st) return st.failure();
  return c;
}

Status Connection::execute(std::string_view sql) {
  MYSQL* m = conn_.get();
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) return last_failure("running a statement");
  // Drain any result so the connection is usable again.
  do {
    if (MYSQL_RES* r = mysql_store_result(m)) mysql_free_result(r);
  } while (mysql_next_result(m) == 0);
  if (mysql_errno(m)) return last_failure("running a statement");
  return success();
}

Expected<Rows> Connection::query(std::string_view sql) {
  MYSQL* m = conn_.get();
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) return last_failure("running a query");
  ResultPtr r(mysql_store_result(m));
  if (!r) {
    if (mysql_errno(m)) return last_failure("reading a result");
    return Failure{Exit::internal, fmt::format("{}: query returned no result set", where_)};
  }
  return Rows(m, std::move(r));
}

Expected<Rows> Connection::stream(std::string_view sql) {
  MYSQL* m = conn_.get();
  if (mysql_real_query(m, sql.data(), sql.size()) != 0) return last_failure("running a query");
  ResultPtr r(mysql_use_result(m));
  if (!r) {
    if (mysql_errno(m)) return last_failure("reading a result");
    return Failure{Exit::internal, fmt::format("{}: query returned no result set", where_)};
  }
  return Rows(m, std::move(r));
}

Expected<std::optional<std::string>> Connection::scalar(std::string_view sql) {
  auto rows = query(sql);
  if (!rows) return rows.failure();
  MYSQL_ROW row = rows->next();
  if (!row) {
    if (rows->error()) return *rows->error();
    return std::optional<std::string>{};
  }
  if (!row[0]) return std::optional<std::string>{};
  return std::optional<std::string>(std::string(row[0], rows->lengths()[0]));
}

MYSQL_ROW Rows::next() {
  MYSQL_ROW row = mysql_fetch_row(result_.get());
  if (!row && mysql_errno(conn_)) {
    failed_ = true;
    errno_ = mysql_errno(conn_);
    failure_ = classify(errno_, "MySQL", "reading rows", mysql_error(conn_));
  }
  return row;
}

std::string Connection::literal(std::string_view value) {
  std::string out(value.size() * 2 + 3, '\0');
  out[0] = '\'';
  const auto n = mysql_real_escape_string(conn_.get(), out.data() + 1, value.data(), value.size());
  out.resize(n + 1);
  out += '\'';
  return out;
}

std::string Connection::server_version() const { return mysql_get_server_info(conn_.get()); }
std::string Connection::host_info() const { return mysql_get_host_info(conn_.get()); }
std::string Connection::tls_cipher() const {
  const char* c = mysql_get_ssl_cipher(conn_.get());
  return c ? c : "";
}

}  // namespace m2m::mysql
