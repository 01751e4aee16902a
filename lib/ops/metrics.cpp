#include "ops/metrics.hpp"

#include <fmt/format.h>

#include <functional>
#include <sstream>

namespace m2m::ops {

std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

std::optional<double> previous_value(const std::optional<std::string>& text, const std::string& name) {
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) {
      try {
        return std::stod(line.substr(name.size() + 1));
      } catch (...) {
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}

void metric(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string render_metrics(const RunMetrics& m, const std::optional<std::string>& previous) {
  std::string out;
  const double end_s = static_cast<double>(m.end_ms) / 1000.0;
  metric(out, "mysql2mongo_last_run_timestamp_seconds", "gauge", "When the last sync run ended (Unix time).");
  out += fmt::format("mysql2mongo_last_run_timestamp_seconds {:.3f}\n", end_s);
  metric(out, "mysql2mongo_last_run_duration_seconds", "gauge", "How long the last sync run took.");
  out += fmt::format("mysql2mongo_last_run_duration_seconds {:.3f}\n", static_cast<double>(m.end_ms - m.start_ms) / 1000.0);
  metric(out, "mysql2mongo_last_run_exit_code", "gauge", "Exit code of the last sync run (see mysql2mongo(1)).");
  out += fmt::format("mysql2mongo_last_run_exit_code {}\n", m.exit_code);
  metric(out, "mysql2mongo_last_success_timestamp_seconds", "gauge", "When a sync run last ended with exit code 0.");
  const auto carried = previous_value(previous, "mysql2mongo_last_success_timestamp_seconds");
  out += fmt::format("mysql2mongo_last_success_timestamp_seconds {:.3f}\n",
                     m.exit_code == 0 ? end_s : carried.value_or(0.0));
  if (m.report) {
    metric(out, "mysql2mongo_last_run_records_synced", "gauge", "Rows copied by the last sync run, all tables.");
    out += fmt::format("mysql2mongo_last_run_records_synced {}\n", m.report->total_records());
    metric(out, "mysql2mongo_last_run_failed_tables", "gauge", "Tables that failed in the last sync run.");
    out += fmt::format("mysql2mongo_last_run_failed_tables {}\n", m.report->failed());
  }
  if (m.binlog) {
    metric(out, "mysql2mongo_binlog_lag_bytes", "gauge", "Binlog bytes written after the stored position, at the last run's end.");
    out += fmt::format("mysql2mongo_binlog_lag_bytes {}\n", m.binlog->lag_bytes);
    metric(out, "mysql2mongo_binlog_lag_seconds", "gauge",
           "Age of the oldest binlog event not yet applied, at the last run's end (0: none).");
    out += fmt::format("mysql2mongo_binlog_lag_seconds {}\n", m.binlog->lag_seconds);
    metric(out, "mysql2mongo_binlog_position_in_oldest_file", "gauge",
           "1 when the stored position is in the oldest binlog left on the server: the next purge forces a full sync.");
    out += fmt::format("mysql2mongo_binlog_position_in_oldest_file {}\n", m.binlog->oldest ? 1 : 0);
  }
  if (m.tables.empty()) return out;
  struct PerTable {
    const char* name;
    const char* help;
    std::function<double(const mongo::TableState&)> value;
  };
  const PerTable per_table[] = {
      {"mysql2mongo_table_rows_synced", "Rows copied by the table's last sync.",
       [](const auto& t) { return static_cast<double>(t.records_synced); }},
      {"mysql2mongo_table_rows_deleted", "Documents deleted by the table's last sync.",
       [](const auto& t) { return static_cast<double>(t.rows_deleted); }},
      {"mysql2mongo_table_lossy_values", "Values converted lossily by the table's last sync.",
       [](const auto& t) { return static_cast<double>(t.lossy_total); }},
      {"mysql2mongo_table_last_success_timestamp_seconds", "When the table last synced successfully (0: never).",
       [](const auto& t) { return static_cast<double>(t.last_success_ms) / 1000.0; }},
      {"mysql2mongo_table_up", "1 if the table's last sync succeeded, else 0.",
       [](const auto& t) { return t.status == mongo::TableStatus::success ? 1.0 : 0.0; }},
      {"mysql2mongo_table_rows_refused", "Rows MongoDB could not store (too large, too deep); retried every run.",
       [](const auto& t) { return static_cast<double>(t.refused.size()); }},
  };
  // A table that no longer exists in MySQL is not judged: only mysql2mongo_table_dropped names it.
  for (const auto& p : per_table) {
    metric(out, p.name, "gauge", p.help);
    for (const auto& t : m.tables)
      if (!t.dropped) out += fmt::format("{}{{table=\"{}\"}} {}\n", p.name, escape_label(t.table_name), p.value(t));
  }
  metric(out, "mysql2mongo_table_dropped", "gauge", "1 for a table of earlier runs that no longer exists in MySQL.");
  for (const auto& t : m.tables)
    if (t.dropped) out += fmt::format("mysql2mongo_table_dropped{{table=\"{}\"}} 1\n", escape_label(t.table_name));
  return out;
}

std::string render_verify_metrics(const VerifyMetrics& m) {
  std::string out;
  metric(out, "mysql2mongo_last_verify_timestamp_seconds", "gauge", "When the last verify ended (Unix time).");
  out += fmt::format("mysql2mongo_last_verify_timestamp_seconds {:.3f}\n", static_cast<double>(m.end_ms) / 1000.0);
  metric(out, "mysql2mongo_last_verify_duration_seconds", "gauge", "How long the last verify took.");
  out += fmt::format("mysql2mongo_last_verify_duration_seconds {:.3f}\n", static_cast<double>(m.end_ms - m.start_ms) / 1000.0);
  metric(out, "mysql2mongo_last_verify_exit_code", "gauge",
         "Exit code of the last verify: 0 equal, 1 differences, 3 a table could not be verified (see mysql2mongo(1)).");
  out += fmt::format("mysql2mongo_last_verify_exit_code {}\n", m.exit_code);
  if (m.tables.empty()) return out;
  metric(out, "mysql2mongo_verify_rows", "gauge",
         "Keys the table's last verify found equal, missing in MongoDB, extra in MongoDB, or different (before any repair).");
  for (const auto& [table, v] : m.tables) {
    if (v.result == mongo::VerifyResult::failed) continue;
    const std::pair<const char*, std::int64_t> results[] = {
        {"equal", v.equal}, {"missing", v.missing}, {"extra", v.extra}, {"different", v.different}};
    for (const auto& [result, n] : results)
      out += fmt::format("mysql2mongo_verify_rows{{table=\"{}\",result=\"{}\"}} {}\n", escape_label(table), result, n);
  }
  metric(out, "mysql2mongo_table_verify_equal", "gauge",
         "1 if the table's last verify found MongoDB equal to MySQL (after its repair, with --repair), else 0.");
  for (const auto& [table, v] : m.tables)
    out += fmt::format("mysql2mongo_table_verify_equal{{table=\"{}\"}} {}\n", escape_label(table),
                       v.result == mongo::VerifyResult::equal ? 1 : 0);
  metric(out, "mysql2mongo_table_last_verify_timestamp_seconds", "gauge", "When the table was last verified (Unix time).");
  for (const auto& [table, v] : m.tables)
    out += fmt::format("mysql2mongo_table_last_verify_timestamp_seconds{{table=\"{}\"}} {:.3f}\n", escape_label(table),
                       static_cast<double>(v.time_ms) / 1000.0);
  return out;
}

}  // namespace m2m::ops
