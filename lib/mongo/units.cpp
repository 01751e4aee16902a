#include "mongo/units.hpp"

#include "mongo/admin.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::mongo {

namespace {

constexpr const char* kPending = "pending";
constexpr const char* kClaimed = "claimed";
constexpr const char* kRanges = "ranges";
constexpr const char* kDone = "done";

void append_text(bson_t* doc, const char* key, std::string_view text) {
  bson_append_utf8(doc, key, -1, text.data(), static_cast<int>(text.size()));
}


// The selector of a unit's own document: a table's by table_name, a range's by _id.
void append_unit_selector(bson_t* q, const UnitClaim& c) {
  if (c.kind == UnitClaim::Kind::range) {
    const std::string id = MetadataStore::range_id(c.table, c.range);
    BSON_APPEND_UTF8(q, "_id", id.c_str());
  } else {
    append_text(q, "table_name", c.table);
  }
}

bool write_command(Client& client, const std::string& db, const bson_t* command, Reply& reply, bson_error_t* error) {
  auto coll = collection(client, db, kMetadataCollection);
  bson_destroy(reply.get());
  return mongoc_collection_write_command_with_opts(coll.get(), command, nullptr, reply.get(), error);
}

std::string text_field(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it)) {
    uint32_t len = 0;
    const char* s = bson_iter_utf8(&it, &len);
    return std::string(s, len);
  }
  return {};
}

}  // namespace

std::string UnitClaim::label() const {
  if (kind != Kind::range || !range_state) return table;
  return fmt::format("{} [{}/{}]", table, range + 1, range_state->count);
}

UnitBoard::UnitBoard(Client& client, MetadataStore& meta, std::string db, std::string where, std::int64_t run,
                     std::string owner, std::chrono::milliseconds ttl)
    : client_(client), meta_(meta), db_(std::move(db)), where_(std::move(where)), run_(run), owner_(std::move(owner)),
      ttl_(ttl) {}

Status UnitBoard::publish(const std::vector<PublishedUnit>& units) {
  // The claims' filter (run, state, shard), so that a claim reads the run's pending units, not every table's
  // document. Made once; later runs only confirm it.
  if (auto st = create_index(client_, db_, kMetadataCollection, {"unit_run", "unit_state", "unit_shard"}, false,
                             "m2m_units", where_);
      !st)
    return st;
  std::vector<Bson> sets;
  sets.reserve(units.size());
  std::vector<std::pair<std::string, const Bson*>> updates;
  for (const auto& u : units) {
    Bson update;
    bson_t set, insert;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    BSON_APPEND_INT64(&set, "unit_run", run_);
    append_text(&set, "unit_kind", "table");
    append_text(&set, "unit_state", kPending);
    BSON_APPEND_INT32(&set, "unit_shard", static_cast<std::int32_t>(u.shard));
    BSON_APPEND_INT64(&set, "unit_size", static_cast<std::int64_t>(u.size));
    BSON_APPEND_BOOL(&set, "unit_quiet", u.quiet);
    BSON_APPEND_NULL(&set, "unit_owner");
    BSON_APPEND_DATE_TIME(&set, "unit_expires", 0);
    append_text(&set, "unit_reason", "");
    BSON_APPEND_INT64(&set, "fence", run_);
    bson_append_document_end(update.get(), &set);
    // A table synced for the first time has no record yet: until it has one, it is "planned".
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$setOnInsert", &insert);
    append_text(&insert, "status", "planned");
    bson_append_document_end(update.get(), &insert);
    sets.push_back(std::move(update));
  }
  for (std::size_t i = 0; i < units.size(); ++i) updates.emplace_back(units[i].table, &sets[i]);
  return meta_.update(updates, false, "publishing the run's units");
}

