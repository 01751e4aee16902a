// Progress of long table copies on stderr, for people at a terminal only.
#pragma once

#include "sync/report.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace m2m::app {

class Progress {
public:
  // Draws only when stderr is a terminal and the user did not ask for quiet (-q). Under cron, systemd
  // or a pipe stderr is not a terminal, so nothing is drawn there.
  explicit Progress(bool quiet);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  bool active() const { return active_; }
  // A table's rows so far (redrawn at most five times a second).
  void update(const std::string& table, std::uint64_t done, std::uint64_t total);
  // A table is done: its live line is replaced by its final count, on a line of its own.
  void table_done(const sync::TableReport& t);
  // Replaces the live line by `line`, on a line of its own (a command's own final count per table).
  void done_line(const std::string& line);
  // Erases the live line, if one is drawn, so the next line written to stderr starts clean (the
  // Logger calls this before every stderr line); the next update draws it again.
  void clear();

private:
  void clear_locked();
  bool active_ = false;
  bool plain_ = false;  // NO_COLOR or TERM=dumb: no escape sequences at all
  bool drawn_ = false;  // a live line is on the screen
  std::string table_;
  std::chrono::steady_clock::time_point table_start_, last_draw_;
  std::mutex mutex_;    // the sync's progress and any thread's log lines
};

}  // namespace m2m::app
