#include "stopping.hpp"

#include "mongo/client.hpp"

#include <csignal>
#include <cstdio>
#include <cstdint>
#include <sys/eventfd.h>
#include <unistd.h>

namespace m2m::app {

int exit_code_for_stop(const StopToken& stop, int code) {
  switch (stop.reason()) {
    case StopToken::Reason::signal: return 128 + stop.signal();
    case StopToken::Reason::lease_lost: return static_cast<int>(Exit::tempfail);
    case StopToken::Reason::none: break;
  }
  return code;
}

const char* signal_name(int signo) {
  switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default: return "a signal";
  }
}

StopWatchdog::StopWatchdog(StopToken& stop, Logger& log)
    : stop_(stop), log_(log), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { watch(); });
}

StopWatchdog::~StopWatchdog() {
  finished();
  thread_.join();
  if (wake_ >= 0) ::close(wake_);
}

void StopWatchdog::finished() {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  cv_.notify_all();
  // Wakes the watch at once: a command must not end 200 ms after its work did.
  const std::uint64_t one = 1;
  if (wake_ >= 0) (void)!::write(wake_, &one, sizeof one);
}

bool StopWatchdog::wait_finished(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, d, [this] { return finished_; });
}

void StopWatchdog::watch() {
  using namespace std::chrono_literals;
  // Wait for a stop request (or for the end of the command).
  while (stop_.sleep_for(200ms, wake_) || !stop_.requested()) {
    std::lock_guard lock(mutex_);
    if (finished_) return;
  }
  // Only a signal has an operator (or systemd's TimeoutStopSec) waiting on the process; a lost lease
  // stops at the next batch like any other failure.
  if (stop_.reason() != StopToken::Reason::signal) return;
  if (wait_finished(500ms)) return;
  log_.info("stopping: cutting short a MySQL call that has not returned");
  stop_.run_interrupters();
  if (wait_finished(800ms)) return;
  const int sig = stop_.signal();
  log_.error("stopped by {}: a server did not answer, so the run ends without waiting for it; every checkpoint "
             "written so far is kept",
             signal_name(sig));
  stop_.run_abandon_actions();
  std::fflush(nullptr);
  mongo::forget_driver_files();
  ::_exit(128 + sig);
}

}  // namespace m2m::app
