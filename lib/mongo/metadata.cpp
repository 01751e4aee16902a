#include "mongo/metadata.hpp"

#include "mongo/admin.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::mongo {

std::string_view to_string(SyncType t) { return t == SyncType::full ? "full" : "incremental"; }

std::string_view to_string(ChangeSource c) {
  switch (c) {
    case ChangeSource::full: return "full";
    case ChangeSource::timestamp: return "timestamp";
    case ChangeSource::binlog: return "binlog";
  }
  return "full";
}

std::optional<ChangeSource> parse_change_source(std::string_view text) {
  for (auto c : {ChangeSource::full, ChangeSource::timestamp, ChangeSource::binlog})
    if (to_string(c) == text) return c;
  return std::nullopt;
}

std::string_view to_string(TableStatus s) {
  switch (s) {
    case TableStatus::success: return "success";
    case TableStatus::failed: return "failed";
    case TableStatus::planned: return "planned";
    case TableStatus::dropped: return "dropped";
  }
  return "failed";
}

std::optional<SyncType> parse_sync_type(std::string_view text) {
  if (text == "full") return SyncType::full;
  if (text == "incremental") return SyncType::incremental;
  return std::nullopt;
}

std::optional<TableStatus> parse_table_status(std::string_view text) {
  for (auto s : {TableStatus::success, TableStatus::failed, TableStatus::planned, TableStatus::dropped})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

std::string_view to_string(VerifyResult r) {
  switch (r) {
    case VerifyResult::equal: return "equal";
    case VerifyResult::different: return "different";
    case VerifyResult::failed: return "failed";
  }
  return "failed";
}

std::optional<VerifyResult> parse_verify_result(std::string_view text) {
  for (auto r : {VerifyResult::equal, VerifyResult::different, VerifyResult::failed})
    if (to_string(r) == text) return r;
  return std::nullopt;
}

namespace {

void append_text(bson_t* doc, const char* key, std::string_view text) {
  bson_append_utf8(doc, key, -1, text.data(), static_cast<int>(text.size()));
}

void append_string_array(bson_t* doc, const char* key, const std::vector<std::string>& values) {
  bson_t arr;
  BSON_APPEND_ARRAY_BEGIN(doc, key, &arr);
  char buf[16];
  for (std::size_t i = 0; i < values.size(); ++i) {
    const char* k;
    bson_uint32_to_string(static_cast<uint32_t>(i), &k, buf, sizeof buf);
    // Key values of binary columns are arbitrary bytes: keep them exact as BSON binary.
    if (bson_utf8_validate(values[i].data(), values[i].size(), false))
      bson_append_utf8(&arr, k, -1, values[i].data(), static_cast<int>(values[i].size()));
    else
      bson_append_binary(&arr, k, -1, BSON_SUBTYPE_BINARY, reinterpret_cast<const uint8_t*>(values[i].data()),
                         static_cast<uint32_t>(values[i].size()));
  }
  bson_append_array_end(doc, &arr);
}

std::vector<std::string> read_string_array(bson_iter_t* it) {
  std::vector<std::string> out;
  bson_iter_t child;
  if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &child)) return out;
  while (bson_iter_next(&child)) {
    uint32_t len = 0;
    if (BSON_ITER_HOLDS_UTF8(&child)) {
      const char* s = bson_iter_utf8(&child, &len);
      out.emplace_back(s, len);
    } else if (BSON_ITER_HOLDS_BINARY(&child)) {
      const uint8_t* data = nullptr;
      bson_subtype_t subtype;
      bson_iter_binary(&child, &subtype, &len, &data);
      out.emplace_back(reinterpret_cast<const char*>(data), len);
    }
  }
  return out;
}

void append_refused(bson_t* d, const std::vector<TableState::Refused>& rows) {
  bson_t refused;
  BSON_APPEND_ARRAY_BEGIN(d, "refused_rows", &refused);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    bson_t r;
    const std::string k = std::to_string(i);
    BSON_APPEND_DOCUMENT_BEGIN(&refused, k.c_str(), &r);
    append_string_array(&r, "key", rows[i].key);
    BSON_APPEND_INT64(&r, "bytes", rows[i].bytes);
    BSON_APPEND_UTF8(&r, "reason", rows[i].reason.c_str());
    bson_append_document_end(&refused, &r);
  }
  bson_append_array_end(d, &refused);
}

void append_lossy(bson_t* d, const std::map<std::string, std::map<std::string, std::int64_t>>& counts) {
  bson_t lossy;
  BSON_APPEND_DOCUMENT_BEGIN(d, "lossy", &lossy);
  for (const auto& [col, reasons] : counts) {
    bson_t r;
    bson_append_document_begin(&lossy, col.data(), static_cast<int>(col.size()), &r);
    for (const auto& [reason, n] : reasons) bson_append_int64(&r, reason.data(), static_cast<int>(reason.size()), n);
    bson_append_document_end(&lossy, &r);
  }
  bson_append_document_end(d, &lossy);
}

