// lib/binlog against the rig's MariaDB: changes made with SQL are read back from the binlog, live (a
// non-blocking dump from a captured position) and offline (the binlog files copied out of the rig's
// datadir), and must give exactly the changed keys, in order, with the transaction boundaries and
// positions. Other tests write to the same server at the same time: only events of this test's scratch
// database are looked at.
#include "binlog/event.hpp"
#include "binlog/reader.hpp"
#include "binlog/rows.hpp"
#include "binlog/server.hpp"
#include "mysql/connection.hpp"
#include "mysql/discovery.hpp"
#include "support/rig.hpp"
#include "util/log.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <map>
#include <random>

using namespace m2m;
using namespace m2m::binlog;

namespace binlog_it {

config::MySql mysql_settings(const std::string& database) {
  const auto& s = rig::servers();
  config::MySql c;
  c.host = s.mysql_host;
  c.port = s.mysql_port;
  c.user = s.mysql_user;
  c.password = s.mysql_password;
  c.has_password = true;
  c.database = database;
  c.ssl_mode = config::SslMode::disabled;
  c.connect_timeout = std::chrono::seconds(10);
  c.read_timeout = std::chrono::seconds(60);
  c.option_group.clear();
  return c;
}

Logger& logger() {
  static Logger log;
  return log;
}

// A replica id of its own for every reader: two dumps with one id make the server end the older one.
std::uint32_t unique_server_id() {
  static std::mt19937 rng{std::random_device{}()};
  return 100000 + rng() % 1000000000u;
}

mysql::Connection connect(const std::string& database) {
  auto c = mysql::Connection::open(mysql_settings(database), logger());
  INFO((c.ok() ? std::string() : c.failure().message));
  REQUIRE(c.ok());
  return std::move(c).value();
}

Position now(mysql::Connection& conn) {
  auto caps = query_capabilities(conn);
  REQUIRE(caps.ok());
  auto pos = current_position(conn, *caps);
  INFO((pos.ok() ? std::string() : pos.failure().message));
  REQUIRE(pos.ok());
  return *pos;
}

bool before_or_at(const Position& a, const Position& b) {
  return a.file < b.file || (a.file == b.file && a.offset <= b.offset);
}

// The key of each table: its primary key columns with hints, from discovery.
struct Schema {
  std::map<std::string, mysql::Table> tables;
  std::map<std::string, std::vector<KeyColumn>> keys;
};

Schema discover(mysql::Connection& conn, const std::string& database) {
  auto names = mysql::list_tables(conn, database);
  REQUIRE(names.ok());
  auto tables = mysql::describe_tables(conn, database, *names);
  REQUIRE(tables.ok());
  Schema s;
  for (auto& t : *tables) {
    std::vector<KeyColumn> key;
    for (const auto& k : t.primary_key) {
      const auto* col = t.find(k);
      REQUIRE(col);
      key.push_back(KeyColumn{static_cast<unsigned>(col->ordinal - 1), hint_for(*col)});
    }
    s.keys[t.name] = key;
    s.tables[t.name] = t;
  }
  return s;
}

std::string show(const Key& k) {
  std::string s;
  for (const auto& v : k) s += (s.empty() ? "" : ",") + v.debug();
  return s;
}

// What a reader yields for one database, as lines: "W t 1", "U t 1->2" ("-" for an image without the
// key), "D t 3", "XID", "COMMIT", "STATEMENT <sql>", "TRUNCATE t", and the positions after each commit.
struct Stream {
  std::vector<std::string> lines;
  std::vector<Position> commit_positions;
  std::vector<std::uint32_t> commit_log_pos;
  std::vector<std::vector<RowKeys>> keys_by_table_event;
  std::map<std::string, std::vector<Key>> last_after;  // table -> after keys seen
  bool rotated = false;
  Position end;
  std::size_t events = 0;
  std::size_t schema_mismatches = 0;
};

Stream collect(EventReader& reader, const std::string& database, const Schema& schema) {
  Stream out;
  Decoder decoder;
  std::map<std::uint64_t, TableMap> maps;
  bool ours = false;
  RawEvent raw;
  for (;;) {
    auto more = reader.next(raw);
    INFO((more.ok() ? std::string() : more.error().message));
    REQUIRE(more.ok());
    if (!*more) break;
    ++out.events;
    auto ev = decoder.decode(raw.bytes);
    INFO(fmt::format("{} at {}:{}", event_type_name(raw.header.type), reader.position().file, reader.position().offset));
    INFO((ev.ok() ? std::string() : ev.error().message));
    REQUIRE(ev.ok());
    if (const auto* tm = ev->as<TableMap>()) {
      maps[tm->table_id] = *tm;
    } else if (const auto* rows = ev->as<Rows>()) {
      const auto it = maps.find(rows->table_id);
      REQUIRE(it != maps.end());
      const TableMap& map = it->second;
      if (map.database != database) continue;
      ours = true;
      const auto& key = schema.keys.at(map.table);
      if (!check_table_map(map, schema.tables.at(map.table)).ok()) ++out.schema_mismatches;
      std::vector<RowKeys> keys;
      auto n = extract_keys(map, *rows, key, keys);
      INFO((n.ok() ? std::string() : n.error().message));
      REQUIRE(n.ok());
      for (const auto& rk : keys) {
        if (rows->kind == RowsKind::write) {
          REQUIRE(rk.after);
          out.lines.push_back(fmt::format("W {} {}", map.table, show(*rk.after)));
          out.last_after[map.table].push_back(*rk.after);
        } else if (rows->kind == RowsKind::delete_) {
          REQUIRE(rk.before);
          out.lines.push_back(fmt::format("D {} {}", map.table, show(*rk.before)));
        } else {
          REQUIRE(rk.before);
          out.lines.push_back(fmt::format("U {} {}->{}", map.table, show(*rk.before), rk.after ? show(*rk.after) : "-"));
          if (rk.after) out.last_after[map.table].push_back(*rk.after);
        }
      }
    } else if (ev->as<Xid>()) {
      if (ours) {
        out.lines.push_back("XID");
        out.commit_positions.push_back(reader.position());
        out.commit_log_pos.push_back(raw.header.log_pos);
      }
      ours = false;
    } else if (const auto* q = ev->as<Query>()) {
      const auto kind = q->kind();
      if (kind == QueryKind::commit && ours) {
        out.lines.push_back("COMMIT");
        out.commit_positions.push_back(reader.position());
        out.commit_log_pos.push_back(raw.header.log_pos);
        ours = false;
      } else if (kind == QueryKind::dml && q->database == database) {
        out.lines.push_back("STATEMENT " + q->sql);
        ours = true;
      } else if (kind == QueryKind::truncate && q->database == database) {
        out.lines.push_back("TRUNCATE");
      }
    } else if (ev->as<Rotate>() && raw.header.log_pos != 0) {
      out.rotated = true;
    }
  }
  out.end = reader.position();
  return out;
}

Stream read_live(const std::string& database, const Position& start, const Schema& schema) {
  LiveOptions o;
  o.server_id = unique_server_id();
  o.start = start;
  o.read_timeout = std::chrono::seconds(30);
  auto reader = LiveReader::open(mysql_settings(database), logger(), o);
  INFO((reader.ok() ? std::string() : reader.error().message));
  REQUIRE(reader.ok());
  CHECK((*reader)->mariadb());
  auto s = collect(**reader, database, schema);
  CHECK((*reader)->salvaged() == 0);
  return s;
}

// Copies the binlog files from `first` to the newest out of the rig's datadir; empty when the server is
// not the rig's own (its files are elsewhere).
std::string copy_binlogs(mysql::Connection& conn, const std::string& first, const std::string& tag) {
  auto base = conn.scalar("SELECT @@log_bin_basename");
  REQUIRE(base.ok());
  const std::filesystem::path dir = std::filesystem::path(base->value_or("")).parent_path();
  if (dir.empty() || !std::filesystem::exists(dir / first)) return {};
  auto logs = binary_logs(conn);
  REQUIRE(logs.ok());
  const std::filesystem::path out = std::filesystem::temp_directory_path() / ("m2m-binlog-" + tag);
  std::filesystem::remove_all(out);
  std::filesystem::create_directories(out);
  for (const auto& l : *logs)
    if (l.name >= first) std::filesystem::copy_file(dir / l.name, out / l.name);
  return out.string();
}

}  // namespace binlog_it

