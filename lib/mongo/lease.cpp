#include "mongo/lease.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <unistd.h>

namespace m2m::mongo {

std::string lease_owner_id() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return fmt::format("{}:{}", host, getpid());
}

namespace {

// The lease document: {_id: "sync", owner: "host:pid" | null, expires_at: date, acquired_at: date,
// token: int64}. It is never deleted, so the token only grows: a released lease keeps its token and
// has owner null.
constexpr const char* kLeaseId = "sync";

LeaseInfo lease_from(const bson_t* doc) {
  LeaseInfo info;
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "owner") && BSON_ITER_HOLDS_UTF8(&it)) info.owner = bson_iter_utf8(&it, nullptr);
  if (bson_iter_init_find(&it, doc, "expires_at") && BSON_ITER_HOLDS_DATE_TIME(&it))
    info.expires_at_ms = bson_iter_date_time(&it);
  if (bson_iter_init_find(&it, doc, "acquired_at") && BSON_ITER_HOLDS_DATE_TIME(&it))
    info.acquired_at_ms = bson_iter_date_time(&it);
  if (bson_iter_init_find(&it, doc, "token") && BSON_ITER_HOLDS_NUMBER(&it)) info.token = bson_iter_as_int64(&it);
  if (bson_iter_init_find(&it, doc, "shards") && BSON_ITER_HOLDS_NUMBER(&it))
    info.shards = static_cast<int>(bson_iter_as_int64(&it));
  auto flag = [&](const char* key) { return bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it); };
  info.published = flag("published");
  info.settings.full = flag("run_full");
  info.settings.reconcile = flag("run_reconcile");
  info.settings.force_deletes = flag("run_force_deletes");
  info.settings.taken_over = flag("run_taken_over");
  return info;
}

std::string host_of(const std::string& owner) {
  const auto colon = owner.rfind(':');
  return colon == std::string::npos ? owner : owner.substr(0, colon);
}

// True when `owner` ("host:pid") names a process on this host that no longer exists: a run killed with
// SIGKILL leaves its lease behind, and waiting out its expiry would only delay the next cron run. Such a
// run has no write in flight either.
bool owner_is_dead_here(const std::string& owner) {
  const auto colon = owner.rfind(':');
  if (colon == std::string::npos) return false;
  if (host_of(owner) != host_of(lease_owner_id())) return false;
  const auto pid = parse_int(owner.substr(colon + 1));
  if (!pid || *pid <= 0) return false;
  return ::kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH;
}

enum class TryResult { acquired, held, error };

struct Attempt {
  TryResult result = TryResult::error;
  Failure failure;
  std::int64_t token = 0;
  std::optional<LeaseInfo> previous;  // the document before this acquisition (acquired), or the holder (held)
};

