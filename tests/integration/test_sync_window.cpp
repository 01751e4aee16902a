// DATETIME change columns across daylight saving time. A DATETIME has no zone: when the clock is set back
// an hour, a row updated later in fact gets an earlier value than the mark. The tool widens its window by
// that hour (see window_bound_sql). Checked against a MariaDB of its own whose clock the test moves
// (libfaketime), in a zone ahead of UTC (the server's own, Europe/Berlin) and one behind it
// (America/New_York, set as [tables.NAME] change_zone), across both changes of the year, with TIMESTAMP
// columns as the control.
#include "support/child.hpp"
#include "support/extra_server.hpp"
#include "support/rig.hpp"

#include <catch2/catch.hpp>

#include <mysql.h>

#include <string>

namespace {

using rig::ExtraServer;
using json = nlohmann::json;


// Runs `sync` (after `before`, e.g. --config) against the database; requires success.
json sync(ExtraServer::Database& db, const std::vector<std::string>& before = {}) {
  std::vector<std::string> args{"--json"};
  args.insert(args.end(), before.begin(), before.end());
  args.emplace_back("sync");
  const auto r = rig::run(args, db.env());
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  return r.json();
}

long long value_of(ExtraServer::Database& db, const std::string& table, int id) {
  const auto docs = rig::mongo_find(db.name(), table, "{\"id\": " + std::to_string(id) + "}");
  REQUIRE(docs.size() == 1);
  return std::stoll(docs[0]["v"]["$numberInt"].get<std::string>());
}

// One step of a scenario: at `utc`, row `id` of every table gets value `v`; then a sync must copy it.
struct Step {
  std::string utc;
  int id;
  int v;
};

void run_scenario(ExtraServer& server, const std::string& zone, const std::vector<Step>& steps) {
  ExtraServer::Database db(server, "dst");
  // The writers' session zone is the column's zone: the server's own, or the configured one.
  const bool own_zone = !zone.empty();
  db.sql("CREATE TABLE dt (id INT PRIMARY KEY, v INT NOT NULL, "
         "  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));"
         "CREATE TABLE ts (id INT PRIMARY KEY, v INT NOT NULL, "
         "  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))");
  const rig::TempFile cfg(db.name() + "_zone.toml",
                          own_zone ? "[sync]\nlookback = \"1s\"\n[tables.dt]\nchange_zone = \"" + zone + "\"\n"
                                   : "[sync]\nlookback = \"1s\"\n");
  server.set_clock(steps.front().utc);
  db.sql("INSERT INTO dt (id, v) VALUES (1, 0), (2, 0), (3, 0), (4, 0);"
         "INSERT INTO ts (id, v) VALUES (1, 0), (2, 0), (3, 0), (4, 0)",
         zone);
  sync(db, {"--config", cfg.path});
  for (std::size_t i = 1; i < steps.size(); ++i) {
    const auto& s = steps[i];
    server.set_clock(s.utc);
    db.sql("UPDATE dt SET v = " + std::to_string(s.v) + " WHERE id = " + std::to_string(s.id) + ";" +
               "UPDATE ts SET v = " + std::to_string(s.v) + " WHERE id = " + std::to_string(s.id),
           zone);
    const auto stamped = db.query("SELECT updated_at FROM dt WHERE id = " + std::to_string(s.id))[0][0];
    INFO("step " << i << " at " << s.utc << " UTC: row " << s.id << " stamped " << stamped << " (wall clock)");
    const auto j = sync(db, {"--config", cfg.path});
    CHECK(j["tables"]["dt"]["sync_type"] == "incremental");
    CHECK(value_of(db, "dt", s.id) == s.v);
    CHECK(value_of(db, "ts", s.id) == s.v);  // the control: instants never go back
  }
}

}  // namespace

