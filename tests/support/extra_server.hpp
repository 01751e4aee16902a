// A MariaDB of a test's own, beside the shared rig: in another time zone, under a fake clock, without
// TLS. Started with tests/support/rig.sh (MariaDB only), stopped at the end of the scope.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace rig {

class Scratch;

class ExtraServer {
public:
  struct Options {
    std::string system_tz;               // the server's SYSTEM zone (its TZ), e.g. "Europe/Berlin"
    std::vector<std::string> tz_tables;  // named zones to load, e.g. {"America/New_York"}
    bool fake_clock = false;             // run under libfaketime; see set_clock()
    bool tls = true;
  };
  explicit ExtraServer(const Options& options);
  ~ExtraServer();
  ExtraServer(const ExtraServer&) = delete;
  ExtraServer& operator=(const ExtraServer&) = delete;

  // Moves the server's wall clock to `utc` ("YYYY-MM-DD HH:MM:SS", UTC); it runs on from there.
  void set_clock(const std::string& utc);

  // A database on this server, and the tool's environment for it (MongoDB: the shared rig's, in a
  // database of the same name, dropped at the end).
  class Database {
  public:
    Database(ExtraServer& server, const std::string& tag);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    const std::string& name() const { return name_; }
    std::map<std::string, std::string> env() const;
    // Runs statements in a session whose time zone is `zone` ("" : the server's).
    void sql(const std::string& statements, const std::string& zone = "");
    std::vector<std::vector<std::string>> query(const std::string& sql);

  private:
    ExtraServer& server_;
    std::string name_;
  };

  const std::string& host() const { return host_; }
  unsigned port() const { return port_; }

private:
  std::string dir_;
  std::string clock_file_;
  std::string host_, user_, password_;
  unsigned port_ = 0;
  bool started_ = false;
};

// True when the tests run against a real MySQL given by MYSQL2MONGO_TEST_MYSQL_HOST: no extra server
// of the test's own can be started then.
bool external_mysql();

}  // namespace rig