Status UnitBoard::publish_ranges(const std::string& table, const std::vector<RangeState>& ranges,
                                 const std::vector<std::uint32_t>& shards, std::uint64_t size, const std::string& reason) {
  std::vector<Bson> sets;
  sets.reserve(ranges.size());
  std::vector<std::pair<std::string, const Bson*>> updates;
  bool all_done = true;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const auto& r = ranges[i];
    all_done = all_done && r.done;
    Bson update;
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    BSON_APPEND_INT64(&set, "unit_run", run_);
    append_text(&set, "unit_kind", "range");
    append_text(&set, "unit_state", r.done ? kDone : kPending);
    BSON_APPEND_INT32(&set, "unit_shard", static_cast<std::int32_t>(i < shards.size() ? shards[i] : 0));
    BSON_APPEND_INT64(&set, "unit_size", static_cast<std::int64_t>(size));
    BSON_APPEND_NULL(&set, "unit_owner");
    BSON_APPEND_DATE_TIME(&set, "unit_expires", 0);
    append_text(&set, "unit_reason", reason);
    BSON_APPEND_INT64(&set, "fence", run_);
    bson_append_document_end(update.get(), &set);
    sets.push_back(std::move(update));
  }
  for (std::size_t i = 0; i < ranges.size(); ++i)
    updates.emplace_back(MetadataStore::range_id(table, ranges[i].index), &sets[i]);
  if (auto st = meta_.update(updates, true, "publishing the key ranges of " + table); !st) return st;
  // The table unit now waits for its ranges (or, with every range done already, is its finish).
  Bson update;
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  append_text(&set, "unit_kind", "finish");
  append_text(&set, "unit_state", all_done ? kPending : kRanges);
  BSON_APPEND_NULL(&set, "unit_owner");
  BSON_APPEND_DATE_TIME(&set, "unit_expires", 0);
  append_text(&set, "unit_reason", reason);
  BSON_APPEND_INT64(&set, "fence", run_);
  bson_append_document_end(update.get(), &set);
  return meta_.update({{table, &update}}, false, "publishing the key ranges of " + table);
}

Expected<std::optional<UnitClaim>> UnitBoard::claim(int shard) {
  // Tier by tier, as ops::next_claim orders them: this shard's own pending units, any pending unit, then
  // a unit whose lease expired (its holder died or stalled: it is taken over).
  for (int tier = 0; tier < 3; ++tier) {
    Bson cmd;
    BSON_APPEND_UTF8(cmd.get(), "findAndModify", kMetadataCollection);
    bson_t query, sort;
    BSON_APPEND_DOCUMENT_BEGIN(cmd.get(), "query", &query);
    BSON_APPEND_INT64(&query, "unit_run", run_);
    if (tier < 2) {
      append_text(&query, "unit_state", kPending);
      if (tier == 0) BSON_APPEND_INT32(&query, "unit_shard", shard);
    } else {
      append_text(&query, "unit_state", kClaimed);
      bson_t expr, lt;
      BSON_APPEND_DOCUMENT_BEGIN(&query, "$expr", &expr);
      BSON_APPEND_ARRAY_BEGIN(&expr, "$lt", &lt);
      BSON_APPEND_UTF8(&lt, "0", "$unit_expires");
      BSON_APPEND_UTF8(&lt, "1", "$$NOW");
      bson_append_array_end(&expr, &lt);
      bson_append_document_end(&query, &expr);
    }
    bson_append_document_end(cmd.get(), &query);
    BSON_APPEND_DOCUMENT_BEGIN(cmd.get(), "sort", &sort);
    if (tier < 2) BSON_APPEND_INT32(&sort, "unit_size", -1);
    else BSON_APPEND_INT32(&sort, "unit_expires", 1);
    bson_append_document_end(cmd.get(), &sort);
    {
      bson_t stages, stage, set, add, args, if_null, null_args;
      BSON_APPEND_ARRAY_BEGIN(cmd.get(), "update", &stages);
      BSON_APPEND_DOCUMENT_BEGIN(&stages, "0", &stage);
      BSON_APPEND_DOCUMENT_BEGIN(&stage, "$set", &set);
      append_text(&set, "unit_state", kClaimed);
      append_text(&set, "unit_owner", owner_);
      append_server_time_plus(&set, "unit_expires", ttl_);
      BSON_APPEND_BOOL(&set, "unit_taken_over", tier == 2);
      // unit_token + 1: every claim a new token, so the previous holder's writes are refused.
      BSON_APPEND_DOCUMENT_BEGIN(&set, "unit_token", &add);
      BSON_APPEND_ARRAY_BEGIN(&add, "$add", &args);
      BSON_APPEND_DOCUMENT_BEGIN(&args, "0", &if_null);
      BSON_APPEND_ARRAY_BEGIN(&if_null, "$ifNull", &null_args);
      BSON_APPEND_UTF8(&null_args, "0", "$unit_token");
      BSON_APPEND_INT64(&null_args, "1", 0);
      bson_append_array_end(&if_null, &null_args);
      bson_append_document_end(&args, &if_null);
      BSON_APPEND_INT64(&args, "1", 1);
      bson_append_array_end(&add, &args);
      bson_append_document_end(&set, &add);
      bson_append_document_end(&stage, &set);
      bson_append_document_end(&stages, &stage);
      bson_append_array_end(cmd.get(), &stages);
    }
    BSON_APPEND_BOOL(cmd.get(), "new", true);
    Reply reply;
    bson_error_t error;
    if (!write_command(client_, db_, cmd.get(), reply, &error)) return classify(error, where_, "claiming a work unit");
    bson_iter_t it;
    if (!bson_iter_init_find(&it, reply.get(), "value") || !BSON_ITER_HOLDS_DOCUMENT(&it)) continue;
    uint32_t len = 0;
    const uint8_t* data = nullptr;
    bson_iter_document(&it, &len, &data);
    bson_t doc;
    if (!bson_init_static(&doc, data, len)) continue;
    UnitClaim c;
    const std::string kind = text_field(&doc, "unit_kind");
    c.kind = kind == "range" ? UnitClaim::Kind::range : kind == "finish" ? UnitClaim::Kind::finish : UnitClaim::Kind::table;
    c.reason = text_field(&doc, "unit_reason");
    c.taken_over = tier == 2;
    bson_iter_t f;
    if (bson_iter_init_find(&f, &doc, "unit_token") && BSON_ITER_HOLDS_NUMBER(&f)) c.token = bson_iter_as_int64(&f);
    c.quiet = bson_iter_init_find(&f, &doc, "unit_quiet") && BSON_ITER_HOLDS_BOOL(&f) && bson_iter_bool(&f);
    if (c.kind == UnitClaim::Kind::range) {
      c.range_state = range_state_from(&doc);
      c.table = c.range_state->table;
      c.range = c.range_state->index;
    } else {
      c.table_state = table_state_from(&doc);
      c.table = c.table_state->table_name;
    }
    return std::optional<UnitClaim>(std::move(c));
  }
  return std::optional<UnitClaim>();
}

