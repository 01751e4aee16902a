// lib/convert: the type policy per column, overrides and their errors, field renaming, the loss report.
#include "convert/convert.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace m2m;
using namespace m2m::convert;

namespace {

mysql::Column column(const std::string& name, const std::string& data_type, const std::string& column_type = "",
                     bool is_unsigned = false) {
  mysql::Column c;
  c.name = name;
  c.data_type = data_type;
  c.column_type = column_type.empty() ? data_type : column_type;
  c.is_unsigned = is_unsigned;
  return c;
}

mysql::Table table_of(std::vector<mysql::Column> columns) {
  mysql::Table t;
  t.name = "orders";
  for (std::size_t i = 0; i < columns.size(); ++i) columns[i].ordinal = static_cast<int>(i + 1);
  t.columns = std::move(columns);
  return t;
}

std::vector<std::string> fields_of(const std::vector<FieldPlan>& plans) {
  std::vector<std::string> out;
  for (const auto& p : plans) out.push_back(p.field);
  return out;
}

Kind kind_of(const mysql::Column& c, const TypeOptions& options = {}) {
  auto plans = plan_fields(table_of({c}), options, {}, nullptr);
  REQUIRE(plans.ok());
  return plans->front().kind;
}

}  // namespace

TEST_CASE("field_name_for applies the documented rule", "[convert][plan]") {
  CHECK(field_name_for("name") == "name");
  CHECK(field_name_for("a.b") == "a_b");
  CHECK(field_name_for("a.b.c") == "a_b_c");
  CHECK(field_name_for("$x") == "_x");
  CHECK(field_name_for("x$") == "x$");
  CHECK(field_name_for("$$x") == "_$x");
  CHECK(field_name_for("$") == "_");
  CHECK(field_name_for(std::string("a\0b", 3)) == "ab");
  CHECK(field_name_for(std::string("\0", 1)) == "_");
  CHECK(field_name_for(std::string("\0$x", 3)) == "_x");  // never yields a leading '$'
  CHECK(field_name_for("") == "_");
  CHECK(field_name_for("_id") == "_id_");
  CHECK(field_name_for("$id") == "_id_");
  CHECK(field_name_for(".id") == "_id_");
  CHECK(field_name_for("_id_") == "_id_");
  CHECK(field_name_for("_ID") == "_ID");  // field names are case-sensitive
  CHECK(field_name_for("\xC3\xA9t\xC3\xA9") == "\xC3\xA9t\xC3\xA9");
}

TEST_CASE("plan_fields keeps storable names and moves renamed columns aside", "[convert][plan]") {
  SECTION("a.b then a_b") {
    std::vector<Rename> renames;
    auto plans = plan_fields(table_of({column("a.b", "int"), column("a_b", "int")}), {}, {}, &renames);
    REQUIRE(plans.ok());
    // a_b is storable as it is and keeps its name; only a.b is renamed.
    CHECK(fields_of(*plans) == std::vector<std::string>{"a_b_", "a_b"});
    REQUIRE(renames.size() == 1);
    CHECK(renames[0].column == "a.b");
    CHECK(renames[0].field == "a_b_");
  }
  SECTION("a_b then a.b") {
    std::vector<Rename> renames;
    auto plans = plan_fields(table_of({column("a_b", "int"), column("a.b", "int")}), {}, {}, &renames);
    REQUIRE(plans.ok());
    CHECK(fields_of(*plans) == std::vector<std::string>{"a_b", "a_b_"});
    REQUIRE(renames.size() == 1);
    CHECK(renames[0].column == "a.b");
    CHECK(renames[0].field == "a_b_");
  }
  SECTION("_id, _id_ and $id") {
    std::vector<Rename> renames;
    auto plans = plan_fields(table_of({column("_id", "int"), column("_id_", "int"), column("$id", "int")}), {},
                             {}, &renames);
    REQUIRE(plans.ok());
    CHECK(fields_of(*plans) == std::vector<std::string>{"_id__", "_id_", "_id___"});
    CHECK(renames.size() == 2);
  }
  SECTION("three columns mapping to one name") {
    auto plans = plan_fields(table_of({column("x.y", "int"), column("$x.y", "int"), column("x_y", "int"),
                                       column("_x_y", "int")}),
                             {}, {}, nullptr);
    REQUIRE(plans.ok());
    CHECK(fields_of(*plans) == std::vector<std::string>{"x_y_", "_x_y_", "x_y", "_x_y"});
  }
  SECTION("names that need nothing are not reported") {
    std::vector<Rename> renames;
    auto plans = plan_fields(table_of({column("id", "int"), column("Name", "varchar"), column("name2", "text")}),
                             {}, {}, &renames);
    REQUIRE(plans.ok());
    CHECK(fields_of(*plans) == std::vector<std::string>{"id", "Name", "name2"});
    CHECK(renames.empty());
    CHECK((*plans)[1].column == "Name");
  }
  SECTION("renames may be null") {
    auto plans = plan_fields(table_of({column("a.b", "int")}), {}, {}, nullptr);
    REQUIRE(plans.ok());
    CHECK(plans->front().field == "a_b");
  }
}

