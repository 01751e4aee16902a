#include "sync/table_sync.hpp"

#include "mongo/admin.hpp"
#include "sync/sql.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <chrono>

namespace m2m::sync {

namespace {

// Rows per SELECT of the keyset pagination: large enough that the per-query cost vanishes, small enough
// that no statement holds the table for long.
constexpr std::size_t kChunkRows = 50'000;

class Stopwatch {
public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

void append_key(const TablePlan& plan, bson_t* out, MYSQL_ROW row, const unsigned long* lengths,
                convert::LossReport& loss, bool key_as_id) {
  // With key_as_id, a one-column key is _id itself and a composite key is an embedded document.
  if (key_as_id && plan.key.size() == 1) {
    const auto& f = plan.fields[plan.key[0]];
    convert::append_value_as(out, "_id", f, row[plan.key[0]], lengths[plan.key[0]], loss);
    return;
  }
  if (key_as_id) {
    bson_t id;
    BSON_APPEND_DOCUMENT_BEGIN(out, "_id", &id);
    for (auto i : plan.key) convert::append_value(&id, plan.fields[i], row[i], lengths[i], loss);
    bson_append_document_end(out, &id);
    return;
  }
  for (auto i : plan.key) convert::append_value(out, plan.fields[i], row[i], lengths[i], loss);
}

std::string pct(double part, double whole) { return fmt::format("{:.0f}%", whole > 0 ? 100.0 * part / whole : 0.0); }

void log_losses(Logger& log, const std::string& table, const convert::LossReport& loss) {
  for (const auto& [column, reasons] : loss.counts())
    for (const auto& [reason, n] : reasons)
      log.warn("table {}: column {}: {} value{} {}", table, column, n, n == 1 ? "" : "s", reason);
}

Status ensure_indexes(TableContext& ctx, const TablePlan& plan, const std::string& collection) {
  const std::string where = fmt::format("MongoDB collection {}", collection);
  if (plan.has_key() && !ctx.cfg.sync.key_as_id) {
    if (auto st = mongo::create_index(ctx.mongo, ctx.db, collection, plan.key_fields(), true, "m2m_key", where); !st)
      return st;
  }
  for (const auto& fields : plan.index_fields) {
    const std::string name = fmt::format("m2m_fk_{}", join(fields, "_"));
    if (auto st = mongo::create_index(ctx.mongo, ctx.db, collection, fields, false, name, where); !st) return st;
  }
  return success();
}

bool stop_requested(const TableContext& ctx) { return ctx.stop && ctx.stop->load() != 0; }

// Copies a table with a key: keyset pagination in key order, unordered upsert batches, a checkpoint
// after every acknowledged batch so an interrupted run resumes where it stopped.
Status copy_keyed(TableContext& ctx, const TablePlan& plan, std::optional<std::vector<std::string>> after,
                  TableReport& report) {
  const std::string where = fmt::format("MongoDB collection {}", plan.collection);
  mongo::BulkWriter writer(ctx.mongo, ctx.db, plan.collection, ctx.wc, static_cast<std::size_t>(ctx.cfg.sync.batch_size),
                           static_cast<std::size_t>(ctx.cfg.sync.batch_bytes), where);
  const bool key_as_id = ctx.cfg.sync.key_as_id;
  const Quote quote = [&](std::string_view s) { return ctx.mysql.literal(s); };
  bson_t doc, selector;
  bson_init(&doc);
  bson_init(&selector);
  std::vector<std::string> last(plan.key.size());
  std::uint64_t pending_rows = 0;

  auto flush = [&]() -> Status {
    if (auto st = writer.flush(); !st) return st;
    report.records_synced += pending_rows;
    pending_rows = 0;
    if (auto st = ctx.meta.save_checkpoint(plan.table.name, last); !st) return st;
    return success();
  };

  Status result = success();
  while (result) {
    const std::string sql = select_chunk(plan, after, kChunkRows, quote);
    auto rows = ctx.mysql.stream(sql);
    if (!rows) {
      result = rows.failure();
      break;
    }
    std::size_t n = 0;
    while (MYSQL_ROW row = rows->next()) {
      const unsigned long* len = rows->lengths();
      bson_reinit(&doc);
      bson_reinit(&selector);
      if (key_as_id) append_key(plan, &doc, row, len, report.lossy, true);
      build_document(plan, key_as_id, row, len, &doc, &selector, report.lossy);
      if (auto st = writer.replace_upsert(&selector, &doc); !st) {
        result = st;
        break;
      }
      for (std::size_t k = 0; k < plan.key.size(); ++k) last[k].assign(row[plan.key[k]], len[plan.key[k]]);
      ++pending_rows;
      ++n;
      if (writer.pending() >= static_cast<std::size_t>(ctx.cfg.sync.batch_size)) {
        if (auto st = flush(); !st) {
          result = st;
          break;
        }
        if (stop_requested(ctx)) break;
      }
    }
    if (!result) break;
    if (rows->error()) {
      result = *rows->error();
      break;
    }
    if (stop_requested(ctx)) {
      // Drain nothing more: destroying the result discards the rest of the stream.
      if (auto st = flush(); !st) result = st;
      else result = Failure{Exit::tempfail, "stopped by a signal after a saved checkpoint"};
      break;
    }
    if (n < kChunkRows) break;
    after = last;
  }
  if (result) result = flush();
  bson_destroy(&doc);
  bson_destroy(&selector);
  return result;
}

// Tables without a usable key: copy into a staging collection, then swap it in atomically so readers
// never see a half-copied table. Duplicate rows are kept as separate documents.
Status copy_staged(TableContext& ctx, const TablePlan& plan, TableReport& report) {
  const std::string staging = plan.collection + "__m2m_staging";
  const std::string where = fmt::format("MongoDB collection {}", staging);
  if (auto st = mongo::drop_collection(ctx.mongo, ctx.db, staging, where); !st) return st;
  auto old_count = mongo::count_documents(ctx.mongo, ctx.db, plan.collection, where);
  if (!old_count) return old_count.failure();

  mongo::BulkWriter writer(ctx.mongo, ctx.db, staging, ctx.wc, static_cast<std::size_t>(ctx.cfg.sync.batch_size),
                           static_cast<std::size_t>(ctx.cfg.sync.batch_bytes), where);
  const Quote quote = [&](std::string_view s) { return ctx.mysql.literal(s); };
  auto rows = ctx.mysql.stream(select_chunk(plan, std::nullopt, 0, quote));
  if (!rows) return rows.failure();
  bson_t doc;
  bson_init(&doc);
  std::uint64_t copied = 0;
  Status result = success();
  while (MYSQL_ROW row = rows->next()) {
    bson_reinit(&doc);
    build_document(plan, false, row, rows->lengths(), &doc, nullptr, report.lossy);
    if (auto st = writer.insert(&doc); !st) {
      result = st;
      break;
    }
    ++copied;
  }
  bson_destroy(&doc);
  if (result && rows->error()) result = *rows->error();
  if (result) result = writer.flush();
  if (result) result = ensure_indexes(ctx, plan, staging);
  if (!result) {
    (void)mongo::drop_collection(ctx.mongo, ctx.db, staging, where);
    return result;
  }
  const auto old_n = static_cast<std::uint64_t>(*old_count);
  const std::uint64_t removed = old_n > copied ? old_n - copied : 0;
  if (removed > 0 && static_cast<double>(removed) > ctx.cfg.sync.max_delete_fraction * static_cast<double>(old_n) &&
      !ctx.force_deletes) {
    (void)mongo::drop_collection(ctx.mongo, ctx.db, staging, where);
    return Failure{Exit::tables_failed,
                   fmt::format("refusing to replace collection {} of {} documents with {} ({} fewer, {} > "
                               "sync.max_delete_fraction {}); if MySQL really lost these rows, rerun with --force-deletes",
                               plan.collection, old_n, copied, removed, pct(static_cast<double>(removed), static_cast<double>(old_n)),
                               ctx.cfg.sync.max_delete_fraction)};
  }
  if (auto st = mongo::rename_collection(ctx.mongo, ctx.db, staging, plan.collection, where); !st) {
    (void)mongo::drop_collection(ctx.mongo, ctx.db, staging, where);
    return st;
  }
  report.records_synced = copied;
  report.deleted = removed;
  return success();
}

}  // namespace

void build_document(const TablePlan& plan, bool key_as_id, MYSQL_ROW row, const unsigned long* lengths, bson_t* doc,
                    bson_t* selector, convert::LossReport& loss) {
  for (std::size_t i = 0; i < plan.fields.size(); ++i)
    convert::append_value(doc, plan.fields[i], row[i], lengths[i], loss);
  if (selector && plan.has_key()) {
    // The selector's values come from the same conversion as the document's, so they always match.
    convert::LossReport ignored;  // already counted once for the document
    append_key(plan, selector, row, lengths, ignored, key_as_id);
  }
}

Expected<std::uint64_t> reconcile_deletes(TableContext& ctx, const TablePlan& plan) {
  const std::string where = fmt::format("MongoDB collection {}", plan.collection);
  const bool key_as_id = ctx.cfg.sync.key_as_id;
  const auto fields = plan.key_fields();

  // MongoDB side: key fields only, in key order.
  mongoc_collection_t* coll = mongoc_client_get_collection(ctx.mongo.get(), ctx.db.c_str(), plan.collection.c_str());
  mongo::Bson filter, opts;
  {
    bson_t proj, sort;
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "projection", &proj);
    BSON_APPEND_INT32(&proj, "_id", 1);
    if (!key_as_id)
      for (const auto& f : fields) bson_append_int32(&proj, f.data(), static_cast<int>(f.size()), 1);
    bson_append_document_end(opts.get(), &proj);
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
    if (key_as_id) BSON_APPEND_INT32(&sort, "_id", 1);
    else
      for (const auto& f : fields) bson_append_int32(&sort, f.data(), static_cast<int>(f.size()), 1);
    bson_append_document_end(opts.get(), &sort);
    BSON_APPEND_INT32(opts.get(), "batchSize", 10'000);
  }
  struct CursorDeleter {
    void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
  };
  std::unique_ptr<mongoc_cursor_t, CursorDeleter> cursor(
      mongoc_collection_find_with_opts(coll, filter.get(), opts.get(), nullptr));
  mongoc_collection_destroy(coll);

  // MySQL side: the key in the order MongoDB sorts it.
  auto rows = ctx.mysql.stream(select_keys_in_mongo_order(plan));
  if (!rows) return rows.failure();

  // Both sides become tuples {f1: v1, ...} (or {_id: v}) compared element by element.
  auto mongo_tuple = [&](const bson_t* d, bson_t* out) {
    bson_reinit(out);
    bson_iter_t it;
    if (key_as_id) {
      if (bson_iter_init_find(&it, d, "_id")) bson_append_iter(out, "_id", 3, &it);
      return;
    }
    for (const auto& f : fields) {
      if (bson_iter_init_find(&it, d, f.c_str())) bson_append_iter(out, f.data(), static_cast<int>(f.size()), &it);
      else bson_append_null(out, f.data(), static_cast<int>(f.size()));  // sorts first: deleted
    }
  };
  TablePlan key_plan;  // the key columns alone, in the SELECT's column order
  for (auto i : plan.key) key_plan.fields.push_back(plan.fields[i]);
  for (std::size_t i = 0; i < plan.key.size(); ++i) key_plan.key.push_back(i);
  auto mysql_tuple = [&](MYSQL_ROW row, const unsigned long* len, bson_t* out) {
    bson_reinit(out);
    convert::LossReport ignored;
    append_key(key_plan, out, row, len, ignored, key_as_id);
  };
  auto compare = [](const bson_t* a, const bson_t* b) {
    bson_iter_t ia, ib;
    bson_iter_init(&ia, a);
    bson_iter_init(&ib, b);
    while (true) {
      const bool na = bson_iter_next(&ia), nb = bson_iter_next(&ib);
      if (!na || !nb) return na == nb ? 0 : (na ? 1 : -1);
      if (int c = convert::compare_values(ia, ib); c != 0) return c;
    }
  };

  mongo::Bson mkey, ykey, prev_m, prev_y;
  bool have_m = false, have_y = false, seen_m = false, seen_y = false;
  std::uint64_t mongo_total = 0;
  std::vector<mongo::Bson> doomed;  // {_id: ...} of documents to delete
  const bson_t* doc = nullptr;
  const bson_t* current = nullptr;

  auto order_error = [&](const char* side) -> Failure {
    return Failure{Exit::tables_failed,
                   fmt::format("cannot reconcile deletes of table {}: the {} key stream is not in the order expected "
                               "(key {}); no document was deleted. Report this with the key's column types",
                               plan.table.name, side, join(plan.key_columns(), ", "))};
  };
  auto next_mongo = [&]() -> Status {
    have_m = mongoc_cursor_next(cursor.get(), &doc);
    if (!have_m) {
      bson_error_t error;
      if (mongoc_cursor_error(cursor.get(), &error)) return mongo::classify(error, where, "reading keys");
      return success();
    }
    ++mongo_total;
    current = doc;
    mongo_tuple(doc, mkey.get());
    if (seen_m && compare(prev_m.get(), mkey.get()) >= 0) return order_error("MongoDB");
    bson_reinit(prev_m.get());
    bson_concat(prev_m.get(), mkey.get());
    seen_m = true;
    return success();
  };
  auto next_mysql = [&]() -> Status {
    MYSQL_ROW row = rows->next();
    have_y = row != nullptr;
    if (!have_y) {
      if (rows->error()) return *rows->error();
      return success();
    }
    mysql_tuple(row, rows->lengths(), ykey.get());
    if (seen_y && compare(prev_y.get(), ykey.get()) >= 0) return order_error("MySQL");
    bson_reinit(prev_y.get());
    bson_concat(prev_y.get(), ykey.get());
    seen_y = true;
    return success();
  };

  if (auto st = next_mongo(); !st) return st.failure();
  if (auto st = next_mysql(); !st) return st.failure();
  while (have_m) {
    const int c = have_y ? compare(mkey.get(), ykey.get()) : -1;
    if (c < 0) {
      // In MongoDB, not in MySQL: deleted at the source.
      mongo::Bson sel;
      bson_iter_t it;
      if (bson_iter_init_find(&it, current, "_id")) bson_append_iter(sel.get(), "_id", 3, &it);
      doomed.push_back(std::move(sel));
      if (auto st = next_mongo(); !st) return st.failure();
    } else if (c == 0) {
      if (auto st = next_mongo(); !st) return st.failure();
      if (auto st = next_mysql(); !st) return st.failure();
    } else {
      // In MySQL, not in MongoDB: a row inserted after the copy; the next run copies it.
      if (auto st = next_mysql(); !st) return st.failure();
    }
  }
  // Finish the MySQL stream so the connection is free again.
  while (have_y)
    if (auto st = next_mysql(); !st) return st.failure();
  cursor.reset();

  if (doomed.empty()) return std::uint64_t{0};
  const double share = static_cast<double>(doomed.size()) / static_cast<double>(mongo_total);
  if (share > ctx.cfg.sync.max_delete_fraction && !ctx.force_deletes)
    return Failure{Exit::tables_failed,
                   fmt::format("refusing to delete {} of {} documents ({}) from collection {}: more than "
                               "sync.max_delete_fraction {}; check MYSQL_DATABASE, or if MySQL really lost these rows "
                               "rerun with --force-deletes",
                               doomed.size(), mongo_total, pct(static_cast<double>(doomed.size()), static_cast<double>(mongo_total)),
                               plan.collection, ctx.cfg.sync.max_delete_fraction)};
  mongo::BulkWriter writer(ctx.mongo, ctx.db, plan.collection, ctx.wc, 1000,
                           static_cast<std::size_t>(ctx.cfg.sync.batch_bytes), where);
  for (const auto& sel : doomed)
    if (auto st = writer.remove_one(sel.get()); !st) return st.failure();
  if (auto st = writer.flush(); !st) return st.failure();
  return static_cast<std::uint64_t>(doomed.size());
}

TableReport full_sync(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior) {
  Stopwatch clock;
  TableReport report;
  report.table = plan.table.name;
  report.collection = plan.collection;
  report.sync_type = "full";
  report.renames = plan.renames;

  auto fail = [&](Failure f) {
    report.status = "failed";
    report.error = std::move(f);
  };

  Status st = success();
  if (plan.has_key()) {
    std::optional<std::vector<std::string>> resume;
    if (prior && prior->checkpoint && prior->schema_fingerprint == plan.fingerprint &&
        prior->checkpoint->size() == plan.key.size()) {
      resume = prior->checkpoint;
      report.resumed = true;
      ctx.log.info("table {}: resuming the interrupted full sync after key ({})", plan.table.name, join(*resume, ", "));
    }
    st = ensure_indexes(ctx, plan, plan.collection);
    if (st) st = copy_keyed(ctx, plan, resume, report);
    if (st && !stop_requested(ctx)) {
      if (auto deleted = reconcile_deletes(ctx, plan)) report.deleted = *deleted;
      else st = deleted.failure();
    }
  } else {
    report.warnings.push_back(
        "table has no primary key and no NOT NULL unique key: copied into a staging collection and swapped in");
    st = copy_staged(ctx, plan, report);
  }
  if (!st) fail(st.failure());
  report.duration_seconds = clock.seconds();
  log_losses(ctx.log, plan.table.name, report.lossy);

  // Record the outcome; a failed table keeps its checkpoint so the next run resumes.
  mongo::TableState s = prior.value_or(mongo::TableState{});
  s.table_name = plan.table.name;
  s.collection = plan.collection;
  s.sync_type = report.sync_type;
  s.records_synced = static_cast<std::int64_t>(report.records_synced);
  s.rows_deleted = static_cast<std::int64_t>(report.deleted);
  s.status = report.status;
  s.duration_seconds = report.duration_seconds;
  const auto now = now_epoch_ms();
  s.last_sync_time = iso8601_utc(now);
  s.timestamp_ms = now;
  s.error = report.error ? report.error->message : "";
  s.lossy.clear();
  for (const auto& [col, reasons] : report.lossy.counts())
    for (const auto& [reason, n] : reasons) s.lossy[col][reason] = static_cast<std::int64_t>(n);
  s.lossy_total = static_cast<std::int64_t>(report.lossy.total());
  s.warnings = report.warnings;
  s.key_fields = plan.key_fields();
  if (report.status == "success") {
    s.schema_fingerprint = plan.fingerprint;
    s.last_success_ms = now;
    s.last_success_type = "full";
    s.checkpoint.reset();
    s.runs_since_reconcile = 0;
  } else if (plan.has_key()) {
    // Keep the checkpoint written during the copy (save() would overwrite it with the prior value).
    auto fresh = ctx.meta.load(plan.table.name);
    if (fresh && *fresh && (*fresh)->checkpoint) s.checkpoint = (*fresh)->checkpoint;
    s.schema_fingerprint = plan.fingerprint;
  }
  if (auto saved = ctx.meta.save(s); !saved && report.status == "success") fail(saved.failure());
  return report;
}

}  // namespace m2m::sync
