// lib/sync/plan: the pure parts of planning a table (make_plan itself reads information_schema): the change
// column, the collection name and the reserved ones, and the plan's JSON for `tables --json` and --dry-run.
#include "config/config.hpp"
#include "sync/plan.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

using namespace m2m;

namespace {

// A column as discovery reports it: DATA_TYPE and EXTRA lower case (mysql/discovery.cpp).
mysql::Column column(const std::string& name, const std::string& data_type, const std::string& extra = "") {
  mysql::Column c;
  c.name = name;
  c.data_type = data_type;
  c.column_type = data_type;
  c.extra = extra;
  return c;
}

mysql::Table table_of(std::vector<mysql::Column> columns) {
  mysql::Table t;
  t.name = "orders";
  for (std::size_t i = 0; i < columns.size(); ++i) columns[i].ordinal = static_cast<int>(i + 1);
  t.columns = std::move(columns);
  return t;
}

using Change = std::pair<std::string, std::string>;

// MariaDB's EXTRA for such a column, and MySQL 8's.
const std::string kOnUpdate = "on update current_timestamp()";
const std::string kOnUpdateMySql = "default_generated on update current_timestamp";

}  // namespace

// ---- detect_change_column -----------------------------------------------------------------------------------

TEST_CASE("detect_change_column: a TIMESTAMP or DATETIME with ON UPDATE CURRENT_TIMESTAMP comes first",
          "[sync][plan][change]") {
  CHECK(sync::detect_change_column(table_of({column("id", "int"), column("touched", "timestamp", kOnUpdate)})) ==
        Change{"touched", "ON UPDATE CURRENT_TIMESTAMP"});
  CHECK(sync::detect_change_column(table_of({column("id", "int"), column("touched", "datetime", "on update current_timestamp(6)")})) ==
        Change{"touched", "ON UPDATE CURRENT_TIMESTAMP"});
  CHECK(sync::detect_change_column(table_of({column("id", "int"), column("touched", "timestamp", kOnUpdateMySql)})) ==
        Change{"touched", "ON UPDATE CURRENT_TIMESTAMP"});
  // Before a column with one of the names, wherever it is.
  CHECK(sync::detect_change_column(table_of({column("updated_at", "timestamp"), column("stamp", "datetime", kOnUpdate)})) ==
        Change{"stamp", "ON UPDATE CURRENT_TIMESTAMP"});
  // Of two, the first in column order.
  CHECK(sync::detect_change_column(table_of({column("b", "timestamp", kOnUpdate), column("a", "timestamp", kOnUpdate)})) ==
        Change{"b", "ON UPDATE CURRENT_TIMESTAMP"});
  // A DEFAULT CURRENT_TIMESTAMP alone says nothing about updates.
  CHECK(sync::detect_change_column(table_of({column("created", "timestamp", "default_generated")})) == Change{});
}

TEST_CASE("detect_change_column: else the first of updated_at, modified_at, last_update, last_modified, in that order",
          "[sync][plan][change]") {
  const auto t = [](const char* name) { return column(name, "timestamp"); };
  CHECK(sync::detect_change_column(table_of({t("last_modified"), t("last_update"), t("modified_at"), t("updated_at")})) ==
        Change{"updated_at", "named updated_at"});
  CHECK(sync::detect_change_column(table_of({t("last_modified"), t("last_update"), t("modified_at")})) ==
        Change{"modified_at", "named modified_at"});
  CHECK(sync::detect_change_column(table_of({t("last_modified"), t("last_update")})) ==
        Change{"last_update", "named last_update"});
  CHECK(sync::detect_change_column(table_of({column("id", "int"), t("last_modified")})) ==
        Change{"last_modified", "named last_modified"});
  // Other names are not guessed at.
  CHECK(sync::detect_change_column(table_of({t("updated"), t("changed_at"), t("mtime"), t("updated_at_x")})) == Change{});
}

