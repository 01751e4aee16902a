#include "mongo/client.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace m2m::mongo {

void Library::handler(mongoc_log_level_t level, const char* domain, const char* message, void* self) {
  Logger* log = static_cast<Library*>(self)->log_;
  if (!log) return;
  // Driver messages can quote a URI: redact before logging.
  const std::string text = fmt::format("mongoc[{}]: {}", domain ? domain : "", redact(message ? message : ""));
  // Every failure that matters also reaches us as a bson_error_t and is reported once, with a fix, by
  // the code that got it; the driver's own messages are supporting detail, shown with -v.
  switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
    case MONGOC_LOG_LEVEL_WARNING:
      if (log->enabled(LogLevel::info)) log->write(LogLevel::info, text);
      break;
    case MONGOC_LOG_LEVEL_MESSAGE:
    case MONGOC_LOG_LEVEL_INFO:
      if (log->enabled(LogLevel::debug)) log->write(LogLevel::debug, text);
      break;
    default:  // DEBUG and TRACE: far too chatty
      break;
  }
}

Library::Library(Logger* log) : log_(log) {
  mongoc_log_set_handler(&Library::handler, this);
  mongoc_init();
}

Library::~Library() {
  mongoc_cleanup();
  mongoc_log_set_handler(nullptr, nullptr);
}

std::string driver_version() { return fmt::format("mongo-c-driver {}", mongoc_get_version()); }

void forget_driver_files() noexcept {
  // The name mongoc's counters use ("mongoc-%u" of the pid), written without allocating.
  char name[32] = "/mongoc-";
  char digits[16];
  int n = 0;
  for (unsigned pid = static_cast<unsigned>(::getpid()); n == 0 || pid; pid /= 10) digits[n++] = static_cast<char>('0' + pid % 10);
  std::size_t at = std::strlen(name);
  while (n) name[at++] = digits[--n];
  name[at] = '\0';
  ::shm_unlink(name);
}

bool is_transient(const bson_error_t& e) {
  if (e.domain == MONGOC_ERROR_STREAM || e.domain == MONGOC_ERROR_SERVER_SELECTION) return true;
  if (e.domain == MONGOC_ERROR_SERVER || e.domain == MONGOC_ERROR_WRITE_CONCERN) {
    // NotWritablePrimary, NotPrimaryNoSecondaryOk, NotPrimaryOrSecondary, PrimarySteppedDown,
    // ShutdownInProgress, InterruptedAtShutdown, HostUnreachable, NetworkTimeout, ExceededTimeLimit
    switch (e.code) {
      case 10107: case 13435: case 13436: case 189: case 91: case 11600: case 6: case 89: case 262:
        return true;
      default:
        return false;
    }
  }
  return false;
}

namespace {
Failure classify_error(const bson_error_t& e, std::string_view where, std::string_view doing);
}

Failure classify(const bson_error_t& e, std::string_view where, std::string_view doing) {
  Failure f = classify_error(e, where, doing);
  f.transient = is_transient(e);
  if (e.domain == MONGOC_ERROR_SERVER || e.domain == MONGOC_ERROR_QUERY || e.domain == MONGOC_ERROR_WRITE_CONCERN ||
      e.domain == MONGOC_ERROR_COMMAND)
    f.server_code = static_cast<int>(e.code);
  return f;
}