std::vector<TableState::Refused> read_refused(bson_iter_t* it) {
  std::vector<TableState::Refused> out;
  bson_iter_t rows;
  if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &rows)) return out;
  while (bson_iter_next(&rows)) {
    bson_iter_t f;
    if (!BSON_ITER_HOLDS_DOCUMENT(&rows) || !bson_iter_recurse(&rows, &f)) continue;
    TableState::Refused r;
    while (bson_iter_next(&f)) {
      const std::string_view k = bson_iter_key(&f);
      if (k == "key") r.key = read_string_array(&f);
      else if (k == "bytes") r.bytes = bson_iter_as_int64(&f);
      else if (k == "reason" && BSON_ITER_HOLDS_UTF8(&f)) r.reason = bson_iter_utf8(&f, nullptr);
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::map<std::string, std::map<std::string, std::int64_t>> read_lossy(bson_iter_t* it) {
  std::map<std::string, std::map<std::string, std::int64_t>> out;
  bson_iter_t cols;
  if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &cols)) return out;
  while (bson_iter_next(&cols)) {
    bson_iter_t reasons;
    if (!BSON_ITER_HOLDS_DOCUMENT(&cols) || !bson_iter_recurse(&cols, &reasons)) continue;
    while (bson_iter_next(&reasons)) out[bson_iter_key(&cols)][bson_iter_key(&reasons)] = bson_iter_as_int64(&reasons);
  }
  return out;
}

// The record of a table. Without `progress`, the fields a sync writes as it goes (checkpoint, marks,
// window) are left out, so that writing the record never moves them back.
Bson to_bson(const TableState& s, bool progress = true) {
  Bson b;
  bson_t* d = b.get();
  BSON_APPEND_UTF8(d, "table_name", s.table_name.c_str());
  append_text(d, "sync_type", to_string(s.sync_type));
  BSON_APPEND_INT64(d, "records_synced", s.records_synced);
  append_text(d, "status", to_string(s.status));
  BSON_APPEND_DOUBLE(d, "duration_seconds", s.duration_seconds);
  BSON_APPEND_UTF8(d, "last_sync_time", s.last_sync_time.c_str());
  BSON_APPEND_DATE_TIME(d, "timestamp", s.timestamp_ms);
  BSON_APPEND_UTF8(d, "collection", s.collection.c_str());
  if (s.error.empty()) BSON_APPEND_NULL(d, "error");
  else BSON_APPEND_UTF8(d, "error", s.error.c_str());
  BSON_APPEND_INT64(d, "rows_deleted", s.rows_deleted);
  append_lossy(d, s.lossy);
  BSON_APPEND_INT64(d, "lossy_total", s.lossy_total);
  append_string_array(d, "warnings", s.warnings);
  BSON_APPEND_UTF8(d, "schema_fingerprint", s.schema_fingerprint.c_str());
  append_string_array(d, "key_fields", s.key_fields);
  if (s.last_success_ms) BSON_APPEND_DATE_TIME(d, "last_success", s.last_success_ms);
  else BSON_APPEND_NULL(d, "last_success");
  append_text(d, "last_success_type", to_string(s.last_success_type));
  if (progress) {
    if (s.high_water_mark) append_string_array(d, "high_water_mark", *s.high_water_mark);
    else BSON_APPEND_NULL(d, "high_water_mark");
    BSON_APPEND_INT64(d, "runs_since_reconcile", s.runs_since_reconcile);
    if (s.checkpoint) append_string_array(d, "checkpoint", *s.checkpoint);
    else BSON_APPEND_NULL(d, "checkpoint");
    if (s.pending_mark) append_string_array(d, "pending_mark", *s.pending_mark);
    else BSON_APPEND_NULL(d, "pending_mark");
    BSON_APPEND_UTF8(d, "checkpoint_fingerprint", s.checkpoint_fingerprint.c_str());
    if (s.window_floor) BSON_APPEND_UTF8(d, "window_floor", s.window_floor->c_str());
    else BSON_APPEND_NULL(d, "window_floor");
    BSON_APPEND_INT64(d, "split_ranges", s.split_ranges);
  }
  append_refused(d, s.refused);
  BSON_APPEND_BOOL(d, "resumed", s.resumed);
  if (s.last_complete_ms) BSON_APPEND_DATE_TIME(d, "last_complete", s.last_complete_ms);
  else BSON_APPEND_NULL(d, "last_complete");
  BSON_APPEND_BOOL(d, "dropped", s.dropped);
  if (s.dropped_ms) BSON_APPEND_DATE_TIME(d, "dropped_time", s.dropped_ms);
  BSON_APPEND_BOOL(d, "collection_dropped", s.collection_dropped);
  append_text(d, "change_source", to_string(s.change_source));
  return b;
}