using namespace binlog_it;

TEST_CASE("binlog: capabilities, position and binary logs of the rig", "[binlog]") {
  rig::Scratch db("binlog");
  auto conn = connect(db.name());
  auto caps = query_capabilities(conn);
  REQUIRE(caps.ok());
  CHECK(caps->flavor == Flavor::mariadb);
  CHECK(caps->version_number >= 100500);
  CHECK(caps->log_bin);
  CHECK(caps->binlog_format == "ROW");
  CHECK(caps->binlog_checksum == "CRC32");
  CHECK_FALSE(caps->binlog_row_image.empty());
  CHECK(caps->replication_slave);
  CHECK(caps->replication_client);
  CHECK(caps->server_id == 1);
  CHECK_FALSE(caps->hostname.empty());
  CHECK(caps->identity().starts_with("mariadb:1@"));
  for (const auto& p : caps->problems()) FAIL(p.message);

  const Position pos = now(conn);
  CHECK(pos.file.starts_with("mysql-bin."));
  CHECK(pos.offset > 4);
  auto logs = binary_logs(conn);
  REQUIRE(logs.ok());
  REQUIRE_FALSE(logs->empty());
  CHECK(logs->back().name >= pos.file);
  CHECK(locate(*logs, pos) == PositionState::available);
  CHECK(locate(*logs, Position{pos.file, pos.offset + 100000000}) == PositionState::beyond_end);
  CHECK(locate(*logs, Position{"mysql-bin.000000", 4}) == PositionState::purged);
  CHECK(locate(*logs, Position{"mysql-bin.999999", 4}) == PositionState::beyond_end);

  // A server configured for statements is reported with the fix.
  Capabilities stmt = *caps;
  stmt.binlog_format = "MIXED";
  REQUIRE(stmt.problems().size() == 1);
  CHECK(stmt.problems()[0].message.find("binlog_format = ROW") != std::string::npos);
  CHECK(stmt.problems()[0].code == Exit::config);
}