// One findAndModify: take the lease if it is free (never taken, or released), expired, ours already, or
// held by `dead_owner`. When another owner holds it, the upsert collides with the existing _id (E11000):
// that is the "held" answer. The previous document comes back, so the new token is its token + 1, as the
// $inc wrote it.
Attempt try_acquire(Client& client, const Lease::Options& o, const std::optional<std::string>& dead_owner) {
  auto coll = collection(client, o.db, kLockCollection);
  const auto now = now_epoch_ms();
  Bson query, update;
  BSON_APPEND_UTF8(query.get(), "_id", kLeaseId);
  if (dead_owner) {
    BSON_APPEND_UTF8(query.get(), "owner", dead_owner->c_str());
  } else {
    bson_t ors, a, b, c, lt;
    BSON_APPEND_ARRAY_BEGIN(query.get(), "$or", &ors);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, "0", &a);
    BSON_APPEND_DOCUMENT_BEGIN(&a, "expires_at", &lt);
    BSON_APPEND_DATE_TIME(&lt, "$lt", now);
    bson_append_document_end(&a, &lt);
    bson_append_document_end(&ors, &a);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, "1", &b);
    BSON_APPEND_UTF8(&b, "owner", o.owner.c_str());
    bson_append_document_end(&ors, &b);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, "2", &c);
    BSON_APPEND_NULL(&c, "owner");  // released (or never had one)
    bson_append_document_end(&ors, &c);
    bson_append_array_end(query.get(), &ors);
  }
  bson_t set, inc;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  BSON_APPEND_UTF8(&set, "owner", o.owner.c_str());
  BSON_APPEND_DATE_TIME(&set, "expires_at", now + o.ttl.count());
  BSON_APPEND_DATE_TIME(&set, "acquired_at", now);
  // A sharded run's shards join it once it is published (see Lease::publish and ShardSlot).
  BSON_APPEND_INT32(&set, "shards", o.shards);
  BSON_APPEND_BOOL(&set, "published", false);
  bson_append_document_end(update.get(), &set);
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$inc", &inc);
  BSON_APPEND_INT64(&inc, "token", 1);
  bson_append_document_end(update.get(), &inc);

  Reply reply;
  bson_error_t error;
  Attempt a;
  const bool ok = mongoc_collection_find_and_modify(coll.get(), query.get(), nullptr, update.get(), nullptr, false,
                                                    true, false, reply.get(), &error);
  if (ok) {
    a.result = TryResult::acquired;
    bson_iter_t it;
    a.token = 1;
    if (bson_iter_init_find(&it, reply.get(), "value") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
      uint32_t len = 0;
      const uint8_t* data = nullptr;
      bson_iter_document(&it, &len, &data);
      bson_t old;
      if (bson_init_static(&old, data, len)) {
        a.previous = lease_from(&old);
        a.token = a.previous->token + 1;
      }
    }
    return a;
  }
  if (error.code == 11000) {
    a.result = TryResult::held;
    if (auto info = read_lease(client, o.db, "MongoDB"); info && *info) a.previous = **info;
    return a;
  }
  a.result = TryResult::error;
  a.failure = classify(error, "MongoDB", "taking the run lock");
  return a;
}

std::string describe_holder(const LeaseInfo& l) {
  return fmt::format("{} (lease expires in {} unless renewed)", l.owner,
                     format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, l.expires_at_ms - now_epoch_ms()))));
}

// The lease back to "free", keeping its token. Only while it is still ours (owner and token).
bool release(mongoc_client_t* client, const std::string& db, const std::string& owner, std::int64_t token,
             bson_error_t* error) {
  auto coll = collection(client, db, kLockCollection);
  Bson selector, update;
  BSON_APPEND_UTF8(selector.get(), "_id", kLeaseId);
  BSON_APPEND_UTF8(selector.get(), "owner", owner.c_str());
  BSON_APPEND_INT64(selector.get(), "token", token);
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  BSON_APPEND_NULL(&set, "owner");
  BSON_APPEND_DATE_TIME(&set, "expires_at", 0);
  BSON_APPEND_DATE_TIME(&set, "released_at", now_epoch_ms());
  bson_append_document_end(update.get(), &set);
  return mongoc_collection_update_one(coll.get(), selector.get(), update.get(), nullptr, nullptr, error);
}

}  // namespace

Expected<std::optional<LeaseInfo>> read_lease(Client& client, const std::string& db, std::string_view where) {
  auto coll = collection(client, db, kLockCollection);
  Bson filter;
  BSON_APPEND_UTF8(filter.get(), "_id", kLeaseId);
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), nullptr, nullptr));
  const bson_t* doc;
  std::optional<LeaseInfo> out;
  if (mongoc_cursor_next(cursor.get(), &doc)) out = lease_from(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return classify(error, where, "reading the run lock");
  return out;
}

Lease::Lease(Pool& pool, Options options, Logger& log, StopToken* stop, std::int64_t token,
             std::optional<LeaseInfo> taken_over)
    : pool_(pool), options_(std::move(options)), log_(log), stop_(stop), token_(token), taken_over_(std::move(taken_over)) {
  // If this process must end before it can stop cleanly (a server stopped answering), its last act is
  // to hand the lease back through a connection of its own, so the next run need not wait for expiry.
  if (stop_)
    abandon_ = stop_->on_abandon([this] {
      auto client = pool_.emergency_client(std::chrono::milliseconds(300));
      bson_error_t error;
      if (client && release(client.get(), options_.db, options_.owner, token_, &error))
        log_.info("released the run lock");
      else
        log_.warn("could not release the run lock (it expires by itself in at most {})", format_duration(options_.ttl));
    });
  renewer_ = std::thread([this] { renew_loop(); });
}

