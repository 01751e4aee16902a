#include "support/tables.hpp"

#include "util/text.hpp"

#include <catch2/catch.hpp>
#include <mongoc/mongoc.h>

#include <set>
#include <thread>

namespace rig {

void make_big(Scratch& db, long long first, long long last) {
  db.sql("CREATE TABLE IF NOT EXISTS big (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(16) NOT NULL, "
         "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP)");
  constexpr long long kPerStatement = 10000;
  for (long long start = first; start <= last; start += kPerStatement) {
    std::string sql = "INSERT INTO big (id, v, s) VALUES ";
    for (long long i = start; i <= last && i < start + kPerStatement; ++i) {
      if (i != start) sql += ',';
      sql += "(" + std::to_string(i) + "," + std::to_string(i * 7 % 1000) + ",'row" + std::to_string(i) + "')";
    }
    db.sql(sql);
  }
}

void check_big_equals_mysql(Scratch& db) {
  const auto rows = db.query("SELECT id, v, s FROM big ORDER BY id");
  std::map<long long, std::pair<long long, std::string>> expected;
  for (const auto& r : rows) expected[std::stoll(r[0])] = {std::stoll(r[1]), r[2]};
  REQUIRE(db.count("big") == static_cast<long long>(expected.size()));
  const auto distinct = db.command(R"({"distinct": "big", "key": "id"})");
  INFO("distinct reply error: " << distinct.value("_error", ""));
  REQUIRE(distinct.contains("values"));
  CHECK(distinct["values"].size() == expected.size());
  std::set<long long> seen;
  long long wrong = 0, duplicates = 0;
  for (const auto& d : db.find("big")) {
    const long long id = std::stoll(d["id"]["$numberInt"].get<std::string>());
    if (!seen.insert(id).second) ++duplicates;
    const auto it = expected.find(id);
    if (it == expected.end() || d["v"] != i32(it->second.first) || d["s"] != it->second.second) {
      if (++wrong <= 5) UNSCOPED_INFO("unexpected document " << d.dump());
    }
  }
  CHECK(duplicates == 0);
  CHECK(wrong == 0);
  CHECK(seen.size() == expected.size());
}

long long checkpoint_of(Scratch& db, const std::string& table) {
  const auto docs = db.find("_sync_metadata", json{{"table_name", table}}.dump());
  if (docs.empty() || !docs[0].contains("checkpoint") || !docs[0]["checkpoint"].is_array() ||
      docs[0]["checkpoint"].empty())
    return -1;
  return std::stoll(docs[0]["checkpoint"][0].get<std::string>());
}

long long settled_checkpoint(Scratch& db, const std::string& table) {
  long long checkpoint = checkpoint_of(db, table);
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const long long again = checkpoint_of(db, table);
    if (again == checkpoint) break;
    checkpoint = again;
  }
  return checkpoint;
}

std::string lease_holder(Scratch& db) {
  // The run lock's document (a sharded run also keeps one document per shard there).
  const auto docs = db.find("_sync_lock", R"({"_id": "sync"})");
  REQUIRE(docs.size() <= 1);
  if (docs.empty() || !docs[0]["owner"].is_string()) return "";
  return docs[0]["owner"].get<std::string>();
}

json sync_ok(Scratch& db, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& extra_env, const std::string& config) {
  std::vector<std::string> argv{"--json"};
  if (!config.empty()) {
    argv.push_back("--config");
    argv.push_back(config);
  }
  argv.push_back("sync");
  argv.insert(argv.end(), args.begin(), args.end());
  const auto r = rig::run(argv, with_env(db.env(), extra_env));
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.code == 0);
  auto j = r.json();
  REQUIRE(j["status"] == "success");
  REQUIRE(j["failed_tables"] == 0);
  return j;
}

json full_sync(Scratch& db, const std::vector<std::string>& args, const std::map<std::string, std::string>& extra_env,
               const std::string& config) {
  std::vector<std::string> full{"--full"};
  full.insert(full.end(), args.begin(), args.end());
  return sync_ok(db, full, extra_env, config);
}

