#include "ops/status.hpp"

#include "mongo/client.hpp"
#include "mongo/lease.hpp"
#include "mysql/connection.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace m2m::ops {

// Tables that no longer exist in MySQL are listed but never judged: they cannot be synced again.
std::size_t StatusReport::failed() const {
  return static_cast<std::size_t>(
      std::count_if(tables.begin(), tables.end(), [](const auto& t) { return !t.dropped && t.status != mongo::TableStatus::success; }));
}

std::size_t StatusReport::never_succeeded() const {
  return static_cast<std::size_t>(
      std::count_if(tables.begin(), tables.end(), [](const auto& t) { return !t.dropped && t.last_success_ms == 0; }));
}

std::size_t StatusReport::dropped() const {
  return static_cast<std::size_t>(std::count_if(tables.begin(), tables.end(), [](const auto& t) { return t.dropped; }));
}

std::size_t StatusReport::verified() const {
  return static_cast<std::size_t>(
      std::count_if(tables.begin(), tables.end(), [](const auto& t) { return !t.dropped && t.last_verify; }));
}

std::vector<std::string> StatusReport::verify_different() const {
  std::vector<std::string> out;
  for (const auto& t : tables)
    if (!t.dropped && t.last_verify && t.last_verify->result == mongo::VerifyResult::different) out.push_back(t.table_name);
  return out;
}

std::optional<std::chrono::milliseconds> StatusReport::oldest_success_age() const {
  if (tables.size() == dropped() || never_succeeded()) return std::nullopt;
  std::int64_t oldest = now_ms;
  for (const auto& t : tables)
    if (!t.dropped) oldest = std::min(oldest, t.last_success_ms);
  return std::chrono::milliseconds(std::max<std::int64_t>(0, now_ms - oldest));
}

std::string host_of_owner(const std::string& owner) {
  const auto colon = owner.rfind(':');
  return colon == std::string::npos ? owner : owner.substr(0, colon);
}

std::vector<mongo::TableState> with_binlog_progress(std::vector<mongo::TableState> tables,
                                                    const std::optional<mongo::BinlogState>& binlog) {
  if (!binlog) return tables;
  for (auto& t : tables) {
    auto it = binlog->tables.find(t.table_name);
    if (it == binlog->tables.end() || it->second.copying || it->second.as_of_ms <= t.timestamp_ms) continue;
    // Only a record that says "success, nothing to do" is carried forward: anything else was written.
    if (t.dropped || t.status != mongo::TableStatus::success) continue;
    const std::int64_t at = it->second.as_of_ms;
    t.last_sync_time = iso8601_utc(at);
    t.timestamp_ms = at;
    t.last_success_ms = at;
    t.last_complete_ms = at;
  }
  return tables;
}

StatusReport load_status(const config::Config& cfg, Logger& log) {
  StatusReport r;
  r.database = cfg.mongo_database();
  auto pool = mongo::Pool::open(cfg.mongodb, log).or_throw();
  auto client = pool->acquire();
  mongo::MetadataStore meta(client, r.database, pool->where());
  r.tables = meta.load_all().or_throw();
  r.now_ms = now_epoch_ms();

  // A live lease means a run is working right now.
  if (auto lease = mongo::read_lease(client, r.database, pool->where()).or_throw(); lease && lease->live(r.now_ms)) {
    r.lock_holder = lease->owner;
    // A sharded run: its shards, and who holds which unit.
    if (lease->shards > 0) {
      r.shard_count = lease->shards;
      auto slots = mongo::read_shard_slots(client, r.database, pool->where());
      for (auto& slot : slots.or_throw())
        if (slot.run == lease->token) r.shards.push_back(slot);
    }
  }
  r.units = mongo::read_held_units(client, r.database, pool->where()).or_throw();

  r.binlog = meta.load_binlog().or_throw();
  r.tables = with_binlog_progress(std::move(r.tables), r.binlog);
  if (r.binlog) {
    // Whether the next run can go on from the position is MySQL's to say; status answers without it.
    auto conn = mysql::Connection::open(cfg.mysql, log);
    auto logs = conn ? binlog::binary_logs(*conn) : Expected<std::vector<binlog::BinaryLog>>(conn.failure());
    if (logs) r.binlog_now = binlog::standing(*logs, {r.binlog->file, r.binlog->offset});
    else r.binlog_now_error = logs.failure().message;
  }
  return r;
}

StoredState try_load_state(const config::Config& cfg, Logger& log) {
  StoredState out;
  auto pool = mongo::Pool::open(cfg.mongodb, log);
  if (!pool) return out;
  auto client = (*pool)->acquire();
  mongo::MetadataStore meta(client, cfg.mongo_database(), (*pool)->where());
  if (auto tables = meta.load_all()) out.tables = std::move(*tables);
  if (auto b = meta.load_binlog()) out.binlog = std::move(*b);
  out.tables = with_binlog_progress(std::move(out.tables), out.binlog);
  return out;
}

