#include "sync/ranges.hpp"

#include "sync/copy.hpp"
#include "sync/document.hpp"
#include "sync/recipes.hpp"
#include "sync/reconcile.hpp"
#include "sync/state.hpp"
#include "util/stopwatch.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace m2m::sync {

namespace {

}  // namespace

std::vector<KeyRange> ranges_from_boundaries(const std::vector<std::vector<std::string>>& boundaries) {
  std::vector<KeyRange> out;
  out.reserve(boundaries.size() + 1);
  for (std::size_t i = 0; i <= boundaries.size(); ++i) {
    KeyRange r;
    r.index = static_cast<std::int64_t>(i);
    if (i > 0) r.lo = boundaries[i - 1];
    if (i < boundaries.size()) r.hi = boundaries[i];
    out.push_back(std::move(r));
  }
  return out;
}

std::uint64_t split_rows_per_range(std::uint64_t estimate, std::int64_t split_rows, int workers) {
  if (workers <= 1 || split_rows <= 0 || estimate <= static_cast<std::uint64_t>(split_rows)) return 0;
  const auto limit = static_cast<std::uint64_t>(split_rows);
  const auto w = static_cast<std::uint64_t>(workers);
  std::uint64_t ranges = std::max<std::uint64_t>((estimate + limit - 1) / limit, w);
  // A multiple of the workers: 5 equal ranges on 4 workers take as long as 8 would (one worker does two),
  // and an estimate a little above a multiple of split_rows would otherwise leave one worker a last range.
  ranges = (ranges + w - 1) / w * w;
  ranges = std::min(ranges, kMaxRanges);
  return (estimate + ranges - 1) / ranges;
}

bool order_compatible(const TablePlan& plan) {
  if (!plan.has_key()) return false;
  for (auto i : plan.key) {
    using convert::Kind;
    const auto& f = plan.fields[i];
    switch (f.kind) {
      case Kind::int32:
      case Kind::int64:
      case Kind::uint64:
      case Kind::boolean:
      case Kind::float64:
      case Kind::date:
      case Kind::datetime:
        break;
      case Kind::decimal: {
        // Beyond 34 digits a DECIMAL is stored as its string: no longer a number to MongoDB.
        const mysql::Column* c = plan.table.find(f.column);
        if (!c || !c->numeric_precision || *c->numeric_precision > 34) return false;
        break;
      }
      default:
        return false;
    }
  }
  return true;
}

namespace {

// The key's field names as the documents hold them (with key_as_id: _id, or _id.<field>).
std::vector<std::string> key_paths(const TablePlan& plan, bool key_as_id) {
  std::vector<std::string> out;
  for (auto i : plan.key) {
    const std::string& f = plan.fields[i].field;
    out.push_back(!key_as_id ? f : plan.key.size() == 1 ? std::string("_id") : "_id." + f);
  }
  return out;
}

// One key value converted as the copy converts it, under `op` ("$gt", ...) or as an equality.
void append_bound(bson_t* doc, const std::string& path, const convert::FieldPlan& field, const std::string& text,
                  const char* op) {
  convert::LossReport ignored;
  if (!op) {
    convert::append_value_as(doc, path, field, text.data(), text.size(), ignored);
    return;
  }
  bson_t cmp;
  bson_append_document_begin(doc, path.data(), static_cast<int>(path.size()), &cmp);
  convert::append_value_as(&cmp, op, field, text.data(), text.size(), ignored);
  bson_append_document_end(doc, &cmp);
}

// {$or: [{k1 OP1 v1}, {k1: v1, k2 OP1 v2}, ..., {k1: v1, ..., kn OPn vn}]}: OP1 for every column but the
// last, which gets OPn (> and > for "after", < and <= for "at most").
void append_tuple_bound(bson_t* doc, const TablePlan& plan, const std::vector<std::string>& paths,
                        const std::vector<std::string>& values, const char* op, const char* last_op) {
  bson_t ors;
  BSON_APPEND_ARRAY_BEGIN(doc, "$or", &ors);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    bson_t term;
    const std::string index = std::to_string(i);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, index.c_str(), &term);
    for (std::size_t j = 0; j < i; ++j) append_bound(&term, paths[j], plan.fields[plan.key[j]], values[j], nullptr);
    append_bound(&term, paths[i], plan.fields[plan.key[i]], values[i], i + 1 == paths.size() ? last_op : op);
    bson_append_document_end(&ors, &term);
  }
  bson_append_array_end(doc, &ors);
}

}  // namespace