TEST_CASE("window: DATETIME change columns catch every update across both daylight saving changes, ahead of and "
          "behind UTC",
          "[sync][window][dst]") {
  if (rig::external_mysql()) {
    WARN("skipped: needs a MariaDB of its own under a fake clock, not MYSQL2MONGO_TEST_MYSQL_HOST");
    return;
  }
  ExtraServer::Options options;
  options.system_tz = "Europe/Berlin";
  options.tz_tables = {"America/New_York", "Europe/Berlin"};
  options.fake_clock = true;
  options.tls = false;
  ExtraServer server(options);
  // One server for all four, in calendar order: its clock only moves forward.

  {
    INFO("behind UTC (America/New_York, configured), spring forward: 02:00 EST becomes 03:00 EDT at 07:00 UTC");
    run_scenario(server, "America/New_York",
                 {{"2024-03-10 06:40:00", 0, 0},   // 01:40 EST
                  {"2024-03-10 06:50:00", 1, 1},   // 01:50 EST
                  {"2024-03-10 07:10:00", 2, 2},   // 03:10 EDT
                  {"2024-03-10 07:20:00", 3, 3}});
  }
  {
    INFO("ahead of UTC (Europe/Berlin, the server's zone), spring forward: 02:00 CET becomes 03:00 CEST at 01:00 UTC");
    run_scenario(server, "",
                 {{"2024-03-31 00:40:00", 0, 0},   // 01:40 CET
                  {"2024-03-31 00:50:00", 1, 1},   // 01:50 CET
                  {"2024-03-31 01:10:00", 2, 2},   // 03:10 CEST
                  {"2024-03-31 01:20:00", 3, 3}});
  }
  {
    INFO("ahead of UTC (Europe/Berlin, the server's zone), fall back: 03:00 CEST becomes 02:00 CET at 01:00 UTC");
    run_scenario(server, "",
                 {{"2024-10-27 00:30:00", 0, 0},   // 02:30 CEST
                  {"2024-10-27 00:40:00", 1, 1},   // 02:40 CEST: the mark
                  {"2024-10-27 01:10:00", 2, 2},   // 02:10 CET: earlier on the wall clock, later in fact
                  {"2024-10-27 01:20:00", 3, 3},   // 02:20 CET: still before the mark's wall time
                  {"2024-10-27 01:50:00", 4, 4},   // 02:50 CET: past it again
                  {"2024-10-27 02:10:00", 1, 5}}); // 03:10 CET
  }
  {
    INFO("behind UTC (America/New_York, configured), fall back: 02:00 EDT becomes 01:00 EST at 06:00 UTC");
    run_scenario(server, "America/New_York",
                 {{"2024-11-03 05:30:00", 0, 0},   // 01:30 EDT
                  {"2024-11-03 05:40:00", 1, 1},   // 01:40 EDT: the mark
                  {"2024-11-03 06:10:00", 2, 2},   // 01:10 EST
                  {"2024-11-03 06:20:00", 3, 3},   // 01:20 EST
                  {"2024-11-03 06:50:00", 4, 4},   // 01:50 EST
                  {"2024-11-03 07:10:00", 1, 5}}); // 02:10 EST
  }

  {
    INFO("an open transaction's start, which InnoDB shows in the server's system zone, is stored in UTC");
    ExtraServer::Database db(server, "trx");
    server.set_clock("2024-12-01 12:00:00");  // 13:00 CET
    db.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT, updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) "
           "ON UPDATE CURRENT_TIMESTAMP(6)); INSERT INTO t (id, v) VALUES (1, 1)");
    sync(db);
    MYSQL* writer = mysql_init(nullptr);
    const auto env = db.env();
    REQUIRE(mysql_real_connect(writer, env.at("MYSQL_HOST").c_str(), env.at("MYSQL_USER").c_str(),
                               env.at("MYSQL_PASSWORD").c_str(), db.name().c_str(),
                               static_cast<unsigned>(std::stoul(env.at("MYSQL_PORT"))), nullptr, 0) != nullptr);
    for (const char* q : {"BEGIN", "UPDATE t SET v = 2 WHERE id = 1"}) REQUIRE(mysql_query(writer, q) == 0);
    // InnoDB refreshes what INNODB_TRX shows only when its last read is 100 ms old (sync.lookback, at
    // least 1 s, covers that much): wait, polling more slowly than that, until the transaction is listed.
    REQUIRE(rig::eventually(
        [&] { return !db.query("SELECT trx_id FROM information_schema.INNODB_TRX WHERE trx_rows_modified > 0").empty(); },
        std::chrono::seconds(9), std::chrono::milliseconds(150)));
    sync(db);
    const auto meta = rig::mongo_find(db.name(), "_sync_metadata", R"({"table_name": "t"})");
    REQUIRE(meta.size() == 1);
    INFO("metadata: " << meta[0].dump());
    REQUIRE(meta[0]["window_floor"].is_string());
    const std::string floor = meta[0]["window_floor"].get<std::string>();
    CHECK(floor.substr(0, 15) == "2024-12-01 12:0");  // UTC, not 13:0x (Berlin)
    mysql_query(writer, "ROLLBACK");
    mysql_close(writer);
  }
}