Expected<std::unique_ptr<Lease>> Lease::acquire(Pool& pool, const Options& o, Logger& log, StopToken* stop) {
  auto client = pool.acquire();
  const auto start = std::chrono::steady_clock::now();
  const bool forever = o.wait && *o.wait == std::chrono::milliseconds::max();
  const auto deadline = o.wait && !forever ? start + *o.wait : start;
  bool announced = false;
  std::optional<std::string> dead_owner;
  while (true) {
    Attempt a = try_acquire(client, o, dead_owner);
    dead_owner.reset();
    if (a.result == TryResult::acquired) {
      std::optional<LeaseInfo> taken_over;
      if (a.previous && !a.previous->owner.empty() && a.previous->owner != o.owner) {
        if (owner_is_dead_here(a.previous->owner)) {
          log.warn("took over the run lock of {}, which no longer runs on this host", a.previous->owner);
        } else {
          // Expired while its owner may still be alive (another host, or a process that still runs but
          // stopped renewing): that run may still have a write on its way. See the callers.
          log.warn("took over the run lock of {}, which expired {} ago without being released", a.previous->owner,
                   format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, now_epoch_ms() - a.previous->expires_at_ms))));
          taken_over = a.previous;
        }
      }
      log.debug("run lock taken by {} (token {})", o.owner, a.token);
      return std::unique_ptr<Lease>(new Lease(pool, o, log, stop, a.token, std::move(taken_over)));
    }
    if (a.result == TryResult::error) return a.failure;
    const LeaseInfo holder = a.previous.value_or(LeaseInfo{"unknown", 0, 0, 0, 0, false, {}});
    if (owner_is_dead_here(holder.owner)) {
      dead_owner = holder.owner;
      continue;
    }
    // A sharded run of as many shards: this shard joins it (see ShardSlot) rather than wait for its end.
    if (o.shards > 0 && holder.shards == o.shards)
      return Failure{Exit::tempfail,
                     fmt::format("a sharded run of {} shards holds the lock on MongoDB database {}: {}", holder.shards,
                                 o.db, describe_holder(holder)),
                     false, 0, Cause::lock_held};
    const auto now = std::chrono::steady_clock::now();
    if (!o.wait || (!forever && now >= deadline) || (stop && stop->requested()))
      return Failure{Exit::tempfail,
                     fmt::format("another mysql2mongo run holds the lock on MongoDB database {}: {}; retry later, or "
                                 "pass --wait to queue behind it",
                                 o.db, describe_holder(holder)),
                     false, 0, Cause::lock_held};
    if (!announced) {
      log.info("waiting for the run lock held by {}", describe_holder(holder));
      announced = true;
    }
    // Poll once a second, but never past the deadline, and wake at once on a stop request.
    auto pause = std::chrono::milliseconds(1000);
    if (!forever) pause = std::min(pause, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                                              std::chrono::milliseconds(1));
    if (stop) stop->sleep_for(pause);
    else std::this_thread::sleep_for(pause);
  }
}

