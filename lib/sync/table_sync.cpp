#include "sync/table_sync.hpp"

#include "mongo/admin.hpp"
#include "sync/sql.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <chrono>
#include <functional>

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

// Reads rows in a total order (the key, or the change column then the key) chunk by chunk with keyset
// pagination, and upserts them in unordered batches. After every acknowledged batch `on_ack` gets the
// ordering values of the last row written, so the caller can record how far it got.
using MakeSql = std::function<std::string(const std::optional<std::vector<std::string>>& after)>;
using OnAck = std::function<Status(const std::vector<std::string>& last)>;

Status copy_ordered(TableContext& ctx, const TablePlan& plan, const std::vector<std::size_t>& order,
                    std::optional<std::vector<std::string>> after, const MakeSql& make_sql, const OnAck& on_ack,
                    TableReport& report, std::uint64_t expected_rows) {
  const std::string where = fmt::format("MongoDB collection {}", plan.collection);
  mongo::BulkWriter writer(ctx.mongo, ctx.db, plan.collection, ctx.wc, static_cast<std::size_t>(ctx.cfg.sync.batch_size),
                           static_cast<std::size_t>(ctx.cfg.sync.batch_bytes), where);
  const bool key_as_id = ctx.cfg.sync.key_as_id;
  bson_t doc, selector;
  bson_init(&doc);
  bson_init(&selector);
  std::vector<std::string> last(order.size());
  std::uint64_t pending_rows = 0;

  auto flush = [&]() -> Status {
    if (pending_rows == 0) return success();
    if (auto st = writer.flush(); !st) return st;
    report.records_synced += pending_rows;
    pending_rows = 0;
    if (ctx.progress) ctx.progress(plan.table.name, report.records_synced, expected_rows);
    return on_ack(last);
  };

  Status result = success();
  while (result) {
    auto rows = ctx.mysql.stream(make_sql(after));
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
      if (!build_document(plan, key_as_id, row, len, &doc, &selector, report.lossy)) {
        std::vector<std::string> key;
        for (auto k : plan.key) key.push_back(row[k] ? std::string(row[k], len[k]) : "NULL");
        result = Failure{Exit::tables_failed,
                         fmt::format("the key ({}) = ({}) cannot be stored exactly in MongoDB, so distinct rows could "
                                     "overwrite each other; store the key column as text with [tables.{}] types = "
                                     "{{ {} = \"string\" }}",
                                     join(plan.key_columns(), ", "), join(key, ", "), plan.table.name,
                                     plan.fields[plan.key[0]].column)};
        break;
      }
      if (auto st = writer.replace_upsert(&selector, &doc); !st) {
        result = st;
        break;
      }
      for (std::size_t k = 0; k < order.size(); ++k) last[k].assign(row[order[k]], len[order[k]]);
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
      // Destroying the result discards the rest of the stream; what was written is recorded.
      if (auto st = flush(); !st) result = st;
      else result = Failure{Exit::tempfail, "stopped by a signal; progress saved"};
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

bool build_document(const TablePlan& plan, bool key_as_id, MYSQL_ROW row, const unsigned long* lengths, bson_t* doc,
                    bson_t* selector, convert::LossReport& loss) {
  for (std::size_t i = 0; i < plan.fields.size(); ++i)
    convert::append_value(doc, plan.fields[i], row[i], lengths[i], loss);
  if (selector && plan.has_key()) {
    // The selector's values come from the same conversion as the document's, so they always match.
    convert::LossReport key_loss;  // already counted once for the document
    append_key(plan, selector, row, lengths, key_loss, key_as_id);
    return key_loss.empty();
  }
  return true;
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
  // Finish the MySQL stream so the connection is free again: the remaining keys need no comparison.
  while (have_y && rows->next()) {
  }
  if (rows->error()) return *rows->error();
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

namespace {

// Where the next incremental run starts after a full sync, read before copying: [server time, largest
// change value] as the source's own text ([server time] alone for a table with no values yet).
// Marks always start with the server's clock reading at the time the rows were read (see
// incremental_sync for why).
Expected<std::vector<std::string>> current_mark(TableContext& ctx, const TablePlan& plan) {
  const std::string chg = mysql::quote_identifier(plan.change_column);
  const std::string table = mysql::quote_identifier(plan.table.name);
  // `settled`: the newest change is older than the lookback window, so no write in flight can still
  // produce that time.
  auto rows = ctx.mysql.query(fmt::format(
      "SELECT NOW(6), MAX({0}), MAX({0}) < NOW(6) - INTERVAL {2} MICROSECOND FROM {1}", chg, table,
      ctx.cfg.sync.lookback.count() * 1000));
  if (!rows) return rows.failure();
  MYSQL_ROW row = rows->next();
  if (!row) return rows->error() ? Expected<std::vector<std::string>>(*rows->error())
                                 : Failure{Exit::internal, "SELECT MAX() returned no row"};
  const auto* len = rows->lengths();
  std::vector<std::string> mark{std::string(row[0], len[0])};
  if (!row[1]) return mark;
  mark.emplace_back(row[1], len[1]);
  const bool settled = row[2] && std::string_view(row[2], len[2]) == "1";
  if (!settled) return mark;  // the time alone: rows at that time are read again by the next run
  // Settled: the full mark (time, last key at that time) lets the next run start right after it instead
  // of re-reading every row that shares the newest time (all of them, in a freshly loaded table).
  std::vector<std::string> order;
  for (const auto* c : key_columns(plan)) order.push_back(key_expression(*c) + " DESC");
  std::vector<std::string> cols;
  for (const auto& k : plan.key_columns()) cols.push_back(mysql::quote_identifier(k));
  auto last = ctx.mysql.query(fmt::format("SELECT {} FROM {} WHERE {} = {} ORDER BY {} LIMIT 1", join(cols, ", "), table,
                                          chg, ctx.mysql.literal(mark[1]), join(order, ", ")));
  if (!last) return last.failure();
  if (MYSQL_ROW k = last->next()) {
    const auto* klen = last->lengths();
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (!k[i]) return mark;
      mark.emplace_back(k[i], klen[i]);
    }
  }
  return mark;
}

Expected<std::string> server_now(TableContext& ctx) {
  auto now = ctx.mysql.scalar("SELECT NOW(6)");
  if (!now) return now.failure();
  return now->value_or("");
}

void record(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior, TableReport& report,
            const std::function<void(mongo::TableState&)>& finish) {
  mongo::TableState s = prior.value_or(mongo::TableState{});
  // The checkpoint and marks written during the run are newer than `prior`.
  if (auto fresh = ctx.meta.load(plan.table.name); fresh && *fresh) {
    s.checkpoint = (*fresh)->checkpoint;
    s.pending_mark = (*fresh)->pending_mark;
    s.high_water_mark = (*fresh)->high_water_mark;
  }
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
    s.last_success_ms = now;
    s.last_success_type = report.sync_type;
    s.schema_fingerprint = plan.fingerprint;
  }
  finish(s);
  if (auto saved = ctx.meta.save(s); !saved && report.status == "success") {
    report.status = "failed";
    report.error = saved.failure();
  }
}

TableReport start_report(const TablePlan& plan, const char* type) {
  TableReport report;
  report.table = plan.table.name;
  report.collection = plan.collection;
  report.sync_type = type;
  report.renames = plan.renames;
  return report;
}

}  // namespace

TableReport full_sync(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior) {
  Stopwatch clock;
  TableReport report = start_report(plan, "full");
  Status st = success();
  std::optional<std::vector<std::string>> mark;
  if (plan.has_key()) {
    std::optional<std::vector<std::string>> resume;
    // A checkpoint is only valid for the same columns and key it was taken with.
    if (prior && prior->checkpoint && prior->schema_fingerprint == plan.fingerprint &&
        prior->checkpoint->size() == plan.key.size()) {
      resume = prior->checkpoint;
      mark = prior->pending_mark;
      report.resumed = true;
      ctx.log.info("table {}: resuming the interrupted full sync after key ({})", plan.table.name, join(*resume, ", "));
    }
    // Read the mark before copying: rows changed while we copy have later values and are read again by
    // the next incremental run.
    if (!plan.change_column.empty() && !mark) {
      if (auto m = current_mark(ctx, plan)) mark = *m;
      else st = m.failure();
      if (st) st = ctx.meta.save_field(plan.table.name, "pending_mark", mark);
    }
    if (st) st = ensure_indexes(ctx, plan, plan.collection);
    if (st)
      st = copy_ordered(
          ctx, plan, plan.key, resume,
          [&](const auto& after) {
            return select_chunk(plan, after, kChunkRows, [&](std::string_view v) { return ctx.mysql.literal(v); });
          },
          [&](const std::vector<std::string>& last) { return ctx.meta.save_field(plan.table.name, "checkpoint", last); },
          report, plan.table.row_estimate);
    // The copy reached the end of the table: a later failure (of the delete step, say) must not make the
    // next run "resume" after the last key and copy nothing.
    if (st && !stop_requested(ctx)) st = ctx.meta.save_field(plan.table.name, "checkpoint", std::nullopt);
    if (st && !stop_requested(ctx)) {
      if (auto deleted = reconcile_deletes(ctx, plan)) report.deleted = *deleted;
      else st = deleted.failure();
    }
  } else {
    report.warnings.push_back(
        "table has no primary key and no NOT NULL unique key: copied into a staging collection and swapped in");
    st = copy_staged(ctx, plan, report);
  }
  if (!st) {
    report.status = "failed";
    report.error = st.failure();
  }
  report.duration_seconds = clock.seconds();
  log_losses(ctx.log, plan.table.name, report.lossy);
  record(ctx, plan, prior, report, [&](mongo::TableState& s) {
    if (report.status != "success") {
      // Keep the checkpoint so the next run resumes; remember which schema it belongs to.
      if (plan.has_key() && s.checkpoint) s.schema_fingerprint = plan.fingerprint;
      return;
    }
    s.checkpoint.reset();
    s.pending_mark.reset();
    s.high_water_mark = plan.change_column.empty() ? std::nullopt : mark;
    s.runs_since_reconcile = 0;
  });
  return report;
}

TableReport incremental_sync(TableContext& ctx, const TablePlan& plan, const mongo::TableState& prior, bool reconcile) {
  Stopwatch clock;
  TableReport report = start_report(plan, "incremental");
  const auto quote = [&](std::string_view v) { return ctx.mysql.literal(v); };
  // The stored mark is [server time of the read, change value, key...]: see current_mark().
  const std::vector<std::string> stored = prior.high_water_mark.value_or(std::vector<std::string>{});
  const std::string read_time = stored.empty() ? std::string() : stored[0];
  const std::vector<std::string> mark_in = stored.size() > 1 ? std::vector<std::string>(stored.begin() + 1, stored.end())
                                                             : std::vector<std::string>{};
  // The lookback window: a transaction still open when the last run read can commit afterwards with an
  // older timestamp. For TIMESTAMP columns (instants, compared in UTC) the window is anchored at the
  // server's clock when the last run read, so rows unchanged for longer than the lookback are not read
  // again. DATETIME values carry no zone (they may be written in local time), so there the window is
  // anchored at the mark itself.
  const mysql::Column* chg_col = plan.table.find(plan.change_column);
  const bool instant = chg_col && chg_col->data_type == "timestamp" && !read_time.empty();
  const std::string window_from = instant ? read_time : (mark_in.empty() ? read_time : mark_in[0]);
  const std::int64_t lookback_us = ctx.cfg.sync.lookback.count() * 1000;

  std::size_t chg_index = 0;
  for (std::size_t i = 0; i < plan.fields.size(); ++i)
    if (plan.fields[i].column == plan.change_column) chg_index = i;
  std::vector<std::size_t> order{chg_index};
  order.insert(order.end(), plan.key.begin(), plan.key.end());

  std::string now_text;
  Status st = success();
  if (auto now = server_now(ctx)) now_text = *now;
  else st = now.failure();
  std::vector<std::string> mark_out = mark_in;
  if (st) st = ensure_indexes(ctx, plan, plan.collection);
  auto stored_mark = [&] {
    std::vector<std::string> m{now_text};
    m.insert(m.end(), mark_out.begin(), mark_out.end());
    return m;
  };
  // 1. Rows changed since the mark, and the lookback window, in (change column, key) order. The mark
  //    advances only after MongoDB acknowledged the rows up to it.
  if (st)
    st = copy_ordered(
        ctx, plan, order, std::nullopt,
        [&](const auto& after) {
          return select_changed(plan, mark_in, window_from, lookback_us, after, kChunkRows, quote);
        },
        [&](const std::vector<std::string>& last) {
          // Rows in the lookback window are older than the mark: never move it back. The values are
          // MySQL's fixed-width temporal text, so text order is time order.
          if (mark_out.empty() || last[0] >= mark_out[0]) mark_out = last;
          return ctx.meta.save_field(plan.table.name, "high_water_mark", stored_mark());
        },
        report, 0);
  // 2. Rows whose change column is NULL: no time to compare, so they are copied on every run.
  if (st && !stop_requested(ctx))
    st = copy_ordered(
        ctx, plan, plan.key, std::nullopt,
        [&](const auto& after) { return select_null_changed(plan, after, kChunkRows, quote); },
        [](const std::vector<std::string>&) { return success(); }, report, 0);
  // 3. Deletes are invisible to timestamps: reconcile keys every sync.reconcile_every runs or on request.
  const bool reconcile_now =
      reconcile || (ctx.cfg.sync.reconcile_every > 0 && prior.runs_since_reconcile + 1 >= ctx.cfg.sync.reconcile_every);
  if (st && reconcile_now && !stop_requested(ctx)) {
    if (auto deleted = reconcile_deletes(ctx, plan)) report.deleted = *deleted;
    else st = deleted.failure();
  }
  if (!st) {
    report.status = "failed";
    report.error = st.failure();
  }
  if (reconcile_now && report.status == "success") report.reason = "incremental with delete reconciliation";
  report.duration_seconds = clock.seconds();
  log_losses(ctx.log, plan.table.name, report.lossy);
  record(ctx, plan, prior, report, [&](mongo::TableState& s) {
    if (report.status != "success") return;
    s.high_water_mark = stored_mark();
    s.runs_since_reconcile = reconcile_now ? 0 : prior.runs_since_reconcile + 1;
  });
  return report;
}

}  // namespace m2m::sync
