#include "sync/report.hpp"

#include "util/text.hpp"

namespace m2m::sync {

std::uint64_t RunReport::total_records() const {
  std::uint64_t n = 0;
  for (const auto& [name, t] : tables) n += t.records_synced;
  return n;
}

std::size_t RunReport::failed() const {
  std::size_t n = 0;
  for (const auto& [name, t] : tables) n += t.status == "failed";
  return n;
}

std::size_t RunReport::succeeded() const { return tables.size() - failed(); }

std::string RunReport::status() const {
  if (failed() == 0) return "success";
  return succeeded() == 0 ? "failed" : "partial";
}

Exit RunReport::exit_code() const { return failed() ? Exit::tables_failed : Exit::ok; }

nlohmann::ordered_json to_json(const TableReport& t) {
  nlohmann::ordered_json j;
  j["status"] = t.status;
  j["records_synced"] = t.records_synced;
  j["sync_type"] = t.sync_type;
  j["collection"] = t.collection;
  j["deleted"] = t.deleted;
  j["duration_seconds"] = t.duration_seconds;
  if (!t.reason.empty()) j["reason"] = t.reason;
  if (t.resumed) j["resumed"] = true;
  nlohmann::ordered_json lossy = nlohmann::ordered_json::object();
  for (const auto& [col, reasons] : t.lossy.counts())
    for (const auto& [reason, n] : reasons) lossy[col][reason] = n;
  j["lossy"] = lossy;
  j["warnings"] = t.warnings;
  nlohmann::ordered_json renames = nlohmann::ordered_json::object();
  for (const auto& r : t.renames) renames[r.column] = r.field;
  j["renamed_columns"] = renames;
  if (t.error) j["error"] = t.error->message;
  return j;
}

nlohmann::ordered_json to_json(const RunReport& r) {
  nlohmann::ordered_json j;
  j["sync_type"] = r.sync_type;
  j["start_time"] = iso8601_utc(r.start_ms);
  j["end_time"] = iso8601_utc(r.end_ms);
  j["duration_seconds"] = static_cast<double>(r.end_ms - r.start_ms) / 1000.0;
  j["total_records_synced"] = r.total_records();
  j["successful_tables"] = r.succeeded();
  j["failed_tables"] = r.failed();
  j["status"] = r.status();
  std::uint64_t deleted = 0, lossy = 0;
  for (const auto& [name, t] : r.tables) {
    deleted += t.deleted;
    lossy += t.lossy.total();
  }
  j["total_records_deleted"] = deleted;
  j["total_lossy_values"] = lossy;
  j["dry_run"] = r.dry_run;
  nlohmann::ordered_json tables = nlohmann::ordered_json::object();
  for (const auto& [name, t] : r.tables) tables[name] = to_json(t);
  j["tables"] = tables;
  return j;
}

}  // namespace m2m::sync