TEST_CASE("binlog: a user without replication grants gets one-line errors naming the grant", "[binlog]") {
  rig::Scratch db("binlog");
  const std::string user = db.name() + "_u";
  db.sql(fmt::format("CREATE USER '{0}'@'%' IDENTIFIED BY 'pw-{0}'; GRANT SELECT ON `{1}`.* TO '{0}'@'%'", user, db.name()));
  struct Drop {
    rig::Scratch& db;
    std::string user;
    ~Drop() {
      try {
        db.sql("DROP USER IF EXISTS '" + user + "'@'%'");
      } catch (...) {
      }
    }
  } drop{db, user};
  auto settings = mysql_settings(db.name());
  settings.user = user;
  settings.password = "pw-" + user;
  auto conn = mysql::Connection::open(settings, logger());
  REQUIRE(conn.ok());

  auto caps = query_capabilities(*conn);
  REQUIRE(caps.ok());
  CHECK_FALSE(caps->replication_slave);
  CHECK_FALSE(caps->replication_client);
  const auto problems = caps->problems();
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].code == Exit::noperm);
  CHECK(problems[0].message.find("GRANT REPLICATION SLAVE ON *.*") != std::string::npos);
  CHECK(problems[1].message.find("GRANT BINLOG MONITOR ON *.*") != std::string::npos);

  auto pos = current_position(*conn, *caps);
  REQUIRE_FALSE(pos.ok());
  CHECK(pos.failure().code == Exit::noperm);
  CHECK(pos.failure().message.find("BINLOG MONITOR") != std::string::npos);
  CHECK(pos.failure().message.find('\n') == std::string::npos);
  auto logs = binary_logs(*conn);
  REQUIRE_FALSE(logs.ok());
  CHECK(logs.failure().code == Exit::noperm);

  // The dump itself is refused by the server on the first read.
  auto admin = connect(db.name());
  LiveOptions o;
  o.server_id = unique_server_id();
  o.start = now(admin);
  auto reader = LiveReader::open(settings, logger(), o);
  BinlogError err;
  if (!reader.ok()) {
    err = reader.error();
  } else {
    RawEvent raw;
    auto r = (*reader)->next(raw);
    REQUIRE_FALSE(r.ok());
    err = r.error();
  }
  INFO(err.message);
  CHECK(err.failure().code == Exit::noperm);
  CHECK(err.message.find("REPLICATION SLAVE") != std::string::npos);
  CHECK(err.message.find('\n') == std::string::npos);
}

