// `mysql2mongo sync --full`: every row of the type mapping (mysql2mongo.toml(5), TYPE MAPPING) round-trips MariaDB -> tool ->
// MongoDB endpoint and is read back with its BSON type visible (canonical Extended JSON). Lossy
// conversions must show up, per table and column, in the --json run report and in _sync_metadata.
#include "support/ejson.hpp"
#include "support/rig.hpp"
#include "support/tables.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

using rig::as_double;
using rig::bin;
using rig::date;
using rig::dec;
using rig::full_sync;
using rig::i32;
using rig::i64;
using rig::metadata_for;
using rig::occurrences;
using rig::TempFile;

using json = nlohmann::json;

// The one document of `collection` whose integer `id` field is `id`.
json doc_with_id(rig::Scratch& db, const std::string& collection, int id) {
  const auto docs = db.find(collection, "{\"id\": " + std::to_string(id) + "}");
  INFO("collection " << collection << ", id " << id);
  REQUIRE(docs.size() == 1);
  return docs[0];
}

// A row whose every column except `id` is NULL: each field is present and null (never dropped).
void check_all_null(const json& doc, const std::vector<std::string>& fields) {
  INFO("document: " << doc.dump());
  CHECK(doc.size() == fields.size() + 2);  // + _id + id
  for (const auto& f : fields) {
    INFO("field " << f);
    REQUIRE(doc.contains(f));
    CHECK(doc[f].is_null());
  }
}

}  // namespace

