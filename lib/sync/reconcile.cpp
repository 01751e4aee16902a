#include "sync/reconcile.hpp"

#include "mongo/cursor.hpp"
#include "mongo/writer.hpp"
#include "sync/document.hpp"
#include "sync/recipes.hpp"
#include "sync/sql.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::sync {

namespace {

std::string pct(double part, double whole) { return fmt::format("{:.0f}%", whole > 0 ? 100.0 * part / whole : 0.0); }

}  // namespace

Expected<std::uint64_t> reconcile_deletes(TableContext& ctx, const TablePlan& plan, const KeyRange* range) {
  const std::string where = fmt::format("MongoDB collection {}", plan.collection);
  const bool key_as_id = ctx.cfg.sync.key_as_id;
  const auto fields = plan.key_fields();

  // MongoDB side: key fields only, in key order.
  const mongo::Bson only = range ? range_filter(plan, key_as_id, *range) : mongo::Bson{};
  mongo::SortedCursor cursor(ctx.mongo, ctx.db, plan.collection,
                             key_as_id ? std::vector<std::string>{"_id"} : fields, true, 10'000, where,
                             range ? only.get() : nullptr);

  // MySQL side: the key in the order MongoDB sorts it.
  auto rows = ctx.mysql.stream(
      select_keys_in_mongo_order(plan, range ? range_condition(plan, range->lo, range->hi, quoter(ctx)) : std::string()));
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

  // Two equal neighbours in MySQL's stream are distinct rows whose keys convert to one MongoDB value:
  // they were written to one document. Say so, rather than only that the order is off.
  auto order_error = [&](const char* side, int c) {
    return key_order_failure(plan, side, c, "reconcile deletes of", "; no document was deleted");
  };
  auto next_mongo = [&]() -> Status {
    doc = cursor.next();
    have_m = doc != nullptr;
    if (!have_m) {
      if (cursor.error()) return *cursor.error();
      return success();
    }
    ++mongo_total;
    current = doc;
    mongo_tuple(doc, mkey.get());
    if (seen_m) {
      if (const int c = compare(prev_m.get(), mkey.get()); c >= 0) return order_error("MongoDB", c);
    }
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
    if (seen_y) {
      if (const int c = compare(prev_y.get(), ykey.get()); c >= 0) return order_error("MySQL", c);
    }
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
  cursor.close();

  if (doomed.empty()) return std::uint64_t{0};
  const double share = static_cast<double>(doomed.size()) / static_cast<double>(mongo_total);
  if (share > ctx.cfg.sync.max_delete_fraction && !ctx.force_deletes)
    return Failure{Exit::tables_failed,
                   fmt::format("refusing to delete {} of {} documents ({}) from collection {}: more than "
                               "sync.max_delete_fraction {}; check MYSQL_DATABASE, or if MySQL really lost these rows "
                               "rerun with --force-deletes",
                               doomed.size(), mongo_total, pct(static_cast<double>(doomed.size()), static_cast<double>(mongo_total)),
                               plan.collection, ctx.cfg.sync.max_delete_fraction)};
  mongo::BulkWriter writer(ctx.mongo, ctx.db, plan.collection, ctx.wc, static_cast<std::size_t>(ctx.cfg.sync.batch_size),
                           static_cast<std::size_t>(ctx.cfg.sync.batch_bytes), where);
  for (const auto& sel : doomed)
    if (auto st = writer.remove_one(sel.get()); !st) return st.failure();
  if (auto st = writer.flush(); !st) return st.failure();
  return static_cast<std::uint64_t>(doomed.size());
}

}  // namespace m2m::sync
