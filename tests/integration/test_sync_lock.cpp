// The run lock (a lease in MongoDB's `_sync_lock`), and stopping a full sync: two concurrent runs, an
// expired and a live lease, --wait, kill -9 mid-way then a resumed rerun, SIGTERM and SIGINT.
#include "support/child.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using rig::Child;
using rig::eventually;
using rig::TempFile;
using rig::with_env;
using rig::now_ms;
using rig::metadata_for;
using rig::make_big;
using rig::check_big_equals_mysql;
using rig::checkpoint_of;
using rig::lease_holder;

using json = nlohmann::json;
using namespace std::chrono_literals;

// Finding the lock held is the normal overlap of a timer or cron with a long run: an info line (-v).
const std::string kHeld = "mysql2mongo: info: another mysql2mongo run holds the lock";

// The lease document, or null.
json lease(rig::Scratch& db) {
  const auto docs = db.find("_sync_lock");
  REQUIRE(docs.size() <= 1);
  return docs.empty() ? json() : docs[0];
}

// Another run's lease, confirmed in place before the test goes on.
void hold_lease(rig::Scratch& db, const std::string& owner, long long expires_at_ms) {
  rig::insert_lease(db, owner, expires_at_ms);
  REQUIRE(lease(db)["owner"] == owner);
}


}  // namespace

TEST_CASE("sync lock: of two concurrent sync runs one exits 75 naming the holder and the data is intact",
          "[sync][lock]") {
  rig::Scratch db("lock");
  constexpr long long kRows = 100000;
  make_big(db, 1, kRows);
  const auto env = db.env();

  // Both start at once: the lease decides, not who happens to start first.
  Child a({"--json", "sync"}, env);
  Child b({"--json", "sync"}, env);
  REQUIRE(a.wait(300s));
  REQUIRE(b.wait(300s));
  INFO("a: exit " << a.code() << " after " << a.seconds() << "s, stderr: " << a.err());
  INFO("b: exit " << b.code() << " after " << b.seconds() << "s, stderr: " << b.err());
  REQUIRE(((a.code() == 0 && b.code() == 75) || (a.code() == 75 && b.code() == 0)));
  Child& winner = a.code() == 0 ? a : b;
  Child& loser = a.code() == 0 ? b : a;

  CHECK(loser.err().empty());  // nothing for cron to mail
  const auto lj = json::parse(loser.out());
  CHECK(lj["status"] == "locked");
  CHECK(lj["exit_code"] == 75);
  CHECK(lj["message"].get<std::string>().find(winner.owner()) != std::string::npos);  // names the holder, host:pid
  CHECK(loser.seconds() < winner.seconds());             // it did not wait for the other to finish

  const auto j = json::parse(winner.out());
  CHECK(j["status"] == "success");
  CHECK(j["tables"]["big"]["records_synced"] == kRows);
  CHECK(lease_holder(db).empty());  // released at exit
  check_big_equals_mysql(db);

  // The same while a run is visibly under way: a second run started later is refused as well.
  db.sql("UPDATE big SET v = v + 1");
  Child c({"sync", "--full"}, env);
  REQUIRE(eventually([&] { return !lease_holder(db).empty() || !c.running(); }, 30s));
  REQUIRE(c.running());
  CHECK(lease_holder(db) == c.owner());
  const auto late = rig::run({"-v", "sync"}, env);
  CHECK(late.code == 75);
  CHECK(late.err.find(kHeld) != std::string::npos);
  CHECK(late.err.find(c.owner()) != std::string::npos);
  REQUIRE(c.wait(300s));
  INFO("c stderr: " << c.err());
  CHECK(c.code() == 0);
  CHECK(lease_holder(db).empty());
  check_big_equals_mysql(db);
}

TEST_CASE("sync lock: an expired lease of another host is taken over and released at the end", "[sync][lock]") {
  rig::Scratch db("lock");
  make_big(db, 1, 100);
  hold_lease(db, "otherhost:1", now_ms() - 60000);

  const auto r = rig::run({"--json", "sync"}, db.env());
  INFO("stderr: " << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.json()["tables"]["big"]["records_synced"] == 100);
  CHECK(db.count("big") == 100);
  CHECK(lease_holder(db).empty());
}

TEST_CASE("sync lock: a live lease of another host makes sync exit 75 at once and touch nothing", "[sync][lock]") {
  rig::Scratch db("lock");
  make_big(db, 1, 100);
  hold_lease(db, "otherhost:1", now_ms() + 600000);

  const auto quiet = rig::run({"sync"}, db.env());
  CHECK(quiet.code == 75);
  CHECK(quiet.err.empty());  // cron mails nothing for an overlap
  const auto r = rig::run({"-v", "sync"}, db.env());
  INFO("stderr: " << r.err);
  CHECK(r.code == 75);
  CHECK(r.err.find(kHeld) != std::string::npos);
  CHECK(r.err.find("otherhost:1") != std::string::npos);
  CHECK(r.err.find("error") == std::string::npos);
  CHECK(r.seconds < 10);
  CHECK(db.count("big") == 0);
  CHECK(db.count("_sync_metadata") == 0);
  const auto l = lease(db);
  CHECK(l["owner"] == "otherhost:1");  // not stolen, not released by the loser

  // --json: one document saying so, with exit 75.
  const auto rj = rig::run({"--json", "sync"}, db.env());
  CHECK(rj.code == 75);
  CHECK(rj.err.empty());
  CHECK(rj.json()["status"] == "locked");
  CHECK(rj.json()["exit_code"] == 75);
}

