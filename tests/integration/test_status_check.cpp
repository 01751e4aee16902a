// `mysql2mongo status --check`, the Nagios/Icinga plugin, against the rig: each outcome end to end (the
// exit code and the one line with perfdata), from what real runs recorded, and its usage errors. Every
// rule of ops::check is unit-tested in tests/unit/test_ops_status.cpp; ages are set here by dating the
// recorded last sync back (rig::age_last_sync), never by waiting.
#include "support/net.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

namespace {

using rig::age_last_sync;
using rig::contains;
using rig::lines_of;
using rig::make_shop;
using rig::make_unsyncable;
using rig::mongo_down;
using rig::starts_with;
using rig::sync_ok;
using namespace std::chrono_literals;

}  // namespace

TEST_CASE("status --check: UNKNOWN (3) before any sync", "[status][check]") {
  rig::Scratch db("ck3");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY)");
  const auto r = rig::run({"status", "--check"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 3);
  CHECK(starts_with(r.out, "MYSQL2MONGO UNKNOWN - "));
  CHECK(contains(r.out, "no sync recorded"));
  CHECK(lines_of(r.out).size() == 1);
  CHECK(r.out.back() == '\n');
}

TEST_CASE("status --check: UNKNOWN (3) when MongoDB is unreachable, one line, no crash", "[status][check]") {
  rig::Scratch db("ck3m");
  const auto r = rig::run({"status", "--check"}, mongo_down(db));
  INFO("stderr: " << r.err);
  CHECK(r.code == 3);
  CHECK(starts_with(r.out, "MYSQL2MONGO UNKNOWN - cannot read the sync metadata: "));
  CHECK(contains(r.out, "MongoDB at mongodb://127.0.0.1:"));
  CHECK(lines_of(r.out).size() == 1);
  CHECK(r.seconds < 15);
}

TEST_CASE("status --check: OK (0) after a fresh sync, WARNING (1) and CRITICAL (2) by age, with perfdata",
          "[status][check]") {
  rig::Scratch db("ck");
  make_shop(db);
  sync_ok(db);

  const auto ok = rig::run({"status", "--check"}, db.env());
  INFO("stdout: " << ok.out << "stderr: " << ok.err);
  CHECK(ok.code == 0);
  CHECK(std::regex_match(ok.out, std::regex(R"(MYSQL2MONGO OK - 2 tables, oldest sync \S+ ago \| )"
                                            R"(age=\d+s;3600;10800 tables=2 failed=0\n)")));

  // The last sync ten minutes old, dated back in _sync_metadata rather than waited for: older than
  // --warn 0s, younger than --crit 1h.
  age_last_sync(db, 10min);
  const auto warn = rig::run({"status", "--check", "--warn", "0s", "--crit", "1h"}, db.env());
  INFO("stdout: " << warn.out);
  CHECK(warn.code == 1);
  CHECK(std::regex_match(warn.out, std::regex(R"(MYSQL2MONGO WARNING - 2 tables, oldest sync \S+ ago \| )"
                                              R"(age=[1-9]\d*s;0;3600 tables=2 failed=0\n)")));
  CHECK(std::regex_search(warn.out, std::regex(R"(oldest sync 10m(\d+s)? ago \| age=6[0-5]\ds;)")));

  const auto crit = rig::run({"status", "--check", "--warn=0s", "--crit=0s"}, db.env());
  INFO("stdout: " << crit.out);
  CHECK(crit.code == 2);
  CHECK(std::regex_match(crit.out, std::regex(R"(MYSQL2MONGO CRITICAL - 2 tables, oldest sync \S+ ago \| )"
                                              R"(age=[1-9]\d*s;0;0 tables=2 failed=0\n)")));

  // Thresholds in other units land in the perfdata as seconds.
  const auto wide = rig::run({"status", "--check", "--warn", "2h", "--crit", "1d"}, db.env());
  CHECK(wide.code == 0);
  CHECK(contains(wide.out, ";7200;86400 tables=2 failed=0"));
  // Global options after the subcommand, --json makes no difference to the check line.
  const auto j = rig::run({"status", "--check", "--json"}, db.env());
  CHECK(j.code == 0);
  CHECK(starts_with(j.out, "MYSQL2MONGO OK - "));

  // The default thresholds, 1h and 3h: two hours without a sync warn, four are critical.
  age_last_sync(db, 2h);
  const auto stale = rig::run({"status", "--check"}, db.env());
  INFO("stdout: " << stale.out);
  CHECK(stale.code == 1);
  CHECK(std::regex_match(stale.out, std::regex(R"(MYSQL2MONGO WARNING - 2 tables, oldest sync 2h ago \| )"
                                               R"(age=72[0-5]\ds;3600;10800 tables=2 failed=0\n)")));
  age_last_sync(db, 4h);
  const auto dead = rig::run({"status", "--check"}, db.env());
  INFO("stdout: " << dead.out);
  CHECK(dead.code == 2);
  CHECK(std::regex_match(dead.out, std::regex(R"(MYSQL2MONGO CRITICAL - 2 tables, oldest sync 4h ago \| )"
                                              R"(age=144[0-5]\ds;3600;10800 tables=2 failed=0\n)")));
}

