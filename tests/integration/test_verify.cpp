// `mysql2mongo verify`: after a sync MongoDB equals MySQL (Sakila, every type mapping, both _id layouts);
// a document deleted, added or changed in MongoDB and a row changed in MySQL are named by key and field,
// in the text and in --json; --repair fixes exactly those; tables without a key as multisets; a write
// that lands during verify is not reported; memory stays flat; exit codes; status, --check and metrics.
#include "support/child.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <csignal>
#include <fstream>
#include <iostream>
#include <iterator>
#include <netinet/in.h>
#include <regex>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace {

using rig::json;
using rig::TempFile;
using rig::with_env;
using namespace std::chrono_literals;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `[--config CONFIG] ARGS...` (ARGS include the command), with the scratch database's environment.
rig::Result run(rig::Scratch& db, const std::vector<std::string>& args, const std::string& config = {},
                const std::map<std::string, std::string>& extra = {}) {
  std::vector<std::string> argv;
  if (!config.empty()) argv = {"--config", config};
  argv.insert(argv.end(), args.begin(), args.end());
  return rig::run(argv, with_env(db.env(), extra));
}

// The line of `table` in the text report: TABLE ROWS DOCUMENTS EQUAL MISSING EXTRA DIFFERENT RESULT.
std::vector<std::string> row_of(const std::string& out, const std::string& table) {
  for (const auto& line : lines_of(out))
    if (line.rfind(table + " ", 0) == 0) return words_of(line);
  FAIL("no line for table " << table << " in:\n" << out);
  return {};
}

// The lines under the row of `table` (its differing keys, the repair), up to the next table's row.
std::vector<std::string> details_of(const std::string& out, const std::string& table) {
  std::vector<std::string> details;
  bool in = false;
  for (const auto& line : lines_of(out)) {
    if (line.rfind(table + " ", 0) == 0) {
      in = true;
      continue;
    }
    if (!in) continue;
    if (line.rfind("  ", 0) != 0) break;
    details.push_back(line);
  }
  return details;
}

// Runs a MongoDB command on the scratch database and requires it to work.
void mongo(rig::Scratch& db, const std::string& command) {
  const auto reply = db.command(command);
  INFO("command " << command << "\nreply " << reply.dump());
  REQUIRE_FALSE(reply.contains("_error"));
  REQUIRE(reply.value("ok", json()) != json());
  REQUIRE_FALSE(reply.contains("writeErrors"));
}

// A port nothing listens on (bound, then released).
unsigned closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const unsigned port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

constexpr const char* kSettleNow = "[verify]\nsettle = \"0s\"\n";

// Every type mapping of mysql2mongo.toml(5): integers at their limits, BIGINT UNSIGNED beyond int64
// (Decimal128), DECIMAL exact and too wide, FLOAT and DOUBLE, dates with and without fractions (some
// truncated: lossy), zero dates, TIME, YEAR, text in utf8mb4 and latin1, ENUM, SET (an array), binary,
// BIT, JSON objects, arrays and big numbers, geometry; columns renamed (a.b, _id, $x), one excluded and
// two overridden by the configuration below. A composite key of text, a date and binary; a table
// without a key holding a duplicated row.
void make_types(rig::Scratch& db) {
  db.sql("CREATE TABLE types (id INT PRIMARY KEY, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, "
         "i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, yr YEAR, dc DECIMAL(10,2), dw DECIMAL(65,30), "
         "f FLOAT, g DOUBLE, d DATE, dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(6), "
         "c CHAR(5), v VARCHAR(50), t TEXT, l1 VARCHAR(10) CHARACTER SET latin1, e ENUM('s','m','l'), "
         "st SET('x','y','z'), bn BINARY(4), vb VARBINARY(10), bl BLOB, b1 BIT(1), b12 BIT(12), b64 BIT(64), "
         "j JSON, geo POINT NULL, `a.b` INT, `_id` INT, `$x` VARCHAR(5), secret VARCHAR(10), code INT, "
         "amount VARCHAR(12))");
  db.sql("SET SESSION sql_mode = '';"
         "INSERT INTO types VALUES "
         "(1, -128, 0, -32768, -8388608, -2147483648, 0, -9223372036854775808, 18446744073709551615, 1901, "
         "   12345678.90, 12345678901234567890123456789012345.123456789012345678901234567890, 1.5, 3.141592653589793, "
         "   '2024-02-29', '2024-02-29 13:14:15', '2024-01-02 03:04:05.123456', '2024-06-01 07:00:00.250', "
         "   '-838:59:59', 'ab', '\xF0\x9F\x98\x80 caf\xC3\xA9', 'two\nlines', 'caf\xC3\xA9', 'm', 'x,z', 'ab', X'00', "
         "   X'00FF0041', b'1', b'101010101010', b'" + std::string(64, '1') + "', "
         "   '{\"a\": 1, \"b\": [true, null, \"x\"], \"c\": {\"d\": 1.5, \"n\": 123456789012345678901234567890}}', "
         "   ST_GeomFromText('POINT(1 2)'), 7, 8, 'dx', 'hidden', 42, '19.99'),"
         "(2, 127, 255, 32767, 8388607, 2147483647, 4294967295, 9223372036854775807, 9223372036854775808, 2155, "
         "   -0.01, 1.5, -3.25, -1e300, '0000-00-00', '2024-05-00 10:00:00', '9999-12-31 23:59:59.999999', NULL, "
         "   '12:34:56.789012', '', '', '', '', 's', '', X'00000000', X'', X'', b'0', b'0', b'1', "
         "   '[1, \"two\", 3.5, {\"k\": false}, []]', NULL, NULL, NULL, NULL, 'hidden', -1, '0.10'),"
         "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
         "   NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
         "   NULL, NULL, NULL, NULL);"
         "SET SESSION sql_mode = DEFAULT");
  db.sql("CREATE TABLE ck (region VARCHAR(8) NOT NULL, day DATE NOT NULL, tag VARBINARY(4) NOT NULL, n INT NOT NULL, "
         "note JSON, PRIMARY KEY (region, day, tag));"
         "INSERT INTO ck VALUES ('a', '2024-01-01', X'01', 1, '{\"x\": [1]}'), ('b', '2024-01-02', X'0102', 2, NULL), "
         "('c', '2024-01-03', X'', 3, '[]'), ('d', '2024-01-04', X'ff', 4, '{}'), ('e', '2024-01-05', X'00', 5, NULL)");
  db.sql("CREATE TABLE nk (v INT, s VARCHAR(5), j JSON);"
         "INSERT INTO nk VALUES (1, 'a', '[1]'), (1, 'a', '[1]'), (2, 'b', NULL), (3, 'c', '{\"k\": 1}')");
}

