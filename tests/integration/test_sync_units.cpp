// Work units: big tables copied as key ranges, --jobs N workers on one host, --shard I/N processes
// claiming units through leases in MongoDB; killed, paused and stopped workers; status of who holds what.
#include "support/child.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

using rig::Child;
using rig::contains;
using rig::eventually;
using rig::starts_with;
using rig::json;
using rig::TempFile;
using rig::with_env;
using namespace std::chrono_literals;

// Small ranges and short unit leases, so that a few thousand rows make several ranges and a dead
// shard's units come free within seconds.
std::string units_config(long long split_rows, const std::string& ttl = "2s") {
  return "[sync]\nsplit_rows = " + std::to_string(split_rows) + "\nunit_ttl = \"" + ttl + "\"\n";
}

// `big` with rows 1..n and fresh statistics (whether a table is split depends on its row estimate).
void make_big_table(rig::Scratch& db, long long n) {
  rig::make_big(db, 1, n);
  db.sql("ANALYZE TABLE big");
}

// 30 small tables t01..t30, of 20 rows each, with a change column.
void make_small_tables(rig::Scratch& db) {
  std::string sql;
  for (int t = 1; t <= 30; ++t) {
    const std::string name = fmt::format("t{:02}", t);
    sql += "CREATE TABLE " + name +
           " (id INT PRIMARY KEY, v VARCHAR(20) NOT NULL, updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON "
           "UPDATE CURRENT_TIMESTAMP);";
    sql += "INSERT INTO " + name + " (id, v) SELECT seq, CONCAT('" + name + "-', seq) FROM seq_1_to_20;";
  }
  db.sql(sql);
}

// A table keyed by a case-insensitive string: 'K000001', 'k000002', ... In the column's collation they
// order by their number; by bytes (MongoDB's order) every 'K' comes before every 'k'.
void make_words(rig::Scratch& db, long long n) {
  db.sql("CREATE TABLE words (w VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PRIMARY KEY, "
         "n INT NOT NULL);"
         "INSERT INTO words SELECT CONCAT(IF(seq % 2, 'K', 'k'), LPAD(seq, 6, '0')), seq FROM seq_1_to_" +
         std::to_string(n) + "; ANALYZE TABLE words");
}

// The documents of `collection` in `database` without _id, sorted: two runs compared document for
// document.
std::multiset<std::string> contents_of(const std::string& database, const std::string& collection) {
  std::multiset<std::string> out;
  for (auto d : rig::mongo_find(database, collection)) {
    d.erase("_id");
    out.insert(d.dump());
  }
  return out;
}

// `words` in MongoDB equals MySQL: each key once, with its number.
void check_words_equal_mysql(rig::Scratch& db) {
  std::map<std::string, std::string> expected;
  for (const auto& r : db.query("SELECT w, n FROM words")) expected[r[0]] = r[1];
  std::map<std::string, int> seen;
  long long wrong = 0;
  for (const auto& d : db.find("words")) {
    const std::string w = d["w"].get<std::string>();
    ++seen[w];
    const auto it = expected.find(w);
    if (it == expected.end() || d["n"] != rig::i32(std::stoi(it->second))) ++wrong;
  }
  CHECK(wrong == 0);
  CHECK(seen.size() == expected.size());
  long long duplicates = 0;
  for (const auto& [w, n] : seen) duplicates += n > 1;
  CHECK(duplicates == 0);
}

// The range documents of `table` in _sync_metadata.
std::vector<json> ranges_of(rig::Scratch& db, const std::string& table) {
  return db.find("_sync_metadata", json{{"range_of", table}}.dump(), R"({"index": 1})");
}

// A range of `table` held now by a shard other than `except`, with a checkpoint: {owner, _id}.
std::optional<std::pair<std::string, std::string>> range_in_progress(rig::Scratch& db, const std::string& table,
                                                                     const std::string& except = {}) {
  for (const auto& r : ranges_of(db, table)) {
    if (r.value("unit_state", "") != "claimed" || !r.contains("checkpoint") || !r["checkpoint"].is_array()) continue;
    const std::string owner = r.value("unit_owner", "");
    if (!owner.empty() && owner != except) return std::make_pair(owner, r["_id"].get<std::string>());
  }
  return std::nullopt;
}