namespace {
Failure classify_error(const bson_error_t& e, std::string_view where, std::string_view doing) {
  const std::string msg = redact(e.message);
  if (e.domain == MONGOC_ERROR_CLIENT && e.code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
    return {Exit::noperm, fmt::format("{}: authentication failed ({}); check the user and password in MONGODB_URL", where, msg)};
  if ((e.domain == MONGOC_ERROR_SERVER || e.domain == MONGOC_ERROR_QUERY) && (e.code == 13 || e.code == 18))
    return {Exit::noperm, fmt::format("{}: {} ({}); grant the user readWrite on the database", where, msg, doing)};
  if (e.domain == MONGOC_ERROR_SERVER_SELECTION || e.domain == MONGOC_ERROR_STREAM)
    return {Exit::unavailable, fmt::format("{}: cannot reach the server ({}); check MONGODB_URL and that the server is running",
                                           where, msg)};
  return {is_transient(e) ? Exit::tempfail : Exit::unavailable,
          fmt::format("{}: {} ({}, error {}.{})", where, msg, doing, e.domain, e.code)};
}
}  // namespace

Client::~Client() {
  if (client_) mongoc_client_pool_push(pool_, client_);
}

Pool::Pool(mongoc_uri_t* uri, mongoc_client_pool_t* pool, std::string redacted)
    : uri_(uri), pool_(pool), redacted_url_(std::move(redacted)), where_("MongoDB at " + redacted_url_) {}

Pool::~Pool() {
  mongoc_client_pool_destroy(pool_);
  mongoc_uri_destroy(uri_);
}

Status check_url(const config::Config& cfg) {
  const std::string& url = cfg.mongodb.url;
  const auto origin = cfg.origin.count("mongodb.url") ? cfg.origin.at("mongodb.url") : "mongodb.url (default)";
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(url.c_str(), &error);
  if (uri) {
    mongoc_uri_destroy(uri);
    return success();
  }
  // The driver's reason may quote any part of the URL, lower-cased or cut at a delimiter.
  return Failure{cfg.flag_settings.count("mongodb.url") ? Exit::usage : Exit::config,
                 fmt::format("{}: invalid MongoDB URL {}: {}; use "
                             "mongodb://[user@]host[:port][,host...][/database][?options]",
                             origin, redact_uri(url), redact(error.message, uri_secrets(url)))};
}

Expected<std::unique_ptr<Pool>> Pool::open(const config::MongoDb& cfg, Logger& log) {
  const std::string redacted = redact_uri(cfg.url);
  const auto secrets = uri_secrets(cfg.url);
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(cfg.url.c_str(), &error);
  if (!uri)
    return Failure{Exit::config, fmt::format("invalid MongoDB URL {}: {}; use mongodb://[user@]host[:port][,host...][/database][?options]",
                                             redacted, redact(error.message, secrets))};
  // A dead host must answer within the configured time, not the driver's 30 s default.
  const auto ms = static_cast<int32_t>(cfg.connect_timeout.count());
  const bson_t* opts = mongoc_uri_get_options(uri);
  if (!bson_has_field(opts, MONGOC_URI_CONNECTTIMEOUTMS)) mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, ms);
  if (!bson_has_field(opts, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, ms);
  if (!bson_has_field(opts, MONGOC_URI_APPNAME)) mongoc_uri_set_appname(uri, "mysql2mongo");

  // With mongodb+srv:// the pool resolves the SRV (and TXT) records now: a failure here is DNS, a
  // server that cannot be found (69), and the resolver's reason is what tells the operator why.
  mongoc_client_pool_t* pool = mongoc_client_pool_new_with_error(uri, &error);
  if (!pool) {
    mongoc_uri_destroy(uri);
    const std::string why = redact(error.message, secrets);
    if (cfg.url.rfind("mongodb+srv://", 0) == 0)
      return Failure{Exit::unavailable,
                     fmt::format("MongoDB at {}: cannot resolve the mongodb+srv:// host name ({}); check the host name "
                                 "in MONGODB_URL and this machine's DNS", redacted, why)};
    return Failure{Exit::config, fmt::format("cannot create a MongoDB client for {} ({}); check MONGODB_URL", redacted, why)};
  }
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
  log.debug("MongoDB client pool for {}", redacted);
  return std::unique_ptr<Pool>(new Pool(uri, pool, redacted));
}

Client Pool::acquire() { return Client(pool_, mongoc_client_pool_pop(pool_)); }

StandaloneClient Pool::emergency_client(std::chrono::milliseconds timeout) const {
  std::unique_ptr<mongoc_uri_t, decltype(&mongoc_uri_destroy)> uri(mongoc_uri_copy(uri_), &mongoc_uri_destroy);
  const auto ms = static_cast<int32_t>(timeout.count());
  for (const char* option : {MONGOC_URI_CONNECTTIMEOUTMS, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, MONGOC_URI_SOCKETTIMEOUTMS})
    mongoc_uri_set_option_as_int32(uri.get(), option, ms);
  StandaloneClient client(mongoc_client_new_from_uri(uri.get()));
  if (client) mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
  return client;
}

CollectionPtr collection(Client& client, const std::string& db, const std::string& name) {
  return collection(client.get(), db, name);
}

CollectionPtr collection(mongoc_client_t* client, const std::string& db, const std::string& name) {
  return CollectionPtr(mongoc_client_get_collection(client, db.c_str(), name.c_str()));
}

Status run_command(Client& client, const std::string& db, const bson_t* command, Reply& reply,
                   std::string_view where, std::string_view doing) {
  bson_error_t error;
  bson_destroy(reply.get());
  // mongoc_client_command_simple initialises reply in every case.
  if (!mongoc_client_command_simple(client.get(), db.c_str(), command, nullptr, reply.get(), &error))
    return classify(error, where, doing);
  return success();
}

Expected<std::string> server_version(Client& client, std::string_view where) {
  Bson cmd;
  BSON_APPEND_INT32(cmd.get(), "buildInfo", 1);
  Reply reply;
  if (auto st = run_command(client, "admin", cmd.get(), reply, where, "asking for the server version"); !st)
    return st.failure();
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply.get(), "version") && BSON_ITER_HOLDS_UTF8(&it))
    return std::string(bson_iter_utf8(&it, nullptr));
  return std::string("unknown");
}

}  // namespace m2m::mongo