// The configuration of the types table: an excluded column and two type overrides.
std::string types_config(bool key_as_id, const std::string& mongo_database = {}) {
  std::string text = kSettleNow;
  text += "[sync]\nkey_as_id = " + std::string(key_as_id ? "true" : "false") + "\n";
  if (!mongo_database.empty()) text += "[mongodb]\ndatabase = \"" + mongo_database + "\"\n";
  text += "[tables.types]\nexclude_columns = [\"secret\"]\n[tables.types.types]\ncode = \"string\"\namount = \"decimal\"\n";
  return text;
}

void sync_full(rig::Scratch& db, const std::string& config) {
  const auto r = run(db, {"--json", "sync", "--full"}, config);
  INFO("sync stderr: " << r.err);
  REQUIRE(r.code == 0);
  REQUIRE(r.json()["failed_tables"] == 0);
}

// A MongoDB database other than the scratch's, dropped at the end.
struct OtherMongoDatabase {
  std::string name;
  ~OtherMongoDatabase() { rig::drop_mongo_database(name); }
};

}  // namespace

TEST_CASE("verify: after a sync of Sakila and of every type mapping MongoDB is equal, with either _id layout, "
          "quiet under cron, the report with -v and --json",
          "[verify]") {
  rig::Scratch db("veq");
  rig::load_sakila(db);
  make_types(db);
  const OtherMongoDatabase by_key{db.name() + "_kid"};
  for (const bool key_as_id : {false, true}) {
    DYNAMIC_SECTION("key_as_id " << key_as_id) {
      const TempFile cfg(db.name() + (key_as_id ? "-kid" : "") + ".toml",
                         types_config(key_as_id, key_as_id ? by_key.name : ""));
      sync_full(db, cfg.path);

      // Like diff(1): equal means exit 0 and, under cron, not a word.
      const auto quiet = run(db, {"verify"}, cfg.path);
      INFO("stdout:\n" << quiet.out << "\nstderr:\n" << quiet.err);
      CHECK(quiet.code == 0);
      CHECK(quiet.out.empty());
      CHECK(quiet.err.empty());

      const auto text = run(db, {"-v", "verify"}, cfg.path);
      INFO("stdout:\n" << text.out);
      REQUIRE(text.code == 0);
      const auto lines = lines_of(text.out);
      REQUIRE(lines.size() == 1 + 19 + 1);  // header, 16 Sakila tables + types, ck, nk, summary
      CHECK(words_of(lines[0]) ==
            std::vector<std::string>{"TABLE", "ROWS", "DOCUMENTS", "EQUAL", "MISSING", "EXTRA", "DIFFERENT", "RESULT"});
      for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
        const auto w = words_of(lines[i]);
        INFO(lines[i]);
        REQUIRE(w.size() == 8);
        CHECK(w[1] == w[2]);  // rows == documents
        CHECK(w[1] == w[3]);  // == equal
        CHECK(w[4] == "0");
        CHECK(w[5] == "0");
        CHECK(w[6] == "0");
        CHECK(w[7] == "equal");
      }
      CHECK(row_of(text.out, "types")[1] == "3");
      CHECK(row_of(text.out, "payment")[1] == "16049");
      CHECK(row_of(text.out, "nk")[1] == "4");
      CHECK(std::regex_match(lines.back(), std::regex(R"(verify: 19 tables: 19 equal, 0 different, 0 failed; 0 missing, )"
                                                      R"(0 extra, 0 different in \d+\.\ds)")));

      const auto j = run(db, {"--json", "verify"}, cfg.path);
      REQUIRE(j.code == 0);
      const auto report = j.json();
      CHECK(report["schema_version"] == 1);
      CHECK(report["exit_code"] == 0);
      CHECK(report["status"] == "equal");
      CHECK(report["tables_count"] == 19);
      CHECK(report["equal_tables"] == 19);
      CHECK(report["total"]["missing"] == 0);
      CHECK(report["total"]["extra"] == 0);
      CHECK(report["total"]["different"] == 0);
      for (const auto& [name, t] : report["tables"].items()) {
        INFO("table " << name);
        CHECK(t["result"] == "equal");
        CHECK(t["mysql_rows"] == t["mongodb_documents"]);
        CHECK(t["equal"] == t["mysql_rows"]);
        CHECK(t["samples"] == json{{"missing", json::array()}, {"extra", json::array()}, {"different", json::array()}});
      }
      CHECK(report["tables"]["film_actor"]["key"] == json::array({"actor_id", "film_id"}));
      CHECK(report["tables"]["nk"]["key"] == json::array());
    }
  }
}