std::string shard_arg(int i, int n) { return std::to_string(i) + "/" + std::to_string(n); }

// The units the reports of a sharded run's processes say they did (lost ones aside), by name.
std::map<std::string, int> units_done(const std::vector<json>& reports) {
  std::map<std::string, int> out;
  for (const auto& r : reports)
    for (const auto& u : r["units"])
      if (u["status"] != "lost") ++out[u["unit"].get<std::string>()];
  return out;
}

// Whether the process is stopped (SIGSTOP delivered: state T in /proc/PID/stat).
bool is_stopped(pid_t pid) {
  const std::string stat = rig::slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
}

// Whether the binlog document (_id "m2m_binlog") says `table`'s copy is under way (or was interrupted).
bool binlog_copying(const json& doc, const std::string& table) {
  for (const auto& t : doc["tables"])
    if (t["table"] == table) return t.value("copying", false);
  FAIL("no binlog position for " << table << " in " << doc.dump());
  return false;
}

json report_of(Child& c) {
  INFO("stderr: " << c.err());
  return json::parse(c.out());
}

}  // namespace

TEST_CASE("units: --jobs 4 equals --jobs 1 document for document, big tables copied as key ranges",
          "[sync][units][parallel]") {
  rig::Scratch db("jobs");
  make_small_tables(db);
  make_big_table(db, 6000);
  make_words(db, 3000);
  db.sql("CREATE TABLE pairs (a INT NOT NULL, b VARCHAR(8) NOT NULL, v INT, PRIMARY KEY (a, b));"
         "INSERT INTO pairs SELECT seq % 50, CONCAT('b', seq), seq FROM seq_1_to_3000; ANALYZE TABLE pairs");
  const TempFile cfg(db.name() + "_units.toml", units_config(500));
  const std::string one = db.name() + "_j1";
  struct DropAtEnd {
    std::string name;
    ~DropAtEnd() { rig::drop_mongo_database(name); }
  } drop{one};

  const auto serial = rig::full_sync(db, {}, {{"MONGODB_DATABASE", one}}, cfg.path);
  CHECK(serial["jobs"] == 1);
  CHECK_FALSE(serial["tables"]["big"].contains("key_ranges"));  // one worker: never split
  const auto parallel = rig::full_sync(db, {"--jobs", "4"}, {}, cfg.path);
  CHECK(parallel["jobs"] == 4);
  CHECK(parallel["tables"]["big"]["key_ranges"] >= 4);
  CHECK(parallel["tables"]["words"]["key_ranges"] >= 4);
  CHECK(parallel["tables"]["pairs"]["key_ranges"] >= 4);
  CHECK(parallel["total_records_synced"] == serial["total_records_synced"]);
  std::set<int> workers;
  for (const auto& u : parallel["units"]) workers.insert(u["worker"].get<int>());
  CHECK(workers.size() >= 2);

  for (const std::string c : {"big", "words", "pairs", "t01", "t17", "t30"}) {
    INFO(c);
    CHECK(contents_of(one, c) == contents_of(db.name(), c));
  }
  rig::check_big_equals_mysql(db);
  check_words_equal_mysql(db);
  // The split ended: the table's record carries no ranges, and the next run is incremental.
  CHECK(rig::metadata_for(db, "big")["split_ranges"] == rig::i64(0));
  const auto next = rig::sync_ok(db, {"--jobs", "4"}, {}, cfg.path);
  CHECK(next["tables"]["big"]["sync_type"] == "incremental");
}

