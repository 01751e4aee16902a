// `verify`: is MongoDB what a sync would have written? Every selected table compared with its collection
// (sync/verify.hpp), the keys that differ read again after verify.settle, optionally repaired, and the
// result of each table stored in _sync_metadata.
#pragma once

#include "config/config.hpp"
#include "mongo/metadata.hpp"
#include "sync/plan.hpp"
#include "sync/verify.hpp"
#include "util/log.hpp"
#include "util/stop.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace m2m::ops {

struct VerifyOptions {
  sync::Selection selection;
  // Copy the missing and different rows, delete the extra documents. It writes, so it takes the run
  // lock (a verify without it only reads, takes no lock and never holds up a sync).
  bool repair = false;
  bool force_deletes = false;                     // past the delete guard (sync.max_delete_fraction)
  std::optional<std::chrono::milliseconds> wait;  // for the run lock, with repair (max(): forever)
  StopToken* stop = nullptr;
  // Progress while a table is read (table, MySQL rows so far, rows expected or 0); app draws it.
  std::function<void(const std::string&, std::uint64_t, std::uint64_t)> progress;
  // Each table as soon as its merge is done (its first verdict: keys are read again later).
  std::function<void(const sync::TableVerify&)> table_read;
};

struct VerifyOutcome {
  std::int64_t start_ms = 0, end_ms = 0;
  bool repair = false;
  std::size_t max_keys = 100;
  std::vector<sync::TableVerify> tables;  // in name order
  // Tables that have no record in _sync_metadata (never synced): their result is not stored.
  std::vector<std::string> unrecorded;
  // _sync_metadata after the run, with this run's results (for the metrics); empty if unreadable.
  std::vector<mongo::TableState> states;

  std::size_t count(mongo::VerifyResult r) const;
  // 0 every table equal, 1 a difference found (as diff(1)), 3 a table could not be verified.
  Exit exit_code() const;
};

// Throws Error for what stops the whole command (a server unreachable, access denied, a bad selection,
// with repair the run lock held elsewhere); a table that cannot be read is a failed table in the outcome.
VerifyOutcome run_verify(const config::Config& cfg, const VerifyOptions& options, Logger& log);

nlohmann::ordered_json to_json(const VerifyOutcome& outcome);

// The last verify of every table, by name, for the metrics: this run's (outcome, when it got that far) and
// those `states` (_sync_metadata) holds from earlier runs.
std::vector<std::pair<std::string, mongo::VerifyRecord>> last_verifies(const VerifyOutcome* outcome,
                                                                        const std::vector<mongo::TableState>& states);

}  // namespace m2m::ops