namespace {

// One table's scenario: a document deleted, one added and one changed in MongoDB, a row changed in MySQL.
struct Scenario {
  std::string table;
  bool key_as_id = false;
  std::string delete_filter;     // MongoDB filter of the document deleted: its key is missing
  json missing_key;              // the key as --json names it: {column: MySQL text}
  std::string extra_document;    // inserted: its key is extra
  json extra_key;
  std::string changed_filter;    // a document changed in MongoDB ...
  std::string changed_update;    // ... by this update
  json changed_key;
  std::vector<std::string> changed_fields;
  std::string mysql_update;      // a row changed in MySQL only
  json mysql_key;
  std::vector<std::string> mysql_fields;
  std::vector<std::string> text;  // the report's lines under the table, in key order
  long long rows = 0;
};

std::vector<Scenario> scenarios() {
  std::vector<Scenario> out;
  // A one-column key, an ObjectId _id: Sakila's actor (last_update changes ON UPDATE).
  Scenario a;
  a.table = "actor";
  a.delete_filter = R"({"actor_id": 5})";
  a.missing_key = {{"actor_id", "5"}};
  a.extra_document = R"({"actor_id": 9999, "first_name": "GHOST", "last_name": "X"})";
  a.extra_key = {{"actor_id", "9999"}};
  a.changed_filter = R"({"actor_id": 3})";
  a.changed_update = R"({"$set": {"first_name": "CHANGED"}})";
  a.changed_key = {{"actor_id", "3"}};
  a.changed_fields = {"first_name"};
  a.mysql_update = "UPDATE actor SET last_name = 'RENAMED' WHERE actor_id = 7";
  a.mysql_key = {{"actor_id", "7"}};
  a.mysql_fields = {"last_name", "last_update"};
  a.text = {"  different  (actor_id) = ('3'): first_name", "  missing    (actor_id) = ('5')",
            "  different  (actor_id) = ('7'): last_name, last_update", "  extra      (actor_id) = ('9999')"};
  a.rows = 200;
  out.push_back(a);
  // A composite key of text, a date and binary, as an embedded _id (key_as_id).
  Scenario c;
  c.table = "ck";
  c.key_as_id = true;
  c.delete_filter = R"({"_id": {"region": "b", "day": {"$date": "2024-01-02T00:00:00Z"},
                                "tag": {"$binary": {"base64": "AQI=", "subType": "00"}}}})";
  c.missing_key = {{"region", "b"}, {"day", "2024-01-02"}, {"tag", "0x0102"}};
  c.extra_document = R"({"_id": {"region": "zz", "day": {"$date": "2024-01-09T00:00:00Z"},
                                 "tag": {"$binary": {"base64": "BQ==", "subType": "00"}}}, "n": 9})";
  c.extra_key = {{"region", "zz"}, {"day", "2024-01-09"}, {"tag", "0x05"}};
  c.changed_filter = R"({"region": "a"})";
  c.changed_update = R"({"$set": {"note.x": [1, 2]}})";
  c.changed_key = {{"region", "a"}, {"day", "2024-01-01"}, {"tag", "0x01"}};
  c.changed_fields = {"note"};
  c.mysql_update = "UPDATE ck SET n = 40 WHERE region = 'd'";
  c.mysql_key = {{"region", "d"}, {"day", "2024-01-04"}, {"tag", "0xff"}};
  c.mysql_fields = {"n"};
  c.text = {"  different  (region, day, tag) = ('a', '2024-01-01', '\\x01'): note",
            "  missing    (region, day, tag) = ('b', '2024-01-02', '\\x01\\x02')",
            "  different  (region, day, tag) = ('d', '2024-01-04', '\\xff'): n",
            "  extra      (region, day, tag) = ('zz', '2024-01-09', '\\x05')"};
  c.rows = 5;
  out.push_back(c);
  // Every type mapping, renamed columns (their MongoDB names are reported), overridden types.
  Scenario t;
  t.table = "types";
  t.delete_filter = R"({"id": 3})";
  t.missing_key = {{"id", "3"}};
  t.extra_document = R"({"id": 4, "a_b": 1})";
  t.extra_key = {{"id", "4"}};
  t.changed_filter = R"({"id": 1})";
  t.changed_update = R"({"$set": {"_id_": 80, "j.c.n": 1, "amount": "19.99"}})";
  t.changed_key = {{"id", "1"}};
  t.changed_fields = {"j", "_id_", "amount"};
  t.mysql_update = "UPDATE types SET dc = 99.99, code = 43 WHERE id = 2";
  t.mysql_key = {{"id", "2"}};
  t.mysql_fields = {"dc", "code"};
  t.text = {"  different  (id) = ('1'): j, _id_, amount", "  different  (id) = ('2'): dc, code",
            "  missing    (id) = ('3')", "  extra      (id) = ('4')"};
  t.rows = 3;
  out.push_back(t);
  return out;
}

}  // namespace