TEST_CASE("sync lock: --wait waits for the holder and exits 75 when it outlives the wait and succeeds when it expires",
          "[sync][lock]") {
  rig::Scratch db("lock");
  make_big(db, 1, 100);

  SECTION("still held after the wait: exit 75 after about the wait") {
    hold_lease(db, "otherhost:1", now_ms() + 600000);
    const auto r = rig::run({"-v", "sync", "--wait=5s"}, db.env());
    INFO("stderr: " << r.err);
    CHECK(r.code == 75);
    CHECK(r.err.find(kHeld) != std::string::npos);
    CHECK(r.err.find("otherhost:1") != std::string::npos);
    CHECK(r.seconds >= 4.5);
    CHECK(r.seconds < 12);
    CHECK(db.count("big") == 0);
    CHECK(lease(db)["owner"] == "otherhost:1");
  }
  SECTION("the holder's lease expires in 2 s: the waiting run then takes it and syncs") {
    const auto inserted = std::chrono::steady_clock::now();
    hold_lease(db, "otherhost:1", now_ms() + 2000);
    const auto r = rig::run({"--json", "sync", "--wait=10s"}, db.env());
    const double since_insert =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - inserted).count();
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.json()["tables"]["big"]["records_synced"] == 100);
    CHECK(since_insert >= 2.0);  // it did wait for the expiry
    CHECK(r.seconds < 8);        // and not for the whole --wait
    CHECK(db.count("big") == 100);
    CHECK(lease_holder(db).empty());
  }
}

TEST_CASE("sync lock: kill -9 during a full sync then a rerun resumes from the checkpoint and equals MySQL exactly",
          "[sync][lock][resume]") {
  rig::Scratch db("kill");
  // A first successful sync of a small table, so the killed run is an interrupted full resync.
  make_big(db, 1, 10);
  const TempFile cfg(db.name() + "_ttl.toml", "[sync]\nlock_ttl = \"10s\"\n");
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "500"}});
  {
    const auto r = rig::run({"--json", "--config", cfg.path, "sync"}, env);
    INFO("stderr: " << r.err);
    REQUIRE(r.code == 0);
  }
  constexpr long long kRows = 200000;
  make_big(db, 11, kRows);

  Child run({"--json", "--config", cfg.path, "sync", "--full"}, env);
  // Mid-way: a few batches acknowledged and recorded, most of the table still to go.
  REQUIRE(eventually([&] { return checkpoint_of(db, "big") >= 5000 || !run.running(); }, 60s));
  REQUIRE(run.running());
  run.kill_group(SIGKILL);
  REQUIRE(run.wait(10s));
  CHECK(run.code() == 128 + SIGKILL);

  const long long checkpoint = rig::settled_checkpoint(db, "big");
  INFO("checkpoint " << checkpoint);
  REQUIRE(checkpoint > 0);
  const long long copied = db.count("big");
  INFO("copied before the kill: " << copied);
  REQUIRE(copied < kRows);  // really mid-way
  // Everything up to the checkpoint was acknowledged before it was recorded.
  CHECK(db.count("big", json{{"id", {{"$lte", checkpoint}}}}.dump()) == checkpoint);
  // The killed run could not release its lease.
  CHECK(lease(db)["owner"] == run.owner());

  // While it was down, rows went on both sides of the checkpoint; one changed beyond it.
  const long long doomed_present = db.count("big", R"({"id": {"$in": [3, 4000, 190000]}})");
  db.sql("DELETE FROM big WHERE id IN (3, 4000, 190000); UPDATE big SET s = 'changed' WHERE id = 199999");
  const long long rest = std::stoll(db.query("SELECT COUNT(*) FROM big WHERE id > " + std::to_string(checkpoint))[0][0]);

  const auto r = rig::run({"--json", "--config", cfg.path, "sync", "--wait=30s"}, env);
  INFO("rerun stderr: " << r.err);
  REQUIRE(r.code == 0);
  const auto t = r.json()["tables"]["big"];
  CHECK(t["status"] == "success");
  CHECK(t["sync_type"] == "full");
  CHECK(t["reason"] == "resuming an interrupted full sync");
  CHECK(t["resumed"] == true);
  // Only the rest was read: the rows beyond the checkpoint; the deleted rows that had been copied went.
  CHECK(t["records_synced"] == rest);
  CHECK(t["deleted"] == doomed_present);
  CHECK(doomed_present >= 2);  // 3 and 4000 lie below the checkpoint
  const auto meta = metadata_for(db, "big");
  CHECK(meta["checkpoint"].is_null());
  CHECK(meta["status"] == "success");
  CHECK(lease_holder(db).empty());
  check_big_equals_mysql(db);
  CHECK(db.find("big", R"({"id": 199999})")[0]["s"] == "changed");
}