// last_verify: {time, mysql_rows, mongodb_documents, equal, missing, extra, different,
// changed_during_verify, repaired: {copied, deleted} | null, error: text | null}
void read_verify(bson_iter_t* it, VerifyRecord& v) {
  bson_iter_t f;
  if (!bson_iter_recurse(it, &f)) return;
  while (bson_iter_next(&f)) {
    const std::string_view k = bson_iter_key(&f);
    const bool number = BSON_ITER_HOLDS_NUMBER(&f);
    if (k == "time" && BSON_ITER_HOLDS_DATE_TIME(&f)) v.time_ms = bson_iter_date_time(&f);
    else if (k == "mysql_rows" && number) v.mysql_rows = bson_iter_as_int64(&f);
    else if (k == "mongodb_documents" && number) v.mongodb_documents = bson_iter_as_int64(&f);
    else if (k == "equal" && number) v.equal = bson_iter_as_int64(&f);
    else if (k == "missing" && number) v.missing = bson_iter_as_int64(&f);
    else if (k == "extra" && number) v.extra = bson_iter_as_int64(&f);
    else if (k == "different" && number) v.different = bson_iter_as_int64(&f);
    else if (k == "changed_during_verify" && number) v.changed_during_verify = bson_iter_as_int64(&f);
    else if (k == "error" && BSON_ITER_HOLDS_UTF8(&f)) v.error = bson_iter_utf8(&f, nullptr);
    else if (k == "repaired" && BSON_ITER_HOLDS_DOCUMENT(&f)) {
      v.repaired = true;
      bson_iter_t r;
      if (!bson_iter_recurse(&f, &r)) continue;
      while (bson_iter_next(&r)) {
        const std::string_view rk = bson_iter_key(&r);
        if (rk == "copied" && BSON_ITER_HOLDS_NUMBER(&r)) v.repaired_copied = bson_iter_as_int64(&r);
        else if (rk == "deleted" && BSON_ITER_HOLDS_NUMBER(&r)) v.repaired_deleted = bson_iter_as_int64(&r);
      }
    }
  }
}

TableState from_bson(const bson_t* doc) {
  TableState s;
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return s;
  while (bson_iter_next(&it)) {
    const std::string_view key = bson_iter_key(&it);
    auto str = [&]() {
      if (!BSON_ITER_HOLDS_UTF8(&it)) return std::string();
      uint32_t len = 0;
      const char* data = bson_iter_utf8(&it, &len);  // sets len: read it only afterwards
      return std::string(data, len);
    };
    if (key == "table_name") s.table_name = str();
    else if (key == "sync_type") s.sync_type = parse_sync_type(str()).value_or(SyncType::full);
    else if (key == "records_synced") s.records_synced = bson_iter_as_int64(&it);
    else if (key == "status") s.status = parse_table_status(str()).value_or(TableStatus::failed);
    else if (key == "duration_seconds") s.duration_seconds = BSON_ITER_HOLDS_DOUBLE(&it) ? bson_iter_double(&it) : static_cast<double>(bson_iter_as_int64(&it));
    else if (key == "last_sync_time") s.last_sync_time = str();
    else if (key == "timestamp" && BSON_ITER_HOLDS_DATE_TIME(&it)) s.timestamp_ms = bson_iter_date_time(&it);
    else if (key == "collection") s.collection = str();
    else if (key == "error") s.error = str();
    else if (key == "rows_deleted") s.rows_deleted = bson_iter_as_int64(&it);
    else if (key == "lossy_total") s.lossy_total = bson_iter_as_int64(&it);
    else if (key == "warnings") s.warnings = read_string_array(&it);
    else if (key == "schema_fingerprint") s.schema_fingerprint = str();
    else if (key == "key_fields") s.key_fields = read_string_array(&it);
    else if (key == "last_success" && BSON_ITER_HOLDS_DATE_TIME(&it)) s.last_success_ms = bson_iter_date_time(&it);
    else if (key == "last_success_type") s.last_success_type = parse_sync_type(str()).value_or(SyncType::full);
    else if (key == "high_water_mark" && BSON_ITER_HOLDS_ARRAY(&it)) s.high_water_mark = read_string_array(&it);
    else if (key == "runs_since_reconcile") s.runs_since_reconcile = bson_iter_as_int64(&it);
    else if (key == "checkpoint" && BSON_ITER_HOLDS_ARRAY(&it)) s.checkpoint = read_string_array(&it);
    else if (key == "pending_mark" && BSON_ITER_HOLDS_ARRAY(&it)) s.pending_mark = read_string_array(&it);
    else if (key == "checkpoint_fingerprint") s.checkpoint_fingerprint = str();
    else if (key == "window_floor" && BSON_ITER_HOLDS_UTF8(&it)) s.window_floor = str();
    else if (key == "resumed" && BSON_ITER_HOLDS_BOOL(&it)) s.resumed = bson_iter_bool(&it);
    else if (key == "last_complete" && BSON_ITER_HOLDS_DATE_TIME(&it)) s.last_complete_ms = bson_iter_date_time(&it);
    else if (key == "dropped" && BSON_ITER_HOLDS_BOOL(&it)) s.dropped = bson_iter_bool(&it);
    else if (key == "dropped_time" && BSON_ITER_HOLDS_DATE_TIME(&it)) s.dropped_ms = bson_iter_date_time(&it);
    else if (key == "collection_dropped" && BSON_ITER_HOLDS_BOOL(&it)) s.collection_dropped = bson_iter_bool(&it);
    else if (key == "change_source") s.change_source = parse_change_source(str()).value_or(ChangeSource::full);
    else if (key == "split_ranges" && BSON_ITER_HOLDS_NUMBER(&it)) s.split_ranges = bson_iter_as_int64(&it);
    else if (key == "split_started_ms" && BSON_ITER_HOLDS_NUMBER(&it)) s.split_started_ms = bson_iter_as_int64(&it);
    else if (key == "last_verify_result" && BSON_ITER_HOLDS_UTF8(&it)) {
      if (!s.last_verify) s.last_verify.emplace();
      s.last_verify->result = parse_verify_result(str()).value_or(VerifyResult::failed);
    } else if (key == "last_verify" && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      if (!s.last_verify) s.last_verify.emplace();
      read_verify(&it, *s.last_verify);
    }
    else if (key == "refused_rows" && BSON_ITER_HOLDS_ARRAY(&it)) s.refused = read_refused(&it);
    else if (key == "lossy" && BSON_ITER_HOLDS_DOCUMENT(&it)) s.lossy = read_lossy(&it);
  }
  return s;
}

}  // namespace