TEST_CASE("status --check: WARNING (1) when a table's last run failed, CRITICAL (2) when one never succeeded",
          "[status][check]") {
  rig::Scratch db("ckf");
  db.sql("CREATE TABLE g (id INT PRIMARY KEY); INSERT INTO g SELECT seq FROM seq_1_to_10;"
         "CREATE TABLE h (id INT PRIMARY KEY); INSERT INTO h SELECT seq FROM seq_1_to_10");
  sync_ok(db);
  // g loses 60 % of its rows: the delete guard fails the table (exit 3), h succeeds.
  db.sql("DELETE FROM g WHERE id <= 6");
  const auto failing = rig::run({"sync", "--full"}, db.env());
  INFO("sync stderr: " << failing.err);
  REQUIRE(failing.code == 3);

  const auto warn = rig::run({"status", "--check"}, db.env());
  INFO("stdout: " << warn.out);
  CHECK(warn.code == 1);
  CHECK(starts_with(warn.out, "MYSQL2MONGO WARNING - 2 tables, oldest sync "));
  CHECK(contains(warn.out, "last run failed for g"));
  CHECK(contains(warn.out, " tables=2 failed=1\n"));
  CHECK(lines_of(warn.out).size() == 1);

  // A table whose first sync fails has never succeeded: CRITICAL, whatever the age thresholds.
  make_unsyncable(db, "never");
  const auto s = rig::run({"sync"}, db.env());
  REQUIRE(s.code == 3);
  const auto crit = rig::run({"status", "--check", "--warn", "1d", "--crit", "2d"}, db.env());
  INFO("stdout: " << crit.out);
  CHECK(crit.code == 2);
  CHECK(starts_with(crit.out, "MYSQL2MONGO CRITICAL - "));
  CHECK(contains(crit.out, "never synced successfully (never)"));
  CHECK(contains(crit.out, "| age="));
  CHECK(contains(crit.out, "tables=3 failed="));
  CHECK(lines_of(crit.out).size() == 1);

  // Once every table has synced again: OK.
  REQUIRE_FALSE(db.command(R"({"drop": "never"})").contains("_error"));
  sync_ok(db, {"--full", "--force-deletes"});
  const auto ok = rig::run({"status", "--check"}, db.env());
  INFO("stdout: " << ok.out);
  CHECK(ok.code == 0);
  CHECK(contains(ok.out, "tables=3 failed=0"));
}

TEST_CASE("status --check: --warn/--crit without --check, a bad duration, --crit below --warn: usage error 64",
          "[status][check]") {
  rig::Scratch db("cku");
  const auto env = db.env();
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"status", "--warn", "1h"}, "--warn requires --check"},
      {{"status", "--crit", "1h"}, "--crit requires --check"},
      {{"status", "--check", "--warn", "soon"}, "--warn soon: not a duration"},
      {{"status", "--check", "--crit", "-5m"}, "--crit"},
      {{"status", "--check", "--warn", "2h", "--crit", "1h"}, "--crit must not be shorter than --warn"},
  };
  for (const auto& c : cases) {
    const auto r = rig::run(c.args, env);
    INFO("args: " << c.args.back() << " stderr: " << r.err);
    CHECK(r.code == 64);
    CHECK(starts_with(r.err, "mysql2mongo: error: "));
    CHECK(contains(r.err, c.message));
    CHECK(r.out.empty());
  }
}