void Lease::renew_loop() {
  auto client = pool_.acquire();
  using clock = std::chrono::steady_clock;
  auto last_renewed = clock::now();
  // Renew every third of the lifetime; after a failure, retry every second. A lease that could not be
  // renewed for most of its lifetime may already belong to another run: stop writing before that can be.
  const auto every = options_.ttl / 3;
  const auto give_up = options_.ttl - std::min<std::chrono::milliseconds>(options_.ttl / 6, std::chrono::seconds(10));
  auto next = every;
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, next, [this] { return done_; })) {
    lock.unlock();
    auto coll = collection(client, options_.db, kLockCollection);
    Bson selector, update;
    BSON_APPEND_UTF8(selector.get(), "_id", kLeaseId);
    BSON_APPEND_UTF8(selector.get(), "owner", options_.owner.c_str());
    BSON_APPEND_INT64(selector.get(), "token", token_);
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    BSON_APPEND_DATE_TIME(&set, "expires_at", now_epoch_ms() + options_.ttl.count());
    bson_append_document_end(update.get(), &set);
    Reply reply;
    bson_error_t error;
    const bool ok = mongoc_collection_update_one(coll.get(), selector.get(), update.get(), nullptr, reply.get(), &error);
    bson_iter_t it;
    const bool matched = ok && bson_iter_init_find(&it, reply.get(), "matchedCount") && bson_iter_as_int64(&it) > 0;
    lock.lock();
    if (done_) break;
    if (matched) {
      last_renewed = clock::now();
      next = every;
      continue;
    }
    if (ok) {
      log_.error("the run lock was taken over by another run (ours had expired): stopping");
    } else if (clock::now() - last_renewed < give_up) {
      // A passing network error: the lease lasts ttl, and the next attempt may succeed.
      log_.warn("could not renew the run lock: {}", redact_uri(error.message));
      next = std::chrono::seconds(1);
      continue;
    } else {
      log_.error("could not renew the run lock for {} ({}): another run may take it over, so this one stops",
                 format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - last_renewed)),
                 redact_uri(error.message));
    }
    lost_.store(true);
    if (stop_) stop_->request_lease_lost();
    break;
  }
}

Status Lease::publish(const RunSettings& settings) {
  auto client = pool_.acquire();
  auto coll = collection(client, options_.db, kLockCollection);
  Bson selector, update;
  BSON_APPEND_UTF8(selector.get(), "_id", kLeaseId);
  BSON_APPEND_UTF8(selector.get(), "owner", options_.owner.c_str());
  BSON_APPEND_INT64(selector.get(), "token", token_);
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  BSON_APPEND_BOOL(&set, "published", true);
  BSON_APPEND_BOOL(&set, "run_full", settings.full);
  BSON_APPEND_BOOL(&set, "run_reconcile", settings.reconcile);
  BSON_APPEND_BOOL(&set, "run_force_deletes", settings.force_deletes);
  BSON_APPEND_BOOL(&set, "run_taken_over", settings.taken_over);
  bson_append_document_end(update.get(), &set);
  Reply reply;
  bson_error_t error;
  if (!mongoc_collection_update_one(coll.get(), selector.get(), update.get(), nullptr, reply.get(), &error))
    return classify(error, "MongoDB", "publishing the sharded run");
  return success();
}

void Lease::release_now() {
  auto client = pool_.acquire();
  bson_error_t error;
  if (!release(client.get(), options_.db, options_.owner, token_, &error))
    log_.warn("could not release the run lock (it expires by itself): {}", redact_uri(error.message));
}

// ---- shard slots -------------------------------------------------------------------------------------

namespace {

// {_id: "shard:I", shard: I, run: token, owner: "host:pid", expires_at: date, finished: bool}, one per
// shard index, never deleted: a later run takes the slot over (run differs).
std::string slot_id(int shard) { return fmt::format("shard:{}", shard); }


// {$expr: {$lt: ["$field", "$$NOW"]}}: expired by the server's clock.
void append_expired(bson_t* doc, const char* field) {
  bson_t expr, lt;
  BSON_APPEND_DOCUMENT_BEGIN(doc, "$expr", &expr);
  BSON_APPEND_ARRAY_BEGIN(&expr, "$lt", &lt);
  const std::string path = std::string("$") + field;
  BSON_APPEND_UTF8(&lt, "0", path.c_str());
  BSON_APPEND_UTF8(&lt, "1", "$$NOW");
  bson_append_array_end(&expr, &lt);
  bson_append_document_end(doc, &expr);
}

ShardSlotInfo slot_from(const bson_t* doc) {
  ShardSlotInfo s;
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "shard") && BSON_ITER_HOLDS_NUMBER(&it)) s.shard = static_cast<int>(bson_iter_as_int64(&it));
  if (bson_iter_init_find(&it, doc, "run") && BSON_ITER_HOLDS_NUMBER(&it)) s.run = bson_iter_as_int64(&it);
  if (bson_iter_init_find(&it, doc, "owner") && BSON_ITER_HOLDS_UTF8(&it)) s.owner = bson_iter_utf8(&it, nullptr);
  if (bson_iter_init_find(&it, doc, "expires_at") && BSON_ITER_HOLDS_DATE_TIME(&it)) s.expires_at_ms = bson_iter_date_time(&it);
  s.finished = bson_iter_init_find(&it, doc, "finished") && BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
  return s;
}