TEST_CASE("detect_change_column: the names in any case, the column keeping its own", "[sync][plan][change]") {
  CHECK(sync::detect_change_column(table_of({column("Updated_At", "datetime")})) == Change{"Updated_At", "named updated_at"});
  CHECK(sync::detect_change_column(table_of({column("LAST_UPDATE", "timestamp")})) ==
        Change{"LAST_UPDATE", "named last_update"});
}

TEST_CASE("detect_change_column: only TIMESTAMP and DATETIME columns qualify", "[sync][plan][change]") {
  for (const char* type : {"date", "time", "year", "int", "bigint", "varchar", "char", "decimal", "double", "json"}) {
    INFO(type);
    CHECK(sync::detect_change_column(table_of({column("id", "int"), column("updated_at", type)})) == Change{});
    CHECK(sync::detect_change_column(table_of({column("x", type, kOnUpdate)})) == Change{});
  }
  // A temporal column further down is taken over a non-temporal one of an earlier-ranked name.
  CHECK(sync::detect_change_column(table_of({column("updated_at", "varchar"), column("last_modified", "datetime")})) ==
        Change{"last_modified", "named last_modified"});
  CHECK(sync::detect_change_column(table_of({})) == Change{});
}

// ---- collection names -----------------------------------------------------------------------------------------

TEST_CASE("is_reserved_collection: the tool's own, MongoDB's system.*, and staging collections", "[sync][plan][names]") {
  for (const char* name : {"_sync_metadata", "_sync_lock", "system.profile", "system.", "system.views",
                           "orders__m2m_staging", "__m2m_staging"}) {
    INFO(name);
    CHECK(sync::is_reserved_collection(name));
  }
  for (const char* name : {"orders", "sync_metadata", "_sync_metadata_", "__sync_metadata", "_sync_locks", "systems",
                           "my.system.x", "_system.profile", "orders__m2m_staging_", "orders__m2m_stagingx",
                           "__m2m_stagin", ""}) {
    INFO(name);
    CHECK_FALSE(sync::is_reserved_collection(name));
  }
}

TEST_CASE("collection_name_for: the configured name, else prefix + table with '$' as '_', reserved names moved aside",
          "[sync][plan][names]") {
  config::Config cfg;
  CHECK(sync::collection_name_for("orders", cfg) == "orders");
  CHECK(sync::collection_name_for("a$b$", cfg) == "a_b_");
  CHECK(sync::collection_name_for("we\"ird.name", cfg) == "we\"ird.name");
  // Names the tool or MongoDB use get a '_' in front, or behind for the staging suffix.
  CHECK(sync::collection_name_for("_sync_metadata", cfg) == "__sync_metadata");
  CHECK(sync::collection_name_for("_sync_lock", cfg) == "__sync_lock");
  CHECK(sync::collection_name_for("system.users", cfg) == "_system.users");
  CHECK(sync::collection_name_for("t__m2m_staging", cfg) == "t__m2m_staging_");
  CHECK(sync::collection_name_for("__m2m_staging", cfg) == "__m2m_staging_");
  for (const char* table : {"_sync_metadata", "_sync_lock", "system.users", "t__m2m_staging", "__m2m_staging", "a$b"}) {
    INFO(table);
    CHECK_FALSE(sync::is_reserved_collection(sync::collection_name_for(table, cfg)));
  }

  // The prefix comes first: it can make a name reserved, or spare it.
  cfg.sync.collection_prefix = "m_";
  CHECK(sync::collection_name_for("orders", cfg) == "m_orders");
  CHECK(sync::collection_name_for("_sync_lock", cfg) == "m__sync_lock");
  CHECK(sync::collection_name_for("$x", cfg) == "m__x");
  cfg.sync.collection_prefix = "system.";
  CHECK(sync::collection_name_for("orders", cfg) == "_system.orders");
  cfg.sync.collection_prefix = "$";
  CHECK(sync::collection_name_for("orders", cfg) == "_orders");

  // [tables.NAME] collection is taken as it is (make_plan refuses a reserved one with a config error).
  cfg.tables["orders"].collection = "sales";
  cfg.tables["lock"].collection = "_sync_lock";
  CHECK(sync::collection_name_for("orders", cfg) == "sales");
  CHECK(sync::collection_name_for("lock", cfg) == "_sync_lock");
  // A section without a collection keeps the rule.
  cfg.tables["items"].change_column = "ts";
  CHECK(sync::collection_name_for("items", cfg) == "_items");
}

