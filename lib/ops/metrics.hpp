// Prometheus text format for node-exporter's textfile collector, written at the end of every `sync`.
#pragma once

#include "mongo/metadata.hpp"
#include "sync/report.hpp"

#include <optional>
#include <string>
#include <vector>

namespace m2m::ops {

struct RunMetrics {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  int exit_code = 0;
  std::vector<mongo::TableState> tables;  // from _sync_metadata after the run (empty if unreadable)
  const sync::RunReport* report = nullptr;  // this run's figures, if it got as far as syncing
  std::optional<mongo::BinlogState> binlog;  // the stored binlog position after the run, if any
};

// `previous` is the file's current content: the last success time of the run carries over when this
// run did not succeed.
std::string render_metrics(const RunMetrics& m, const std::optional<std::string>& previous);

// The metrics of a `verify` run (verify --metrics-file; a file of its own, not the sync's).
struct VerifyMetrics {
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  int exit_code = 0;
  // The last verify of every table: this run's results and those _sync_metadata holds from earlier runs.
  std::vector<std::pair<std::string, mongo::VerifyRecord>> tables;
};
std::string render_verify_metrics(const VerifyMetrics& m);

// A label value with \, " and newline escaped as the text format requires.
std::string escape_label(std::string_view value);

}  // namespace m2m::ops
