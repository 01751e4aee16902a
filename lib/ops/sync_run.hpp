// `sync` and `tables`: connect, plan, copy each table, record the outcome.
#pragma once

#include "config/config.hpp"
#include "sync/plan.hpp"
#include "sync/report.hpp"
#include "util/log.hpp"

#include <atomic>

namespace m2m::ops {

enum class Mode { full, incremental };

struct SyncOptions {
  Mode mode = Mode::incremental;
  sync::Selection selection;
  bool dry_run = false;
  bool force_deletes = false;
  const std::atomic<int>* stop = nullptr;
};

struct SyncOutcome {
  sync::RunReport report;
  std::vector<sync::TablePlan> plan;  // for --dry-run
};

// Throws Error for what stops the whole run (a server unreachable, access denied, bad selection);
// table-level failures are in the report.
SyncOutcome run_sync(const config::Config& cfg, const SyncOptions& options, Logger& log);

// The plan alone (for `tables`).
std::vector<sync::TablePlan> plan_tables(const config::Config& cfg, const sync::Selection& selection, Logger& log);

}  // namespace m2m::ops