namespace {

struct TypeCase {
  const char* name;
  const char* sql_type;
  const char* a;  // SQL literals
  const char* b;
  const char* c;
  const char* shown_a;  // KeyValue::debug() of each
  const char* shown_b;
  const char* shown_c;
  KeyValue::Type type;
};

std::string hex(std::string_view s) {
  std::string out;
  for (unsigned char ch : s) out += fmt::format("{:02X}", ch);
  return out;
}

// A literal that selects the row whose key column holds `v`.
std::string literal(const KeyValue& v, const mysql::Column& col) {
  switch (v.type) {
    case KeyValue::Type::int_signed:
    case KeyValue::Type::year: return std::to_string(v.i);
    case KeyValue::Type::int_unsigned:
    case KeyValue::Type::enum_index:
    case KeyValue::Type::set_bits:
    case KeyValue::Type::bit: return std::to_string(v.u);
    case KeyValue::Type::float32:
    case KeyValue::Type::float64: return fmt::format("{}", v.f);
    case KeyValue::Type::bytes:
      return col.charset.empty() ? "X'" + hex(v.text) + "'" : "_" + col.charset + " X'" + hex(v.text) + "'";
    case KeyValue::Type::null: return "NULL";
    default: return "'" + v.text + "'";
  }
}

}  // namespace