TEST_CASE("units: a case-insensitive string key across range boundaries loses and duplicates no row, and documents "
          "outside every range's rows are reconciled",
          "[sync][units][parallel]") {
  rig::Scratch db("ci");
  make_words(db, 4000);
  make_big_table(db, 4000);
  const TempFile cfg(db.name() + "_units.toml", units_config(400));
  const auto first = rig::full_sync(db, {"--jobs", "3"}, {}, cfg.path);
  REQUIRE(first["tables"]["words"]["key_ranges"] >= 3);
  CHECK(first["tables"]["words"]["records_synced"] == 4000);
  check_words_equal_mysql(db);

  // Rows deleted on both sides of every boundary; a row whose key changes case (the same key to MySQL,
  // another document to MongoDB); documents no row answers to: below the first key, between keys and
  // above the last, in byte order and in the collation's.
  const auto bounds = ranges_of(db, "words");
  REQUIRE(bounds.size() >= 3);
  std::vector<std::string> doomed;
  for (const auto& r : bounds)
    if (r["hi"].is_array()) doomed.push_back(r["hi"][0].get<std::string>());
  std::string in_list;
  for (const auto& w : doomed) in_list += (in_list.empty() ? "'" : ",'") + w + "'";
  db.sql("DELETE FROM words WHERE w IN (" + in_list + ") OR n IN (1, 2, 3999, 4000)");
  db.sql("UPDATE words SET w = 'K000010' WHERE w = 'k000010'");
  for (const std::string stray : {"A", "K0000005x", "k999999", "zzz", "\xc3\xa9" "clair"}) {
    const json doc = {{"w", stray}, {"n", -1}};
    CHECK(db.command(nlohmann::ordered_json{{"insert", "words"}, {"documents", json::array({doc})}}.dump())["n"] ==
          rig::i32(1));
  }
  // The same for the integer key, whose ranges reconcile their own deletes.
  db.sql("DELETE FROM big WHERE id IN (1, 400, 401, 2000, 4000)");
  for (const int stray : {-5, 0, 1000000}) {
    const json doc = {{"id", stray}, {"v", 0}, {"s", "stray"}};
    CHECK(db.command(nlohmann::ordered_json{{"insert", "big"}, {"documents", json::array({doc})}}.dump())["n"] ==
          rig::i32(1));
  }

  const auto again = rig::full_sync(db, {"--jobs", "3"}, {}, cfg.path);
  CHECK(again["tables"]["words"]["deleted"] >= 10);
  check_words_equal_mysql(db);
  CHECK(db.count("words", R"({"w": "k000010"})") == 0);
  CHECK(db.count("words", R"({"w": "K000010"})") == 1);
  CHECK(db.count("words", R"({"n": -1})") == 0);
  CHECK(again["tables"]["big"]["deleted"] == 8);
  rig::check_big_equals_mysql(db);
}

TEST_CASE("units: SIGTERM stops every worker within 2 s with every range's checkpoint saved, and the next run "
          "resumes each range",
          "[sync][units][parallel][stop]") {
  rig::Scratch db("unitterm");
  constexpr long long kRows = 80000;
  make_big_table(db, kRows);
  const TempFile cfg(db.name() + "_units.toml", units_config(5000));
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "200"}});
  Child run({"--json", "--config", cfg.path, "sync", "--jobs", "4"}, env);
  // Several ranges under way at once.
  REQUIRE(eventually(
      [&] {
        int moving = 0;
        for (const auto& r : ranges_of(db, "big")) moving += r.contains("checkpoint") && r["checkpoint"].is_array();
        return moving >= 3 || !run.running();
      },
      60s));
  REQUIRE(run.running());
  const auto t0 = std::chrono::steady_clock::now();
  run.signal(SIGTERM);
  REQUIRE(run.wait(10s));
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("stderr: " << run.err());
  CHECK(run.code() == 143);
  CHECK(took < 2.0);
  CHECK(rig::lease_holder(db).empty());
  // Every range: what its checkpoint says is there, is there.
  long long checkpoints = 0;
  for (const auto& r : ranges_of(db, "big")) {
    if (!r["checkpoint"].is_array()) continue;
    ++checkpoints;
    const long long lo = r["lo"].is_array() ? std::stoll(r["lo"][0].get<std::string>()) : 0;
    const long long cp = std::stoll(r["checkpoint"][0].get<std::string>());
    CHECK(db.count("big", json{{"id", {{"$gt", lo}, {"$lte", cp}}}}.dump()) == cp - lo);
  }
  CHECK(checkpoints >= 3);
  const auto meta = rig::metadata_for(db, "big");
  CHECK(meta["status"] == "failed");
  CHECK(meta["split_ranges"] != rig::i64(0));
  const auto j = json::parse(run.out());
  CHECK(j["tables"]["big"]["status"] == "failed");

  const auto r = rig::sync_ok(db, {"--jobs", "2"}, {}, cfg.path);
  CHECK(r["tables"]["big"]["resumed"] == true);
  CHECK(r["tables"]["big"]["reason"] == "resuming an interrupted full sync");
  CHECK(r["tables"]["big"]["records_synced"] < kRows);
  rig::check_big_equals_mysql(db);
}

