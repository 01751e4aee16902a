// The run lock: a lease document in MongoDB, so two runs (cron overlapping a long run, or two hosts)
// never sync at once. Renewed in the background while held; released at the end; taken over once expired.
#pragma once

#include "mongo/client.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace m2m::mongo {

inline constexpr const char* kLockCollection = "_sync_lock";
// Written into the stop flag when the lease was lost (another run took it over): stop at once.
inline constexpr int kLeaseLost = -1;

class Lease {
public:
  struct Options {
    std::string db;
    std::string owner;                   // "host:pid"
    std::chrono::milliseconds ttl{120'000};
    std::optional<std::chrono::milliseconds> wait;  // unset: fail at once; max(): wait forever
  };

  // Exit::tempfail (75) with the holder's name when another run holds the lease.
  static Expected<std::unique_ptr<Lease>> acquire(Pool& pool, const Options& options, Logger& log,
                                                  std::atomic<int>* stop);
  ~Lease();  // stops renewing and releases
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

private:
  Lease(Pool& pool, Options options, Logger& log, std::atomic<int>* stop);
  void renew_loop();

  Pool& pool_;
  Options options_;
  Logger& log_;
  std::atomic<int>* stop_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread renewer_;
};

// "host:pid" of this process.
std::string lease_owner_id();

}  // namespace m2m::mongo