TEST_CASE("plan_fields maps every MySQL type to its kind", "[convert][plan]") {
  CHECK(kind_of(column("c", "tinyint", "tinyint(4)")) == Kind::int32);
  CHECK(kind_of(column("c", "tinyint", "tinyint(3) unsigned", true)) == Kind::int32);
  CHECK(kind_of(column("c", "smallint")) == Kind::int32);
  CHECK(kind_of(column("c", "smallint", "", true)) == Kind::int32);
  CHECK(kind_of(column("c", "mediumint", "", true)) == Kind::int32);
  CHECK(kind_of(column("c", "int")) == Kind::int32);
  CHECK(kind_of(column("c", "int", "int(10) unsigned", true)) == Kind::int64);
  CHECK(kind_of(column("c", "bigint")) == Kind::int64);
  CHECK(kind_of(column("c", "bigint", "bigint(20) unsigned", true)) == Kind::uint64);
  CHECK(kind_of(column("c", "year")) == Kind::int32);
  CHECK(kind_of(column("c", "decimal", "decimal(10,2)")) == Kind::decimal);
  CHECK(kind_of(column("c", "float")) == Kind::float64);
  CHECK(kind_of(column("c", "double")) == Kind::float64);
  CHECK(kind_of(column("c", "date")) == Kind::date);
  CHECK(kind_of(column("c", "datetime", "datetime(6)")) == Kind::datetime);
  CHECK(kind_of(column("c", "timestamp")) == Kind::datetime);
  CHECK(kind_of(column("c", "time")) == Kind::time);
  CHECK(kind_of(column("c", "varchar")) == Kind::string);
  CHECK(kind_of(column("c", "enum", "enum('a')")) == Kind::string);
  CHECK(kind_of(column("c", "set", "set('a')")) == Kind::set);
  CHECK(kind_of(column("c", "blob")) == Kind::binary);
  CHECK(kind_of(column("c", "geometry")) == Kind::binary);
  CHECK(kind_of(column("c", "json")) == Kind::json);
  CHECK(kind_of(column("c", "bit", "bit(1)")) == Kind::boolean);
  CHECK(kind_of(column("c", "bit", "bit")) == Kind::boolean);
  CHECK(kind_of(column("c", "bit", "bit(2)")) == Kind::bit);
  mysql::Column text_binary = column("c", "text");
  text_binary.charset = "binary";
  CHECK(kind_of(text_binary) == Kind::binary);

  TypeOptions as_bool;
  as_bool.tinyint1_as_bool = true;
  CHECK(kind_of(column("c", "tinyint", "tinyint(1)"), as_bool) == Kind::boolean);
  CHECK(kind_of(column("c", "tinyint", "TINYINT(1)"), as_bool) == Kind::boolean);
  CHECK(kind_of(column("c", "tinyint", "tinyint(1)")) == Kind::int32);
  CHECK(kind_of(column("c", "tinyint", "tinyint(10)"), as_bool) == Kind::int32);
}

TEST_CASE("plan_fields carries bit widths and the zero-date option", "[convert][plan]") {
  mysql::Column b = column("flags", "bit", "bit(12)");
  b.numeric_precision = 12;
  TypeOptions options;
  options.zero_date = ZeroDate::string;
  auto plans = plan_fields(table_of({b, column("d", "date"), column("n", "int")}), options, {}, nullptr);
  REQUIRE(plans.ok());
  CHECK((*plans)[0].kind == Kind::bit);
  CHECK((*plans)[0].bit_width == 12);
  CHECK((*plans)[1].zero_date == ZeroDate::string);
  CHECK((*plans)[2].bit_width == 0);
}

TEST_CASE("overrides name columns and types, exactly or ignoring case", "[convert][plan][override]") {
  const auto table = table_of({column("id", "int"), column("Amount", "decimal", "decimal(10,2)"),
                               column("payload", "longtext"), column("flag", "tinyint", "tinyint(4)")});
  auto plans = plan_fields(table, {}, {{"amount", "double"}, {"payload", "JSON"}, {"flag", "bool"}, {"id", "auto"}},
                           nullptr);
  REQUIRE(plans.ok());
  CHECK((*plans)[0].kind == Kind::int32);
  CHECK((*plans)[1].kind == Kind::float64);
  CHECK((*plans)[2].kind == Kind::json);
  CHECK((*plans)[3].kind == Kind::boolean);
}