TEST_CASE("units: three shards over 30 tables and a split table do every unit exactly once, and the data is exact",
          "[sync][units][shards]") {
  rig::Scratch db("shards");
  make_small_tables(db);
  make_big_table(db, 6000);
  const TempFile cfg(db.name() + "_units.toml", units_config(500));
  std::vector<std::unique_ptr<Child>> shards;
  for (int i = 0; i < 3; ++i)
    shards.push_back(std::make_unique<Child>(
        std::vector<std::string>{"--json", "--config", cfg.path, "sync", "--shard", shard_arg(i, 3)}, db.env()));
  std::vector<json> reports;
  int planned = 0;
  for (auto& c : shards) {
    REQUIRE(c->wait(120s));
    INFO("shard stderr: " << c->err());
    CHECK(c->code() == 0);
    reports.push_back(report_of(*c));
    CHECK(reports.back()["shard"]["count"] == 3);
    planned += reports.back()["shard"]["planned"].get<bool>();
  }
  CHECK(planned == 1);  // one shard planned the run, the others joined it
  CHECK(reports[0]["shard"]["run"] == reports[1]["shard"]["run"]);
  CHECK(reports[1]["shard"]["run"] == reports[2]["shard"]["run"]);
  const auto done = units_done(reports);
  for (const auto& [unit, n] : done) {
    INFO(unit);
    CHECK(n == 1);
  }
  for (int t = 1; t <= 30; ++t) CHECK(done.count(fmt::format("t{:02}", t)) == 1);
  CHECK(done.count("big") == 1);  // its finish
  int ranges = 0;
  for (const auto& [unit, n] : done) ranges += starts_with(unit, "big [");
  CHECK(ranges >= 3);
  // Each shard did some of the work.
  for (const auto& r : reports) CHECK_FALSE(r["units"].empty());
  rig::check_big_equals_mysql(db);
  for (int t = 1; t <= 30; ++t) CHECK(db.count(fmt::format("t{:02}", t)) == 20);
  for (const auto& m : db.find("_sync_metadata", R"({"table_name": {"$regex": "^t"}})")) CHECK(m["status"] == "success");
  CHECK(rig::lease_holder(db).empty());
  const auto status = rig::run({"--json", "status"}, db.env()).json();
  CHECK(status["units"].empty());

  // The next run, sharded again: incremental, nothing held over.
  std::vector<std::unique_ptr<Child>> again;
  for (int i = 0; i < 3; ++i)
    again.push_back(std::make_unique<Child>(
        std::vector<std::string>{"--json", "--config", cfg.path, "sync", "--shard", shard_arg(i, 3)}, db.env()));
  for (auto& c : again) {
    REQUIRE(c->wait(120s));
    INFO("shard stderr: " << c->err());
    CHECK(c->code() == 0);
  }
  CHECK(rig::metadata_for(db, "big")["sync_type"] == "incremental");
}

