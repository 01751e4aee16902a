// Why a run must stop, and waits that a stop request cuts short.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace m2m {

// Set by a signal handler (SIGINT, SIGTERM) or by the run lock's renewer (the lease was lost), read by
// everything that loops or waits. It records the first reason only: a run stopped by SIGTERM that then
// finds its lease gone was still stopped by SIGTERM.
//
// Waiting on it (sleep_for) wakes at once when a stop is requested, so a retry backoff or a wait for
// the run lock never delays a stop. Code doing blocking I/O registers an interrupter (for MySQL:
// mariadb_cancel) that app's watchdog runs when the graceful stop takes too long.
class StopToken {
public:
  enum class Reason { none, signal, lease_lost };

  StopToken();
  ~StopToken();
  StopToken(const StopToken&) = delete;
  StopToken& operator=(const StopToken&) = delete;

  // Async-signal-safe: an atomic store and a write to an eventfd.
  void request_signal(int signo) noexcept;
  // From the lease renewer: another run took the lock over, or this run could not renew it in time.
  void request_lease_lost() noexcept;

  bool requested() const noexcept { return state_.load() != 0; }
  Reason reason() const noexcept;
  int signal() const noexcept;  // the signal number, 0 when not stopped by a signal

  // Sleeps for `d`, or less if a stop is requested or `wake_fd` (another eventfd, -1: none) becomes
  // readable: true when the whole time passed.
  bool sleep_for(std::chrono::milliseconds d, int wake_fd = -1) const;
  // Waits until a stop is requested or `d` passes: true when a stop was requested.
  bool wait_for_stop(std::chrono::milliseconds d) const { return !sleep_for(d); }

  // Interrupters cut blocking I/O short (a MySQL server that stopped answering). They run on app's
  // watchdog thread, never in a signal handler; a registration ends with its owner's scope.
  class Registration {
  public:
    Registration() = default;
    Registration(StopToken* token, std::uint64_t id) : token_(token), id_(id) {}
    Registration(Registration&& o) noexcept : token_(o.token_), id_(o.id_) { o.token_ = nullptr; }
    Registration& operator=(Registration&& o) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() { reset(); }
    void reset();

  private:
    StopToken* token_ = nullptr;
    std::uint64_t id_ = 0;
  };
  [[nodiscard]] Registration on_interrupt(std::function<void()> fn);
  void run_interrupters();

  // Emergency actions, run by the watchdog just before it ends a process that could not stop in time
  // (release the run lock through a fresh connection, say).
  [[nodiscard]] Registration on_abandon(std::function<void()> fn);
  void run_abandon_actions();

private:
  Registration add(std::map<std::uint64_t, std::function<void()>>& to, std::function<void()> fn);
  void remove(std::uint64_t id);

  std::atomic<int> state_{0};  // 0: running; > 0: the signal; -1: lease lost
  int fd_ = -1;                // eventfd, readable once a stop was requested
  std::mutex mutex_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::function<void()>> interrupters_;
  std::map<std::uint64_t, std::function<void()>> abandon_;
};

}  // namespace m2m
