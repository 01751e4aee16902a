// `_sync_metadata`: one document per table with the seed's fields plus what the tool needs to resume.
#pragma once

#include "mongo/client.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace m2m::mongo {

inline constexpr const char* kMetadataCollection = "_sync_metadata";

struct TableState {
  // The seed's fields.
  std::string table_name;
  std::string sync_type;            // "full" | "incremental"
  std::int64_t records_synced = 0;
  std::string status;               // "success" | "failed" | "running"
  double duration_seconds = 0;
  std::string last_sync_time;       // ISO 8601 UTC, as the seed shows it
  std::int64_t timestamp_ms = 0;    // stored as a BSON date
  // Added by mysql2mongo.
  std::string collection;
  std::string error;                // empty: none
  std::int64_t rows_deleted = 0;
  std::map<std::string, std::map<std::string, std::int64_t>> lossy;  // column -> reason -> count
  std::int64_t lossy_total = 0;
  std::vector<std::string> warnings;
  std::string schema_fingerprint;
  std::vector<std::string> key_fields;
  std::int64_t last_success_ms = 0;  // 0: never succeeded
  std::string last_success_type;
  // Incremental state: the high-water mark as the source's own text values (change column, then key),
  // and the number of incremental runs since the last delete reconciliation.
  std::optional<std::vector<std::string>> high_water_mark;
  std::int64_t runs_since_reconcile = 0;
  // A full sync in progress: the last acknowledged key (source text values), and the change column's
  // maximum read when that full sync started (the mark it leaves behind; [] for an empty table).
  std::optional<std::vector<std::string>> checkpoint;
  std::optional<std::vector<std::string>> pending_mark;
};

class MetadataStore {
public:
  MetadataStore(Client& client, std::string db, std::string where);
  Status ensure_indexes();
  Expected<std::optional<TableState>> load(const std::string& table);
  Expected<std::vector<TableState>> load_all();
  Status save(const TableState& state);
  // Writes one field only: "checkpoint" after each acknowledged batch of a full sync, "high_water_mark"
  // after each acknowledged batch of an incremental one, "pending_mark" when a full sync starts.
  Status save_field(const std::string& table, const char* field, const std::optional<std::vector<std::string>>& value);

private:
  Client& client_;
  std::string db_;
  std::string where_;
};

}  // namespace m2m::mongo