TEST_CASE("units: a shard killed with kill -9 mid-range leaves its units to the others once their leases expire, and "
          "the data is exact",
          "[sync][units][shards]") {
  rig::Scratch db("shardkill");
  make_small_tables(db);
  make_big_table(db, 40000);
  const TempFile cfg(db.name() + "_units.toml", units_config(4000));
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "200"}});
  std::vector<std::unique_ptr<Child>> shards;
  for (int i = 0; i < 3; ++i)
    shards.push_back(std::make_unique<Child>(
        std::vector<std::string>{"--json", "--config", cfg.path, "sync", "--shard", shard_arg(i, 3)}, env));
  // A shard that did not plan the run, holding a range it is copying.
  std::optional<std::pair<std::string, std::string>> victim;
  REQUIRE(eventually(
      [&] {
        victim = range_in_progress(db, "big", rig::lease_holder(db));
        return victim.has_value();
      },
      60s));
  Child* killed = nullptr;
  for (auto& c : shards)
    if (c->owner() == victim->first) killed = c.get();
  REQUIRE(killed != nullptr);
  killed->kill_group(SIGKILL);
  REQUIRE(killed->wait(10s));

  std::vector<json> reports;
  for (auto& c : shards) {
    if (c.get() == killed) continue;
    REQUIRE(c->wait(120s));
    INFO("shard stderr: " << c->err());
    CHECK(c->code() == 0);
    reports.push_back(report_of(*c));
  }
  // The range the dead shard held was taken over after its lease expired.
  bool taken_over = false;
  for (const auto& r : reports)
    for (const auto& u : r["units"]) taken_over = taken_over || u.value("taken_over", false);
  CHECK(taken_over);
  const auto range = db.find("_sync_metadata", json{{"_id", victim->second}}.dump());
  REQUIRE(range.size() == 1);
  CHECK(range[0]["done"] == true);
  CHECK(range[0]["taken_over"] == true);
  CHECK(range[0]["unit_state"] == "done");
  rig::check_big_equals_mysql(db);
  for (int t = 1; t <= 30; ++t) CHECK(db.count(fmt::format("t{:02}", t)) == 20);
  CHECK(rig::metadata_for(db, "big")["status"] == "success");
}

TEST_CASE("units: a shard paused past its unit's lease cannot write a stale checkpoint after SIGCONT, a second "
          "run exits 75 while every unit is held, and status shows who holds which unit",
          "[sync][units][shards][fencing]") {
  rig::Scratch db("shardpause");
  make_big_table(db, 30000);
  const TempFile cfg(db.name() + "_units.toml", units_config(3000));
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "200"}});
  Child a({"--json", "--config", cfg.path, "sync", "--shard", "0/2"}, env);
  Child b({"--json", "--config", cfg.path, "sync", "--shard", "1/2"}, env);
  std::optional<std::pair<std::string, std::string>> held;
  REQUIRE(eventually(
      [&] {
        held = range_in_progress(db, "big", rig::lease_holder(db));
        return held.has_value() || (!a.running() && !b.running());
      },
      60s));
  REQUIRE(held);
  Child& paused = a.owner() == held->first ? a : b;
  Child& other = &paused == &a ? b : a;
  const std::string shard_of_paused = &paused == &a ? "0/2" : "1/2";

  // status: the shards of the run and the units they hold.
  const auto status = rig::run({"--json", "status"}, db.env());
  REQUIRE(status.code == 0);
  const auto sj = status.json();
  CHECK(sj["scheduler"]["shard_count"] == 2);
  bool shown = false;
  for (const auto& u : sj["units"]) shown = shown || u["owner"] == held->first;
  CHECK(shown);
  const auto text = rig::run({"status"}, db.env());
  CHECK(contains(text.out, "sharded run of 2 shards"));
  CHECK(contains(text.out, "HELD BY"));
  CHECK(contains(text.out, held->first));

  // A second run, of the same shards or of one host, finds every unit held: exit 75 at once.
  const auto second = rig::run({"-v", "--config", cfg.path, "sync", "--shard", shard_of_paused}, env);
  CHECK(second.code == 75);
  CHECK(contains(second.err, "is held by the run in progress"));
  const auto plain = rig::run({"--config", cfg.path, "sync"}, env);
  CHECK(plain.code == 75);

  // Paused while it holds a range (not between two units).
  std::string range_id;
  REQUIRE(eventually(
      [&] {
        paused.signal(SIGSTOP);
        if (!eventually([&] { return is_stopped(paused.pid()); }, 5s)) return false;
        for (const auto& r : ranges_of(db, "big"))
          if (r.value("unit_state", "") == "claimed" && r.value("unit_owner", "") == paused.owner())
            range_id = r["_id"].get<std::string>();
        if (range_id.empty()) paused.signal(SIGCONT);
        return !range_id.empty();
      },
      30s));
  held->second = range_id;
  // Its lease runs out; the other shard takes the range over and finishes it, and the whole run.
  REQUIRE(eventually(
      [&] {
        const auto r = db.find("_sync_metadata", json{{"_id", held->second}}.dump());
        return !r.empty() && r[0]["unit_state"] == "done";
      },
      60s));
  REQUIRE(other.wait(120s));
  INFO("other stderr: " << other.err());
  CHECK(other.code() == 0);
  const auto before = db.find("_sync_metadata", json{{"_id", held->second}}.dump())[0];
  CHECK(before["taken_over"] == true);
  CHECK(before["checkpoint"].is_null());

  paused.signal(SIGCONT);
  REQUIRE(paused.wait(60s));
  INFO("paused stderr: " << paused.err());
  CHECK(paused.code() == 0);
  CHECK(contains(paused.err(), "another shard took this unit over"));
  const auto pj = report_of(paused);
  bool lost = false;
  for (const auto& u : pj["units"]) lost = lost || u["status"] == "lost";
  CHECK(lost);
  // Its stale write was refused: the range is as the other shard left it.
  const auto after = db.find("_sync_metadata", json{{"_id", held->second}}.dump())[0];
  CHECK(after["checkpoint"].is_null());
  CHECK(after["done"] == true);
  CHECK(after["unit_token"] == before["unit_token"]);
  CHECK(after["unit_state"] == "done");
  rig::check_big_equals_mysql(db);
  CHECK(rig::metadata_for(db, "big")["status"] == "success");
}

