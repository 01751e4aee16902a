// Progress of long table copies on stderr, for people at a terminal only.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace m2m::app {

class Progress {
public:
  // Draws only when stderr is a terminal and the user did not ask for quiet (-q). Under cron, systemd
  // or a pipe stderr is not a terminal, so nothing is drawn there.
  explicit Progress(bool quiet);
  ~Progress();
  bool active() const { return active_; }
  void update(const std::string& table, std::uint64_t done, std::uint64_t total);

private:
  void finish_line();
  bool active_ = false;
  bool plain_ = false;  // NO_COLOR or TERM=dumb: no escape sequences at all
  std::string table_;
  std::chrono::steady_clock::time_point table_start_, last_draw_;
};

}  // namespace m2m::app
