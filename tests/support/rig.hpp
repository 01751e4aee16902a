// Access to the test rig (tests/support/rig.sh) from integration tests: the servers, a scratch database
// per test, and running the mysql2mongo binary.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

struct _mongoc_client_t;

namespace rig {

struct Servers {
  std::string mysql_host;
  unsigned mysql_port = 0;
  std::string mysql_socket;
  std::string mysql_user;
  std::string mysql_password;
  std::string tls_ca;        // empty if the server has no TLS
  std::string tls_wrong_ca;
  std::string mongodb_url;
};

// Reads MYSQL2MONGO_RIG_DIR/rig.env (written by `rig.sh start`).
const Servers& servers();

struct Result {
  int code = -1;
  std::string out;
  std::string err;
  double seconds = 0;
  long max_rss_kb = 0;  // the process's peak resident set (getrusage's ru_maxrss)
  nlohmann::json json() const;  // parses `out`; fails the test if it is not JSON
};

// Runs the mysql2mongo binary with exactly `env` as its environment (plus PATH and HOME), no stdin.
// Whatever the binary's end, it leaves nothing behind in /dev/shm (see remove_driver_leftovers).
Result run(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
           std::chrono::seconds timeout = std::chrono::seconds(300));

// A process ended without the MongoDB driver's cleanup (SIGKILL, _Exit) leaves the driver's shared
// memory counters behind, /dev/shm/mongoc-PID; a later process given the same pid cannot create its own
// and the driver warns on its stderr. Removes them for `pid`, a child that has exited and is not reaped
// yet (so that no other process can have that pid meanwhile).
void remove_driver_leftovers(pid_t pid);

// A scratch MySQL database and MongoDB database of the same unique name, dropped at the end.
class Scratch {
public:
  explicit Scratch(const std::string& tag = "t");
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  const std::string& name() const { return name_; }
  // Environment for the tool: MYSQL_* for the rig's admin account, MONGODB_* for the endpoint.
  std::map<std::string, std::string> env() const;

  // Runs SQL statements (separated by ';' at line ends is NOT parsed: pass one statement per call, or
  // several with multi-statements).
  void sql(const std::string& statements);
  // The rows of a query, each column as text ("NULL" for NULL).
  std::vector<std::vector<std::string>> query(const std::string& sql);

  // MongoDB: documents as canonical Extended JSON objects (types visible: {"$numberLong": ...}).
  std::vector<nlohmann::json> find(const std::string& collection, const std::string& filter_json = "{}",
                                   const std::string& sort_json = "{}");
  long long count(const std::string& collection, const std::string& filter_json = "{}");
  std::vector<std::string> collections();
  // Runs a command on the scratch MongoDB database; returns the reply as canonical Extended JSON.
  nlohmann::json command(const std::string& command_json);

private:
  std::string name_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// MongoDB of the rig by database name, for databases that are not a Scratch's (an ExtraServer's).
std::vector<nlohmann::json> mongo_find(const std::string& database, const std::string& collection,
                                       const std::string& filter_json = "{}");
void drop_mongo_database(const std::string& database);

// Loads a .sql file through the mariadb client (handles DELIMITER, triggers, routines).
void load_sql_file(const std::string& database, const std::string& path);

// A file under /tmp with the given content, removed at the end of the scope.
struct TempFile {
  std::string path;
  TempFile(const std::string& name, const std::string& text);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
};

// A directory of its own under /tmp ("/tmp/m2m-TAG-XXXXXX"), removed with everything in it at the end of
// the scope.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag = "dir");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // The names in the directory (not recursive).
  std::set<std::string> entries() const;
  // Writes `text` to `name` under the directory (creating subdirectories); returns the file's path.
  std::string write(const std::string& name, const std::string& text) const;
};

// `env` with `extra` added (extra wins).
std::map<std::string, std::string> with_env(std::map<std::string, std::string> env,
                                            const std::map<std::string, std::string>& extra);

long long now_ms();

// The table's document in _sync_metadata (exactly one is required).
nlohmann::json metadata_for(Scratch& db, const std::string& table);

// Puts a run-lock lease in _sync_lock as another run would: held by `owner` until `expires_at_ms`.
void insert_lease(Scratch& db, const std::string& owner, long long expires_at_ms);

// Loads tests/fixtures/sakila into the scratch database. The fixture creates and uses a database named
// `sakila`; every test gets its own instead, so parallel runs never collide.
void load_sakila(Scratch& db);

}  // namespace rig