TEST_CASE("units: wrong --jobs, SYNC_JOBS, --shard and --shards are refused in one line before anything is written",
          "[sync][units][cli]") {
  rig::Scratch db("unitcli");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1)");
  struct Case {
    std::vector<std::string> args;
    std::map<std::string, std::string> env;
    int code;
    std::string message;
  };
  const std::vector<Case> cases{
      {{"sync", "--jobs", "0"}, {}, 64, "--jobs: 0 is out of range for sync.jobs; use a value from 1 to 64"},
      {{"sync", "--jobs", "many"}, {}, 64, "--jobs: 'many' is not a whole number"},
      {{"sync"}, {{"SYNC_JOBS", "65"}}, 78, "SYNC_JOBS (environment): 65 is out of range for sync.jobs"},
      {{"sync", "--shard", "3/3"}, {}, 64, "--shard 3/3: the index counts from 0"},
      {{"sync", "--shard", "1"}, {}, 64, "--shard 1: expected INDEX/COUNT"},
      {{"sync", "--shards", "3"}, {}, 64, "JOB_COMPLETION_INDEX, which is not set"},
      {{"sync", "--shards", "3"}, {{"JOB_COMPLETION_INDEX", "3"}}, 78, "JOB_COMPLETION_INDEX (environment): '3'"},
      {{"sync", "--shard", "0/2", "--shards", "2"}, {}, 64, "--shard excludes --shards"},
  };
  for (const auto& c : cases) {
    INFO(rig::lower(c.message));
    const auto r = rig::run(c.args, with_env(db.env(), c.env));
    INFO("stderr: " << r.err);
    CHECK(r.code == c.code);
    CHECK(contains(r.err, c.message));
    CHECK(rig::lines_of(r.err).size() == 1);
    CHECK(db.collections().empty());
  }
  // --shards with the index from the environment: a run of one shard.
  const auto ok = rig::run({"--json", "sync", "--shards", "1"}, with_env(db.env(), {{"JOB_COMPLETION_INDEX", "0"}}));
  INFO("stderr: " << ok.err);
  CHECK(ok.code == 0);
  CHECK(ok.json()["shard"]["index"] == 0);
  CHECK(db.count("t") == 1);
}