TEST_CASE("binlog: every key type decodes to the value that selects the row", "[binlog]") {
  using K = KeyValue::Type;
  const TypeCase cases[] = {
      {"int", "INT", "-5", "7", "2147483647", "-5", "7", "2147483647", K::int_signed},
      {"bigu", "BIGINT UNSIGNED", "18446744073709551615", "9223372036854775808", "1", "18446744073709551615",
       "9223372036854775808", "1", K::int_unsigned},
      {"vci", "VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci", "'Ünï'", "'abc'", "'ABD'",
       "'\\xc3\\x9cn\\xc3\\xaf'", "'abc'", "'ABD'", K::bytes},
      {"dt6", "DATETIME(6)", "'2024-01-02 03:04:05.123456'", "'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'",
       "2024-01-02 03:04:05.123456", "1000-01-01 00:00:00.000000", "9999-12-31 23:59:59.999999", K::datetime},
      {"dec", "DECIMAL(20,6)", "-12345678901234.123456", "0.5", "99999999999999.999999", "-12345678901234.123456",
       "0.500000", "99999999999999.999999", K::decimal},
      {"bin", "BINARY(16)", "X'00000000000000000000000000000000'", "X'0102030405060708090A0B0C0D0E0F10'", "'abc'",
       "'\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'",
       "'\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\x09\\x0a\\x0b\\x0c\\x0d\\x0e\\x0f\\x10'",
       "'abc\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00'", K::bytes},
      {"enm", "ENUM('small','medium','large')", "'medium'", "'small'", "'large'", "2", "1", "3", K::enum_index},
      {"ts3", "TIMESTAMP(3)", "'2024-03-04 05:06:07.891'", "'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999'",
       "2024-03-04 05:06:07.891", "1970-01-01 00:00:01.000", "2038-01-19 03:14:07.999", K::datetime},
      {"dat", "DATE", "'2024-02-29'", "'0001-01-01'", "'9999-12-31'", "2024-02-29", "0001-01-01", "9999-12-31", K::date},
      {"tm6", "TIME(6)", "'-838:59:59'", "'12:00:00.5'", "'-00:00:00.000001'", "-838:59:59.000000", "12:00:00.500000",
       "-00:00:00.000001", K::time},
      {"yr", "YEAR", "2024", "1901", "2155", "2024", "1901", "2155", K::year},
      {"chr", "CHAR(10)", "'ab'", "'cd '", "'Zz'", "'ab'", "'cd'", "'Zz'", K::bytes},
      {"st", "SET('a','b','c')", "'a,c'", "'b'", "''", "5", "2", "0", K::set_bits},
      {"bt", "BIT(12)", "b'101'", "b'111111111111'", "b'0'", "b'101'", "b'111111111111'", "b'0'", K::bit},
      {"flt", "FLOAT", "1.5", "-2.25", "1024", "1.5", "-2.25", "1024", K::float32},
      {"dbl", "DOUBLE", "0.1", "-1e300", "3", "0.1", "-1e+300", "3", K::float64},
      {"lat", "VARCHAR(20) CHARACTER SET latin1", "'h\xc3\xa9llo'", "'abc'", "'x'", "'h\\xe9llo'", "'abc'", "'x'", K::bytes},
      {"uid", "UUID", "'123e4567-e89b-12d3-a456-426655440000'", "'00000000-0000-0000-0000-000000000001'",
       "'ffffffff-ffff-4fff-bfff-ffffffff0000'", nullptr, nullptr, nullptr, K::bytes},
      {"ip6", "INET6", "'::1'", "'2001:db8::'", "'::'", nullptr, nullptr, nullptr, K::bytes},
  };
  rig::Scratch db("binlog");
  auto conn = connect(db.name());
  for (const auto& c : cases)
    db.sql(fmt::format("CREATE TABLE k_{} (k {} NOT NULL PRIMARY KEY, v INT)", c.name, c.sql_type));
  const Schema schema = discover(conn, db.name());
  const Position start = now(conn);
  for (const auto& c : cases) {
    db.sql(fmt::format("INSERT INTO k_{} VALUES ({}, 1), ({}, 2)", c.name, c.a, c.b));
    db.sql(fmt::format("UPDATE k_{} SET v = 10 WHERE k = {}", c.name, c.a));
    db.sql(fmt::format("UPDATE k_{} SET k = {} WHERE k = {}", c.name, c.c, c.b));
    db.sql(fmt::format("DELETE FROM k_{} WHERE k = {}", c.name, c.a));
  }
  const Stream s = read_live(db.name(), start, schema);
  CHECK(s.schema_mismatches == 0);
  std::vector<std::string> expected;
  for (const auto& c : cases) {
    if (!c.shown_a) continue;
    const std::string t = std::string("k_") + c.name;
    expected.push_back(fmt::format("W {} {}", t, c.shown_a));
    expected.push_back(fmt::format("W {} {}", t, c.shown_b));
    expected.push_back("XID");
    expected.push_back(fmt::format("U {} {}->{}", t, c.shown_a, c.shown_a));
    expected.push_back("XID");
    expected.push_back(fmt::format("U {} {}->{}", t, c.shown_b, c.shown_c));
    expected.push_back("XID");
    expected.push_back(fmt::format("D {} {}", t, c.shown_a));
    expected.push_back("XID");
  }
  std::vector<std::string> got;
  for (const auto& l : s.lines)
    if (l == "XID" || (l.find(" k_uid ") == std::string::npos && l.find(" k_ip6 ") == std::string::npos))
      if (l != "XID" || (!got.empty() && got.back() != "XID")) got.push_back(l);
  CHECK(got == expected);

  // Every key read from the binlog selects exactly its row (the one left: c), and has the expected type.
  for (const auto& c : cases) {
    const std::string t = std::string("k_") + c.name;
    INFO(t);
    const auto& keys = s.last_after.at(t);
    REQUIRE(keys.size() == 4);  // W a, W b, U a->a, U b->c
    const KeyValue& v = keys.back()[0];
    CHECK(v.type == c.type);
    const auto* col = schema.tables.at(t).find("k");
    const auto rows = db.query(fmt::format("SELECT v FROM {} WHERE k = {}", t, literal(v, *col)));
    INFO("literal " << literal(v, *col));
    REQUIRE(rows.size() == 1);
    CHECK(rows[0][0] == "2");
  }
}

