#include "sync/report.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::sync {

std::string TableReport::error_message() const {
  if (error) return error->message;
  if (refused.empty()) return {};
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < refused.size() && i < 3; ++i)
    shown.push_back(fmt::format("{}: {}", refused[i].described, refused[i].reason));
  return fmt::format("{} row{} could not be stored in MongoDB and {} retried by the next run: {}{}", refused.size(),
                     refused.size() == 1 ? "" : "s", refused.size() == 1 ? "is" : "are", join(shown, "; "),
                     refused.size() > 3 ? fmt::format("; and {} more (see refused_rows)", refused.size() - 3) : "");
}

void TableReport::settle() {
  status = error || !refused.empty() ? mongo::TableStatus::failed : mongo::TableStatus::success;
}

std::uint64_t RunReport::total_records() const {
  std::uint64_t n = 0;
  for (const auto& [name, t] : tables) n += t.records_synced;
  return n;
}

std::size_t RunReport::failed() const {
  std::size_t n = 0;
  for (const auto& [name, t] : tables) n += t.status == mongo::TableStatus::failed;
  return n;
}

std::size_t RunReport::succeeded() const { return tables.size() - failed(); }

RunReport::Status RunReport::status() const {
  if (failed() == 0) return Status::success;
  return succeeded() == 0 ? Status::failed : Status::partial;
}

std::string_view to_string(RunReport::Status s) {
  switch (s) {
    case RunReport::Status::success: return "success";
    case RunReport::Status::partial: return "partial";
    case RunReport::Status::failed: return "failed";
  }
  return "failed";
}

Exit RunReport::exit_code() const { return failed() ? Exit::tables_failed : Exit::ok; }

nlohmann::ordered_json to_json(const TableReport& t) {
  nlohmann::ordered_json j;
  j["status"] = std::string(mongo::to_string(t.status));
  j["records_synced"] = t.records_synced;
  j["sync_type"] = std::string(mongo::to_string(t.sync_type));
  j["change_source"] = std::string(mongo::to_string(t.change_source));
  j["collection"] = t.collection;
  j["deleted"] = t.deleted;
  j["duration_seconds"] = t.duration_seconds;
  if (!t.reason.empty()) j["reason"] = t.reason;
  if (t.resumed) j["resumed"] = true;
  if (t.key_ranges > 0) j["key_ranges"] = t.key_ranges;
  nlohmann::ordered_json lossy = nlohmann::ordered_json::object();
  for (const auto& [col, reasons] : t.lossy.counts())
    for (const auto& [reason, n] : reasons) lossy[col][reason] = n;
  j["lossy"] = lossy;
  j["warnings"] = t.warnings;
  nlohmann::ordered_json renames = nlohmann::ordered_json::object();
  for (const auto& r : t.renames) renames[r.column] = r.field;
  j["renamed_columns"] = renames;
  if (const auto message = t.error_message(); !message.empty()) j["error"] = message;
  if (!t.refused.empty()) {
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& r : t.refused) {
      nlohmann::ordered_json row;
      row["key"] = r.described;
      row["bytes"] = r.bytes;
      row["reason"] = r.reason;
      rows.push_back(row);
    }
    j["refused_rows"] = rows;
  }
  return j;
}

nlohmann::ordered_json to_json(const RunReport& r) {
  nlohmann::ordered_json j;
  j["sync_type"] = std::string(mongo::to_string(r.sync_type));
  j["start_time"] = iso8601_utc(r.start_ms);
  j["end_time"] = iso8601_utc(r.end_ms);
  j["duration_seconds"] = static_cast<double>(r.end_ms - r.start_ms) / 1000.0;
  j["total_records_synced"] = r.total_records();
  j["successful_tables"] = r.succeeded();
  j["failed_tables"] = r.failed();
  j["status"] = std::string(to_string(r.status()));
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
  j["vanished_tables"] = r.vanished;
  j["jobs"] = r.jobs;
  if (r.shard) {
    nlohmann::ordered_json s;
    s["index"] = r.shard->index;
    s["count"] = r.shard->count;
    s["run"] = r.shard->run;
    s["planned"] = r.shard->planned;
    j["shard"] = s;
  }
  nlohmann::ordered_json units = nlohmann::ordered_json::array();
  for (const auto& u : r.units) {
    nlohmann::ordered_json e;
    e["unit"] = u.unit;
    e["kind"] = u.kind;
    e["worker"] = u.worker;
    e["status"] = u.lost ? std::string("lost") : std::string(mongo::to_string(u.status));
    e["records_synced"] = u.records_synced;
    e["deleted"] = u.deleted;
    e["duration_seconds"] = u.duration_seconds;
    if (u.taken_over) e["taken_over"] = true;
    if (!u.error.empty()) e["error"] = u.error;
    units.push_back(e);
  }
  j["units"] = units;
  if (r.binlog) {
    nlohmann::ordered_json b;
    b["from"] = r.binlog->from;
    b["to"] = r.binlog->to;
    b["events"] = r.binlog->events;
    b["row_events"] = r.binlog->row_events;
    b["changed_keys"] = r.binlog->changed_keys;
    b["limited"] = r.binlog->limited;
    b["lag_bytes"] = r.binlog->lag_bytes;
    b["lag_seconds"] = r.binlog->lag_seconds;
    b["fallback"] = r.binlog->fallback.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(r.binlog->fallback);
    j["binlog"] = b;
  }
  return j;
}

}  // namespace m2m::sync
