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

// What the lease document says, for `status` and for messages.
struct LeaseInfo {
  std::string owner;            // "host:pid"; empty when released
  std::int64_t expires_at_ms = 0;
  std::int64_t acquired_at_ms = 0;
  std::int64_t token = 0;       // the fencing token of the latest acquisition
  bool live(std::int64_t now_ms) const { return !owner.empty() && expires_at_ms > now_ms; }
};

// Reads the lease document (nullopt when no run ever took it).
Expected<std::optional<LeaseInfo>> read_lease(Client& client, const std::string& db, std::string_view where);

class Lease {
public:
  struct Options {
    std::string db;
    std::string owner;                   // "host:pid"
    std::chrono::milliseconds ttl{120'000};
    std::optional<std::chrono::milliseconds> wait;  // unset: fail at once; max(): wait forever
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

// "host:pid" of this process.
std::string lease_owner_id();

}  // namespace m2m::mongo