nlohmann::ordered_json to_json(const StatusReport& r, const config::Config& cfg) {
  nlohmann::ordered_json j;
  nlohmann::ordered_json scheduler;
  // The seed ran its own scheduler; here cron or a systemd timer runs `sync`. What is left to report is
  // whether a run is working now, and the interval the shipped units use.
  scheduler["running"] = r.lock_holder.has_value();
  scheduler["type"] = "external (systemd timer or cron)";
  scheduler["interval_seconds"] = cfg.sync.interval.count() / 1000;
  scheduler["lock_holder"] = r.lock_holder ? nlohmann::ordered_json(*r.lock_holder) : nlohmann::ordered_json(nullptr);
  if (r.shard_count > 0) {
    scheduler["shard_count"] = r.shard_count;
    nlohmann::ordered_json shards = nlohmann::ordered_json::array();
    for (const auto& s : r.shards) {
      nlohmann::ordered_json e;
      e["shard"] = s.shard;
      e["owner"] = s.owner;
      e["host"] = host_of_owner(s.owner);
      e["state"] = s.finished ? "finished" : s.expires_at_ms > r.now_ms ? "working" : "expired";
      shards.push_back(e);
    }
    scheduler["shards"] = shards;
  }
  j["scheduler"] = scheduler;

  nlohmann::ordered_json data;
  data["total_tables"] = r.tables.size();
  data["failed_tables"] = r.failed();
  nlohmann::ordered_json tables = nlohmann::ordered_json::object();
  for (const auto& t : r.tables) {
    nlohmann::ordered_json e;
    e["last_sync_time"] = t.last_sync_time;
    e["sync_type"] = t.sync_type;
    e["records_synced"] = t.records_synced;
    e["status"] = t.status;
    e["duration_seconds"] = t.duration_seconds;
    e["collection"] = t.collection;
    e["change_source"] = t.change_source;
    e["last_success_time"] = t.last_success_ms ? nlohmann::ordered_json(iso8601_utc(t.last_success_ms)) : nlohmann::ordered_json(nullptr);
    e["age_seconds"] = t.last_success_ms ? nlohmann::ordered_json((r.now_ms - t.last_success_ms) / 1000) : nlohmann::ordered_json(nullptr);
    e["rows_deleted"] = t.rows_deleted;
    e["lossy_total"] = t.lossy_total;
    e["error"] = t.error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.error);
    if (t.resumed) e["resumed"] = true;
    if (r.binlog)
      if (auto it = r.binlog->tables.find(t.table_name); it != r.binlog->tables.end()) {
        e["binlog_position"] = fmt::format("{}:{}", it->second.file, it->second.offset);
        if (it->second.copying) e["binlog_copying"] = true;
      }
    if (!t.refused.empty()) {
      // Each row MongoDB could not store, by key: retried by every run until it fits or is gone.
      e["refused_rows"] = t.refused.size();
      auto rows = nlohmann::ordered_json::array();
      for (const auto& f : t.refused) {
        nlohmann::ordered_json row;
        row["key"] = f.key;
        row["bytes"] = f.bytes;
        row["reason"] = f.reason;
        rows.push_back(std::move(row));
      }
      e["refused"] = std::move(rows);
    }
    if (t.last_verify) {
      const auto& v = *t.last_verify;
      e["last_verify_time"] = iso8601_utc(v.time_ms);
      e["last_verify_result"] = std::string(mongo::to_string(v.result));
      nlohmann::ordered_json lv;
      lv["age_seconds"] = (r.now_ms - v.time_ms) / 1000;
      lv["mysql_rows"] = v.mysql_rows;
      lv["mongodb_documents"] = v.mongodb_documents;
      lv["equal"] = v.equal;
      lv["missing"] = v.missing;
      lv["extra"] = v.extra;
      lv["different"] = v.different;
      lv["changed_during_verify"] = v.changed_during_verify;
      lv["repaired"] = v.repaired ? nlohmann::ordered_json{{"copied", v.repaired_copied}, {"deleted", v.repaired_deleted}}
                                  : nlohmann::ordered_json(nullptr);
      lv["error"] = v.error.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(v.error);
      e["last_verify"] = lv;
    }
    if (t.dropped) {
      e["dropped"] = true;
      e["dropped_time"] = iso8601_utc(t.dropped_ms);
      e["collection_dropped"] = t.collection_dropped;
    }
    tables[t.table_name] = e;
  }
  data["tables"] = tables;
  j["sync_data"] = data;
  if (r.binlog) {
    const auto& b = *r.binlog;
    nlohmann::ordered_json bj;
    bj["file"] = b.file;
    bj["position"] = b.offset;
    bj["saved_time"] = iso8601_utc(b.updated_ms);
    // At the end of the run that saved it; "server" below is now.
    bj["lag_bytes"] = b.lag_bytes;
    bj["lag_seconds"] = b.lag_seconds;
    if (r.binlog_now) {
      bj["server"] = {{"file_present", r.binlog_now->present},
                      {"oldest_file", r.binlog_now->oldest_file},
                      {"in_oldest_file", r.binlog_now->oldest},
                      {"lag_bytes", r.binlog_now->lag_bytes}};
    } else {
      bj["server"] = nullptr;
      bj["server_error"] = r.binlog_now_error;
    }
    j["binlog"] = bj;
  }
  // Who holds which unit now: a unit whose lease expires is taken over by another shard.
  nlohmann::ordered_json units = nlohmann::ordered_json::array();
  for (const auto& u : r.units) {
    nlohmann::ordered_json e;
    e["unit"] = u.unit;
    e["kind"] = u.kind;
    e["owner"] = u.owner;
    e["host"] = host_of_owner(u.owner);
    e["lease_expires_time"] = iso8601_utc(u.expires_at_ms);
    e["checkpoint"] = u.checkpoint ? nlohmann::ordered_json(*u.checkpoint) : nlohmann::ordered_json(nullptr);
    units.push_back(e);
  }
  j["units"] = units;
  return j;
}

