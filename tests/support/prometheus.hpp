// A strict reader of the Prometheus text exposition format, for the metrics file of `sync --metrics-file`
// (tests/unit/test_ops_metrics.cpp reads ops::render_metrics' text with it, the integration tests the
// file the binary wrote).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace rig {

struct Prometheus {
  std::map<std::string, double> samples;  // "name" or "name{labels}" exactly as written -> value
  std::vector<std::string> problems;      // empty: the text is valid
  std::set<std::string> typed;            // metric names with a # TYPE line
  std::map<std::string, std::string> types;  // metric name -> its type ("gauge", ...)
  bool ok() const { return problems.empty(); }
  std::optional<double> get(const std::string& series) const {
    const auto it = samples.find(series);
    if (it == samples.end()) return std::nullopt;
    return it->second;
  }
};

// Checks the text exposition format strictly: every line is `# HELP name text`, `# TYPE name type` or a
// sample `name value` / `name{label="value",...} value [timestamp]` with a numeric value; the file ends
// with a newline; a family's TYPE comes before its samples, once; a family's samples are contiguous;
// no series twice.
Prometheus parse_prometheus(const std::string& text);

// The problems found, one per line.
std::string describe(const Prometheus& p);

// The file at `path`, which must be valid (the test fails otherwise).
Prometheus read_metrics(const std::string& path);

// The value of a series, which must be present (the test fails otherwise).
double value(const Prometheus& p, const std::string& series);

// `metric{table="label_value"}`; label_value is written as it appears in the file (already escaped).
std::string per_table(const std::string& metric, const std::string& label_value);

// The run metrics always written, and the per-table ones written for every table of _sync_metadata.
extern const std::vector<std::string> kRunMetrics;
extern const std::vector<std::string> kTableMetrics;

}  // namespace rig
