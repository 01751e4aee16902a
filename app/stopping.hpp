// What a stop request turns into: the exit code (in one place), and a watchdog that makes a stop end the
// process within two seconds even while a server does not answer.
#pragma once

#include "util/error.hpp"
#include "util/log.hpp"
#include "util/stop.hpp"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace m2m::app {

// 128 + the signal for a signal (130 SIGINT, 143 SIGTERM), 75 when the run lock was lost, else `code`.
int exit_code_for_stop(const StopToken& stop, int code);
const char* signal_name(int signo);

// Watches the stop token while a command runs. A stop by signal is normally graceful: the work notices it
// at the next batch, saves its checkpoint, releases the lock and returns. When a server stopped
// answering, the watchdog cuts blocking MySQL calls short after 0.5 s (the work then stops as usual), and
// after 1.3 s runs the token's abandon actions (release the lock through a fresh connection) and ends the
// process with 128 + signal. Checkpoints are only ever written after MongoDB acknowledged the rows, so
// ending there loses nothing that a rerun cannot redo.
class StopWatchdog {
public:
  StopWatchdog(StopToken& stop, Logger& log);
  ~StopWatchdog();
  StopWatchdog(const StopWatchdog&) = delete;
  StopWatchdog& operator=(const StopWatchdog&) = delete;
  // The command returned: the watchdog has nothing left to do.
  void finished();

private:
  void watch();
  bool wait_finished(std::chrono::milliseconds d);

  StopToken& stop_;
  Logger& log_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
  int wake_ = -1;  // eventfd written by finished(), so the watch ends without waiting out its poll
  std::thread thread_;
};

}  // namespace m2m::app