CheckResult check_unknown(const std::string& why) {
  // One line, and short: Nagios shows the first line only, and NRPE and most dashboards cut long ones.
  std::string line = "MYSQL2MONGO UNKNOWN - " + why;
  for (char& c : line)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (line.size() > kMaxUnknownLine) {
    line.resize(kMaxUnknownLine - 3);
    // Never end inside a UTF-8 sequence.
    while (!line.empty() && (static_cast<unsigned char>(line.back()) & 0xC0) == 0x80) line.pop_back();
    if (!line.empty() && (static_cast<unsigned char>(line.back()) & 0x80)) line.pop_back();
    line += "...";
  }
  return {3, line};
}

namespace {

// A table name as the plugin line shows it: MySQL allows '|' and line breaks in names, but the line must
// stay one line whose first '|' starts the perfdata. Such characters are shown as '?'.
std::string shown(std::string name) {
  for (char& c : name)
    if (c == '|' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return name;
}

std::vector<std::string> shown_all(std::vector<std::string> names) {
  for (auto& n : names) n = shown(std::move(n));
  return names;
}

}  // namespace

CheckResult check(const StatusReport& r, std::chrono::milliseconds warn, std::chrono::milliseconds crit) {
  if (r.tables.empty()) return check_unknown(fmt::format("no sync recorded in {}._sync_metadata yet", r.database));
  if (r.dropped() == r.tables.size())
    return check_unknown(fmt::format("every table recorded in {}._sync_metadata no longer exists in MySQL", r.database));
  const auto age = r.oldest_success_age();
  const std::int64_t age_s = age ? age->count() / 1000 : -1;
  std::string perf = fmt::format("age={}s;{};{} tables={} failed={}", std::max<std::int64_t>(age_s, 0),
                                       warn.count() / 1000, crit.count() / 1000, r.tables.size() - r.dropped(), r.failed());
  int code = 0;
  std::string detail;
  if (!age) {
    code = 2;
    std::vector<std::string> names;
    for (const auto& t : r.tables)
      if (!t.dropped && !t.last_success_ms) names.push_back(shown(t.table_name));
    detail = fmt::format("{} of {} tables never synced successfully ({})", names.size(), r.tables.size() - r.dropped(),
                         join(names, ", "));
  } else {
    std::vector<std::string> failed;
    for (const auto& t : r.tables)
      if (!t.dropped && t.status != mongo::TableStatus::success) failed.push_back(shown(t.table_name));
    detail = fmt::format("{} tables, oldest sync {} ago", r.tables.size() - r.dropped(), format_duration(*age));
    if (*age > crit) code = 2;
    else if (*age > warn || !failed.empty()) code = 1;
    if (!failed.empty()) detail += fmt::format(", last run failed for {}", join(failed, ", "));
  }
  if (r.binlog) {
    // The position matters only while the file it points into exists: once purged, the next run must copy
    // every binlog table in full. The server's word now, else what the last run saw.
    const bool gone = r.binlog_now && !r.binlog_now->present;
    const bool oldest = r.binlog_now ? r.binlog_now->oldest : r.binlog->oldest;
    if (gone) {
      code = 2;
      detail += fmt::format(", binlog {} is no longer on the server: the next run copies the tables positioned in it in full",
                            r.binlog->file);
    } else if (oldest) {
      code = std::max(code, 1);
      detail += fmt::format(", binlog position is in {}, the oldest binlog left: the next purge forces a full sync",
                            r.binlog->file);
    }
    const auto lag = r.binlog_now && r.binlog_now->present ? r.binlog_now->lag_bytes : r.binlog->lag_bytes;
    perf += fmt::format(" binlog_lag={}B binlog_lag_seconds={}s", lag, r.binlog->lag_seconds);
  }
  // MongoDB may be up to date and still wrong: a verify that found differences is worth a look.
  const auto different = r.verify_different();
  if (!different.empty()) {
    code = std::max(code, 1);
    detail += fmt::format(", last verify found differences in {}", join(shown_all(different), ", "));
  }
  std::string perf_all = perf;
  if (r.verified()) perf_all += fmt::format(" verify_different={}", different.size());
  static const char* names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
  return {code, fmt::format("MYSQL2MONGO {} - {} | {}", names[code], detail, perf_all)};
}

}  // namespace m2m::ops