TEST_CASE("binlog: a change stream read live and offline: transactions, rollback, MINIMAL, partitions, rotation",
          "[binlog]") {
  rig::Scratch db("binlog");
  auto conn = connect(db.name());
  db.sql("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, "
         "note TEXT)");
  db.sql("CREATE TABLE c (a INT, b VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, n INT, "
         "PRIMARY KEY (a, b))");
  db.sql("CREATE TABLE p (id INT PRIMARY KEY, v INT) PARTITION BY HASH(id) PARTITIONS 4");
  db.sql("CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM");
  const Schema schema = discover(conn, db.name());
  const Position start = now(conn);

  db.sql("INSERT INTO t VALUES (1, 'one', 'x'), (2, 'two', NULL), (3, 'three', 'y')");
  db.sql("BEGIN; UPDATE t SET name = 'uno' WHERE id = 1; UPDATE t SET id = 20 WHERE id = 2; "
         "DELETE FROM t WHERE id = 3; INSERT INTO c VALUES (1, 'a', 0), (1, 'B', 0); COMMIT");
  db.sql("BEGIN; INSERT INTO t VALUES (99, 'never', NULL); DELETE FROM t WHERE id = 1; ROLLBACK");
  db.sql("FLUSH BINARY LOGS");
  db.sql("UPDATE c SET b = 'b2' WHERE a = 1 AND b = 'b'");  // case-insensitive match of 'B'
  db.sql("SET SESSION binlog_row_image = MINIMAL");
  db.sql("UPDATE t SET note = 'minimal' WHERE id = 1");
  db.sql("UPDATE t SET id = 21 WHERE id = 20");
  db.sql("DELETE FROM t WHERE id = 21");
  db.sql("SET SESSION binlog_row_image = FULL");
  db.sql("INSERT INTO p VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)");
  db.sql("DELETE FROM p WHERE id IN (2, 3)");
  db.sql("UPDATE p SET id = 6 WHERE id = 5");  // moves the row to another partition
  db.sql("INSERT INTO m VALUES (7)");
  db.sql("TRUNCATE TABLE c");
  const Position end = now(conn);

  const std::vector<std::string> expected = {
      "W t 1", "W t 2", "W t 3", "XID",
      "U t 1->1", "U t 2->20", "D t 3", "W c 1,'a'", "W c 1,'B'", "XID",
      "U c 1,'B'->1,'b2'", "XID",
      "U t 1->-", "XID",  // MINIMAL: the after image lacks the unchanged key
      "U t 20->21", "XID",
      "D t 21", "XID",
      "W p 1", "W p 2", "W p 3", "W p 4", "W p 5", "XID",
      "D p 2", "D p 3", "XID",
      "U p 5->6", "XID",
      "W m 7", "COMMIT",  // MyISAM: no XID, a COMMIT query
      "TRUNCATE"};

  SECTION("live") {
    const Stream s = read_live(db.name(), start, schema);
    CHECK(s.lines == expected);
    CHECK(s.rotated);
    CHECK(s.schema_mismatches == 0);
    CHECK(s.end.file > start.file);
    CHECK(before_or_at(end, s.end));
    // Positions: after each commit, the reader stands at that event's end (its header's log_pos).
    REQUIRE(s.commit_positions.size() == 10);
    for (std::size_t i = 0; i < s.commit_positions.size(); ++i) {
      CHECK(s.commit_positions[i].offset == s.commit_log_pos[i]);
      if (i) CHECK(before_or_at(s.commit_positions[i - 1], s.commit_positions[i]));
    }
    CHECK(s.commit_positions[1].file == start.file);
    CHECK(s.commit_positions[2].file > start.file);

    // Resuming from a stored position (after the second transaction) gives exactly the rest.
    const Stream rest = read_live(db.name(), s.commit_positions[1], schema);
    const std::vector<std::string> tail(expected.begin() + 10, expected.end());
    CHECK(rest.lines == tail);

    // From the position of the last commit: only the TRUNCATE remains.
    CHECK(read_live(db.name(), s.commit_positions.back(), schema).lines == std::vector<std::string>{"TRUNCATE"});
  }
  SECTION("offline, from the binlog files copied out of the datadir") {
    const std::string dir = copy_binlogs(conn, start.file, db.name());
    if (dir.empty()) {
      WARN("the binlog files are not on this machine (external server): offline read skipped");
      return;
    }
    auto reader = FileReader::open(dir + "/" + start.file, start.offset, true);
    REQUIRE(reader.ok());
    const Stream s = collect(**reader, db.name(), schema);
    std::filesystem::remove_all(dir);
    CHECK(s.lines == expected);
    CHECK(s.rotated);
    CHECK(before_or_at(end, s.end));
    REQUIRE(s.commit_positions.size() == 10);
    for (std::size_t i = 0; i < s.commit_positions.size(); ++i) CHECK(s.commit_positions[i].offset == s.commit_log_pos[i]);
  }
}