TEST_CASE("invalid overrides are configuration errors naming the problem and the fix", "[convert][plan][override]") {
  const auto table = table_of({column("id", "int"), column("created", "datetime"), column("a.b", "varchar")});
  std::vector<Rename> renames;

  auto unknown_column = plan_fields(table, {}, {{"nope", "string"}}, &renames);
  REQUIRE_FALSE(unknown_column.ok());
  CHECK(unknown_column.failure().code == Exit::config);
  CHECK(unknown_column.failure().message == "tables.orders.types: unknown column 'nope'; check the column name");

  auto unknown_type = plan_fields(table, {}, {{"id", "uint8"}}, &renames);
  REQUIRE_FALSE(unknown_type.ok());
  CHECK(unknown_type.failure().code == Exit::config);
  CHECK(unknown_type.failure().message ==
        "tables.orders.types.id: unknown type 'uint8'; use one of auto, string, int64, double, decimal, bool, "
        "date, binary, json");

  auto misfit = plan_fields(table, {}, {{"created", "int64"}}, &renames);
  REQUIRE_FALSE(misfit.ok());
  CHECK(misfit.failure().code == Exit::config);
  CHECK(misfit.failure().message ==
        "tables.orders.types.created: type 'int64' does not apply to column type datetime; use one of auto, "
        "string, date, binary");

  auto misfit2 = plan_fields(table, {}, {{"id", "date"}}, &renames);
  REQUIRE_FALSE(misfit2.ok());
  CHECK(misfit2.failure().message ==
        "tables.orders.types.id: type 'date' does not apply to column type int; use one of auto, string, "
        "int64, double, decimal, bool, binary");

  auto twice = plan_fields(table, {}, {{"ID", "string"}, {"id", "int64"}}, &renames);
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.failure().code == Exit::config);
  CHECK(twice.failure().message ==
        "tables.orders.types: column 'id' is given more than once (as 'string' and 'int64'); keep one");

  // A failed plan reports no renames.
  CHECK(renames.empty());
  CHECK_THROWS_AS(unknown_column.value(), Error);
}

TEST_CASE("LossReport counts per column and reason", "[convert][plan][loss]") {
  LossReport a;
  CHECK(a.empty());
  CHECK(a.total() == 0);
  a.add("d", "zero date stored as null");
  a.add("d", "zero date stored as null", 2);
  a.add("t", "fractional seconds beyond milliseconds truncated");
  a.add("x", "nothing", 0);
  CHECK_FALSE(a.empty());
  CHECK(a.total() == 4);
  CHECK(a.counts().size() == 2);
  CHECK(a.counts().at("d").at("zero date stored as null") == 3);

  LossReport b;
  b.add("d", "zero date stored as null", 5);
  b.add("j", "invalid JSON stored as string");
  a.merge(b);
  CHECK(a.total() == 10);
  CHECK(a.counts().at("d").at("zero date stored as null") == 8);
  CHECK(a.counts().at("j").at("invalid JSON stored as string") == 1);
  CHECK(b.total() == 6);
}

TEST_CASE("LossReport: the counter found again for a repeated loss is the right one, copies and moves apart",
          "[convert][plan][loss]") {
  LossReport a;
  for (int i = 0; i < 3; ++i) {
    a.add("d", "zero date stored as null");
    a.add("d", "zero date stored as string");  // same column, another reason
    a.add("e", "zero date stored as string");  // same reason, another column
  }
  std::string reason = "not an integer stored as string";  // a reason built per value
  a.add("i", reason);
  reason = "not a number stored as string";
  a.add("i", reason);
  CHECK(a.counts().at("d").at("zero date stored as null") == 3);
  CHECK(a.counts().at("d").at("zero date stored as string") == 3);
  CHECK(a.counts().at("e").at("zero date stored as string") == 3);
  CHECK(a.counts().at("i").at("not an integer stored as string") == 1);
  CHECK(a.counts().at("i").at("not a number stored as string") == 1);

  // A copy counts on its own: adding to one never reaches the other's counters.
  LossReport b = a;
  b.add("i", "not a number stored as string");
  a.add("i", "not a number stored as string", 5);
  CHECK(b.counts().at("i").at("not a number stored as string") == 2);
  CHECK(a.counts().at("i").at("not a number stored as string") == 6);
  LossReport c;
  c.add("i", "not a number stored as string");
  c = b;
  c.add("i", "not a number stored as string");
  CHECK(c.counts().at("i").at("not a number stored as string") == 3);
  CHECK(b.counts().at("i").at("not a number stored as string") == 2);

  // A moved-from report starts over, and the moved-to one keeps counting where the other was.
  LossReport moved = std::move(a);
  moved.add("i", "not a number stored as string");
  CHECK(moved.counts().at("i").at("not a number stored as string") == 7);
  a = LossReport();
  a.add("i", "not a number stored as string");
  CHECK(a.total() == 1);
  LossReport target;
  target = std::move(moved);
  target.add("d", "zero date stored as null");
  CHECK(target.counts().at("d").at("zero date stored as null") == 4);
}