namespace {

// Starts a first full sync of 200000 rows in small batches, sends `sig` once it is mid-way, and checks
// the graceful stop: exit code, checkpoint, report, released lease. Returns the checkpoint.
long long stop_mid_sync(rig::Scratch& db, int sig, int expected_code, long long rows) {
  make_big(db, 1, rows);
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "500"}});
  Child run({"--json", "sync"}, env);
  REQUIRE(eventually([&] { return checkpoint_of(db, "big") >= 2000 || !run.running(); }, 60s));
  REQUIRE(run.running());
  const auto signalled = std::chrono::steady_clock::now();
  run.signal(sig);
  REQUIRE(run.wait(30s));
  const double to_exit = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  INFO("stderr: " << run.err() << "\nstdout: " << run.out());
  CHECK(run.code() == expected_code);
  CHECK(to_exit < 5);  // finishes the batch under way, not the table

  const auto meta = metadata_for(db, "big");
  INFO("metadata: " << meta.dump());
  REQUIRE(meta["checkpoint"].is_array());
  REQUIRE(meta["checkpoint"].size() == 1);
  const long long checkpoint = std::stoll(meta["checkpoint"][0].get<std::string>());
  CHECK(checkpoint > 0);
  CHECK(checkpoint < rows);
  CHECK(meta["status"] == "failed");
  CHECK(meta["error"].is_string());
  if (meta["error"].is_string()) CHECK(meta["error"].get<std::string>().find("stopped by a signal") != std::string::npos);
  // What the checkpoint says is there, is there; the lease is released.
  CHECK(db.count("big", json{{"id", {{"$lte", checkpoint}}}}.dump()) == checkpoint);
  CHECK(db.count("big") < rows);
  CHECK(lease_holder(db).empty());
  // The report on stdout says the table failed because of the stop, and its exit_code is the process's.
  const auto out = run.out();
  REQUIRE_FALSE(out.empty());
  const auto j = json::parse(out);
  CHECK(j["exit_code"] == expected_code);
  CHECK(j["tables"]["big"]["status"] == "failed");
  CHECK(j["tables"]["big"].value("error", "").find("stopped by a signal") != std::string::npos);
  return checkpoint;
}

}  // namespace

TEST_CASE("sync stop: SIGTERM during a full sync saves the checkpoint and releases the lock and exits 143 and the "
          "next run resumes",
          "[sync][lock][resume]") {
  rig::Scratch db("term");
  constexpr long long kRows = 200000;
  const long long checkpoint = stop_mid_sync(db, SIGTERM, 143, kRows);

  const auto r = rig::run({"--json", "sync"}, with_env(db.env(), {{"SYNC_BATCH_SIZE", "5000"}}));
  INFO("rerun stderr: " << r.err);
  REQUIRE(r.code == 0);
  const auto t = r.json()["tables"]["big"];
  CHECK(t["sync_type"] == "full");
  CHECK(t["resumed"] == true);
  CHECK(t["reason"] == "resuming an interrupted full sync");
  CHECK(t["records_synced"] == kRows - checkpoint);
  CHECK(metadata_for(db, "big")["checkpoint"].is_null());
  check_big_equals_mysql(db);
}

TEST_CASE("sync stop: SIGINT during a full sync saves the checkpoint and releases the lock and exits 130",
          "[sync][lock][resume]") {
  rig::Scratch db("int");
  stop_mid_sync(db, SIGINT, 130, 100000);
}

TEST_CASE("sync retry: a MySQL connection killed mid-copy is retried and the result equals MySQL exactly",
          "[sync][lock][retry]") {
  rig::Scratch db("retry");
  make_big(db, 1, 150000);
  Child child({"--json", "sync", "--full"}, with_env(db.env(), {{"SYNC_BATCH_SIZE", "500"}}));
  // Wait until the copy is under way (a checkpoint exists), then kill the tool's MySQL session from the
  // server side: the tool sees "Lost connection" (2013), a transient error.
  REQUIRE(eventually(
      [&] {
        const auto m = db.find("_sync_metadata", R"({"table_name": "big"})");
        return !m.empty() && m[0].contains("checkpoint") && !m[0]["checkpoint"].is_null();
      },
      60s));
  const auto ids = db.query("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '" + db.name() +
                            "' AND ID <> CONNECTION_ID()");
  REQUIRE_FALSE(ids.empty());
  for (const auto& id : ids) db.sql("KILL CONNECTION " + id[0]);
  REQUIRE(child.wait(180s));
  INFO("stderr: " << child.err());
  REQUIRE(child.code() == 0);
  CHECK(child.err().find("retrying in 1s (attempt 2)") != std::string::npos);
  const auto j = json::parse(child.out());
  CHECK(j["tables"]["big"]["status"] == "success");
  CHECK(j["tables"]["big"]["resumed"] == true);
  check_big_equals_mysql(db);
}