// Runs a write command (findAndModify, update) on _sync_lock with the collection's write concern.
bool lock_command(Client& client, const std::string& db, const bson_t* command, Reply& reply, bson_error_t* error) {
  auto coll = collection(client, db, kLockCollection);
  bson_destroy(reply.get());
  return mongoc_collection_write_command_with_opts(coll.get(), command, nullptr, reply.get(), error);
}

}  // namespace

Expected<std::vector<ShardSlotInfo>> read_shard_slots(Client& client, const std::string& db, std::string_view where) {
  auto coll = collection(client, db, kLockCollection);
  Bson filter, opts;
  bson_t exists, sort;
  BSON_APPEND_DOCUMENT_BEGIN(filter.get(), "shard", &exists);
  BSON_APPEND_BOOL(&exists, "$exists", true);
  bson_append_document_end(filter.get(), &exists);
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  BSON_APPEND_INT32(&sort, "shard", 1);
  bson_append_document_end(opts.get(), &sort);
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts.get(), nullptr));
  std::vector<ShardSlotInfo> out;
  const bson_t* doc;
  while (mongoc_cursor_next(cursor.get(), &doc)) out.push_back(slot_from(doc));
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) return classify(error, where, "reading the shards of the run");
  return out;
}

ShardSlot::ShardSlot(Pool& pool, std::string db, std::string owner, int shard, std::int64_t run,
                     std::chrono::milliseconds ttl, Logger& log)
    : pool_(pool), db_(std::move(db)), owner_(std::move(owner)), shard_(shard), run_(run), ttl_(ttl), log_(log) {
  renewer_ = std::thread([this] { renew_loop(); });
}

Expected<std::unique_ptr<ShardSlot>> ShardSlot::take(Pool& pool, const std::string& db, const std::string& owner,
                                                     int shard, std::int64_t run, std::chrono::milliseconds ttl,
                                                     Logger& log) {
  auto client = pool.acquire();
  const std::string id = slot_id(shard);
  Bson cmd;
  BSON_APPEND_UTF8(cmd.get(), "findAndModify", kLockCollection);
  {
    // Free for this run: never taken in it, or taken by a process that let its lease expire unfinished.
    bson_t query, ors, other, expired, ne;
    BSON_APPEND_DOCUMENT_BEGIN(cmd.get(), "query", &query);
    BSON_APPEND_UTF8(&query, "_id", id.c_str());
    BSON_APPEND_ARRAY_BEGIN(&query, "$or", &ors);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, "0", &other);
    BSON_APPEND_DOCUMENT_BEGIN(&other, "run", &ne);
    BSON_APPEND_INT64(&ne, "$ne", run);
    bson_append_document_end(&other, &ne);
    bson_append_document_end(&ors, &other);
    BSON_APPEND_DOCUMENT_BEGIN(&ors, "1", &expired);
    BSON_APPEND_BOOL(&expired, "finished", false);
    append_expired(&expired, "expires_at");
    bson_append_document_end(&ors, &expired);
    bson_append_array_end(&query, &ors);
    bson_append_document_end(cmd.get(), &query);
  }
  {
    bson_t stages, stage, set;
    BSON_APPEND_ARRAY_BEGIN(cmd.get(), "update", &stages);
    BSON_APPEND_DOCUMENT_BEGIN(&stages, "0", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$set", &set);
    BSON_APPEND_INT32(&set, "shard", shard);
    BSON_APPEND_INT64(&set, "run", run);
    BSON_APPEND_UTF8(&set, "owner", owner.c_str());
    BSON_APPEND_BOOL(&set, "finished", false);
    append_server_time_plus(&set, "expires_at", ttl);
    bson_append_document_end(&stage, &set);
    bson_append_document_end(&stages, &stage);
    bson_append_array_end(cmd.get(), &stages);
  }
  BSON_APPEND_BOOL(cmd.get(), "upsert", true);
  BSON_APPEND_BOOL(cmd.get(), "new", true);
  Reply reply;
  bson_error_t error;
  if (!lock_command(client, db, cmd.get(), reply, &error)) {
    if (error.code != 11000)
      return classify(error, "MongoDB", "joining the sharded run");
    // Taken in this run by a process that is alive, or that finished: this one is not of that run.
    std::string holder = "another process";
    if (auto slots = read_shard_slots(client, db, "MongoDB"))
      for (const auto& s : *slots)
        if (s.shard == shard)
          holder = s.finished ? fmt::format("{} (finished)", s.owner)
                              : fmt::format("{} (lease expires in {} unless renewed)", s.owner,
                                            format_duration(std::chrono::milliseconds(
                                                std::max<std::int64_t>(0, s.expires_at_ms - now_epoch_ms()))));
    return Failure{Exit::tempfail,
                   fmt::format("another mysql2mongo run holds the lock on MongoDB database {}: every unit of shard {} "
                               "is held by the run in progress, whose shard {} is {}; retry later",
                               db, shard, shard, holder),
                   false, 0, Cause::lock_held};
  }
  log.debug("joined the sharded run (token {}) as shard {}", run, shard);
  return std::unique_ptr<ShardSlot>(new ShardSlot(pool, db, owner, shard, run, ttl, log));
}

