#include "sync/copy.hpp"

#include "mongo/admin.hpp"
#include "sync/document.hpp"
#include "sync/recipes.hpp"
#include "sync/sql.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::sync {

namespace {

std::string pct(double part, double whole) { return fmt::format("{:.0f}%", whole > 0 ? 100.0 * part / whole : 0.0); }

Failure unstorable_key(const TablePlan& plan, const std::vector<std::string>& key) {
  return Failure{Exit::tables_failed,
                 fmt::format("the key {} cannot be stored exactly in MongoDB, so distinct rows could overwrite each "
                             "other; store the key column as text with [tables.{}] types = {{ {} = \"string\" }}",
                             describe_key(plan, key), plan.table.name, plan.fields[plan.key[0]].column)};
}

void refuse(const TablePlan& plan, TableReport& report, std::vector<std::string> key, std::uint64_t bytes,
            std::string reason) {
  for (const auto& r : report.refused)
    if (r.key == key) return;  // a resumed copy may meet the same row twice
  RefusedRow row;
  row.described = describe_key(plan, key);
  row.key = std::move(key);
  row.bytes = bytes;
  row.reason = std::move(reason);
  report.refused.push_back(std::move(row));
}

// The rows of the batch being built, so that an operation the server refuses can be named by its key:
// their key values back to back in one string (no allocation per row once the batch has run once).
struct Pending {
  std::string text;
  std::vector<std::size_t> ends;     // where each row's values end in text, `width` per row
  std::vector<std::uint64_t> bytes;  // each row's document size
  std::size_t width = 1;
  std::size_t n = 0;

  void clear() {
    text.clear();
    ends.clear();
    bytes.clear();
    n = 0;
  }
  // The key columns' text (as key_text gives it), or for a table without a key "row N".
  void add(const TablePlan& plan, MYSQL_ROW row, const unsigned long* len, std::uint64_t row_number,
           std::uint64_t size) {
    if (plan.has_key()) {
      width = plan.key.size();
      for (auto k : plan.key) {
        if (row[k]) text.append(row[k], len[k]);
        else text.append("NULL");
        ends.push_back(text.size());
      }
    } else {
      width = 1;
      text.append("row ");
      text.append(fmt::format_int(row_number).str());
      ends.push_back(text.size());
    }
    bytes.push_back(size);
    ++n;
  }
  std::vector<std::string> key(std::size_t i) const {
    std::vector<std::string> out;
    for (std::size_t k = i * width; k < (i + 1) * width; ++k) {
      const std::size_t begin = k == 0 ? 0 : ends[k - 1];
      out.emplace_back(text, begin, ends[k] - begin);
    }
    return out;
  }
};

// The writer for a table's collection, counting what each acknowledged batch held.
class TableWriter {
public:
  TableWriter(TableContext& ctx, const TablePlan& plan, TableReport& report, std::function<Status()> after_batch)
      : plan_(plan),
        report_(report),
        after_batch_(std::move(after_batch)),
        writer_(ctx.mongo, ctx.db, plan.collection, ctx.wc, static_cast<std::size_t>(ctx.cfg.sync.batch_size),
                static_cast<std::size_t>(ctx.cfg.sync.batch_bytes), fmt::format("MongoDB collection {}", plan.collection),
                [this](std::size_t ops, const std::vector<mongo::RefusedOp>& refused) { return on_flush(ops, refused); }) {}

  // Adds the row's upsert (with a selector) or insert (without), unless MongoDB would refuse its document.
  Status write(MYSQL_ROW row, const unsigned long* len, const bson_t* selector, const bson_t* doc) {
    if (const std::string why = refusal_reason(doc, may_nest_); !why.empty()) {
      refuse(plan_, report_, key_of(row, len), doc->len, why);
      return success();
    }
    // The row joins the batch only after a flush the add may cause, so it is recorded afterwards.
    auto st = selector ? writer_.replace_upsert(selector, doc) : writer_.insert(doc);
    if (st) pending_.add(plan_, row, len, rows_ + 1, doc->len);
    ++rows_;
    return st;
  }
  Status flush() { return writer_.flush(); }
  bool flushed() { return std::exchange(flushed_, false); }

private:
  // A keyed row is named by its key; a row of a table without one by its position in the copy.
  std::vector<std::string> key_of(MYSQL_ROW row, const unsigned long* len) const {
    if (plan_.has_key()) return key_text(plan_, row, len);
    return {fmt::format("row {}", rows_ + 1)};
  }

  Status on_flush(std::size_t ops, const std::vector<mongo::RefusedOp>& refused) {
    for (const auto& op : refused) {
      if (op.index < pending_.n)
        refuse(plan_, report_, pending_.key(op.index), pending_.bytes[op.index],
               fmt::format("refused by MongoDB: {} (code {})", op.message, op.code));
    }
    report_.records_synced += ops - std::min(ops, refused.size());
    pending_.clear();
    flushed_ = true;
    return after_batch_ ? after_batch_() : success();
  }

