// The command line: global options, one registration function per subcommand, error -> exit code.
#pragma once

#include "config/config.hpp"
#include "sync/plan.hpp"
#include "util/log.hpp"
#include "util/stop.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace m2m::app {

// What every subcommand gets when it runs.
struct Context {
  const config::Config& cfg;
  Logger& log;
  bool json = false;
  bool quiet = false;  // -q
  // `text` as it may be shown: without any secret (redact() with cfg.secrets).
  std::string redact(std::string_view text) const;
};

using Action = std::function<int(Context&)>;

// Each subcommand file registers its CLI11 subcommand and sets `action` when it is chosen.
void add_test_connection(CLI::App& app, Action& action);
void add_tables(CLI::App& app, Action& action);
void add_sync(CLI::App& app, Action& action, StopToken* stop);
void add_status(CLI::App& app, Action& action);
void add_verify(CLI::App& app, Action& action, StopToken* stop);

// The plan as `tables` and `sync --dry-run` print it: key, change column or "full", rows, collection.
void print_plan_text(const std::vector<sync::TablePlan>& plan);

// Prints a JSON document on stdout (the --json API): "schema_version": 1 first, "exit_code" last,
// without any secret.
void print_json(const Context& ctx, const nlohmann::ordered_json& j, int exit_code);

// Another run holds the run lock: the normal overlap of a timer or cron with a long run. Exit 75 (retry
// later), said at info level (-v) so cron does not mail every overlap; with --json, {"status": "locked"}.
int report_lock_held(const Context& ctx, const Error& e);

// The tables a command works on: --tables (else sync.tables) and --exclude, as given.
sync::Selection selection_of(const Context& ctx, const std::string& tables, const std::string& exclude);

// --wait[=DUR]: nullopt when absent, forever when bare; a value that is not a duration is a usage error.
std::optional<std::chrono::milliseconds> wait_of(const std::optional<std::string>& flag);

int run(int argc, char** argv);

}  // namespace m2m::app