TEST_CASE("verify: a document deleted, added and changed in MongoDB and a row changed in MySQL are named by key and "
          "field in the text and --json, --repair fixes exactly them, verify then exits 0",
          "[verify][repair]") {
  for (const auto& s : scenarios()) {
    DYNAMIC_SECTION("table " << s.table << (s.key_as_id ? " with key_as_id" : "")) {
      rig::Scratch db("vdf");
      const bool sakila = s.table == "actor";  // loading Sakila takes a while: once is enough
      if (sakila) rig::load_sakila(db);
      make_types(db);
      const TempFile cfg(db.name() + ".toml", types_config(s.key_as_id));
      sync_full(db, cfg.path);
      REQUIRE(run(db, {"verify"}, cfg.path).code == 0);

      mongo(db, R"({"delete": ")" + s.table + R"(", "deletes": [{"q": )" + s.delete_filter + R"(, "limit": 1}]})");
      mongo(db, R"({"insert": ")" + s.table + R"(", "documents": [)" + s.extra_document + "]}");
      mongo(db, R"({"update": ")" + s.table + R"(", "updates": [{"q": )" + s.changed_filter + R"(, "u": )" +
                    s.changed_update + "}]}");
      db.sql(s.mysql_update);

      const auto text = run(db, {"verify"}, cfg.path);
      INFO("stdout:\n" << text.out << "\nstderr:\n" << text.err);
      CHECK(text.code == 1);
      CHECK(text.err.empty());
      const auto n = std::to_string(s.rows);
      CHECK(row_of(text.out, s.table) ==
            std::vector<std::string>{s.table, n, n, std::to_string(s.rows - 3), "1", "1", "2", "different"});
      CHECK(details_of(text.out, s.table) == s.text);
      // Every other table is untouched, and says so.
      std::vector<std::string> others{"ck", "nk", "types"};
      if (sakila) others.insert(others.end(), {"film", "payment"});
      for (const auto& other : others)
        if (other != s.table) CHECK(row_of(text.out, other).back() == "equal");
      const int tables = sakila ? 19 : 3;
      CHECK(contains(lines_of(text.out).back(), "verify: " + std::to_string(tables) + " tables: " +
                                                    std::to_string(tables - 1) +
                                                    " equal, 1 different, 0 failed; 1 missing, 1 extra, 2 different in "));

      const auto j = run(db, {"--json", "verify", "--tables", s.table}, cfg.path);
      REQUIRE(j.code == 1);
      const auto report = j.json();
      CHECK(report["exit_code"] == 1);
      CHECK(report["status"] == "different");
      const auto& t = report["tables"][s.table];
      CHECK(t["result"] == "different");
      CHECK(t["mysql_rows"] == s.rows);
      CHECK(t["mongodb_documents"] == s.rows);
      CHECK(t["equal"] == s.rows - 3);
      CHECK(t["missing"] == 1);
      CHECK(t["extra"] == 1);
      CHECK(t["different"] == 2);
      CHECK(t["changed_during_verify"] == 0);
      CHECK(t["samples"]["missing"] == json::array({{{"key", s.missing_key}}}));
      CHECK(t["samples"]["extra"] == json::array({{{"key", s.extra_key}}}));
      // In key order, like the text.
      const json changed = {{"key", s.changed_key}, {"fields", s.changed_fields}};
      const json in_mysql = {{"key", s.mysql_key}, {"fields", s.mysql_fields}};
      CHECK(t["samples"]["different"] == json::array({changed, in_mysql}));

      // --repair: those four keys, nothing else.
      const auto repair = run(db, {"--json", "verify", "--repair"}, cfg.path);
      INFO("repair stderr: " << repair.err);
      REQUIRE(repair.code == 0);
      const auto r = repair.json();
      CHECK(r["status"] == "equal");
      CHECK(r["repair"] == true);
      const auto& rt = r["tables"][s.table];
      CHECK(rt["result"] == "equal");
      CHECK(rt["missing"] == 1);  // what it found ...
      CHECK(rt["different"] == 2);
      CHECK(rt["repair"] == json{{"copied", 3}, {"deleted", 1}, {"remaining", {{"missing", 0}, {"extra", 0}, {"different", 0}}}});
      CHECK_FALSE(r["tables"]["nk"].contains("repair"));  // ... and a table with nothing to repair is left alone

      const auto again = run(db, {"-v", "verify"}, cfg.path);
      INFO("again:\n" << again.out);
      CHECK(again.code == 0);
      CHECK(row_of(again.out, s.table) ==
            std::vector<std::string>{s.table, n, n, n, "0", "0", "0", "equal"});
    }
  }
}

TEST_CASE("verify: a table without a key is compared as a multiset of documents: a duplicated row removed in "
          "MongoDB is missing once, a document added is extra, --repair rebuilds it",
          "[verify][repair]") {
  rig::Scratch db("vnk");
  make_types(db);
  const TempFile cfg(db.name() + ".toml", types_config(false));
  sync_full(db, cfg.path);
  REQUIRE(db.count("nk", R"({"v": 1})") == 2);
  REQUIRE(run(db, {"verify", "--tables", "nk"}, cfg.path).code == 0);

  mongo(db, R"({"delete": "nk", "deletes": [{"q": {"v": 1}, "limit": 1}]})");
  mongo(db, R"({"insert": "nk", "documents": [{"v": 9, "s": "new", "j": null}]})");
  // A document changed in place is one missing and one extra: without a key there is no pairing.
  mongo(db, R"({"update": "nk", "updates": [{"q": {"v": 3}, "u": {"$set": {"s": "C"}}}]})");

  const auto text = run(db, {"verify", "--tables", "nk"}, cfg.path);
  INFO("stdout:\n" << text.out << "\nstderr:\n" << text.err);
  CHECK(text.code == 1);
  CHECK(row_of(text.out, "nk") == std::vector<std::string>{"nk", "4", "4", "2", "2", "2", "0", "different"});
  auto details = details_of(text.out, "nk");
  std::sort(details.begin(), details.end());
  CHECK(details == std::vector<std::string>{
                       R"(  extra      1 x { "v" : 3, "s" : "C", "j" : { "k" : 1 } })",
                       R"(  extra      1 x { "v" : 9, "s" : "new", "j" : null })",
                       R"(  missing    1 x { "v" : 1, "s" : "a", "j" : [ 1 ] })",
                       R"(  missing    1 x { "v" : 3, "s" : "c", "j" : { "k" : 1 } })"});

  const auto j = run(db, {"--json", "verify", "--tables", "nk"}, cfg.path);
  REQUIRE(j.code == 1);
  const auto t = j.json()["tables"]["nk"];
  CHECK(t["key"] == json::array());
  CHECK(t["mysql_rows"] == 4);
  CHECK(t["mongodb_documents"] == 4);
  CHECK(t["equal"] == 2);
  CHECK(t["missing"] == 2);
  CHECK(t["extra"] == 2);
  CHECK(t["different"] == 0);
  auto missing = t["samples"]["missing"];
  std::sort(missing.begin(), missing.end());
  CHECK(missing == json::array({{{"document", R"({ "v" : 1, "s" : "a", "j" : [ 1 ] })"}, {"count", 1}},
                                {{"document", R"({ "v" : 3, "s" : "c", "j" : { "k" : 1 } })"}, {"count", 1}}}));
  CHECK(t["samples"]["different"] == json::array());

  // Both duplicates gone: the one document is missing twice.
  mongo(db, R"({"delete": "nk", "deletes": [{"q": {"v": 1}, "limit": 0}]})");
  const auto twice = run(db, {"--json", "verify", "--tables", "nk"}, cfg.path);
  REQUIRE(twice.code == 1);
  CHECK(twice.json()["tables"]["nk"]["samples"]["missing"][0] ==
        json{{"document", R"({ "v" : 1, "s" : "a", "j" : [ 1 ] })"}, {"count", 2}});

  // The repair is the sync's own copy of a keyless table: rebuilt through a staging collection.
  const auto repair = run(db, {"--json", "verify", "--repair", "--tables", "nk"}, cfg.path);
  INFO("repair stderr: " << repair.err);
  REQUIRE(repair.code == 0);
  CHECK(repair.json()["tables"]["nk"]["repair"]["copied"] == 4);
  CHECK(repair.json()["tables"]["nk"]["repair"]["remaining"] == json{{"missing", 0}, {"extra", 0}, {"different", 0}});
  CHECK(db.count("nk", R"({"v": 1})") == 2);
  CHECK(run(db, {"verify", "--tables", "nk"}, cfg.path).code == 0);
}