MetadataStore::MetadataStore(Client& client, std::string db, std::string where, std::int64_t fence, StopToken* stop)
    : client_(client), db_(std::move(db)), where_(std::move(where)), fence_(fence), stop_(stop) {}

Status MetadataStore::ensure_indexes() {
  return create_index(client_, db_, kMetadataCollection, {"table_name"}, true, "m2m_table_name", where_);
}

namespace {

// {table_name: T, $or: [{fence: {$lte: F}}, {fence: {$exists: false}}]}: the document as long as no run
// with a newer token wrote it. When it was, an upsert with this filter collides with the unique index on
// table_name (E11000), which is how a fenced write shows.
void append_fenced_selector(bson_t* selector, const std::string& table, std::int64_t fence, const char* field = "table_name") {
  BSON_APPEND_UTF8(selector, field, table.c_str());
  bson_t ors, a, b, lte, exists;
  BSON_APPEND_ARRAY_BEGIN(selector, "$or", &ors);
  BSON_APPEND_DOCUMENT_BEGIN(&ors, "0", &a);
  BSON_APPEND_DOCUMENT_BEGIN(&a, "fence", &lte);
  BSON_APPEND_INT64(&lte, "$lte", fence);
  bson_append_document_end(&a, &lte);
  bson_append_document_end(&ors, &a);
  BSON_APPEND_DOCUMENT_BEGIN(&ors, "1", &b);
  BSON_APPEND_DOCUMENT_BEGIN(&b, "fence", &exists);
  BSON_APPEND_BOOL(&exists, "$exists", false);
  bson_append_document_end(&b, &exists);
  bson_append_document_end(&ors, &b);
  bson_append_array_end(selector, &ors);
}

bool is_duplicate_key(const bson_error_t& error) {
  return error.code == 11000 || std::string_view(error.message).find("E11000") != std::string_view::npos;
}

}  // namespace

Failure MetadataStore::fenced(std::string_view doing) {
  if (stop_) stop_->request_lease_lost();
  return Failure{Exit::tempfail,
                 fmt::format("{}: another run took the run lock over (this run's token {} is superseded) while this "
                             "one was {}; it stopped writing",
                             where_, fence_, doing),
                 false, 0, Cause::lease_lost};
}

// The fence document: {_id: "m2m_fence", token: T}, the token of the run that holds the lease. Every write
// is an ordered bulk whose first operation is an upsert of this document filtered on the writer's token:
// once another run claimed it with a newer token, that upsert collides with the existing _id (E11000)
// and the ordered bulk stops before any state is written.
constexpr const char* kFenceId = "m2m_fence";
constexpr const char* kBinlogId = "m2m_binlog";

// The store's own documents (the fence, the binlog position) carry a table_name no MySQL table can have
// (identifiers cannot hold NUL): the unique index on table_name admits them, and readers skip them.
void append_own_table_name(bson_t* doc, std::string_view id) {
  const std::string name = std::string(1, '\0') + std::string(id);
  bson_append_utf8(doc, "table_name", -1, name.data(), static_cast<int>(name.size()));
}

Status MetadataStore::claim() {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson selector, update, opts;
  BSON_APPEND_UTF8(selector.get(), "_id", kFenceId);
  bson_t lte, set;
  BSON_APPEND_DOCUMENT_BEGIN(selector.get(), "token", &lte);
  BSON_APPEND_INT64(&lte, "$lte", fence_);
  bson_append_document_end(selector.get(), &lte);
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  BSON_APPEND_INT64(&set, "token", fence_);
  BSON_APPEND_DATE_TIME(&set, "claimed_at", now_epoch_ms());
  append_own_table_name(&set, kFenceId);
  bson_append_document_end(update.get(), &set);
  BSON_APPEND_BOOL(opts.get(), "upsert", true);
  bson_error_t error;
  if (!mongoc_collection_update_one(coll.get(), selector.get(), update.get(), opts.get(), nullptr, &error))
    return is_duplicate_key(error) ? Status(fenced("claiming _sync_metadata")) : classify(error, where_, "claiming _sync_metadata");
  return success();
}

void MetadataStore::hold_unit(const std::string& table, std::int64_t range, std::int64_t token) {
  unit_ = UnitFence{range < 0 ? table : range_id(table, range), range >= 0, token};
}

std::string MetadataStore::range_id(const std::string& table, std::int64_t index) {
  return fmt::format("m2m_range:{}:{}", index, table);
}

