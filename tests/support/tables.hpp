// Tables and data the integration tests share: a big keyed table and its exact check, rows inserted in
// bulk, tables that sync and one that cannot, documents by id, indexes, a second MySQL session, the usual
// sync invocations.
#pragma once

#include "support/ejson.hpp"
#include "support/rig.hpp"

#include <catch2/catch.hpp>
#include <mysql.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace rig {

using json = nlohmann::json;

// Rows first..last of `big (id INT PRIMARY KEY, v INT, s VARCHAR(16), updated_at)`, v = id * 7 % 1000,
// s = 'row<id>'; updated_at (a change column, so the table is incremental between full syncs) is the
// insert time.
void make_big(Scratch& db, long long first, long long last);

// The collection `big` equals MySQL's table: same count, each id once, every document's values right.
void check_big_equals_mysql(Scratch& db);

// The saved checkpoint of `table` as a key value, or -1 when there is none.
long long checkpoint_of(Scratch& db, const std::string& table);

// The saved checkpoint of `table` once it has stopped moving, after a run was killed: a write the killed
// run sent just before dying may still be applied after it died (by the endpoint as by a real server).
long long settled_checkpoint(Scratch& db, const std::string& table);

// Who holds the run lock now ("host:pid"), or "" when it is free (released, or never taken): the
// document {_id: "sync"} of _sync_lock.
std::string lease_holder(Scratch& db);

// `mysql2mongo --json [--config FILE] sync ARGS...`, requiring exit 0 and status "success".
json sync_ok(Scratch& db, const std::vector<std::string>& args = {},
             const std::map<std::string, std::string>& extra_env = {}, const std::string& config = {});

// `mysql2mongo --json [--config FILE] sync --full ARGS...`, requiring exit 0 and status "success".
json full_sync(Scratch& db, const std::vector<std::string>& args = {},
               const std::map<std::string, std::string>& extra_env = {}, const std::string& config = {});

// Two tables: `orders` (5 rows) with a change column, incremental after the first sync, and `items`
// (3 rows) without one, copied in full every run (the seed's "no timestamp columns" fallback).
void make_shop(Scratch& db);

// A table whose first sync fails: its collection already holds two documents with the same key, so the
// unique key index cannot be built.
void make_unsyncable(Scratch& db, const std::string& table);

// `table (id INT PRIMARY KEY, v INT NOT NULL)` with rows 1..n (v = id % 1000), no change column, its
// statistics fresh (a progress total is InnoDB's row estimate).
void make_numbered(Scratch& db, const std::string& table, long long n);

// Makes every table's last sync, a success, `age` old, as if no run had happened since: the age
// `status --check` judges, without waiting for it.
void age_last_sync(Scratch& db, std::chrono::milliseconds age);

// Inserts rows 1..n (or from..to) with multi-row INSERTs of `per_statement` rows; `row(i)` gives the
// parenthesised VALUES tuple of row i.
void insert_rows(Scratch& db, const std::string& table, long long from, long long to,
                 const std::function<std::string(long long)>& row, long long per_statement = 5000);

// The documents of a collection by their integer `id` field.
std::map<long long, json> docs_by_id(Scratch& db, const std::string& collection);

// The documents of a collection without their _id, as a sorted multiset of dumps (to compare runs).
std::multiset<std::string> contents(Scratch& db, const std::string& collection);

// Indexes of a collection by name, with their key fields in order (find() returns nlohmann objects,
// whose keys are sorted, so the compound order is read straight from BSON).
struct IndexInfo {
  std::vector<std::string> fields;
  bool unique = false;
};
std::map<std::string, IndexInfo> list_indexes(const std::string& database, const std::string& collection);

// A second MySQL session of its own, for transactions that stay open while the tool runs.
class Session {
public:
  explicit Session(const std::string& database) {
    const auto& s = rig::servers();
    m_ = mysql_init(nullptr);
    mysql_options(m_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(m_, s.mysql_host.c_str(), s.mysql_user.c_str(), s.mysql_password.c_str(),
                            database.c_str(), s.mysql_port, nullptr, 0)) {
      const std::string err = mysql_error(m_);
      mysql_close(m_);
      m_ = nullptr;
      FAIL("cannot open a second MySQL session: " << err);
    }
    exec("SET time_zone = '+00:00'");
  }
  ~Session() {
    if (m_) mysql_close(m_);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void exec(const std::string& sql) {
    INFO("SQL: " << sql);
    REQUIRE(m_ != nullptr);
    const bool ok = mysql_real_query(m_, sql.data(), sql.size()) == 0;
    INFO("error: " << (ok ? "" : mysql_error(m_)));
    REQUIRE(ok);
    if (MYSQL_RES* r = mysql_store_result(m_)) mysql_free_result(r);
  }
  std::string scalar(const std::string& sql) {
    INFO("SQL: " << sql);
    REQUIRE(mysql_real_query(m_, sql.data(), sql.size()) == 0);
    MYSQL_RES* r = mysql_store_result(m_);
    REQUIRE(r != nullptr);
    MYSQL_ROW row = mysql_fetch_row(r);
    std::string out = row && row[0] ? row[0] : "NULL";
    mysql_free_result(r);
    return out;
  }

private:
  MYSQL* m_ = nullptr;
};

}  // namespace rig
