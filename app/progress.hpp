// Progress of long table copies on stderr, for people at a terminal only.
#pragma once

#include "sync/report.hpp"
#include "util/log.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace m2m::app {

class Progress;

// While it lives, every line the logger writes to stderr first erases the progress lines (when the
// display is active); unhooked however the scope ends, since the logger outlives the display.
class ProgressHook {
public:
  ProgressHook(Progress& progress, Logger& log);
  ~ProgressHook();
  ProgressHook(const ProgressHook&) = delete;
  ProgressHook& operator=(const ProgressHook&) = delete;

private:
  Logger& log_;
};

class Progress {
public:
  // Draws only when stderr is a terminal and the user did not ask for quiet (-q). Under cron, systemd
  // or a pipe stderr is not a terminal, so nothing is drawn there.
  explicit Progress(bool quiet);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  bool active() const { return active_; }
  // A worker's unit (a table, or a key range "orders [2/8]") has done `done` rows of about `total`
  // (redrawn at most five times a second). Every busy worker has a line of its own; with one worker the
  // display is one line.
  void update(int worker, const std::string& unit, std::uint64_t done, std::uint64_t total);
  // A table is done: the worker's live line goes and the table's final count is printed on a line of
  // its own.
  void table_done(int worker, const sync::TableReport& t);
  // One worker's rows so far (a command that reads one table at a time: verify).
  void update(const std::string& table, std::uint64_t done, std::uint64_t total) { update(0, table, done, total); }
  // Replaces the live lines by `line`, on a line of its own (a command's own final count per table).
  void done_line(const std::string& line);
  // A worker ended a unit that is not a whole table (a key range): its line goes.
  void unit_done(int worker);
  // Erases the live lines, if any are drawn, so the next line written to stderr starts clean (the
  // Logger calls this before every stderr line); the next update draws them again.
  void clear();

private:
  struct Line {
    std::string unit;
    std::chrono::steady_clock::time_point start;
    std::uint64_t done = 0, total = 0;
  };
  void clear_locked();
  void draw_locked(std::chrono::steady_clock::time_point now);
  static std::string text_of(const Line& line, std::chrono::steady_clock::time_point now);
  bool active_ = false;
  bool plain_ = false;   // NO_COLOR or TERM=dumb: no escape sequences at all (one line for every worker)
  int drawn_ = 0;        // lines on the screen now
  std::map<int, Line> lines_;  // by worker
  std::chrono::steady_clock::time_point last_draw_;
  std::mutex mutex_;     // the workers' progress and any thread's log lines
};

}  // namespace m2m::app