TEST_CASE("binlog: statement-based changes are detected, schema changes are noticed", "[binlog]") {
  rig::Scratch db("binlog");
  auto conn = connect(db.name());
  db.sql("CREATE TABLE t (id INT PRIMARY KEY, v INT)");
  Schema schema = discover(conn, db.name());
  const Position start = now(conn);
  db.sql("INSERT INTO t VALUES (1, 1)");
  db.sql("SET SESSION binlog_format = STATEMENT; UPDATE t SET v = 2 WHERE id = 1; SET SESSION binlog_format = ROW");
  db.sql("ALTER TABLE t ADD COLUMN w INT");
  db.sql("INSERT INTO t VALUES (2, 2, 2)");
  const Stream s = read_live(db.name(), start, schema);
  REQUIRE(s.lines.size() >= 4);
  CHECK(s.lines[0] == "W t 1");
  CHECK(s.lines[1] == "XID");
  CHECK(s.lines[2] == "STATEMENT UPDATE t SET v = 2 WHERE id = 1");
  CHECK(statement_based_error(db.name(), "UPDATE t SET v = 2 WHERE id = 1").message.find("binlog_format = ROW") !=
        std::string::npos);
  // The first row event was written under the old schema (2 columns): it matches the schema discovered
  // before the ALTER; the last one does not, and would not match the old one.
  CHECK(s.schema_mismatches == 1);
  schema = discover(conn, db.name());
  CHECK(read_live(db.name(), start, schema).schema_mismatches == 1);
}

TEST_CASE("binlog: live reader errors: unknown file, reserved server id", "[binlog]") {
  rig::Scratch db("binlog");
  LiveOptions o;
  o.server_id = unique_server_id();
  o.start = Position{"mysql-bin.999999", 4};
  auto reader = LiveReader::open(mysql_settings(db.name()), logger(), o);
  REQUIRE(reader.ok());  // the server answers the dump request on the first read
  RawEvent raw;
  auto r = (*reader)->next(raw);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().kind == ErrorKind::position_lost);
  CHECK(r.error().message.find("mysql-bin.999999:4") != std::string::npos);
  CHECK(r.error().message.find("sync --full") != std::string::npos);
  // The reader stays ended.
  auto again = (*reader)->next(raw);
  REQUIRE(again.ok());
  CHECK_FALSE(*again);

  o.server_id = 1;
  auto one = LiveReader::open(mysql_settings(db.name()), logger(), o);
  REQUIRE_FALSE(one.ok());
  CHECK(one.failure().code == Exit::config);
}

