// The run lock: a lease document in MongoDB, so two runs (cron overlapping a long run, or two hosts)
// never sync at once. Renewed in the background while held; released at the end; taken over once expired.
//
// Each acquisition increments the lease's fencing token. Every state write of a run (checkpoints, marks,
// _sync_metadata) is conditional on that token (see MetadataStore), so a run that lost its lease while
// stalled cannot overwrite what the run that took over has written. This file is the only one that knows
// the lease document's format.
#pragma once

#include "mongo/client.hpp"
#include "util/stop.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace m2m::mongo {

inline constexpr const char* kLockCollection = "_sync_lock";

// How the shards of a sharded run (--shard) run: set by the shard that took the lock and planned the run,
// read by the shards that join it.
struct RunSettings {
  bool full = false;           // sync --full
  bool reconcile = false;      // --reconcile
  bool force_deletes = false;  // --force-deletes
  bool taken_over = false;     // the lock was taken over from a run that may still be alive
};

// What the lease document says, for `status` and for messages.
struct LeaseInfo {
  std::string owner;            // "host:pid"; empty when released
  std::int64_t expires_at_ms = 0;
  std::int64_t acquired_at_ms = 0;
  std::int64_t token = 0;       // the fencing token of the latest acquisition
  int shards = 0;               // a sharded run (--shard I/N) holds it: N; 0: a run of one host
  bool published = false;       // that sharded run's units are ready to be claimed
  RunSettings settings;
  bool live(std::int64_t now_ms) const { return !owner.empty() && expires_at_ms > now_ms; }
};

// A shard's place in a sharded run: one document per shard index in _sync_lock.
struct ShardSlotInfo {
  int shard = 0;
  std::int64_t run = 0;         // the run's fencing token
  std::string owner;            // "host:pid"
  std::int64_t expires_at_ms = 0;
  bool finished = false;        // that shard found nothing left to do and ended
};
Expected<std::vector<ShardSlotInfo>> read_shard_slots(Client& client, const std::string& db, std::string_view where);

// Reads the lease document (nullopt when no run ever took it).
Expected<std::optional<LeaseInfo>> read_lease(Client& client, const std::string& db, std::string_view where);

class Lease {
public:
  struct Options {
    std::string db;
    std::string owner;                   // "host:pid"
    std::chrono::milliseconds ttl{120'000};
    std::optional<std::chrono::milliseconds> wait;  // unset: fail at once; max(): wait forever
    int shards = 0;                      // taken by a shard of a sharded run of this many shards
  };

  // Exit::tempfail (75) with the holder's name when another run holds the lease. A stop request ends a
  // wait at once (the caller reports the signal).
  static Expected<std::unique_ptr<Lease>> acquire(Pool& pool, const Options& options, Logger& log, StopToken* stop);
  ~Lease();  // stops renewing and releases
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // The fencing token of this acquisition.
  std::int64_t token() const { return token_; }
  // The lease was taken over from a run whose lease expired while it might still be alive (another
  // host, or a process that still exists): that run may still have a write in flight.
  const std::optional<LeaseInfo>& taken_over_from() const { return taken_over_; }
  // False once another run took the lease over or it could not be renewed before it expired.
  bool held() const { return !lost_.load(); }
  // A sharded run's units are published: the shards that wait for them (see ShardSlot) start.
  Status publish(const RunSettings& settings);

private:
  Lease(Pool& pool, Options options, Logger& log, StopToken* stop, std::int64_t token,
        std::optional<LeaseInfo> taken_over);
  void renew_loop();
  void release_now();

  Pool& pool_;
  Options options_;
  Logger& log_;
  StopToken* stop_;
  std::int64_t token_;
  std::optional<LeaseInfo> taken_over_;
  std::atomic<bool> lost_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread renewer_;
  StopToken::Registration abandon_;
};

// A shard's slot in the sharded run that holds the run lock: taken when no process of this run took
// this shard index yet, or when the one that did let its lease (sync.unit_ttl, server time) expire before
// it finished; renewed in the background; marked finished at the end. Another live or finished holder of
// the slot means this process belongs to a second run: Exit::tempfail with Cause::lock_held.
class ShardSlot {
public:
  static Expected<std::unique_ptr<ShardSlot>> take(Pool& pool, const std::string& db, const std::string& owner,
                                                   int shard, std::int64_t run, std::chrono::milliseconds ttl,
                                                   Logger& log);
  ~ShardSlot();  // stops renewing; marks the slot finished while it is still ours
  ShardSlot(const ShardSlot&) = delete;
  ShardSlot& operator=(const ShardSlot&) = delete;
  // False once the slot could not be renewed (another process of this shard index took it over).
  bool held() const { return !lost_.load(); }

private:
  ShardSlot(Pool& pool, std::string db, std::string owner, int shard, std::int64_t run, std::chrono::milliseconds ttl,
            Logger& log);
  void renew_loop();

  Pool& pool_;
  std::string db_, owner_;
  int shard_;
  std::int64_t run_;
  std::chrono::milliseconds ttl_;
  Logger& log_;
  std::atomic<bool> lost_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread renewer_;
};

// "host:pid" of this process.
std::string lease_owner_id();

}  // namespace m2m::mongo
