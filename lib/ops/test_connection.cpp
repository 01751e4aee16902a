#include "ops/test_connection.hpp"

#include "mongo/client.hpp"
#include "mysql/connection.hpp"
#include "mysql/discovery.hpp"
#include "util/text.hpp"

namespace m2m::ops {

Exit TestConnectionResult::exit_code() const {
  if (mysql_error) return mysql_error->code;
  if (mongodb_error) return mongodb_error->code;
  return Exit::ok;
}

TestConnectionResult test_connection(const config::Config& cfg, Logger& log) {
  TestConnectionResult r;
  r.database = cfg.mysql.database;
  r.host = cfg.mysql.host.empty() ? "localhost" : cfg.mysql.host;
  r.mongodb_database = cfg.mongo_database();

  if (auto conn = mysql::Connection::open(cfg.mysql, log)) {
    r.mysql_connected = true;
    r.mysql_version = conn->server_version();
    r.mysql_tls_cipher = conn->tls_cipher();
    if (auto names = mysql::list_tables(*conn, cfg.mysql.database)) {
      for (auto& t : *names) (t.is_view ? r.views : r.tables).push_back(t.name);
      log.info("{}: connected (server {}), database {} has {} tables", conn->description(), r.mysql_version,
               r.database, r.tables.size());
    } else {
      r.mysql_error = names.failure();
    }
  } else {
    r.mysql_error = conn.failure();
  }

  r.mongodb_url = redact_uri(cfg.mongodb.url);
  auto pool = mongo::Pool::open(cfg.mongodb, log);
  if (!pool) {
    r.mongodb_error = pool.failure();
    return r;
  }
  r.mongodb_url = (*pool)->redacted_url();
  auto client = (*pool)->acquire();
  if (auto v = mongo::server_version(client, (*pool)->where())) {
    r.mongodb_reachable = true;
    r.mongodb_version = *v;
    log.info("{}: reachable (server {})", (*pool)->where(), r.mongodb_version);
  } else {
    r.mongodb_error = v.failure();
  }
  return r;
}

nlohmann::ordered_json to_json(const TestConnectionResult& r) {
  nlohmann::ordered_json j;
  const bool ok = r.exit_code() == Exit::ok;
  j["status"] = ok ? "success" : "error";
  j["connected"] = r.mysql_connected;
  j["database"] = r.database;
  j["host"] = r.host;
  j["tables_count"] = r.tables.size();
  j["tables"] = r.tables;
  if (!ok) {
    j["error"] = r.mysql_error ? r.mysql_error->message : r.mongodb_error->message;
    j["exit_code"] = static_cast<int>(r.exit_code());
  }
  nlohmann::ordered_json my;
  my["connected"] = r.mysql_connected;
  my["server_version"] = r.mysql_version;
  my["tls_cipher"] = r.mysql_tls_cipher.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.mysql_tls_cipher);
  my["views"] = r.views;
  if (r.mysql_error) my["error"] = r.mysql_error->message;
  j["mysql"] = my;
  nlohmann::ordered_json mg;
  mg["reachable"] = r.mongodb_reachable;
  mg["url"] = r.mongodb_url;
  mg["database"] = r.mongodb_database;
  mg["server_version"] = r.mongodb_version.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.mongodb_version);
  if (r.mongodb_error) mg["error"] = r.mongodb_error->message;
  j["mongodb"] = mg;
  return j;
}

}  // namespace m2m::ops