mongo::Bson range_filter(const TablePlan& plan, bool key_as_id, const KeyRange& range) {
  mongo::Bson filter;
  const auto paths = key_paths(plan, key_as_id);
  if (paths.size() == 1) {
    if (!range.lo && !range.hi) return filter;
    bson_t cmp;
    BSON_APPEND_DOCUMENT_BEGIN(filter.get(), paths[0].c_str(), &cmp);
    convert::LossReport ignored;
    const auto& f = plan.fields[plan.key[0]];
    if (range.lo) convert::append_value_as(&cmp, "$gt", f, (*range.lo)[0].data(), (*range.lo)[0].size(), ignored);
    if (range.hi) convert::append_value_as(&cmp, "$lte", f, (*range.hi)[0].data(), (*range.hi)[0].size(), ignored);
    bson_append_document_end(filter.get(), &cmp);
    return filter;
  }
  bson_t ands;
  BSON_APPEND_ARRAY_BEGIN(filter.get(), "$and", &ands);
  int n = 0;
  auto part = [&](const std::vector<std::string>& values, const char* op, const char* last_op) {
    bson_t term;
    const std::string index = std::to_string(n++);
    BSON_APPEND_DOCUMENT_BEGIN(&ands, index.c_str(), &term);
    append_tuple_bound(&term, plan, paths, values, op, last_op);
    bson_append_document_end(&ands, &term);
  };
  if (range.lo) part(*range.lo, "$gt", "$gt");
  if (range.hi) part(*range.hi, "$lt", "$lte");
  bson_append_array_end(filter.get(), &ands);
  if (n == 0) return mongo::Bson{};
  return filter;
}

std::string describe_range(const std::string& table, std::int64_t index, std::int64_t count) {
  return fmt::format("{} [{}/{}]", table, index + 1, count);
}

bool can_resume_split(const TablePlan& plan, const std::optional<mongo::TableState>& prior) {
  return plan.has_key() && prior && prior->split_ranges > 0 && prior->checkpoint_fingerprint == plan.fingerprint &&
         !key_changed(plan, prior);
}