TEST_CASE("sync --full: integer widths at their limits signed and unsigned and YEAR", "[sync][types]") {
  rig::Scratch db;
  db.sql("CREATE TABLE ints (id INT PRIMARY KEY, "
         "ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, mu MEDIUMINT UNSIGNED, "
         "i INT, iu INT UNSIGNED, bi BIGINT, bu BIGINT UNSIGNED, yr YEAR);"
         "INSERT INTO ints VALUES "
         "(1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 1901),"
         "(2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, "
         "   18446744073709551615, 2155),"
         "(3, 0, 1, 0, 1, 0, 1, 0, 1, 0, 9223372036854775807, 0),"
         "(4, -1, 2, -1, 2, -1, 2, -1, 2147483648, -1, 9223372036854775808, 2024),"
         "(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
  const auto report = full_sync(db);
  CHECK(report["tables"]["ints"]["records_synced"] == 5);
  CHECK(report["tables"]["ints"]["lossy"] == json::object());
  CHECK(report["total_lossy_values"] == 0);

  const auto lo = doc_with_id(db, "ints", 1);
  CHECK(lo["id"] == i32(1));
  CHECK(lo["_id"].contains("$oid"));  // MongoDB's own ObjectId; the key is an ordinary field
  CHECK(lo["ti"] == i32(-128));
  CHECK(lo["tu"] == i32(0));
  CHECK(lo["si"] == i32(-32768));
  CHECK(lo["su"] == i32(0));
  CHECK(lo["mi"] == i32(-8388608));
  CHECK(lo["mu"] == i32(0));
  CHECK(lo["i"] == i32(-2147483648LL));
  CHECK(lo["iu"] == i64(0));  // INT UNSIGNED is int64 for every value, not just the large ones
  CHECK(lo["bi"] == i64("-9223372036854775808"));
  CHECK(lo["bu"] == i64(0));
  CHECK(lo["yr"] == i32(1901));

  const auto hi = doc_with_id(db, "ints", 2);
  CHECK(hi["ti"] == i32(127));
  CHECK(hi["tu"] == i32(255));
  CHECK(hi["si"] == i32(32767));
  CHECK(hi["su"] == i32(65535));
  CHECK(hi["mi"] == i32(8388607));
  CHECK(hi["mu"] == i32(16777215));
  CHECK(hi["i"] == i32(2147483647));
  CHECK(hi["iu"] == i64(4294967295LL));
  CHECK(hi["bi"] == i64("9223372036854775807"));
  CHECK(hi["bu"] == dec("18446744073709551615"));  // exact, never wrapped to -1
  CHECK(hi["yr"] == i32(2155));

  const auto mid = doc_with_id(db, "ints", 3);
  CHECK(mid["bu"] == i64("9223372036854775807"));  // the largest BIGINT UNSIGNED that fits int64
  CHECK(mid["yr"] == i32(0));                       // YEAR 0000

  const auto edge = doc_with_id(db, "ints", 4);
  CHECK(edge["ti"] == i32(-1));
  CHECK(edge["iu"] == i64(2147483648LL));
  CHECK(edge["bu"] == dec("9223372036854775808"));  // 2^63: the first value that needs Decimal128
  CHECK(edge["yr"] == i32(2024));

  check_all_null(doc_with_id(db, "ints", 5), {"ti", "tu", "si", "su", "mi", "mu", "i", "iu", "bi", "bu", "yr"});
}

TEST_CASE("sync --full: DECIMAL as exact Decimal128 and DECIMAL(65,30) beyond 34 digits as a counted string "
          "and FLOAT and DOUBLE as doubles",
          "[sync][types]") {
  rig::Scratch db;
  db.sql("CREATE TABLE nums (id INT PRIMARY KEY, d10 DECIMAL(10,2), d65 DECIMAL(65,30), d65i DECIMAL(65,0), "
         "f FLOAT, g DOUBLE);"
         "INSERT INTO nums VALUES "
         "(1, 12345678.90, 12345678901234567890123456789012345.123456789012345678901234567890, "
         "   99999999999999999999999999999999999999999999999999999999999999999, 1.5, 3.141592653589793),"
         "(2, -0.01, 1.5, 1234567890123456789012345678901234, -3.25, -1e300),"
         "(3, 0.00, -0.000000000000000000000000000001, -5, 0, 2.2250738585072014e-308),"
         "(4, NULL, NULL, NULL, NULL, NULL)");
  const auto report = full_sync(db);

  const auto a = doc_with_id(db, "nums", 1);
  CHECK(a["d10"] == dec("12345678.90"));  // the scale is kept: 2 places
  // 65 digits: no Decimal128 holds it, so the exact decimal text is stored, and counted.
  CHECK(a["d65"] == "12345678901234567890123456789012345.123456789012345678901234567890");
  CHECK(a["d65i"] == "99999999999999999999999999999999999999999999999999999999999999999");
  CHECK(as_double(a["f"]) == 1.5);
  CHECK(as_double(a["g"]) == 3.141592653589793);

  const auto b = doc_with_id(db, "nums", 2);
  CHECK(b["d10"] == dec("-0.01"));
  // 1.5 with 30 decimal places is 31 digits: it fits Decimal128 exactly, scale included.
  CHECK(b["d65"] == dec("1.500000000000000000000000000000"));
  CHECK(b["d65i"] == dec("1234567890123456789012345678901234"));  // exactly 34 digits
  CHECK(as_double(b["f"]) == -3.25);
  CHECK(as_double(b["g"]) == -1e300);

  const auto c = doc_with_id(db, "nums", 3);
  CHECK(c["d10"] == dec("0.00"));
  CHECK(c["d65"] == dec("-1E-30"));
  CHECK(c["d65i"] == dec("-5"));
  CHECK(as_double(c["f"]) == 0.0);
  CHECK(as_double(c["g"]) == 2.2250738585072014e-308);

  check_all_null(doc_with_id(db, "nums", 4), {"d10", "d65", "d65i", "f", "g"});

  // Two values became strings; each is counted under its column and the reason, and logged once.
  const json expected_lossy = {{"d65", {{"decimal wider than 34 digits stored as string", 1}}},
                               {"d65i", {{"decimal wider than 34 digits stored as string", 1}}}};
  CHECK(report["tables"]["nums"]["lossy"] == expected_lossy);
  CHECK(report["total_lossy_values"] == 2);
  const auto meta = metadata_for(db, "nums");
  CHECK(meta["lossy_total"] == i64(2));
  CHECK(meta["lossy"]["d65"]["decimal wider than 34 digits stored as string"] == i64(1));
}

TEST_CASE("sync --full: DATE and DATETIME(fsp) and TIME and YEAR", "[sync][types]") {
  rig::Scratch db;
  db.sql("CREATE TABLE temporal (id INT PRIMARY KEY, d DATE, dt DATETIME, dt3 DATETIME(3), dt6 DATETIME(6), "
         "tm TIME, tm6 TIME(6), yr YEAR);"
         "INSERT INTO temporal VALUES "
         "(1, '2024-02-29', '2024-02-29 13:14:15', '1969-12-31 23:59:59.500', '2024-01-02 03:04:05.123456', "
         "   '-838:59:59', '12:34:56.789012', 2024),"
         "(2, '1000-01-01', '9999-12-31 23:59:59', '1900-01-01 00:00:00.000', '2024-01-02 03:04:05.123000', "
         "   '838:59:59', '-00:00:00.000001', 1970),"
         "(3, '9999-12-31', '1970-01-01 00:00:00', '2024-01-02 03:04:05.999', '9999-12-31 23:59:59.999999', "
         "   '00:00:00', '-25:00:00.5', 2155),"
         "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
  const auto report = full_sync(db);

  const auto a = doc_with_id(db, "temporal", 1);
  CHECK(a["d"] == date(1709164800000LL));   // 2024-02-29T00:00:00Z
  CHECK(a["dt"] == date(1709212455000LL));  // 2024-02-29T13:14:15Z
  CHECK(a["dt3"] == date(-500));             // half a second before the epoch
  CHECK(a["dt6"] == date(1704164645123LL));  // .123456 keeps .123; the rest is counted
  CHECK(a["tm"] == "-838:59:59");            // beyond 24 h and negative: a string
  CHECK(a["tm6"] == "12:34:56.789012");
  CHECK(a["yr"] == i32(2024));

  const auto b = doc_with_id(db, "temporal", 2);
  CHECK(b["d"] == date(-30610224000000LL));  // 1000-01-01
  CHECK(b["dt"] == date(253402300799000LL));  // 9999-12-31T23:59:59Z
  CHECK(b["dt3"] == date(-2208988800000LL));  // 1900-01-01
  CHECK(b["dt6"] == date(1704164645123LL));   // .123000: nothing lost
  CHECK(b["tm"] == "838:59:59");
  CHECK(b["tm6"] == "-00:00:00.000001");
  CHECK(b["yr"] == i32(1970));

  const auto c = doc_with_id(db, "temporal", 3);
  CHECK(c["d"] == date(253402214400000LL));
  CHECK(c["dt"] == date(0));
  CHECK(c["dt3"] == date(1704164645999LL));
  CHECK(c["dt6"] == date(253402300799999LL));  // truncated, never rounded into year 10000
  CHECK(c["tm"] == "00:00:00");
  CHECK(c["tm6"] == "-25:00:00.500000");
  CHECK(c["yr"] == i32(2155));

  check_all_null(doc_with_id(db, "temporal", 4), {"d", "dt", "dt3", "dt6", "tm", "tm6", "yr"});

  const json expected_lossy = {{"dt6", {{"fractional seconds beyond milliseconds truncated", 2}}}};
  CHECK(report["tables"]["temporal"]["lossy"] == expected_lossy);
  CHECK(report["total_lossy_values"] == 2);
  CHECK(metadata_for(db, "temporal")["lossy_total"] == i64(2));
}

TEST_CASE("sync --full: TIMESTAMP values are stored as the UTC instant whatever zone wrote or reads them",
          "[sync][types]") {
  rig::Scratch db;
  db.sql("CREATE TABLE stamps (id INT PRIMARY KEY, ts TIMESTAMP NULL DEFAULT NULL, "
         "ts6 TIMESTAMP(6) NULL DEFAULT NULL, dt DATETIME NULL)");
  // The inserting session is 5 hours ahead of UTC: 12:00 there is 07:00 UTC. A DATETIME has no zone and
  // keeps its wall-clock value.
  db.sql("SET time_zone = '+05:00';"
         "INSERT INTO stamps VALUES (1, '2024-06-01 12:00:00', '2024-06-01 12:00:00.123456', '2024-06-01 12:00:00'),"
         "(2, '1970-01-01 05:00:01', '2038-01-19 08:14:07.999999', NULL),"
         "(3, NULL, NULL, NULL);"
         "SET time_zone = '-08:00';"
         "INSERT INTO stamps VALUES (4, '2024-06-01 00:00:00', '2024-12-31 16:00:00', '2024-06-01 00:00:00');"
         "SET time_zone = '+00:00'");
  // What the server itself holds, read in UTC.
  const auto rows = db.query("SELECT id, ts, ts6 FROM stamps WHERE id IN (1, 4) ORDER BY id");
  REQUIRE(rows.size() == 2);
  REQUIRE(rows[0][1] == "2024-06-01 07:00:00");
  REQUIRE(rows[1][1] == "2024-06-01 08:00:00");

  // The tool's own session starts in yet another zone: an option file whose init-command sets +05:00
  // runs at connect, before the tool's SET time_zone = '+00:00'. Without that SET, every TIMESTAMP
  // below would come out five hours off.
  const TempFile cnf(db.name() + ".cnf", "[client]\ninit-command=SET time_zone='+05:00'\n");
  const TempFile toml(db.name() + ".toml", "[mysql]\noption_file = \"" + cnf.path + "\"\n");
  const auto report = full_sync(db, {}, {}, toml.path);
  const auto a = doc_with_id(db, "stamps", 1);
  CHECK(a["ts"] == date(1717225200000LL));   // 2024-06-01T07:00:00Z
  CHECK(a["ts6"] == date(1717225200123LL));  // ...07:00:00.123Z, microseconds counted
  CHECK(a["dt"] == date(1717243200000LL));   // 2024-06-01T12:00:00Z: the wall clock as written

  const auto b = doc_with_id(db, "stamps", 2);
  CHECK(b["ts"] == date(1000));               // TIMESTAMP's minimum, 1970-01-01T00:00:01Z
  CHECK(b["ts6"] == date(2147483647999LL));  // its maximum, 2038-01-19T03:14:07.999999Z
  CHECK(b["dt"].is_null());

  check_all_null(doc_with_id(db, "stamps", 3), {"ts", "ts6", "dt"});

  const auto d = doc_with_id(db, "stamps", 4);
  CHECK(d["ts"] == date(1717228800000LL));   // 2024-06-01T08:00:00Z
  CHECK(d["ts6"] == date(1735689600000LL));  // 2025-01-01T00:00:00Z
  CHECK(d["dt"] == date(1717200000000LL));   // 2024-06-01T00:00:00Z

  const json expected_lossy = {{"ts6", {{"fractional seconds beyond milliseconds truncated", 2}}}};
  CHECK(report["tables"]["stamps"]["lossy"] == expected_lossy);
}

TEST_CASE("sync --full: zero dates become null and are counted", "[sync][types]") {
  rig::Scratch db;
  db.sql("CREATE TABLE zd (id INT PRIMARY KEY, d DATE NULL, dt DATETIME NULL, ts TIMESTAMP NULL DEFAULT NULL)");
  // Zero dates can only be written with a permissive sql_mode (this session only).
  db.sql("SET SESSION sql_mode = '';"
         "INSERT INTO zd VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'),"
         "(2, '2024-00-10', '2024-05-00 10:00:00', NULL),"
         "(3, '2024-05-06', '2024-05-06 07:08:09', '2024-05-06 07:08:09');"
         "SET SESSION sql_mode = DEFAULT");
  REQUIRE(db.query("SELECT d, dt, ts FROM zd WHERE id = 1")[0][0] == "0000-00-00");
  REQUIRE(db.query("SELECT d, dt FROM zd WHERE id = 2")[0][0] == "2024-00-10");
  const auto report = full_sync(db);

  check_all_null(doc_with_id(db, "zd", 1), {"d", "dt", "ts"});
  check_all_null(doc_with_id(db, "zd", 2), {"d", "dt", "ts"});
  const auto ok = doc_with_id(db, "zd", 3);
  CHECK(ok["d"] == date(1714953600000LL));
  CHECK(ok["dt"] == date(1714979289000LL));
  CHECK(ok["ts"] == date(1714979289000LL));

  const std::string why = "zero date stored as null";
  const json expected_lossy = {{"d", {{why, 2}}}, {"dt", {{why, 2}}}, {"ts", {{why, 1}}}};
  CHECK(report["tables"]["zd"]["lossy"] == expected_lossy);
  CHECK(report["total_lossy_values"] == 5);
  const auto meta = metadata_for(db, "zd");
  CHECK(meta["lossy_total"] == i64(5));
  CHECK(meta["lossy"]["dt"][why] == i64(2));

  // sync.zero_date = "string" keeps the original text instead, still counted.
  const TempFile toml(db.name() + ".toml", "[sync]\nzero_date = \"string\"\n");
  const auto as_text = full_sync(db, {}, {}, toml.path);
  const auto z = doc_with_id(db, "zd", 1);
  CHECK(z["d"] == "0000-00-00");
  CHECK(z["dt"] == "0000-00-00 00:00:00");
  CHECK(z["ts"] == "0000-00-00 00:00:00");
  const auto partial = doc_with_id(db, "zd", 2);
  CHECK(partial["d"] == "2024-00-10");
  CHECK(partial["dt"] == "2024-05-00 10:00:00");
  CHECK(partial["ts"].is_null());
  CHECK(doc_with_id(db, "zd", 3)["d"] == date(1714953600000LL));
  const std::string why_text = "zero date stored as string";
  const json expected_text = {{"d", {{why_text, 2}}}, {"dt", {{why_text, 2}}}, {"ts", {{why_text, 1}}}};
  CHECK(as_text["tables"]["zd"]["lossy"] == expected_text);
}

TEST_CASE("sync --full: strings (utf8mb4 and latin1 and NUL) and ENUM and SET and binary and BIT", "[sync][types]") {
  rig::Scratch db;
  db.sql("CREATE TABLE texts (id INT PRIMARY KEY, c CHAR(5), v VARCHAR(50), t TEXT, "
         "l1 VARCHAR(10) CHARACTER SET latin1, e ENUM('small','medium','large'), s SET('a','b','c'), "
         "bn BINARY(4), vb VARBINARY(10), bl BLOB, b1 BIT(1), b12 BIT(12), b64 BIT(64))");
  db.sql("INSERT INTO texts VALUES "
         "(1, 'ab', '\xF0\x9F\x98\x80 caf\xC3\xA9 \xE2\x9C\x93', 'two\nlines', 'caf\xC3\xA9', 'medium', 'a,c', "
         "   'ab', X'00', X'00FF0041', b'1', b'101010101010', b'" + std::string(64, '1') + "'),"
         "(2, '', '', '', '', 'small', '', X'00000000', X'', X'', b'0', b'0', b'0" + std::string(63, '1') + "'),"
         "(3, 'xyz', 'a\\0b', 'x', 'x', 'large', 'b', 'abcd', 'z', 'plain', b'1', b'111111111111', b'1'),"
         "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
  const auto report = full_sync(db);
  CHECK(report["tables"]["texts"]["lossy"] == json::object());

  const auto a = doc_with_id(db, "texts", 1);
  CHECK(a["c"] == "ab");
  CHECK(a["v"] == "\xF0\x9F\x98\x80 caf\xC3\xA9 \xE2\x9C\x93");  // emoji: 4-byte UTF-8 intact
  CHECK(a["t"] == "two\nlines");
  CHECK(a["l1"] == "caf\xC3\xA9");  // latin1 column, read as UTF-8
  CHECK(a["e"] == "medium");
  CHECK(a["s"] == json::array({"a", "c"}));
  CHECK(a["bn"] == bin("YWIAAA=="));  // BINARY(4) pads with NUL bytes
  CHECK(a["vb"] == bin("AA=="));
  CHECK(a["bl"] == bin("AP8AQQ=="));  // 00 FF 00 41: NUL bytes kept
  CHECK(a["b1"] == true);
  CHECK(a["b12"] == i64(2730));
  CHECK(a["b64"] == dec("18446744073709551615"));  // 64 bits set: beyond int64, kept exact

  const auto b = doc_with_id(db, "texts", 2);
  CHECK(b["c"] == "");
  CHECK(b["v"] == "");
  CHECK(b["e"] == "small");
  CHECK(b["s"] == json::array());  // the empty SET is an empty array, not [""]
  CHECK(b["bn"] == bin("AAAAAA=="));
  CHECK(b["vb"] == bin(""));
  CHECK(b["bl"] == bin(""));
  CHECK(b["b1"] == false);
  CHECK(b["b12"] == i64(0));
  CHECK(b["b64"] == i64("9223372036854775807"));

  const auto c = doc_with_id(db, "texts", 3);
  CHECK(c["v"] == std::string("a\0b", 3));  // a NUL inside a string is kept
  CHECK(c["s"] == json::array({"b"}));
  CHECK(c["bn"] == bin("YWJjZA=="));
  CHECK(c["bl"] == bin("cGxhaW4="));
  CHECK(c["b1"] == true);
  CHECK(c["b12"] == i64(4095));
  CHECK(c["b64"] == i64(1));

  check_all_null(doc_with_id(db, "texts", 4), {"c", "v", "t", "l1", "e", "s", "bn", "vb", "bl", "b1", "b12", "b64"});
}

TEST_CASE("sync --full: JSON columns become embedded values with big integers exact and $-keys verbatim",
          "[sync][types]") {
  rig::Scratch db;
  // MariaDB's JSON is LONGTEXT with CHECK (json_valid(...)); the tool must still see a JSON column.
  db.sql("CREATE TABLE docs (id INT PRIMARY KEY, j JSON)");
  db.sql(R"sql(INSERT INTO docs VALUES
    (1, '{"a": 1, "b": [true, null, "x"], "c": {"d": 1.5, "e": {"f": [[]]}}}'),
    (2, '[1, "two", 3.5, {"k": false}]'),
    (3, '"just a string"'),
    (4, '42'),
    (5, 'true'),
    (6, 'null'),
    (7, '123456789012345678901234567890'),
    (8, '{"$date": 1, "$oid": "x", "n": 123456789012345678901234567890}'),
    (9, '[2147483647, 2147483648, 9223372036854775807, 18446744073709551615, -9223372036854775809, 1e2]'),
    (10, NULL),
    (11, '{}'),
    (12, '[]'))sql");
  const auto report = full_sync(db);
  CHECK(report["tables"]["docs"]["lossy"] == json::object());

  auto j = [&](int id) { return doc_with_id(db, "docs", id)["j"]; };
  const json obj = {{"a", i32(1)},
                    {"b", json::array({true, nullptr, "x"})},
                    {"c", {{"d", {{"$numberDouble", "1.5"}}}, {"e", {{"f", json::array({json::array()})}}}}}};
  CHECK(j(1) == obj);
  const auto arr = j(2);  // a root array stays an array
  REQUIRE(arr.is_array());
  REQUIRE(arr.size() == 4);
  CHECK(arr[0] == i32(1));
  CHECK(arr[1] == "two");
  CHECK(as_double(arr[2]) == 3.5);
  CHECK(arr[3] == json{{"k", false}});
  CHECK(j(3) == "just a string");
  CHECK(j(4) == i32(42));
  CHECK(j(5) == true);
  CHECK(j(6).is_null());
  CHECK(j(7) == dec("123456789012345678901234567890"));  // beyond int64: exact
  // "$date" is an ordinary key here, not Extended JSON: its value is the int32 1, not a date.
  const json dollar = {{"$date", i32(1)}, {"$oid", "x"}, {"n", dec("123456789012345678901234567890")}};
  CHECK(j(8) == dollar);
  const json ints = json::array({i32(2147483647), i64("2147483648"), i64("9223372036854775807"),
                                 dec("18446744073709551615"), dec("-9223372036854775809"),
                                 {{"$numberDouble", "100.0"}}});
  CHECK(j(9) == ints);
  CHECK(j(10).is_null());
  CHECK(j(11) == json::object());
  CHECK(j(12) == json::array());
}

TEST_CASE("sync --full: a row of NULLs in every column type", "[sync][types]") {
  rig::Scratch db;
  const std::vector<std::string> fields = {"ti", "bu", "de", "fl", "db", "d", "dt", "ts", "tm", "yr", "ch", "tx",
                                           "en", "st", "bn", "bl", "b1", "b9", "js"};
  db.sql("CREATE TABLE nulls (id INT PRIMARY KEY, ti TINYINT, bu BIGINT UNSIGNED, de DECIMAL(65,30), fl FLOAT, "
         "db DOUBLE, d DATE, dt DATETIME(6), ts TIMESTAMP NULL DEFAULT NULL, tm TIME, yr YEAR, ch CHAR(3), "
         "tx LONGTEXT, en ENUM('x'), st SET('x'), bn BINARY(2), bl LONGBLOB, b1 BIT(1), b9 BIT(9), js JSON);"
         "INSERT INTO nulls (id) VALUES (1)");
  const auto report = full_sync(db);
  CHECK(report["tables"]["nulls"]["records_synced"] == 1);
  CHECK(report["tables"]["nulls"]["lossy"] == json::object());
  check_all_null(doc_with_id(db, "nulls", 1), fields);
}

TEST_CASE("sync --full: each kind of lossy conversion is logged once per column and not per value",
          "[sync][types]") {
  rig::Scratch db;
  db.sql("CREATE TABLE lossy (id INT PRIMARY KEY, dt DATETIME(6));"
         "INSERT INTO lossy VALUES (1, '2024-01-01 00:00:00.000001'), (2, '2024-01-01 00:00:00.000002'), "
         "(3, '2024-01-01 00:00:00.000003')");
  const auto r = rig::run({"--json", "sync", "--full"}, db.env());
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto j = r.json();
  CHECK(j["tables"]["lossy"]["lossy"] == json{{"dt", {{"fractional seconds beyond milliseconds truncated", 3}}}});
  CHECK(j["total_lossy_values"] == 3);
  CHECK(occurrences(r.err, "fractional seconds beyond milliseconds truncated") == 1);
  CHECK(r.err.find("dt") != std::string::npos);
  for (int id = 1; id <= 3; ++id) CHECK(doc_with_id(db, "lossy", id)["dt"] == date(1704067200000LL));
}