Status MetadataStore::write(const std::vector<std::pair<std::string, const Bson*>>& updates, std::string_view doing,
                           bool by_id, const Bson* remove) {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson opts;
  BSON_APPEND_BOOL(opts.get(), "ordered", true);
  std::unique_ptr<mongoc_bulk_operation_t, decltype(&mongoc_bulk_operation_destroy)> bulk(
      mongoc_collection_create_bulk_operation_with_opts(coll.get(), opts.get()), &mongoc_bulk_operation_destroy);
  Bson upsert;
  BSON_APPEND_BOOL(upsert.get(), "upsert", true);
  bson_error_t error;
  {
    Bson guard, keep;
    BSON_APPEND_UTF8(guard.get(), "_id", kFenceId);
    BSON_APPEND_INT64(guard.get(), "token", fence_);
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(keep.get(), "$set", &set);
    BSON_APPEND_INT64(&set, "token", fence_);
    bson_append_document_end(keep.get(), &set);
    if (!mongoc_bulk_operation_update_one_with_opts(bulk.get(), guard.get(), keep.get(), upsert.get(), &error))
      return Failure{Exit::internal, fmt::format("{}: invalid fence guard: {}", where_, error.message)};
  }
  if (unit_) {
    // The same for the unit this store's worker holds: its document keeps the token of the latest claim.
    Bson guard, keep;
    BSON_APPEND_UTF8(guard.get(), unit_->by_id ? "_id" : "table_name", unit_->key.c_str());
    BSON_APPEND_INT64(guard.get(), "unit_token", unit_->token);
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(keep.get(), "$set", &set);
    BSON_APPEND_INT64(&set, "unit_token", unit_->token);
    bson_append_document_end(keep.get(), &set);
    if (!mongoc_bulk_operation_update_one_with_opts(bulk.get(), guard.get(), keep.get(), upsert.get(), &error))
      return Failure{Exit::internal, fmt::format("{}: invalid unit guard: {}", where_, error.message)};
  }
  for (const auto& [table, update] : updates) {
    Bson selector;
    append_fenced_selector(selector.get(), table, fence_, by_id ? "_id" : "table_name");
    // The unit's own document, in the same operation as its write: no gap between check and write.
    if (unit_ && unit_->by_id == by_id && unit_->key == table) BSON_APPEND_INT64(selector.get(), "unit_token", unit_->token);
    if (!mongoc_bulk_operation_update_one_with_opts(bulk.get(), selector.get(), update->get(), upsert.get(), &error))
      return Failure{Exit::internal, fmt::format("{}: invalid _sync_metadata update: {}", where_, error.message)};
  }
  if (remove) {
    Bson selector;
    bson_concat(selector.get(), remove->get());
    bson_t lte;
    BSON_APPEND_DOCUMENT_BEGIN(selector.get(), "fence", &lte);
    BSON_APPEND_INT64(&lte, "$lte", fence_);
    bson_append_document_end(selector.get(), &lte);
    if (!mongoc_bulk_operation_remove_many_with_opts(bulk.get(), selector.get(), nullptr, &error))
      return Failure{Exit::internal, fmt::format("{}: invalid _sync_metadata delete: {}", where_, error.message)};
  }
  Reply reply;
  if (!mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error)) {
    if (!is_duplicate_key(error)) return classify(error, where_, doing);
    // Which guard refused: the run's (the first operation) stops the run; a unit's only that unit.
    std::int64_t index = 0;
    bson_iter_t it, errors, first;
    if (unit_ && bson_iter_init_find(&it, reply.get(), "writeErrors") && bson_iter_recurse(&it, &errors) &&
        bson_iter_next(&errors) && bson_iter_recurse(&errors, &first) && bson_iter_find(&first, "index"))
      index = bson_iter_as_int64(&first);
    if (unit_ && index > 0)
      return Failure{Exit::tempfail,
                     fmt::format("{}: another shard took this work unit over (its lease had expired) while this one "
                                 "was {}; it stopped writing it",
                                 where_, doing),
                     false, 0, Cause::unit_lost};
    return fenced(doing);
  }
  return success();
}

Expected<std::vector<TableState>> MetadataStore::load_all() {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson filter, opts;
  bson_t sort;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, "table_name", 1);
  bson_append_document_end(opts.get(), &sort);
  // Every table in one reply (the default first batch is 101 documents).
  BSON_APPEND_INT32(opts.get(), "batchSize", 100'000);
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  std::vector<TableState> out;
  const bson_t* doc;
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    TableState state = from_bson(doc);
    // Not the store's own documents (the fence, the binlog position): their table_name starts with NUL.
    if (!state.table_name.empty() && state.table_name[0] != '\0') out.push_back(std::move(state));
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return classify(error, where_, "reading _sync_metadata");
  return out;
}

Expected<std::optional<TableState>> MetadataStore::load(const std::string& table) {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson filter;
  BSON_APPEND_UTF8(filter.get(), "table_name", table.c_str());
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), nullptr, nullptr));
  std::optional<TableState> out;
  const bson_t* doc;
  if (mongoc_cursor_next(cursor.get(), &doc)) out = from_bson(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return classify(error, where_, "reading _sync_metadata");
  return out;
}

Status MetadataStore::save(const TableState& state) {
  queue(state, true);
  return flush();
}

void MetadataStore::queue(const TableState& state, bool progress) {
  Bson update;
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  Bson doc = to_bson(state, progress);
  bson_concat(&set, doc.get());
  BSON_APPEND_INT64(&set, "fence", fence_);
  bson_append_document_end(update.get(), &set);
  // One record per table: a retried table's later outcome replaces its earlier one (the bulk write is
  // unordered, so two updates of one document would land in any order).
  for (auto& [table, queued] : queued_)
    if (table == state.table_name) {
      queued = std::move(update);
      return;
    }
  queued_.emplace_back(state.table_name, std::move(update));
}