Expected<SplitStart> start_split(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior,
                                 std::uint64_t rows_per_range) {
  SplitStart out;
  const std::string& table = plan.table.name;
  if (can_resume_split(plan, prior)) {
    auto ranges = ctx.meta.load_ranges(table);
    if (!ranges) return ranges.failure();
    bool whole = static_cast<std::int64_t>(ranges->size()) == prior->split_ranges;
    for (std::size_t i = 0; whole && i < ranges->size(); ++i)
      whole = (*ranges)[i].index == static_cast<std::int64_t>(i) && (*ranges)[i].count == prior->split_ranges;
    if (whole) {
      const auto done = std::count_if(ranges->begin(), ranges->end(), [](const auto& r) { return r.done; });
      ctx.log.info("table {}: resuming the interrupted full sync of {} key ranges ({} done)", table, ranges->size(), done);
      out.split = out.resumed = true;
      out.ranges = std::move(*ranges);
      return out;
    }
    ctx.log.warn("table {}: the key ranges of the interrupted full sync are incomplete; splitting the table again", table);
  }
  if (key_changed(plan, prior)) return out;  // a staging rebuild, never split

  // Read before copying, as full_sync does: the mark the finished full sync leaves behind.
  std::optional<std::vector<std::string>> mark;
  if (!plan.change_column.empty()) {
    auto m = current_mark(ctx, plan);
    if (!m) return m.failure();
    mark = *m;
  }
  if (!indexes_made(ctx, plan, prior)) {
    if (auto st = ensure_indexes(ctx, plan, plan.collection); !st) {
      if (index_conflict(st.failure())) return out;  // full_sync rebuilds it through a staging copy
      return st.failure();
    }
  }
  // The boundaries: one index-only query per range, each starting after the previous boundary.
  const auto quote = quoter(ctx);
  std::vector<std::vector<std::string>> boundaries;
  std::optional<std::vector<std::string>> after;
  while (boundaries.size() + 1 < kMaxRanges) {
    if (stop_requested(ctx)) return stopped_failure(ctx);
    auto rows = ctx.mysql.query(select_boundary(plan, after, rows_per_range, quote));
    if (!rows) return rows.failure();
    MYSQL_ROW row = rows->next();
    if (!row) {
      if (rows->error()) return *rows->error();
      break;
    }
    const auto* len = rows->lengths();
    std::vector<std::string> key;
    for (std::size_t i = 0; i < plan.key.size(); ++i) key.emplace_back(row[i] ? row[i] : "", row[i] ? len[i] : 0);
    // Fewer than n rows after this one: the last range is as large as a range may be.
    boundaries.push_back(key);
    after = std::move(key);
  }
  if (boundaries.empty()) return out;  // smaller than one range after all
  const auto ranges = ranges_from_boundaries(boundaries);
  std::vector<mongo::RangeState> states;
  for (const auto& r : ranges) {
    mongo::RangeState s;
    s.table = table;
    s.index = r.index;
    s.count = static_cast<std::int64_t>(ranges.size());
    s.lo = r.lo;
    s.hi = r.hi;
    states.push_back(std::move(s));
  }
  // The ranges first: a run killed between the two writes finds no split recorded and starts afresh.
  if (auto st = ctx.meta.save_ranges(table, states); !st) return st.failure();
  if (auto st = ctx.meta.save_fields(table, {{"pending_mark", mark ? mongo::MetadataStore::FieldValue(*mark) : nullptr},
                                            {"checkpoint_fingerprint", plan.fingerprint},
                                            {"checkpoint", nullptr},
                                            {"split_ranges", static_cast<std::int64_t>(states.size())},
                                            {"split_started_ms", now_epoch_ms()}});
      !st)
    return st.failure();
  ctx.log.info("table {}: full sync in {} key ranges of about {} rows", table, states.size(), rows_per_range);
  out.split = true;
  out.ranges = std::move(states);
  return out;
}

TableReport copy_range(TableContext& ctx, const TablePlan& plan, const mongo::RangeState& range) {
  Stopwatch clock;
  TableReport report = start_report(plan, mongo::SyncType::full);
  const auto quote = quoter(ctx);
  mongo::RangeState out = range;
  out.error.clear();
  out.refused.clear();
  out.lossy.clear();
  out.records_synced = out.rows_deleted = 0;
  out.resumed = range.checkpoint.has_value();
  report.resumed = out.resumed;
  if (out.resumed)
    ctx.log.info("{}: resuming after key ({})", describe_range(plan.table.name, range.index, range.count),
                 join(*range.checkpoint, ", "));

  OrderedCopy copy;
  copy.order = plan.key;
  copy.after = range.checkpoint ? range.checkpoint : range.lo;
  copy.sql = [&](const auto& after) { return select_chunk(plan, after, kChunkRows, quote, range.hi); };
  copy.on_ack = [&](const std::vector<std::string>& last, bool final) -> Status {
    if (final) return success();  // the range's outcome covers it
    if (auto st = ctx.meta.save_range_checkpoint(plan.table.name, range.index, last); !st) return st;
    out.checkpoint = last;
    return success();
  };
  copy.expected_rows = range.count > 0 ? plan.table.row_estimate / static_cast<std::uint64_t>(range.count) : 0;
  Status st = copy_ordered(ctx, plan, copy, report);
  const bool copied_all = st && !stop_requested(ctx);
  if (copied_all && order_compatible(plan)) {
    KeyRange keys{range.index, range.lo, range.hi};
    if (auto deleted = reconcile_deletes(ctx, plan, &keys)) report.deleted = *deleted;
    else st = deleted.failure();
  }
  if (!st) report.error = st.failure();
  report.settle();
  report.duration_seconds = clock.seconds();

  out.done = !report.error;
  // Copied to its end but failed afterwards: the next run copies the range again rather than resuming
  // after its last key and copying nothing.
  if (out.done || copied_all) out.checkpoint.reset();
  out.records_synced = static_cast<std::int64_t>(report.records_synced);
  out.rows_deleted = static_cast<std::int64_t>(report.deleted);
  for (const auto& r : report.refused)
    out.refused.push_back(mongo::TableState::Refused{r.key, static_cast<std::int64_t>(r.bytes), r.reason});
  for (const auto& [col, reasons] : report.lossy.counts())
    for (const auto& [reason, n] : reasons) out.lossy[col][reason] = static_cast<std::int64_t>(n);
  out.error = report.error ? report.error->message : std::string();
  out.taken_over = ctx.taken_over;
  // A range whose unit another shard took over writes nothing more (the write would be refused anyway).
  if (!(report.error && report.error->cause == Cause::unit_lost)) {
    if (auto saved = ctx.meta.save_range_outcome(out); !saved && !report.error) {
      report.error = saved.failure();
      report.settle();
    }
  }
  return report;
}

