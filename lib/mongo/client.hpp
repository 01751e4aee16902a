// MongoDB access: the driver's global state, a client pool, and errors classified into exit codes.
#pragma once

#include "config/config.hpp"
#include "mongo/bson.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <mongoc/mongoc.h>

#include <chrono>
#include <memory>
#include <string>

namespace m2m::mongo {

// mongoc_init/mongoc_cleanup and the log handler. The driver's default handler prints to stdout, which
// would corrupt --json output, so this routes driver messages to the Logger. Exactly one instance,
// owned by main, outliving every other mongoc object.
class Library {
public:
  explicit Library(Logger* log);
  ~Library();
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  // main() starts with a bootstrap logger and swaps in the configured one once the config is loaded.
  void set_logger(Logger* log) { log_ = log; }

private:
  static void handler(mongoc_log_level_t level, const char* domain, const char* message, void* self);
  Logger* log_;
};

// "mongo-c-driver 1.23.1": the driver this process runs with.
std::string driver_version();

// For a process about to end with _exit (a watchdog that cannot wait for a thread stuck in the driver):
// removes the shared-memory file the driver keeps its counters in (/dev/shm/mongoc-PID), which only its
// cleanup at a normal exit removes. Left behind, it makes a later process given the same pid print
// "Falling back to malloc for counters" on stderr before main. Async-signal-safe.
void forget_driver_files() noexcept;

// Classifies a driver error: authentication -> 77, server selection / network -> 69, else 70/69.
Failure classify(const bson_error_t& error, std::string_view where, std::string_view doing);
// True for errors worth retrying (network, server selection, "not primary").
bool is_transient(const bson_error_t& error);

// Owners for the driver's handles that are created and destroyed in one scope.
struct CollectionDeleter {
  void operator()(mongoc_collection_t* c) const noexcept { mongoc_collection_destroy(c); }
};
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;
struct CursorDeleter {
  void operator()(mongoc_cursor_t* c) const noexcept { mongoc_cursor_destroy(c); }
};
using CursorPtr = std::unique_ptr<mongoc_cursor_t, CursorDeleter>;
struct ClientDeleter {
  void operator()(mongoc_client_t* c) const noexcept { mongoc_client_destroy(c); }
};
// A client of its own, outside the pool (see Pool::emergency_client).
using StandaloneClient = std::unique_ptr<mongoc_client_t, ClientDeleter>;

// The driver's own parse of the configured MongoDB URL (option names and values), after config::load's
// syntax check and before any connection or lock: Exit::config, or Exit::usage when the URL was given
// as --mongodb-url; the URL and the driver's reason are redacted.
Status check_url(const config::Config& cfg);

class Pool;

// A client borrowed from the pool, returned on destruction.
class Client {
public:
  Client(Client&& other) noexcept : pool_(other.pool_), client_(std::exchange(other.client_, nullptr)) {}
  Client& operator=(Client&&) = delete;
  Client(const Client&) = delete;
  ~Client();
  mongoc_client_t* get() { return client_; }

private:
  friend class Pool;
  Client(mongoc_client_pool_t* pool, mongoc_client_t* client) : pool_(pool), client_(client) {}
  mongoc_client_pool_t* pool_;
  mongoc_client_t* client_;
};

class Pool {
public:
  // Validates the URL (exit 78), applies the connect / server-selection timeout unless the URL sets them.
  static Expected<std::unique_ptr<Pool>> open(const config::MongoDb& cfg, Logger& log);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  Client acquire();
  // A client outside the pool whose every wait (connect, server selection, socket) is bounded by
  // `timeout`: for the last words of a run that must end now (releasing the run lock) while the pooled
  // clients may be stuck on a server that stopped answering.
  StandaloneClient emergency_client(std::chrono::milliseconds timeout) const;
  const std::string& redacted_url() const { return redacted_url_; }
  const std::string& where() const { return where_; }  // "MongoDB at mongodb://u:***@h:27017"

private:
  Pool(mongoc_uri_t* uri, mongoc_client_pool_t* pool, std::string redacted);
  mongoc_uri_t* uri_;
  mongoc_client_pool_t* pool_;
  std::string redacted_url_;
  std::string where_;
};

// Runs a command on a database; the reply goes into `reply` either way.
CollectionPtr collection(Client& client, const std::string& db, const std::string& name);
CollectionPtr collection(mongoc_client_t* client, const std::string& db, const std::string& name);

Status run_command(Client& client, const std::string& db, const bson_t* command, Reply& reply,
                   std::string_view where, std::string_view doing);

// The server's version string from buildInfo (which also proves it is reachable).
Expected<std::string> server_version(Client& client, std::string_view where);

}  // namespace m2m::mongo