Status UnitBoard::set_state(const UnitClaim& c, bool done) {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson selector, update;
  append_unit_selector(selector.get(), c);
  BSON_APPEND_INT64(selector.get(), "unit_run", run_);
  BSON_APPEND_INT64(selector.get(), "unit_token", c.token);
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  append_text(&set, "unit_state", done ? kDone : kPending);
  BSON_APPEND_NULL(&set, "unit_owner");
  BSON_APPEND_DATE_TIME(&set, "unit_expires", 0);
  bson_append_document_end(update.get(), &set);
  bson_error_t error;
  if (!mongoc_collection_update_one(coll.get(), selector.get(), update.get(), nullptr, nullptr, &error))
    return classify(error, where_, done ? "recording a work unit done" : "releasing a work unit");
  return success();
}

Status UnitBoard::complete(const UnitClaim& c) { return set_state(c, true); }
Status UnitBoard::release(const UnitClaim& c) { return set_state(c, false); }

Status UnitBoard::range_ended(const std::string& table) {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson filter;
  append_text(filter.get(), "range_of", table);
  BSON_APPEND_INT64(filter.get(), "unit_run", run_);
  bson_t ne;
  BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "unit_state", &ne);
  append_text(&ne, "$ne", kDone);
  bson_append_document_end(filter.get(), &ne);
  bson_error_t error;
  const std::int64_t left = mongoc_collection_count_documents(coll.get(), filter.get(), nullptr, nullptr, nullptr, &error);
  if (left < 0) return classify(error, where_, "counting the ranges left of " + table);
  if (left > 0) return success();
  // The last range ended: the table's finish is claimable (once: only from "ranges").
  Bson selector, update;
  append_text(selector.get(), "table_name", table);
  BSON_APPEND_INT64(selector.get(), "unit_run", run_);
  append_text(selector.get(), "unit_state", kRanges);
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  append_text(&set, "unit_state", kPending);
  bson_append_document_end(update.get(), &set);
  if (!mongoc_collection_update_one(coll.get(), selector.get(), update.get(), nullptr, nullptr, &error))
    return classify(error, where_, "making the finish of " + table + " claimable");
  return success();
}

Expected<std::int64_t> UnitBoard::unfinished() {
  auto coll = collection(client_, db_, kMetadataCollection);
  Bson filter;
  BSON_APPEND_INT64(filter.get(), "unit_run", run_);
  bson_t ne;
  BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "unit_state", &ne);
  append_text(&ne, "$ne", kDone);
  bson_append_document_end(filter.get(), &ne);
  bson_error_t error;
  const std::int64_t n = mongoc_collection_count_documents(coll.get(), filter.get(), nullptr, nullptr, nullptr, &error);
  if (n < 0) return classify(error, where_, "counting the units left");
  return n;
}

// ---- UnitKeeper ----------------------------------------------------------------------------------------