Status MetadataStore::flush() {
  if (queued_.empty()) return success();
  std::vector<std::pair<std::string, const Bson*>> updates;
  for (const auto& [table, update] : queued_) updates.emplace_back(table, &update);
  auto st = write(updates, "writing _sync_metadata");
  queued_.clear();
  return st;
}

Status MetadataStore::save_field(const std::string& table, const char* field,
                                 const std::optional<std::vector<std::string>>& key) {
  if (key) return save_fields(table, {{field, *key}});
  return save_fields(table, {{field, nullptr}});
}

Status MetadataStore::save_fields(const std::string& table,
                                  const std::vector<std::pair<std::string, FieldValue>>& fields) {
  Bson update;
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  for (const auto& [name, value] : fields) {
    if (const auto* text = std::get_if<std::string>(&value)) BSON_APPEND_UTF8(&set, name.c_str(), text->c_str());
    else if (const auto* list = std::get_if<std::vector<std::string>>(&value)) append_string_array(&set, name.c_str(), *list);
    else if (const auto* number = std::get_if<std::int64_t>(&value)) BSON_APPEND_INT64(&set, name.c_str(), *number);
    else BSON_APPEND_NULL(&set, name.c_str());
  }
  BSON_APPEND_INT64(&set, "fence", fence_);
  bson_append_document_end(update.get(), &set);
  return write({{table, &update}}, fields.size() == 1 ? "writing " + fields[0].first : "writing _sync_metadata");
}

namespace {

void append_optional_array(bson_t* d, const char* key, const std::optional<std::vector<std::string>>& v) {
  if (v) append_string_array(d, key, *v);
  else BSON_APPEND_NULL(d, key);
}

RangeState range_from_bson(const bson_t* doc) {
  RangeState r;
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return r;
  while (bson_iter_next(&it)) {
    const std::string_view key = bson_iter_key(&it);
    if (key == "range_of" && BSON_ITER_HOLDS_UTF8(&it)) {
      uint32_t len = 0;
      const char* data = bson_iter_utf8(&it, &len);
      r.table.assign(data, len);
    } else if (key == "index") r.index = bson_iter_as_int64(&it);
    else if (key == "count") r.count = bson_iter_as_int64(&it);
    else if (key == "lo" && BSON_ITER_HOLDS_ARRAY(&it)) r.lo = read_string_array(&it);
    else if (key == "hi" && BSON_ITER_HOLDS_ARRAY(&it)) r.hi = read_string_array(&it);
    else if (key == "checkpoint" && BSON_ITER_HOLDS_ARRAY(&it)) r.checkpoint = read_string_array(&it);
    else if (key == "done" && BSON_ITER_HOLDS_BOOL(&it)) r.done = bson_iter_bool(&it);
    else if (key == "records_synced") r.records_synced = bson_iter_as_int64(&it);
    else if (key == "rows_deleted") r.rows_deleted = bson_iter_as_int64(&it);
    else if (key == "resumed" && BSON_ITER_HOLDS_BOOL(&it)) r.resumed = bson_iter_bool(&it);
    else if (key == "taken_over" && BSON_ITER_HOLDS_BOOL(&it)) r.taken_over = bson_iter_bool(&it);
    else if (key == "refused_rows") r.refused = read_refused(&it);
    else if (key == "lossy") r.lossy = read_lossy(&it);
    else if (key == "error" && BSON_ITER_HOLDS_UTF8(&it)) r.error = bson_iter_utf8(&it, nullptr);
    else if (key == "unit_owner" && BSON_ITER_HOLDS_UTF8(&it)) r.owner = bson_iter_utf8(&it, nullptr);
    else if (key == "unit_expires" && BSON_ITER_HOLDS_DATE_TIME(&it)) r.expires_ms = bson_iter_date_time(&it);
  }
  return r;
}

// The outcome fields of a range (all of them, so a new split resets what an older one left).
void append_range_outcome(bson_t* set, const RangeState& r) {
  append_optional_array(set, "checkpoint", r.checkpoint);
  BSON_APPEND_BOOL(set, "done", r.done);
  BSON_APPEND_INT64(set, "records_synced", r.records_synced);
  BSON_APPEND_INT64(set, "rows_deleted", r.rows_deleted);
  BSON_APPEND_BOOL(set, "resumed", r.resumed);
  BSON_APPEND_BOOL(set, "taken_over", r.taken_over);
  append_refused(set, r.refused);
  append_lossy(set, r.lossy);
  if (r.error.empty()) BSON_APPEND_NULL(set, "error");
  else BSON_APPEND_UTF8(set, "error", r.error.c_str());
}

}  // namespace

TableState table_state_from(const bson_t* doc) { return from_bson(doc); }
RangeState range_state_from(const bson_t* doc) { return range_from_bson(doc); }

Expected<std::vector<RangeState>> MetadataStore::load_ranges(const std::string& table) {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson filter, opts;
  bson_append_utf8(filter.get(), "range_of", -1, table.data(), static_cast<int>(table.size()));
  bson_t sort;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, "index", 1);
  bson_append_document_end(opts.get(), &sort);
  BSON_APPEND_INT32(opts.get(), "batchSize", 100'000);
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  std::vector<RangeState> out;
  const bson_t* doc;
  while (mongoc_cursor_next(cursor.get(), &doc)) out.push_back(range_from_bson(doc));
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return classify(error, where_, "reading the key ranges of " + table);
  return out;
}

