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

constexpr const char* kLeaseId = "sync";

enum class TryResult { acquired, held, error };

// True when `owner` ("host:pid") names a process on this host that no longer exists: a run killed with
// SIGKILL leaves its lease behind, and waiting out its expiry would only delay the next cron run.
bool owner_is_dead_here(const std::string& owner) {
  const auto colon = owner.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string mine = lease_owner_id();
  if (owner.substr(0, colon) != mine.substr(0, mine.rfind(':'))) return false;
  const auto pid = parse_int(owner.substr(colon + 1));
  if (!pid || *pid <= 0) return false;
  return ::kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH;
}

// Removes the lease if it still belongs to `owner`.
void break_lease(Client& client, const std::string& db, const std::string& owner) {
  mongoc_collection_t* coll = mongoc_client_get_collection(client.get(), db.c_str(), kLockCollection);
  Bson selector;
  BSON_APPEND_UTF8(selector.get(), "_id", "sync");
  BSON_APPEND_UTF8(selector.get(), "owner", owner.c_str());
  mongoc_collection_delete_one(coll, selector.get(), nullptr, nullptr, nullptr);
  mongoc_collection_destroy(coll);
}

// One findAndModify: take the lease if it is free, expired, or already ours. When another owner holds
// it, the upsert collides with the existing _id (E11000): that is the "held" answer.
TryResult try_acquire(Client& client, const Lease::Options& o, Failure& failure, std::string& holder,
                      std::string& holder_owner) {
  mongoc_collection_t* coll = mongoc_client_get_collection(client.get(), o.db.c_str(), kLockCollection);
  const auto now = now_epoch_ms();
  Bson query, update;
  BSON_APPEND_UTF8(query.get(), "_id", kLeaseId);
  bson_t ors, a, b, lt;
  BSON_APPEND_ARRAY_BEGIN(query.get(), "$or", &ors);
  BSON_APPEND_DOCUMENT_BEGIN(&ors, "0", &a);
  BSON_APPEND_DOCUMENT_BEGIN(&a, "expires_at", &lt);
  BSON_APPEND_DATE_TIME(&lt, "$lt", now);
  bson_append_document_end(&a, &lt);
  bson_append_document_end(&ors, &a);
  BSON_APPEND_DOCUMENT_BEGIN(&ors, "1", &b);
  BSON_APPEND_UTF8(&b, "owner", o.owner.c_str());
  bson_append_document_end(&ors, &b);
  bson_append_array_end(query.get(), &ors);
  bson_t set;
  BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
  BSON_APPEND_UTF8(&set, "owner", o.owner.c_str());
  BSON_APPEND_DATE_TIME(&set, "expires_at", now + o.ttl.count());
  BSON_APPEND_DATE_TIME(&set, "acquired_at", now);
  bson_append_document_end(update.get(), &set);

  Reply reply;
  bson_error_t error;
  const bool ok = mongoc_collection_find_and_modify(coll, query.get(), nullptr, update.get(), nullptr, false, true,
                                                    true, reply.get(), &error);
  TryResult result = TryResult::acquired;
  if (!ok) {
    if (error.code == 11000 || std::string_view(error.message).find("E11000") != std::string_view::npos) {
      result = TryResult::held;
      // Name the holder in the message.
      Bson filter;
      BSON_APPEND_UTF8(filter.get(), "_id", kLeaseId);
      mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll, filter.get(), nullptr, nullptr);
      const bson_t* doc;
      if (mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t it;
        std::string owner = "unknown";
        std::int64_t expires = 0;
        if (bson_iter_init_find(&it, doc, "owner") && BSON_ITER_HOLDS_UTF8(&it)) owner = bson_iter_utf8(&it, nullptr);
        holder_owner = owner;
        if (bson_iter_init_find(&it, doc, "expires_at") && BSON_ITER_HOLDS_DATE_TIME(&it)) expires = bson_iter_date_time(&it);
        holder = fmt::format("{} (lease expires in {} unless renewed)", owner,
                             format_duration(std::chrono::milliseconds(std::max<std::int64_t>(0, expires - now))));
      }
      mongoc_cursor_destroy(cursor);
    } else {
      result = TryResult::error;
      failure = classify(error, "MongoDB", "taking the run lock");
    }
  }
  mongoc_collection_destroy(coll);
  return result;
}

}  // namespace

