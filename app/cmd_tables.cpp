#include "cli.hpp"
#include "ops/sync_run.hpp"
#include "util/text.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace m2m::app {

namespace {

struct TablesFlags {
  std::string tables;
  std::string exclude;
};

}  // namespace

void print_plan_text(const std::vector<sync::TablePlan>& plan) {
  fmt::print("{:<28} {:<24} {:<22} {:>10}  {}\n", "TABLE", "KEY", "CHANGES", "ROWS~", "COLLECTION");
  for (const auto& p : plan) {
    const std::string key = p.has_key() ? join(p.key_columns(), ",") : "(none: staging copy)";
    // Where changes come from: the binlog, the change column (by name), or a full pass.
    const std::string change = p.change_source == mongo::ChangeSource::binlog
                                   ? "binlog"
                                   : p.change_source == mongo::ChangeSource::timestamp ? p.change_column : "full";
    fmt::print("{:<28} {:<24} {:<22} {:>10}  {}\n", p.table.name + (p.table.is_view ? " (view)" : ""), key, change,
               p.table.row_estimate, p.collection);
  }
}

void add_tables(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("tables", "show the plan: key, change column or \"full\", rows, collection");
  auto flags = std::make_shared<TablesFlags>();
  cmd->add_option("--tables", flags->tables, "only these tables (comma-separated names or globs)")->type_name("LIST");
  cmd->add_option("--exclude", flags->exclude, "skip these tables (comma-separated globs)")->type_name("LIST");
  cmd->callback([&action, flags] {
    action = [flags](Context& ctx) {
      sync::Selection sel;
      sel.tables = flags->tables.empty() ? ctx.cfg.sync.tables : split_list(flags->tables);
      sel.tables_from_flag = !flags->tables.empty();
      sel.exclude = split_list(flags->exclude);
      const auto plan = ops::plan_tables(ctx.cfg, sel, ctx.log);
      if (ctx.json) {
        nlohmann::ordered_json j;
        j["database"] = ctx.cfg.mysql.database;
        j["tables_count"] = plan.size();
        nlohmann::ordered_json tables = nlohmann::ordered_json::object();
        for (const auto& p : plan) tables[p.table.name] = sync::to_json(p);
        j["tables"] = tables;
        print_json(ctx, j, 0);
      } else {
        print_plan_text(plan);
      }
      return 0;
    };
  });
}

}  // namespace m2m::app