Status MetadataStore::save_ranges(const std::string& table, const std::vector<RangeState>& ranges) {
  std::vector<Bson> sets;
  std::vector<std::pair<std::string, const Bson*>> updates;
  sets.reserve(ranges.size());
  for (const auto& r : ranges) {
    Bson update;
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    const std::string id = range_id(table, r.index);
    append_own_table_name(&set, id);
    bson_append_utf8(&set, "range_of", -1, table.data(), static_cast<int>(table.size()));
    BSON_APPEND_INT64(&set, "index", r.index);
    BSON_APPEND_INT64(&set, "count", r.count);
    append_optional_array(&set, "lo", r.lo);
    append_optional_array(&set, "hi", r.hi);
    append_range_outcome(&set, r);
    BSON_APPEND_INT64(&set, "fence", fence_);
    bson_append_document_end(update.get(), &set);
    sets.push_back(std::move(update));
    updates.emplace_back(id, &sets.back());
  }
  // Ranges of an earlier split beyond this one's count.
  Bson stale;
  bson_append_utf8(stale.get(), "range_of", -1, table.data(), static_cast<int>(table.size()));
  bson_t gte;
  BSON_APPEND_DOCUMENT_BEGIN(stale.get(), "index", &gte);
  BSON_APPEND_INT64(&gte, "$gte", static_cast<std::int64_t>(ranges.size()));
  bson_append_document_end(stale.get(), &gte);
  return write(updates, "writing the key ranges of " + table, true, &stale);
}

Status MetadataStore::save_range_checkpoint(const std::string& table, std::int64_t index,
                                            const std::vector<std::string>& key) {
  Bson update;
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  append_string_array(&set, "checkpoint", key);
  BSON_APPEND_INT64(&set, "fence", fence_);
  bson_append_document_end(update.get(), &set);
  return write({{range_id(table, index), &update}}, "writing a range's checkpoint", true);
}

Status MetadataStore::save_range_outcome(const RangeState& r) {
  Bson update;
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  append_range_outcome(&set, r);
  BSON_APPEND_INT64(&set, "fence", fence_);
  bson_append_document_end(update.get(), &set);
  return write({{range_id(r.table, r.index), &update}}, "writing a range's outcome", true);
}

Expected<std::optional<BinlogState>> MetadataStore::load_binlog() {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson filter;
  BSON_APPEND_UTF8(filter.get(), "_id", kBinlogId);
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), nullptr, nullptr));
  const bson_t* doc;
  std::optional<BinlogState> out;
  if (mongoc_cursor_next(cursor.get(), &doc)) {
    BinlogState b;
    bson_iter_t it;
    auto text = [&](const char* key) -> std::string {
      if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) return bson_iter_utf8(&it, nullptr);
      return {};
    };
    auto number = [&](const char* key) -> std::int64_t {
      if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it)) return bson_iter_as_int64(&it);
      return 0;
    };
    b.file = text("file");
    b.offset = static_cast<std::uint64_t>(number("offset"));
    b.identity = text("identity");
    if (bson_iter_init_find(&it, doc, "updated") && BSON_ITER_HOLDS_DATE_TIME(&it)) b.updated_ms = bson_iter_date_time(&it);
    b.lag_bytes = number("lag_bytes");
    b.lag_seconds = number("lag_seconds");
    b.oldest_file = text("oldest_file");
    b.oldest = bson_iter_init_find(&it, doc, "oldest") && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
    // tables: [{table, file, offset, copying}], an array since a table name may hold '.' or '$'.
    if (bson_iter_init_find(&it, doc, "tables") && BSON_ITER_HOLDS_ARRAY(&it)) {
      bson_iter_t entries;
      bson_iter_recurse(&it, &entries);
      while (bson_iter_next(&entries)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&entries)) continue;
        bson_iter_t field;
        bson_iter_recurse(&entries, &field);
        std::string table;
        BinlogTablePosition p;
        while (bson_iter_next(&field)) {
          const std::string_view key = bson_iter_key(&field);
          if (key == "table" && BSON_ITER_HOLDS_UTF8(&field)) table = bson_iter_utf8(&field, nullptr);
          else if (key == "file" && BSON_ITER_HOLDS_UTF8(&field)) p.file = bson_iter_utf8(&field, nullptr);
          else if (key == "offset" && BSON_ITER_HOLDS_NUMBER(&field)) p.offset = static_cast<std::uint64_t>(bson_iter_as_int64(&field));
          else if (key == "copying" && BSON_ITER_HOLDS_BOOL(&field)) p.copying = bson_iter_bool(&field);
          else if (key == "as_of" && BSON_ITER_HOLDS_DATE_TIME(&field)) p.as_of_ms = bson_iter_date_time(&field);
        }
        if (!table.empty() && !p.file.empty()) b.tables[table] = std::move(p);
      }
    }
    out = std::move(b);
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return classify(error, where_, "reading the binlog position");
  return out;
}