TEST_CASE("verify: 200,000 rows are compared in bounded memory, flat from 20,000 rows, SIGTERM stops a verify "
          "cleanly (143, nothing recorded)",
          "[verify][memory]") {
  rig::Scratch db("vmem");
  rig::make_big(db, 1, 200000);
  db.sql("CREATE TABLE small LIKE big; INSERT INTO small SELECT * FROM big WHERE id <= 20000");
  const TempFile cfg(db.name() + ".toml", kSettleNow);
  sync_full(db, cfg.path);

  // SIGTERM while the 200,000 rows are being read: stopped, exit 143, no result recorded.
  {
    rig::Child child({"--config", cfg.path, "-v", "verify", "--tables", "big"}, db.env());
    REQUIRE(rig::eventually([&] { return contains(child.err(), "table big: verifying against collection big"); }, 30s));
    child.signal(SIGTERM);
    REQUIRE(child.wait(10s));
    INFO("stderr: " << child.err());
    CHECK(child.code() == 143);
    CHECK(contains(child.err(), "stopped by SIGTERM"));
    CHECK_FALSE(rig::metadata_for(db, "big").contains("last_verify"));
  }

  const auto small = run(db, {"--json", "verify", "--tables", "small"}, cfg.path);
  const auto big = run(db, {"--json", "verify", "--tables", "big"}, cfg.path);
  INFO("small: " << small.max_rss_kb << " KiB, big: " << big.max_rss_kb << " KiB; stderr " << big.err);
  REQUIRE(small.code == 0);
  REQUIRE(big.code == 0);
  CHECK(big.json()["tables"]["big"]["equal"] == 200000);
  CHECK(small.json()["tables"]["small"]["equal"] == 20000);
  CHECK(big.max_rss_kb < 64 * 1024);
  CHECK(big.max_rss_kb < small.max_rss_kb + 8 * 1024);  // ten times the rows, the same memory
  std::cout << "verify peak RSS: 20000 rows " << small.max_rss_kb << " KiB, 200000 rows " << big.max_rss_kb
            << " KiB\n";

  // The same with every document missing: each counted, the list of keys kept to read again stops at
  // its bound, the samples at verify.max_keys.
  REQUIRE_FALSE(db.command(R"({"drop": "big"})").contains("_error"));
  const auto gone = run(db, {"--json", "verify", "--tables", "big"}, cfg.path);
  INFO("all missing: " << gone.max_rss_kb << " KiB");
  REQUIRE(gone.code == 1);
  const auto d = gone.json()["tables"]["big"];
  CHECK(d["missing"] == 200000);
  CHECK(d["mongodb_documents"] == 0);
  CHECK(d["not_rechecked"] == 200000 - 10000);
  CHECK(d["samples"]["missing"].size() == 100);  // verify.max_keys
  CHECK(d["samples"]["missing"][0] == json{{"key", {{"id", "1"}}}});
  CHECK(d["samples"]["missing"][99] == json{{"key", {{"id", "100"}}}});
  CHECK(gone.max_rss_kb < 64 * 1024);
}

TEST_CASE("verify: a row changed in MySQL is reported until a sync copies it, one copied while verify waits "
          "verify.settle is counted as changed during verify, not as different",
          "[verify][settle]") {
  rig::Scratch db("vset");
  db.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT "
         "CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6));"
         "INSERT INTO t (id, v) SELECT seq, seq FROM seq_1_to_100");
  rig::sync_ok(db);
  db.sql("UPDATE t SET v = 42 WHERE id = 7");

  // Nothing syncs it: still different after the re-check.
  const TempFile now(db.name() + "-now.toml", kSettleNow);
  const auto before = run(db, {"--json", "verify"}, now.path);
  REQUIRE(before.code == 1);
  CHECK(before.json()["tables"]["t"]["samples"]["different"] ==
        json::array({{{"key", {{"id", "7"}}}, {"fields", {"v", "updated_at"}}}}));

  // A sync lands it while verify waits to read the key again: equal then. So for a key MongoDB had
  // first: a document of a row MySQL did not have yet is extra, until the row is inserted and synced
  // (it is looked up in MySQL by the key read from MongoDB).
  mongo(db, R"({"insert": "t", "documents": [{"id": 101, "v": 101}]})");
  const TempFile settle(db.name() + "-settle.toml", "[verify]\nsettle = \"5s\"\n");
  rig::Child child({"--config", settle.path, "-v", "--json", "verify"}, db.env());
  REQUIRE(rig::eventually(
      [&] { return contains(child.err(), "2 keys differ; reading them again in 5s (verify.settle)"); }, 30s));
  db.sql("INSERT INTO t (id, v) VALUES (101, 101)");
  rig::sync_ok(db);
  REQUIRE(child.wait(30s));
  INFO("stderr: " << child.err());
  CHECK(child.code() == 0);
  const auto t = json::parse(child.out())["tables"]["t"];
  CHECK(t["result"] == "equal");
  CHECK(t["mysql_rows"] == 100);  // as MySQL was when verify read it
  CHECK(t["different"] == 0);
  CHECK(t["extra"] == 0);
  CHECK(t["equal"] == 101);
  CHECK(t["changed_during_verify"] == 2);
  CHECK(contains(child.err(), "table t: 2 changed during verify (equal when read again)"));
}