UnitKeeper::UnitKeeper(Pool& pool, std::string db, std::int64_t run, std::chrono::milliseconds ttl, Logger& log)
    : pool_(pool), db_(std::move(db)), run_(run), ttl_(ttl), log_(log) {
  thread_ = std::thread([this] { loop(); });
}

UnitKeeper::~UnitKeeper() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void UnitKeeper::hold(const UnitClaim& c) {
  std::lock_guard lock(mutex_);
  Held h;
  h.by_id = c.kind == UnitClaim::Kind::range;
  h.key = h.by_id ? MetadataStore::range_id(c.table, c.range) : c.table;
  h.label = c.label();
  held_[c.token][h.key] = std::move(h);
}

void UnitKeeper::drop(const UnitClaim& c) {
  std::lock_guard lock(mutex_);
  const std::string key = c.kind == UnitClaim::Kind::range ? MetadataStore::range_id(c.table, c.range) : c.table;
  auto it = held_.find(c.token);
  if (it == held_.end()) return;
  it->second.erase(key);
  if (it->second.empty()) held_.erase(it);
}

void UnitKeeper::loop() {
  auto client = pool_.acquire();
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, ttl_ / 3, [this] { return done_; })) {
    // One update command for every unit held: renewed while its token is the claim's.
    std::vector<std::pair<std::int64_t, Held>> units;
    for (const auto& [token, by_key] : held_)
      for (const auto& [key, h] : by_key) units.emplace_back(token, h);
    lock.unlock();
    if (!units.empty()) {
      Bson cmd;
      BSON_APPEND_UTF8(cmd.get(), "update", kMetadataCollection);
      bson_t updates;
      BSON_APPEND_ARRAY_BEGIN(cmd.get(), "updates", &updates);
      for (std::size_t i = 0; i < units.size(); ++i) {
        const auto& [token, h] = units[i];
        bson_t one, q;
        const std::string index = std::to_string(i);
        BSON_APPEND_DOCUMENT_BEGIN(&updates, index.c_str(), &one);
        BSON_APPEND_DOCUMENT_BEGIN(&one, "q", &q);
        if (h.by_id) BSON_APPEND_UTF8(&q, "_id", h.key.c_str());
        else append_text(&q, "table_name", h.key);
        BSON_APPEND_INT64(&q, "unit_run", run_);
        BSON_APPEND_INT64(&q, "unit_token", token);
        bson_append_document_end(&one, &q);
        append_renewal(&one, "unit_expires", ttl_);
        bson_append_document_end(&updates, &one);
      }
      bson_append_array_end(cmd.get(), &updates);
      Reply reply;
      bson_error_t error;
      if (!write_command(client, db_, cmd.get(), reply, &error)) {
        log_.warn("could not renew the leases of {} work unit{}: {}", units.size(), units.size() == 1 ? "" : "s",
                  redact_uri(error.message));
      } else {
        bson_iter_t it;
        const std::int64_t matched = bson_iter_init_find(&it, reply.get(), "n") ? bson_iter_as_int64(&it) : 0;
        if (matched < static_cast<std::int64_t>(units.size()))
          log_.warn("{} of {} work units held here were taken over by another shard (their leases had expired); "
                    "their next writes are refused",
                    static_cast<std::int64_t>(units.size()) - matched, units.size());
      }
    }
    lock.lock();
  }
}

Expected<std::vector<HeldUnit>> read_held_units(Client& client, const std::string& db, std::string_view where) {
  auto coll = collection(client, db, kMetadataCollection);
  Bson filter, opts;
  append_text(filter.get(), "unit_state", kClaimed);
  bson_t sort;
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, "unit_owner", 1);
  bson_append_document_end(opts.get(), &sort);
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  std::vector<HeldUnit> out;
  const bson_t* doc;
  const std::int64_t now = now_epoch_ms();
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    HeldUnit u;
    u.kind = text_field(doc, "unit_kind");
    u.owner = text_field(doc, "unit_owner");
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "unit_expires") && BSON_ITER_HOLDS_DATE_TIME(&it)) u.expires_at_ms = bson_iter_date_time(&it);
    if (u.expires_at_ms <= now) continue;  // expired: nobody holds it now
    if (u.kind == "range") {
      const RangeState r = range_state_from(doc);
      u.unit = fmt::format("{} [{}/{}]", r.table, r.index + 1, r.count);
      u.checkpoint = r.checkpoint;
    } else {
      u.unit = table_state_from(doc).table_name;
    }
    out.push_back(std::move(u));
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return classify(error, where, "reading the work units");
  return out;
}

}  // namespace m2m::mongo
