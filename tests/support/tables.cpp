#include "support/tables.hpp"

#include <catch2/catch.hpp>

#include <set>

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

std::string lease_holder(Scratch& db) {
  const auto docs = db.find("_sync_lock");
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

}  // namespace rig