TEST_CASE("verify: exit codes: 64 for a bad command line or an unknown table, 69 for a server down, 3 for a table "
          "that cannot be verified, 75 for --repair while the lock is held",
          "[verify][errors]") {
  rig::Scratch db("verr");
  db.sql("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);"
         "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  rig::sync_ok(db);

  const auto unknown = run(db, {"verify", "--tables", "items,nosuch"});
  CHECK(unknown.code == 64);
  CHECK(unknown.err == "mysql2mongo: error: --tables: no table 'nosuch' in MySQL database '" + db.name() +
                           "'; run 'mysql2mongo tables' to list them\n");
  for (const auto& args : std::vector<std::vector<std::string>>{{"verify", "--force-deletes"},
                                                                {"verify", "--wait=1m"},
                                                                {"verify", "--repiar"}}) {
    const auto r = run(db, args);
    INFO(args.back() << ": " << r.err);
    CHECK(r.code == 64);
  }
  CHECK(contains(run(db, {"verify", "--repiar"}).err, "did you mean --repair?"));

  const auto mongo_down = run(db, {"--json", "verify"}, {},
                              {{"MONGODB_URL", "mongodb://127.0.0.1:" + std::to_string(closed_port())},
                               {"MONGODB_CONNECT_TIMEOUT", "2s"}});
  INFO("mongo down: " << mongo_down.err);
  CHECK(mongo_down.code == 69);
  CHECK(contains(mongo_down.err, "MongoDB at mongodb://127.0.0.1:"));
  CHECK(mongo_down.json()["status"] == "error");
  CHECK(mongo_down.json()["exit_code"] == 69);
  const auto mysql_down = run(db, {"verify"}, {}, {{"MYSQL_HOST", "127.0.0.1"}, {"MYSQL_PORT", "1"},
                                                   {"MYSQL_CONNECT_TIMEOUT", "2s"}});
  CHECK(mysql_down.code == 69);
  CHECK(contains(mysql_down.err, "MySQL at 127.0.0.1:1"));

  // A table whose key no document can hold exactly (microseconds): not verified, an error (3), not equal;
  // the other table is verified all the same.
  db.sql("CREATE TABLE micro (at DATETIME(6) PRIMARY KEY, v INT); INSERT INTO micro VALUES ('2024-01-01 00:00:00.000001', 1)");
  const auto failed = run(db, {"--json", "verify"});
  INFO("stderr: " << failed.err);
  CHECK(failed.code == 3);
  const auto report = failed.json();
  CHECK(report["status"] == "failed");
  CHECK(report["failed_tables"] == 1);
  CHECK(report["tables"]["micro"]["result"] == "failed");
  CHECK(contains(report["tables"]["micro"]["error"].get<std::string>(),
                 "the key (at) = ('2024-01-01 00:00:00.000001') cannot be stored exactly in MongoDB"));
  CHECK(report["tables"]["items"]["result"] == "equal");
  CHECK(report["unrecorded_tables"] == json::array({"micro"}));  // never synced: no record to hold it
  CHECK(contains(failed.err, "mysql2mongo: error: table micro: the key (at) = ('2024-01-01 00:00:00.000001')"));
  const auto failed_text = run(db, {"verify"});
  CHECK(failed_text.code == 3);
  const auto micro = row_of(failed_text.out, "micro");
  CHECK(std::vector<std::string>(micro.begin(), micro.begin() + 8) ==
        std::vector<std::string>{"micro", "-", "-", "-", "-", "-", "-", "failed:"});
  CHECK(contains(failed_text.out, "  failed: the key (at) = ('2024-01-01 00:00:00.000001') cannot be stored exactly in "
                                  "MongoDB, so no sync writes its row; store the key column as text with [tables.micro] "
                                  "types = { at = \"string\" }\n"));
  db.sql("DROP TABLE micro");

  // Without --repair verify reads only: a run holding the lock does not stop it. --repair writes, and
  // waits for the lock or exits 75 like sync.
  rig::insert_lease(db, "otherhost:4242", rig::now_ms() + 600000);
  CHECK(run(db, {"verify"}).code == 0);
  const auto locked = run(db, {"--json", "verify", "--repair"});
  CHECK(locked.code == 75);
  CHECK(locked.json()["status"] == "locked");
  CHECK(contains(locked.json()["message"].get<std::string>(), "otherhost:4242"));
  CHECK(locked.err.empty());  // said at info level, as sync does: cron mails nothing
}

TEST_CASE("verify --repair: the delete guard refuses to delete more than sync.max_delete_fraction unless "
          "--force-deletes, beyond 10,000 differing keys the repair goes through a second merge",
          "[verify][repair]") {
  rig::Scratch db("vgd");
  db.sql("CREATE TABLE g (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO g SELECT seq, seq FROM seq_1_to_10;"
         "CREATE TABLE w (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO w SELECT seq, seq FROM seq_1_to_12000");
  const TempFile cfg(db.name() + ".toml", kSettleNow);
  sync_full(db, cfg.path);

  // MySQL lost six of g's ten rows: six extra documents, more than half.
  db.sql("DELETE FROM g WHERE id <= 6");
  const auto refused = run(db, {"verify", "--repair", "--tables", "g"}, cfg.path);
  INFO("stdout:\n" << refused.out << "\nstderr:\n" << refused.err);
  CHECK(refused.code == 3);
  CHECK(contains(refused.err, "mysql2mongo: error: table g: refusing to delete 6 of 10 documents (60%) from collection "
                              "g: more than sync.max_delete_fraction 0.5; check MYSQL_DATABASE, or if MySQL really "
                              "lost these rows rerun with --force-deletes\n"));
  CHECK(db.count("g") == 10);
  const auto forced = run(db, {"--json", "verify", "--repair", "--force-deletes", "--tables", "g"}, cfg.path);
  REQUIRE(forced.code == 0);
  CHECK(forced.json()["tables"]["g"]["repair"]["deleted"] == 6);
  CHECK(db.count("g") == 4);

  // 12,000 keys differ: 6,000 documents gone and 6,000 that MySQL never had.
  mongo(db, R"({"delete": "w", "deletes": [{"q": {"id": {"$lte": 6000}}, "limit": 0}]})");
  std::string docs;
  for (int i = 20001; i <= 26000; ++i) docs += (docs.empty() ? "" : ",") + std::string(R"({"id": )") + std::to_string(i) + "}";
  mongo(db, R"({"insert": "w", "documents": [)" + docs + "]}");
  const auto many = run(db, {"verify", "--tables", "w"}, cfg.path);
  INFO("stdout:\n" << many.out);
  CHECK(many.code == 1);
  CHECK(row_of(many.out, "w") == std::vector<std::string>{"w", "12000", "12000", "6000", "6000", "6000", "0", "different"});
  const auto details = details_of(many.out, "w");
  REQUIRE(details.size() == 11);
  CHECK(details[0] == "  missing    (id) = ('1')");
  CHECK(details[10] == "  ... and 11990 more (2000 not read again: more than 10000 keys differ)");
  const auto repaired = run(db, {"--json", "verify", "--repair", "--tables", "w"}, cfg.path);
  INFO("repair stderr: " << repaired.err);
  REQUIRE(repaired.code == 0);
  const auto w = repaired.json()["tables"]["w"];
  CHECK(w["not_rechecked"] == 2000);
  CHECK(w["repair"] == json{{"copied", 6000}, {"deleted", 6000}, {"remaining", {{"missing", 0}, {"extra", 0}, {"different", 0}}}});
  CHECK(db.count("w") == 12000);
  CHECK(run(db, {"verify"}, cfg.path).code == 0);
}

TEST_CASE("verify: the result of each table is stored in _sync_metadata, shown by status (text and --json), judged by "
          "status --check, and written to --metrics-file",
          "[verify][status]") {
  rig::Scratch db("vst");
  db.sql("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);"
         "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');"
         "CREATE TABLE tags (id INT PRIMARY KEY); INSERT INTO tags VALUES (1)");
  rig::sync_ok(db);
  const TempFile cfg(db.name() + ".toml", kSettleNow);

  // Before any verify: status has no verify section, --check no verify perfdata.
  const auto plain = run(db, {"status"});
  CHECK(lines_of(plain.out).size() == 4);
  CHECK_FALSE(contains(run(db, {"status", "--check"}).out, "verify"));

  mongo(db, R"({"delete": "items", "deletes": [{"q": {"id": 2}, "limit": 1}]})");
  const std::string metrics = "/tmp/" + db.name() + "-verify.prom";
  struct Remove {
    std::string path;
    ~Remove() { std::remove(path.c_str()); }
  } remove_metrics{metrics};
  const auto v = run(db, {"verify", "--metrics-file", metrics}, cfg.path);
  REQUIRE(v.code == 1);

  const auto meta = rig::metadata_for(db, "items");
  CHECK(meta["last_verify_result"] == "different");
  CHECK(std::regex_match(meta["last_verify_time"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  CHECK(meta["last_verify"]["missing"] == json{{"$numberLong", "1"}});
  CHECK(meta["last_verify"]["mysql_rows"] == json{{"$numberLong", "3"}});
  CHECK(meta["last_verify"]["repaired"].is_null());
  CHECK(rig::metadata_for(db, "tags")["last_verify_result"] == "equal");
  // The sync's own fields are untouched, and a sync leaves the verify's alone.
  CHECK(meta["status"] == "success");
  rig::sync_ok(db);  // a full sync (no change column): it copies items' row 2 again
  CHECK(rig::metadata_for(db, "items")["last_verify_result"] == "different");
  mongo(db, R"({"delete": "items", "deletes": [{"q": {"id": 2}, "limit": 1}]})");

  const auto status = run(db, {"status"});
  INFO("status:\n" << status.out);
  const auto lines = lines_of(status.out);
  REQUIRE(lines.size() == 4 + 5);  // the sync table and summary; a blank line, the verify table, its summary
  CHECK(lines[4].empty());
  CHECK(words_of(lines[5]) == std::vector<std::string>{"TABLE", "LAST", "VERIFY", "AGE", "RESULT", "ROWS", "MISSING",
                                                       "EXTRA", "DIFFERENT"});
  const auto items = words_of(lines[6]);
  REQUIRE(items.size() == 8);
  CHECK(items[0] == "items");
  CHECK(items[1] == meta["last_verify_time"]);
  CHECK(items[3] == "different");
  CHECK(std::vector<std::string>(items.begin() + 4, items.end()) == std::vector<std::string>{"3", "1", "0", "0"});
  CHECK(words_of(lines[7])[3] == "equal");
  CHECK(std::regex_match(lines[8], std::regex(R"(2 of 2 tables verified: 1 equal, 1 different, 0 failed; oldest verify \S+ ago)")));

  const auto j = run(db, {"--json", "status"});
  const auto e = j.json()["sync_data"]["tables"]["items"];
  CHECK(e["last_verify_result"] == "different");
  CHECK(e["last_verify_time"] == meta["last_verify_time"]);
  CHECK(e["last_verify"]["missing"] == 1);
  CHECK(e["last_verify"]["mysql_rows"] == 3);
  CHECK(e["last_verify"]["mongodb_documents"] == 2);
  CHECK(e["last_verify"]["equal"] == 2);
  CHECK(e["last_verify"]["repaired"].is_null());

  const auto check = run(db, {"status", "--check"});
  INFO("check: " << check.out);
  CHECK(check.code == 1);
  CHECK(std::regex_match(check.out, std::regex(R"(MYSQL2MONGO WARNING - 2 tables, oldest sync \S+ ago, last verify found )"
                                               R"(differences in items \| age=\d+s;3600;10800 tables=2 failed=0 )"
                                               R"(verify_different=1\n)")));

  const auto prom = slurp(metrics);
  INFO("metrics:\n" << prom);
  CHECK(contains(prom, "mysql2mongo_last_verify_exit_code 1\n"));
  CHECK(contains(prom, "# TYPE mysql2mongo_verify_rows gauge\n"));
  for (const char* line : {R"(mysql2mongo_verify_rows{table="items",result="equal"} 2)",
                           R"(mysql2mongo_verify_rows{table="items",result="missing"} 1)",
                           R"(mysql2mongo_verify_rows{table="items",result="extra"} 0)",
                           R"(mysql2mongo_verify_rows{table="items",result="different"} 0)",
                           R"(mysql2mongo_verify_rows{table="tags",result="equal"} 1)",
                           R"(mysql2mongo_table_verify_equal{table="items"} 0)",
                           R"(mysql2mongo_table_verify_equal{table="tags"} 1)"})
    CHECK(contains(prom, std::string(line) + "\n"));
  CHECK(std::regex_search(prom, std::regex(R"(\nmysql2mongo_last_verify_timestamp_seconds \d{10}\.\d{3}\n)")));
  CHECK(std::regex_search(prom, std::regex(R"(\nmysql2mongo_table_last_verify_timestamp_seconds\{table="items"\} \d{10}\.\d{3}\n)")));

  // Repaired: equal again, everywhere; a verify of one table keeps the other's result in the metrics.
  const auto repair = run(db, {"verify", "--repair", "--tables", "items", "--metrics-file", metrics}, cfg.path);
  INFO("repair:\n" << repair.out);
  REQUIRE(repair.code == 0);
  CHECK(row_of(repair.out, "items").back() == "repaired");  // the report is printed: something was found
  CHECK(contains(repair.out, "  repaired: 1 row copied, 0 documents deleted; equal now\n"));
  CHECK(rig::metadata_for(db, "items")["last_verify"]["repaired"] ==
        json{{"copied", {{"$numberLong", "1"}}}, {"deleted", {{"$numberLong", "0"}}}});
  const auto after = words_of(lines_of(run(db, {"status"}).out)[6]);
  CHECK(std::vector<std::string>(after.begin() + 3, after.begin() + 5) == std::vector<std::string>{"equal", "(repaired)"});
  const auto ok = run(db, {"status", "--check"});
  CHECK(ok.code == 0);
  CHECK(contains(ok.out, " verify_different=0\n"));
  const auto prom2 = slurp(metrics);
  CHECK(contains(prom2, "mysql2mongo_last_verify_exit_code 0\n"));
  CHECK(contains(prom2, "mysql2mongo_table_verify_equal{table=\"items\"} 1\n"));
  CHECK(contains(prom2, "mysql2mongo_table_verify_equal{table=\"tags\"} 1\n"));

  // A verify that cannot start still writes the metrics file, with its exit code.
  const auto down = run(db, {"verify", "--metrics-file", metrics}, cfg.path, {{"MYSQL_PORT", "1"}, {"MYSQL_HOST", "127.0.0.1"},
                                                                          {"MYSQL_CONNECT_TIMEOUT", "2s"}});
  CHECK(down.code == 69);
  CHECK(contains(slurp(metrics), "mysql2mongo_last_verify_exit_code 69\n"));
}

TEST_CASE("verify: a document whose key no row can have (a string or an ObjectId in an INT key) is extra, named by "
          "its value, read again in MongoDB only, and deleted by --repair",
          "[verify][repair]") {
  rig::Scratch db("vodd");
  db.sql("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL);"
         "INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  rig::sync_ok(db);
  mongo(db, R"({"insert": "items", "documents": [{"id": {"$oid": "650000000000000000000001"}, "name": "odd"},
                                                  {"id": "2", "name": "text"}]})");
  const TempFile cfg(db.name() + ".toml", kSettleNow);
  const auto text = run(db, {"verify"}, cfg.path);
  INFO("stdout:\n" << text.out << "\nstderr:\n" << text.err);
  CHECK(text.code == 1);
  CHECK(row_of(text.out, "items") == std::vector<std::string>{"items", "3", "5", "3", "0", "2", "0", "different"});
  // A string '2' is not the number 2: MySQL's row 2 is read again and does not match it.
  CHECK(details_of(text.out, "items") ==
        std::vector<std::string>{"  extra      (id) = ('2')",
                                 R"(  extra      (id) = { "id" : { "$oid" : "650000000000000000000001" } })"});
  const auto j = run(db, {"--json", "verify"}, cfg.path);
  CHECK(j.json()["tables"]["items"]["samples"]["extra"] ==
        json::array({{{"key", {{"id", "2"}}}},
                     {{"key", R"((id) = { "id" : { "$oid" : "650000000000000000000001" } })"}}}));
  const auto repair = run(db, {"--json", "verify", "--repair"}, cfg.path);
  INFO("repair stderr: " << repair.err);
  REQUIRE(repair.code == 0);
  CHECK(repair.json()["tables"]["items"]["repair"]["deleted"] == 2);
  CHECK(db.count("items") == 3);
}