TEST_CASE("units: a binlog table's first copy in key ranges on 4 workers, stopped mid-way, resumes from the binlog "
          "position it started at, and a sharded run keeps binlog tables on the shard that read the log",
          "[sync][units][parallel][binlog]") {
  rig::Scratch db("unitbinlog");
  constexpr long long kRows = 60000;
  make_big_table(db, kRows);
  const TempFile cfg(db.name() + "_units.toml", units_config(5000));
  const auto env = with_env(db.env(), {{"SYNC_BATCH_SIZE", "200"}, {"SYNC_CHANGES", "binlog"}});
  Child run({"--json", "--config", cfg.path, "sync", "--jobs", "4"}, env);
  std::optional<std::pair<long long, long long>> copied;  // (lo, checkpoint) of a range under way
  REQUIRE(eventually(
      [&] {
        for (const auto& r : ranges_of(db, "big")) {
          if (!r.contains("checkpoint") || !r["checkpoint"].is_array()) continue;
          const long long lo = r["lo"].is_array() ? std::stoll(r["lo"][0].get<std::string>()) : 0;
          const long long cp = std::stoll(r["checkpoint"][0].get<std::string>());
          if (cp >= lo + 3) copied = std::make_pair(lo, cp);
        }
        return copied.has_value() || !run.running();
      },
      60s));
  REQUIRE(run.running());
  // Rows already in MongoDB change while the copy goes on: an UPDATE that leaves the change column
  // alone and a DELETE, which only the log tells.
  const long long changed = copied->first + 1, gone = copied->first + 2;
  db.sql(fmt::format("UPDATE big SET v = -1, updated_at = updated_at WHERE id = {}; DELETE FROM big WHERE id = {}",
                     changed, gone));
  run.signal(SIGTERM);
  REQUIRE(run.wait(10s));
  INFO("stderr: " << run.err());
  REQUIRE(run.code() == 143);
  const auto positions = db.find("_sync_metadata", R"({"_id": "m2m_binlog"})");
  REQUIRE(positions.size() == 1);
  INFO("binlog document: " << positions[0].dump());
  CHECK(binlog_copying(positions[0], "big"));
  // And after the stop.
  db.sql(fmt::format("UPDATE big SET s = 'after', updated_at = updated_at WHERE id = {}", kRows));

  const auto resumed = rig::sync_ok(db, {"--jobs", "2"}, env, cfg.path);
  CHECK(resumed["tables"]["big"]["resumed"] == true);
  CHECK(resumed["tables"]["big"]["records_synced"] < kRows);
  // The next run follows the log from where the interrupted copy started: both changes arrive.
  const auto follows = rig::sync_ok(db, {"--jobs", "2"}, env, cfg.path);
  CHECK(follows["tables"]["big"]["sync_type"] == "incremental");
  CHECK(follows["tables"]["big"]["change_source"] == "binlog");
  rig::check_big_equals_mysql(db);
  CHECK(db.count("big", json{{"id", gone}}.dump()) == 0);

  // A sharded run: the binlog table is not a unit other shards can claim; the shard that read the log
  // syncs it, the others find nothing to do, and the change arrives once.
  db.sql("UPDATE big SET v = -2, updated_at = updated_at WHERE id = 7; DELETE FROM big WHERE id = 8");
  std::vector<std::unique_ptr<Child>> shards;
  for (int i = 0; i < 3; ++i)
    shards.push_back(std::make_unique<Child>(
        std::vector<std::string>{"--json", "--config", cfg.path, "sync", "--shard", shard_arg(i, 3)}, env));
  std::vector<json> reports;
  for (auto& c : shards) {
    REQUIRE(c->wait(120s));
    INFO("shard stderr: " << c->err());
    CHECK(c->code() == 0);
    reports.push_back(report_of(*c));
  }
  // Only a shard that planned a run (and read the log for it) syncs `big`; a shard that came after the
  // run ended plans its own.
  int synced_big = 0;
  for (const auto& r : reports) {
    if (!r["tables"].contains("big")) continue;
    ++synced_big;
    CHECK(r["shard"]["planned"] == true);
  }
  CHECK(synced_big >= 1);
  rig::check_big_equals_mysql(db);
  const auto after = db.find("_sync_metadata", R"({"_id": "m2m_binlog"})");
  REQUIRE(after.size() == 1);
  CHECK_FALSE(binlog_copying(after[0], "big"));
}