TableReport finish_split(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior,
                         const std::vector<mongo::RangeState>& ranges) {
  Stopwatch clock;
  TableReport report = start_report(plan, mongo::SyncType::full);
  std::vector<std::string> failed;
  bool taken_over = false;
  for (const auto& r : ranges) {
    report.records_synced += static_cast<std::uint64_t>(r.records_synced);
    report.deleted += static_cast<std::uint64_t>(r.rows_deleted);
    report.resumed = report.resumed || r.resumed;
    taken_over = taken_over || r.taken_over;
    for (const auto& row : r.refused) {
      RefusedRow refused;
      refused.key = row.key;
      refused.described = describe_key(plan, row.key);
      refused.bytes = static_cast<std::uint64_t>(row.bytes);
      refused.reason = row.reason;
      report.refused.push_back(std::move(refused));
    }
    for (const auto& [col, reasons] : r.lossy)
      for (const auto& [reason, n] : reasons) report.lossy.add(col, reason, static_cast<std::uint64_t>(n));
    if (!r.done)
      failed.push_back(fmt::format("{}: {}", describe_range(plan.table.name, r.index, r.count),
                                   r.error.empty() ? "not copied" : r.error));
  }
  Status st = success();
  if (!failed.empty() && stop_requested(ctx)) {
    st = stopped_failure(ctx);
    st = Failure{st.failure().code,
                 fmt::format("{} ({} of {} key ranges done; the next run resumes the others)", st.failure().message,
                             ranges.size() - failed.size(), ranges.size()),
                 false, 0, st.failure().cause};
  } else if (!failed.empty()) {
    const std::size_t shown = std::min<std::size_t>(failed.size(), 3);
    st = Failure{Exit::tables_failed,
                 fmt::format("{} of {} key ranges failed ({}{}); the next run resumes them", failed.size(), ranges.size(),
                             join(std::vector<std::string>(failed.begin(), failed.begin() + static_cast<std::ptrdiff_t>(shown)), "; "),
                             failed.size() > shown ? fmt::format("; and {} more", failed.size() - shown) : "")};
  }
  ctx.taken_over = ctx.taken_over || taken_over;
  if (st && report.resumed && prior) st = retry_refused(ctx, plan, *prior, report);
  // Keys that order differently in MySQL and MongoDB: one merge of the whole table, now that every
  // range is copied.
  if (st && !order_compatible(plan) && !stop_requested(ctx)) {
    if (auto deleted = reconcile_deletes(ctx, plan)) report.deleted += *deleted;
    else st = deleted.failure();
  }
  if (!st) report.error = st.failure();
  if (report.resumed && plan.change_column.empty())
    report.warnings.push_back(
        "resumed from the checkpoint of an interrupted run: rows before it that changed in between are refreshed "
        "by the next run's full pass");
  report.settle();
  report.duration_seconds =
      prior && prior->split_started_ms > 0
          ? static_cast<double>(std::max<std::int64_t>(0, now_epoch_ms() - prior->split_started_ms)) / 1000.0
          : clock.seconds();
  log_losses(ctx.log, plan.table.name, report.lossy);
  const auto mark = prior ? prior->pending_mark : std::nullopt;
  record(ctx, plan, prior, report, [&](mongo::TableState& s) { set_full_sync_done(ctx, plan, prior, mark, s); });
  return report;
}

}  // namespace m2m::sync