TEST_CASE("binlog: MariaDB's full row metadata and compressed events, read live", "[binlog]") {
  rig::Scratch db("binlog");
  auto conn = connect(db.name());
  auto old = db.query("SELECT @@global.binlog_row_metadata, @@global.log_bin_compress, @@global.log_bin_compress_min_len");
  REQUIRE(old.size() == 1);
  // Global settings: restored whatever happens. Other tests reading the binlog meanwhile only see
  // events they must decode anyway.
  struct Restore {
    rig::Scratch& db;
    std::vector<std::string> v;
    bool done = false;
    void now() {
      if (done) return;
      done = true;
      db.sql(fmt::format("SET GLOBAL binlog_row_metadata = {}, log_bin_compress = {}, log_bin_compress_min_len = {}",
                         v[0], v[1], v[2]));
    }
    ~Restore() {
      try {
        now();
      } catch (...) {
      }
    }
  } restore{db, old[0]};
  db.sql("CREATE TABLE f (id BIGINT UNSIGNED NOT NULL, name VARCHAR(30) CHARACTER SET latin1, "
         "s ENUM('red','green') CHARACTER SET utf8mb4, note TEXT, PRIMARY KEY (id))");
  const Position start = now(conn);
  db.sql("SET GLOBAL binlog_row_metadata = FULL, log_bin_compress = ON, log_bin_compress_min_len = 10");
  db.sql("INSERT INTO f VALUES (18446744073709551615, 'caf\xc3\xa9', 'green', REPEAT('n', 500)), (7, 'x', 'red', NULL)");
  db.sql("UPDATE f SET id = 8 WHERE id = 7");
  db.sql("DELETE FROM f WHERE id = 18446744073709551615");
  restore.now();

  LiveOptions o;
  o.server_id = unique_server_id();
  o.start = start;
  auto reader = LiveReader::open(mysql_settings(db.name()), logger(), o);
  REQUIRE(reader.ok());
  Decoder decoder;
  std::map<std::uint64_t, TableMap> maps;
  std::vector<std::string> lines;
  std::size_t compressed = 0;
  RawEvent raw;
  const std::vector<KeyColumn> key = {{0, ColumnHint{}}};  // no hint: signedness must come from the event
  for (;;) {
    auto more = (*reader)->next(raw);
    REQUIRE(more.ok());
    if (!*more) break;
    auto ev = decoder.decode(raw.bytes);
    INFO((ev.ok() ? std::string() : ev.error().message));
    REQUIRE(ev.ok());
    if (const auto* tm = ev->as<TableMap>()) {
      if (tm->database != db.name()) continue;
      CHECK(tm->has_optional_metadata);
      REQUIRE(tm->columns.size() == 4);
      CHECK(tm->columns[0].name == "id");
      CHECK(tm->columns[3].name == "note");
      CHECK(tm->columns[0].is_unsigned == true);
      CHECK(tm->columns[1].collation == 8);  // latin1_swedish_ci
      CHECK(tm->columns[2].enum_values == std::vector<std::string>{"red", "green"});
      CHECK(tm->primary_key == std::vector<unsigned>{0});
      maps[tm->table_id] = *tm;
    } else if (const auto* rows = ev->as<Rows>()) {
      const auto it = maps.find(rows->table_id);
      if (it == maps.end()) continue;
      if (rows->compressed) ++compressed;
      std::vector<RowKeys> keys;
      REQUIRE(extract_keys(it->second, *rows, key, keys).ok());
      for (const auto& rk : keys)
        lines.push_back((rk.before ? show(*rk.before) : "") + ">" + (rk.after ? show(*rk.after) : ""));
    }
  }
  CHECK(lines == std::vector<std::string>{">18446744073709551615", ">7", "7>8", "18446744073709551615>"});
  CHECK(compressed == 3);
}