Lease::Lease(Pool& pool, Options options, Logger& log, std::atomic<int>* stop)
    : pool_(pool), options_(std::move(options)), log_(log), stop_(stop) {
  renewer_ = std::thread([this] { renew_loop(); });
}

Expected<std::unique_ptr<Lease>> Lease::acquire(Pool& pool, const Options& o, Logger& log, std::atomic<int>* stop) {
  auto client = pool.acquire();
  const auto deadline = o.wait ? std::chrono::steady_clock::now() + *o.wait : std::chrono::steady_clock::now();
  const bool forever = o.wait && *o.wait == std::chrono::milliseconds::max();
  bool announced = false;
  while (true) {
    Failure failure;
    std::string holder, holder_owner;
    switch (try_acquire(client, o, failure, holder, holder_owner)) {
      case TryResult::acquired:
        log.debug("run lock taken by {}", o.owner);
        return std::unique_ptr<Lease>(new Lease(pool, o, log, stop));
      case TryResult::error:
        return failure;
      case TryResult::held:
        if (owner_is_dead_here(holder_owner)) {
          log.warn("taking over the run lock of {}, which no longer runs on this host", holder_owner);
          break_lease(client, o.db, holder_owner);
          continue;
        }
        break;
    }
    if (!o.wait || (!forever && std::chrono::steady_clock::now() >= deadline) || (stop && stop->load()))
      return Failure{Exit::tempfail, fmt::format("another mysql2mongo run holds the lock on MongoDB database {}: {}; "
                                                 "retry later, or pass --wait to queue behind it",
                                                 o.db, holder)};
    if (!announced) {
      log.info("waiting for the run lock held by {}", holder);
      announced = true;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

void Lease::renew_loop() {
  auto client = pool_.acquire();
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, options_.ttl / 3, [this] { return done_; })) {
    lock.unlock();
    mongoc_collection_t* coll = mongoc_client_get_collection(client.get(), options_.db.c_str(), kLockCollection);
    Bson selector, update;
    BSON_APPEND_UTF8(selector.get(), "_id", kLeaseId);
    BSON_APPEND_UTF8(selector.get(), "owner", options_.owner.c_str());
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    BSON_APPEND_DATE_TIME(&set, "expires_at", now_epoch_ms() + options_.ttl.count());
    bson_append_document_end(update.get(), &set);
    Reply reply;
    bson_error_t error;
    const bool ok = mongoc_collection_update_one(coll, selector.get(), update.get(), nullptr, reply.get(), &error);
    mongoc_collection_destroy(coll);
    bson_iter_t it;
    const bool matched = ok && bson_iter_init_find(&it, reply.get(), "matchedCount") && bson_iter_as_int64(&it) > 0;
    if (ok && !matched) {
      log_.error("the run lock was taken over by another run (ours had expired): stopping");
      if (stop_) stop_->store(kLeaseLost);
    } else if (!ok) {
      // A passing network error: the lease lasts ttl, and the next renewal may succeed.
      log_.warn("could not renew the run lock: {}", redact_uri(error.message));
    }
    lock.lock();
  }
}

Lease::~Lease() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  cv_.notify_all();
  renewer_.join();
  auto client = pool_.acquire();
  mongoc_collection_t* coll = mongoc_client_get_collection(client.get(), options_.db.c_str(), kLockCollection);
  Bson selector;
  BSON_APPEND_UTF8(selector.get(), "_id", kLeaseId);
  BSON_APPEND_UTF8(selector.get(), "owner", options_.owner.c_str());
  bson_error_t error;
  if (!mongoc_collection_delete_one(coll, selector.get(), nullptr, nullptr, &error))
    log_.warn("could not release the run lock (it expires by itself): {}", redact_uri(error.message));
  mongoc_collection_destroy(coll);
}

}  // namespace m2m::mongo