  const TablePlan& plan_;
  const bool may_nest_ = may_nest(plan_);
  TableReport& report_;
  std::function<Status()> after_batch_;
  Pending pending_;
  std::uint64_t rows_ = 0;
  bool flushed_ = false;
  mongo::BulkWriter writer_;
};

}  // namespace

Status copy_ordered(TableContext& ctx, const TablePlan& plan, const OrderedCopy& spec, TableReport& report) {
  const bool key_as_id = ctx.cfg.sync.key_as_id;
  // The ordering values of the last row added. A flush runs before the next row is added, so at a
  // flush they are those of the last row of the acknowledged batch.
  std::vector<std::string> last(spec.order.size());
  bool final = false;
  TableWriter writer(ctx, plan, report, [&]() -> Status {
    if (ctx.progress) ctx.progress(plan.table.name, report.records_synced, spec.expected_rows);
    return spec.on_ack(last, final);
  });
  mongo::BsonBuilder doc, selector;
  std::optional<std::vector<std::string>> after = spec.after;
  Status result = success();
  while (result) {
    auto rows = ctx.mysql.stream(spec.sql(after));
    if (!rows) {
      result = rows.failure();
      break;
    }
    std::size_t n = 0;
    bool stopping = false;
    while (MYSQL_ROW row = rows->next()) {
      const unsigned long* len = rows->lengths();
      if (!build_document(plan, key_as_id, row, len, doc, &selector, report.lossy)) {
        result = unstorable_key(plan, key_text(plan, row, len));
        break;
      }
      if (auto st = writer.write(row, len, selector.view(), doc.view()); !st) {
        result = st;
        break;
      }
      for (std::size_t k = 0; k < spec.order.size(); ++k) last[k].assign(row[spec.order[k]], len[spec.order[k]]);
      ++n;
      if (writer.flushed() && stop_requested(ctx)) {
        stopping = true;
        break;
      }
    }
    if (!result) break;
    if (!stopping && rows->error()) {
      result = *rows->error();
      break;
    }
    if (stopping || stop_requested(ctx)) {
      // Destroying the result discards the rest of the stream; what was written is recorded.
      if (auto st = writer.flush(); !st) result = st;
      else result = stopped_failure(ctx);
      break;
    }
    if (n < kChunkRows) break;
    after = last;
  }
  if (result) {
    final = true;
    result = writer.flush();
  }
  return result;
}

Status copy_rows(TableContext& ctx, const TablePlan& plan, const std::string& select, TableReport& report,
                 std::set<std::string>* written) {
  TableWriter writer(ctx, plan, report, {});
  auto rows = ctx.mysql.stream(select);
  if (!rows) return rows.failure();
  mongo::BsonBuilder doc, selector;
  while (MYSQL_ROW row = rows->next()) {
    const unsigned long* len = rows->lengths();
    if (!build_document(plan, ctx.cfg.sync.key_as_id, row, len, doc, &selector, report.lossy))
      return unstorable_key(plan, key_text(plan, row, len));
    const bson_t* sel = selector.view();
    // Every row found counts, written or refused (too large): its key exists in MySQL.
    if (written) written->emplace(reinterpret_cast<const char*>(bson_get_data(sel)), sel->len);
    if (auto st = writer.write(row, len, sel, doc.view()); !st) return st;
  }
  if (rows->error()) return *rows->error();
  return writer.flush();
}

Status copy_staged(TableContext& ctx, const TablePlan& plan, TableReport& report) {
  const std::string staging = plan.collection + "__m2m_staging";
  const std::string where = fmt::format("MongoDB collection {}", staging);
  if (auto st = mongo::drop_collection(ctx.mongo, ctx.db, staging, where); !st) return st;
  auto old_count = mongo::count_documents(ctx.mongo, ctx.db, plan.collection, where);
  if (!old_count) return old_count.failure();

  report.records_synced = 0;
  Status result = success();
  {
    TablePlan staged = plan;
    staged.collection = staging;
    TableWriter writer(ctx, staged, report, {});
    auto rows = ctx.mysql.stream(select_all(plan));
    if (!rows) return rows.failure();
    mongo::BsonBuilder doc, selector;
    const bool keyed = plan.has_key();
    while (MYSQL_ROW row = rows->next()) {
      const unsigned long* len = rows->lengths();
      if (!build_document(plan, keyed && ctx.cfg.sync.key_as_id, row, len, doc, keyed ? &selector : nullptr,
                          report.lossy)) {
        result = unstorable_key(plan, key_text(plan, row, len));
        break;
      }
      // Keyed rows are upserted (a row read twice stays one document); keyless rows are inserted, so
      // duplicate rows stay separate documents.
      if (auto st = writer.write(row, len, keyed ? selector.view() : nullptr, doc.view()); !st) {
        result = st;
        break;
      }
    }
    if (result && rows->error()) result = *rows->error();
    if (result) result = writer.flush();
  }
  if (result) result = ensure_indexes(ctx, plan, staging);
  if (!result) {
    (void)mongo::drop_collection(ctx.mongo, ctx.db, staging, where);
    return result;
  }
  const std::uint64_t copied = report.records_synced;
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
  report.deleted = removed;
  return success();
}

}  // namespace m2m::sync