void make_shop(Scratch& db) {
  db.sql("CREATE TABLE orders (id INT PRIMARY KEY, v INT NOT NULL, "
         "updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP);"
         "INSERT INTO orders (id, v) SELECT seq, seq FROM seq_1_to_5;"
         "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);"
         "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
}

void make_unsyncable(Scratch& db, const std::string& table) {
  db.sql("CREATE TABLE `" + table + "` (id INT PRIMARY KEY, v INT); INSERT INTO `" + table + "` VALUES (1, 1), (2, 2)");
  const auto ins = db.command(R"({"insert": ")" + table +
                              R"(", "documents": [{"id": 1, "v": 0}, {"id": 1, "v": 0}]})");
  REQUIRE_FALSE(ins.contains("_error"));
}

void make_numbered(Scratch& db, const std::string& table, long long n) {
  db.sql("CREATE TABLE `" + table + "` (id INT PRIMARY KEY, v INT NOT NULL)");
  db.sql("INSERT INTO `" + table + "` SELECT seq, seq % 1000 FROM seq_1_to_" + std::to_string(n));
  db.query("ANALYZE TABLE `" + table + "`");
}

void age_last_sync(Scratch& db, std::chrono::milliseconds age) {
  const long long then = now_ms() - age.count();
  nlohmann::ordered_json set;
  set["last_success"] = {{"$date", {{"$numberLong", std::to_string(then)}}}};
  set["timestamp"] = {{"$date", {{"$numberLong", std::to_string(then)}}}};
  set["last_sync_time"] = m2m::iso8601_utc(then);
  nlohmann::ordered_json update;
  update["q"] = json::object();
  update["u"] = {{"$set", set}};
  update["multi"] = true;
  nlohmann::ordered_json cmd;  // the command name must come first: an ordered object
  cmd["update"] = "_sync_metadata";
  cmd["updates"] = nlohmann::ordered_json::array({update});
  const auto reply = db.command(cmd.dump());
  INFO("update reply: " << reply.dump());
  REQUIRE_FALSE(reply.contains("_error"));
  REQUIRE_FALSE(reply.contains("writeErrors"));
  for (const auto& d : db.find("_sync_metadata")) {
    INFO("metadata: " << d.dump());
    REQUIRE(d["last_success"] == date(then));
  }
}

void insert_rows(Scratch& db, const std::string& table, long long from, long long to,
                 const std::function<std::string(long long)>& row, long long per_statement) {
  for (long long start = from; start <= to; start += per_statement) {
    std::string sql = "INSERT INTO `" + table + "` VALUES ";
    for (long long i = start; i <= to && i < start + per_statement; ++i) {
      if (i != start) sql += ',';
      sql += row(i);
    }
    db.sql(sql);
  }
}

std::map<long long, json> docs_by_id(Scratch& db, const std::string& collection) {
  std::map<long long, json> out;
  for (auto& d : db.find(collection)) {
    REQUIRE(d["id"].contains("$numberInt"));
    const long long id = std::stoll(d["id"]["$numberInt"].get<std::string>());
    INFO("duplicate id " << id << " in " << collection);
    REQUIRE(out.count(id) == 0);
    out[id] = std::move(d);
  }
  return out;
}

std::multiset<std::string> contents(Scratch& db, const std::string& collection) {
  std::multiset<std::string> out;
  for (auto d : db.find(collection)) {
    d.erase("_id");
    out.insert(d.dump());
  }
  return out;
}

std::map<std::string, IndexInfo> list_indexes(const std::string& database, const std::string& collection) {
  mongoc_client_t* client = mongoc_client_new(rig::servers().mongodb_url.c_str());
  REQUIRE(client != nullptr);
  mongoc_collection_t* coll = mongoc_client_get_collection(client, database.c_str(), collection.c_str());
  mongoc_cursor_t* cursor = mongoc_collection_find_indexes_with_opts(coll, nullptr);
  std::map<std::string, IndexInfo> out;
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor, &doc)) {
    bson_iter_t it;
    std::string name;
    IndexInfo info;
    if (bson_iter_init_find(&it, doc, "name") && BSON_ITER_HOLDS_UTF8(&it)) name = bson_iter_utf8(&it, nullptr);
    if (bson_iter_init_find(&it, doc, "unique")) info.unique = bson_iter_as_bool(&it);
    bson_iter_t key;
    if (bson_iter_init_find(&it, doc, "key") && BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &key))
      while (bson_iter_next(&key)) info.fields.emplace_back(bson_iter_key(&key));
    out[name] = info;
  }
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  INFO("listIndexes " << collection << ": " << (failed ? error.message : "ok"));
  REQUIRE_FALSE(failed);
  return out;
}

}  // namespace rig