Status MetadataStore::save_binlog(const BinlogState& b) {
  Bson update;
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  BSON_APPEND_UTF8(&set, "file", b.file.c_str());
  BSON_APPEND_INT64(&set, "offset", static_cast<std::int64_t>(b.offset));
  BSON_APPEND_UTF8(&set, "identity", b.identity.c_str());
  BSON_APPEND_DATE_TIME(&set, "updated", b.updated_ms);
  BSON_APPEND_INT64(&set, "lag_bytes", b.lag_bytes);
  BSON_APPEND_INT64(&set, "lag_seconds", b.lag_seconds);
  BSON_APPEND_UTF8(&set, "oldest_file", b.oldest_file.c_str());
  BSON_APPEND_BOOL(&set, "oldest", b.oldest);
  bson_t tables, entry;
  BSON_APPEND_ARRAY_BEGIN(&set, "tables", &tables);
  std::size_t i = 0;
  for (const auto& [table, p] : b.tables) {
    const std::string index = std::to_string(i++);
    BSON_APPEND_DOCUMENT_BEGIN(&tables, index.c_str(), &entry);
    bson_append_utf8(&entry, "table", -1, table.data(), static_cast<int>(table.size()));
    BSON_APPEND_UTF8(&entry, "file", p.file.c_str());
    BSON_APPEND_INT64(&entry, "offset", static_cast<std::int64_t>(p.offset));
    if (p.copying) BSON_APPEND_BOOL(&entry, "copying", true);
    if (p.as_of_ms) BSON_APPEND_DATE_TIME(&entry, "as_of", p.as_of_ms);
    bson_append_document_end(&tables, &entry);
  }
  bson_append_array_end(&set, &tables);
  append_own_table_name(&set, kBinlogId);
  BSON_APPEND_INT64(&set, "fence", fence_);
  bson_append_document_end(update.get(), &set);
  return write({{std::string(kBinlogId), &update}}, "writing the binlog position", true);
}

}  // namespace m2m::mongo

namespace m2m::mongo {

Status MetadataStore::save_verify(const std::vector<std::pair<std::string, VerifyRecord>>& records) {
  if (records.empty()) return success();
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson opts;
  BSON_APPEND_BOOL(opts.get(), "ordered", false);
  std::unique_ptr<mongoc_bulk_operation_t, decltype(&mongoc_bulk_operation_destroy)> bulk(
      mongoc_collection_create_bulk_operation_with_opts(coll.get(), opts.get()), &mongoc_bulk_operation_destroy);
  bson_error_t error;
  for (const auto& [table, v] : records) {
    // {table_name: T, $or: [{"last_verify.time": {$lt: now}}, {"last_verify.time": {$exists: false}}]}
    Bson selector, update;
    BSON_APPEND_UTF8(selector.get(), "table_name", table.c_str());
    bson_t ors, older, lt, never, exists;
    BSON_APPEND_ARRAY_BEGIN(selector.get(), "$or", &ors);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, "0", &older);
    BSON_APPEND_DOCUMENT_BEGIN(&older, "last_verify.time", &lt);
    BSON_APPEND_DATE_TIME(&lt, "$lt", v.time_ms);
    bson_append_document_end(&older, &lt);
    bson_append_document_end(&ors, &older);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, "1", &never);
    BSON_APPEND_DOCUMENT_BEGIN(&never, "last_verify.time", &exists);
    BSON_APPEND_BOOL(&exists, "$exists", false);
    bson_append_document_end(&never, &exists);
    bson_append_document_end(&ors, &never);
    bson_append_array_end(selector.get(), &ors);

    bson_t set, d;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    append_text(&set, "last_verify_time", iso8601_utc(v.time_ms));
    append_text(&set, "last_verify_result", to_string(v.result));
    BSON_APPEND_DOCUMENT_BEGIN(&set, "last_verify", &d);
    BSON_APPEND_DATE_TIME(&d, "time", v.time_ms);
    BSON_APPEND_INT64(&d, "mysql_rows", v.mysql_rows);
    BSON_APPEND_INT64(&d, "mongodb_documents", v.mongodb_documents);
    BSON_APPEND_INT64(&d, "equal", v.equal);
    BSON_APPEND_INT64(&d, "missing", v.missing);
    BSON_APPEND_INT64(&d, "extra", v.extra);
    BSON_APPEND_INT64(&d, "different", v.different);
    BSON_APPEND_INT64(&d, "changed_during_verify", v.changed_during_verify);
    if (v.repaired) {
      bson_t r;
      BSON_APPEND_DOCUMENT_BEGIN(&d, "repaired", &r);
      BSON_APPEND_INT64(&r, "copied", v.repaired_copied);
      BSON_APPEND_INT64(&r, "deleted", v.repaired_deleted);
      bson_append_document_end(&d, &r);
    } else {
      BSON_APPEND_NULL(&d, "repaired");
    }
    if (v.error.empty()) BSON_APPEND_NULL(&d, "error");
    else append_text(&d, "error", v.error);
    bson_append_document_end(&set, &d);
    bson_append_document_end(update.get(), &set);
    if (!mongoc_bulk_operation_update_one_with_opts(bulk.get(), selector.get(), update.get(), nullptr, &error))
      return Failure{Exit::internal, fmt::format("{}: invalid _sync_metadata update: {}", where_, error.message)};
  }
  Reply reply;
  if (!mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error))
    return classify(error, where_, "writing the verify results to _sync_metadata");
  return success();
}

}  // namespace m2m::mongo