void ShardSlot::renew_loop() {
  auto client = pool_.acquire();
  const std::string id = slot_id(shard_);
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, ttl_ / 3, [this] { return done_; })) {
    lock.unlock();
    Bson cmd;
    BSON_APPEND_UTF8(cmd.get(), "update", kLockCollection);
    bson_t updates, one, q;
    BSON_APPEND_ARRAY_BEGIN(cmd.get(), "updates", &updates);
    BSON_APPEND_DOCUMENT_BEGIN(&updates, "0", &one);
    BSON_APPEND_DOCUMENT_BEGIN(&one, "q", &q);
    BSON_APPEND_UTF8(&q, "_id", id.c_str());
    BSON_APPEND_INT64(&q, "run", run_);
    BSON_APPEND_UTF8(&q, "owner", owner_.c_str());
    bson_append_document_end(&one, &q);
    append_renewal(&one, "expires_at", ttl_);
    bson_append_document_end(&updates, &one);
    bson_append_array_end(cmd.get(), &updates);
    Reply reply;
    bson_error_t error;
    const bool ok = lock_command(client, db_, cmd.get(), reply, &error);
    bson_iter_t it;
    const bool matched = ok && bson_iter_init_find(&it, reply.get(), "n") && bson_iter_as_int64(&it) > 0;
    lock.lock();
    if (done_) break;
    if (ok && !matched) {
      log_.warn("shard {}: another process took this shard's place in the run over (this one's lease had expired)",
                shard_);
      lost_.store(true);
      break;
    }
    if (!ok) log_.warn("shard {}: could not renew this shard's lease: {}", shard_, redact_uri(error.message));
  }
}

ShardSlot::~ShardSlot() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  renewer_.join();
  if (lost_.load()) return;
  auto client = pool_.acquire();
  auto coll = collection(client, db_, kLockCollection);
  Bson selector, update;
  BSON_APPEND_UTF8(selector.get(), "_id", slot_id(shard_).c_str());
  BSON_APPEND_INT64(selector.get(), "run", run_);
  BSON_APPEND_UTF8(selector.get(), "owner", owner_.c_str());
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  BSON_APPEND_BOOL(&set, "finished", true);
  bson_append_document_end(update.get(), &set);
  bson_error_t error;
  if (!mongoc_collection_update_one(coll.get(), selector.get(), update.get(), nullptr, nullptr, &error))
    log_.warn("shard {}: could not record that it finished (its lease expires by itself): {}", shard_,
              redact_uri(error.message));
}

Lease::~Lease() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  renewer_.join();
  abandon_.reset();
  if (!lost_.load()) release_now();
}

}  // namespace m2m::mongo
