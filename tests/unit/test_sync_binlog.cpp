// The pure parts of change capture: which tables a logged statement touches, and the SQL literals that
// find a key from a row image again.
#include "sync/binlog_sync.hpp"

#include <catch2/catch.hpp>

using namespace m2m;
using binlog::KeyValue;
using sync::tables_named_in;

namespace {

mysql::Column column(std::string data_type, std::string column_type, std::string charset = "") {
  mysql::Column c;
  c.name = std::string(1, 'k');  // (= "k" trips a false -Wrestrict in GCC 12)
  c.data_type = std::move(data_type);
  c.column_type = std::move(column_type);
  c.charset = std::move(charset);
  return c;
}

KeyValue value(KeyValue::Type t, std::int64_t i = 0, std::uint64_t u = 0, std::string text = {}, double f = 0) {
  KeyValue v;
  v.type = t;
  v.i = i;
  v.u = u;
  v.text = std::move(text);
  v.f = f;
  return v;
}

}  // namespace

TEST_CASE("tables_named_in: the selected tables a logged statement names, in this database", "[sync][binlog]") {
  const std::set<std::string> tables{"orders", "Items", "order items"};
  using S = std::set<std::string>;
  // Unqualified names belong to the statement's default database.
  CHECK(tables_named_in("ALTER TABLE orders ADD COLUMN x INT", "shop", "shop", tables) == S{"orders"});
  CHECK(tables_named_in("ALTER TABLE orders ADD COLUMN x INT", "shop", "other", tables).empty());
  // Qualified names, with backquotes, spaces around the dot, any case.
  CHECK(tables_named_in("TRUNCATE `shop`.`orders`", "shop", "", tables) == S{"orders"});
  CHECK(tables_named_in("truncate table SHOP . ORDERS", "shop", "", tables) == S{"orders"});
  CHECK(tables_named_in("DROP TABLE other.orders", "shop", "shop", tables).empty());
  CHECK(tables_named_in("RENAME TABLE other.x TO shop.items, shop.orders TO shop.old", "shop", "", tables) ==
        S{"Items", "orders"});
  CHECK(tables_named_in("ALTER TABLE `order items` ENGINE=InnoDB", "shop", "shop", tables) == S{"order items"});
  CHECK(tables_named_in("ALTER TABLE `we``ird` ADD x INT", "shop", "shop", {"we`ird"}) == S{"we`ird"});
  // String literals are not names.
  CHECK(tables_named_in("ALTER TABLE t COMMENT 'orders'", "shop", "shop", tables).empty());
  CHECK(tables_named_in("ALTER TABLE t COMMENT \"it\\\"s orders\"", "shop", "shop", tables).empty());
  // A whole database dropped: every table of it.
  CHECK(tables_named_in("DROP DATABASE shop", "shop", "", tables) == tables);
  CHECK(tables_named_in("/* by hand */ DROP SCHEMA IF EXISTS `Shop`", "shop", "x", tables) == tables);
  CHECK(tables_named_in("DROP DATABASE shop2", "shop", "", tables).empty());
  // A name anywhere counts (conservative): a column named like a table is a false match, never a miss.
  CHECK(tables_named_in("CREATE TABLE audit (orders INT)", "shop", "shop", tables) == S{"orders"});
}

TEST_CASE("key_value_literal and key_value_echo: SQL that finds the key of a row image again", "[sync][binlog]") {
  using T = KeyValue::Type;
  const auto int_col = column("int", "int(11)");
  CHECK(sync::key_value_literal(value(T::int_signed, -2147483648LL), int_col) == "-2147483648");
  CHECK(sync::key_value_literal(value(T::int_unsigned, 0, 18446744073709551615ULL), column("bigint", "bigint(20) unsigned")) ==
        "18446744073709551615");
  CHECK(sync::key_value_literal(value(T::decimal, 0, 0, "-99999999999999.999999"), column("decimal", "decimal(20,6)")) ==
        "-99999999999999.999999");
  CHECK(sync::key_value_literal(value(T::datetime, 0, 0, "2020-01-01 00:00:00.000001"), column("datetime", "datetime(6)")) ==
        "'2020-01-01 00:00:00.000001'");
  // Doubles print the shortest text that reads back exactly, as a DOUBLE literal.
  CHECK(sync::key_value_literal(value(T::float64, 0, 0, {}, 0.1), column("double", "double")) == "0.1E0");
  CHECK(sync::key_value_literal(value(T::float32, 0, 0, {}, 1e30), column("float", "float")) == "1e+30");
  // Text keeps its bytes and lets the column's collation compare: an introducer, hex digits.
  CHECK(sync::key_value_literal(value(T::bytes, 0, 0, "a'\\"), column("varchar", "varchar(10)", "utf8mb4")) ==
        "_utf8mb4 X'61275C'");
  CHECK(sync::key_value_literal(value(T::bytes, 0, 0, std::string("\x00\xff", 2)), column("binary", "binary(2)")) ==
        "X'00FF'");
  // ENUM and SET compare by index and bits; their echo gives the names, as a SELECT of the column would.
  const auto enum_col = column("enum", "enum('small','it''s','x-large')");
  CHECK(sync::key_value_literal(value(T::enum_index, 0, 2), enum_col) == "2");
  CHECK(sync::key_value_echo(value(T::enum_index, 0, 2), enum_col) == "ELT(2, 'small', 'it''s', 'x-large')");
  const auto set_col = column("set", "set('a','b','c')");
  CHECK(sync::key_value_echo(value(T::set_bits, 0, 5), set_col) == "MAKE_SET(5, 'a', 'b', 'c')");
  CHECK(sync::key_value_echo(value(T::bit, 0, 5, std::string("\x05", 1)), column("bit", "bit(3)")) == "X'05'");
  // Everything else echoes as its literal.
  CHECK(sync::key_value_echo(value(T::int_signed, 7), int_col) == "7");
}

TEST_CASE("key_value_text: the text a SELECT sends, where it is known without the server", "[sync][binlog]") {
  using T = KeyValue::Type;
  CHECK(sync::key_value_text(value(T::int_signed, -5), column("int", "int(11)")) == "-5");
  CHECK(sync::key_value_text(value(T::int_unsigned, 0, 18446744073709551615ULL), column("bigint", "bigint(20) unsigned")) ==
        "18446744073709551615");
  CHECK(sync::key_value_text(value(T::bytes, 0, 0, "caf\xc3\xa9"), column("varchar", "varchar(9)", "utf8mb4")) == "caf\xc3\xa9");
  CHECK(sync::key_value_text(value(T::bytes, 0, 0, std::string("\x01\x00", 2)), column("binary", "binary(2)")) ==
        std::string("\x01\x00", 2));
  // Converted by the server on the way: it must tell.
  CHECK_FALSE(sync::key_value_text(value(T::bytes, 0, 0, "caf\xe9"), column("varchar", "varchar(9)", "latin1")));
  CHECK_FALSE(sync::key_value_text(value(T::enum_index, 0, 2), column("enum", "enum('a','b')")));
  CHECK_FALSE(sync::key_value_text(value(T::datetime, 0, 0, "2020-01-01 00:00:00"), column("datetime", "datetime")));
  CHECK_FALSE(sync::key_value_text(value(T::decimal, 0, 0, "1.5"), column("decimal", "decimal(4,1)")));
  CHECK_FALSE(sync::key_value_text(value(T::float64, 0, 0, {}, 0.5), column("double", "double")));
}