// ---- the plan's JSON -----------------------------------------------------------------------------------------

TEST_CASE("to_json(TablePlan): the fields of `tables --json`, in order, nulls for what there is none of",
          "[sync][plan][json]") {
  sync::TablePlan p;
  p.table = table_of({column("id", "int"), column("region", "varchar"), column("a.b", "int"),
                      column("updated_at", "timestamp", kOnUpdate)});
  p.table.row_estimate = 1234;
  p.collection = "orders";
  for (const auto& c : p.table.columns)
    p.fields.push_back(convert::FieldPlan{c.name, c.name == "a.b" ? "a_b" : c.name, convert::Kind::string, 0,
                                          convert::ZeroDate::null});
  p.renames = {{"a.b", "a_b"}};
  p.excluded_columns = {"secret"};
  p.key_source = sync::KeySource::primary;
  p.key = {1, 0};  // (region, id)
  p.change_column = "updated_at";
  p.change_source = mongo::ChangeSource::timestamp;
  p.change_reason = "ON UPDATE CURRENT_TIMESTAMP";
  p.index_fields = {{"a_b"}, {"region", "a_b"}};
  p.fingerprint = "0123456789abcdef";
  p.notes = {"key column 'region' is a SET: stored as its text ('a,b'), since a key cannot be an array in MongoDB"};

  CHECK(p.has_key());
  CHECK(p.key_columns() == std::vector<std::string>{"region", "id"});
  CHECK(p.key_fields() == std::vector<std::string>{"region", "id"});
  const auto j = sync::to_json(p);
  CHECK(j.dump() ==
        R"js({"table":"orders","type":"table","collection":"orders","key":["region","id"],"key_source":"primary key",)js"
        R"js("key_fields":["region","id"],"change_column":"updated_at","change_source":"timestamp","change_reason":"ON UPDATE CURRENT_TIMESTAMP",)js"
        R"js("incremental":true,"rows_estimate":1234,"columns":4,"renamed_columns":{"a.b":"a_b"},)js"
        R"js("excluded_columns":["secret"],"indexes":[["a_b"],["region","a_b"]],"schema_fingerprint":"0123456789abcdef",)js"
        R"js("notes":["key column 'region' is a SET: stored as its text ('a,b'), since a key cannot be an array in MongoDB"]})js");

  // A configured zone is shown after the fingerprint.
  p.change_zone = "Europe/Berlin";
  CHECK(sync::to_json(p)["change_zone"] == "Europe/Berlin");

  // A view without a key or change column: not incremental, nulls.
  sync::TablePlan v;
  v.table = table_of({column("name", "varchar")});
  v.table.name = "actor_info";
  v.table.is_view = true;
  v.collection = "actor_info";
  v.fields.push_back(convert::FieldPlan{"name", "name", convert::Kind::string, 0, convert::ZeroDate::null});
  const auto jv = sync::to_json(v);
  CHECK(jv["type"] == "view");
  CHECK(jv["key"].empty());
  CHECK(jv["key_source"] == "none");
  CHECK(jv["change_column"].is_null());
  CHECK(jv["change_reason"].is_null());
  CHECK(jv["incremental"] == false);
  CHECK(jv["renamed_columns"].is_object());
  CHECK_FALSE(jv.contains("change_zone"));
  // A change column without a key is no incremental sync either.
  v.change_column = "name";
  v.change_reason = "configured";
  CHECK(sync::to_json(v)["incremental"] == false);
}

TEST_CASE("KeySource names", "[sync][plan]") {
  CHECK(sync::to_string(sync::KeySource::primary) == "primary key");
  CHECK(sync::to_string(sync::KeySource::unique) == "unique key");
  CHECK(sync::to_string(sync::KeySource::configured) == "configured key");
  CHECK(sync::to_string(sync::KeySource::none) == "none");
}
