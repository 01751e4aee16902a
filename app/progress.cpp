#include "progress.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace m2m::app {

Progress::Progress(bool quiet) {
  active_ = !quiet && ::isatty(STDERR_FILENO) == 1;
  const char* term = std::getenv("TERM");
  const char* no_color = std::getenv("NO_COLOR");
  plain_ = (no_color && *no_color) || !term || std::strcmp(term, "dumb") == 0;
}

Progress::~Progress() { clear(); }

void Progress::clear() {
  std::lock_guard lock(mutex_);
  clear_locked();
}

void Progress::clear_locked() {
  if (!active_ || !drawn_) return;
  // \r returns to the start of the line; ESC[K erases it (plain terminals get spaces instead).
  if (plain_) fmt::print(stderr, "\r{:78}\r", "");
  else fmt::print(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
  // Whatever is printed next, the line comes back at the next update, not 200 ms later.
  last_draw_ = {};
}

void Progress::table_done(const sync::TableReport& t) {
  if (!active_) return;
  std::lock_guard lock(mutex_);
  clear_locked();
  table_.clear();
  if (t.status != mongo::TableStatus::success) return;  // the failure itself is logged as an error
  fmt::print(stderr, "{}: {} rows{} in {}\n", t.table, t.records_synced,
             t.deleted ? fmt::format(", {} deleted", t.deleted) : "",
             format_duration(std::chrono::milliseconds(static_cast<std::int64_t>(t.duration_seconds * 1000))));
  std::fflush(stderr);
}

void Progress::done_line(const std::string& line) {
  if (!active_) return;
  std::lock_guard lock(mutex_);
  clear_locked();
  table_.clear();
  fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

void Progress::update(const std::string& table, std::uint64_t done, std::uint64_t total) {
  if (!active_) return;
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (table != table_) {
    clear_locked();
    table_ = table;
    table_start_ = now;
  } else if (now - last_draw_ < std::chrono::milliseconds(200)) {
    return;
  }
  last_draw_ = now;
  const double secs = std::chrono::duration<double>(now - table_start_).count();
  // The first batch of a table arrives before its clock means anything: no rate (nor ETA) until then.
  const double rate = secs > 0.05 ? static_cast<double>(done) / secs : 0;
  std::string line;
  if (total > done && rate > 0) {
    // TABLE_ROWS is InnoDB's estimate: the share and the ETA are approximate, and capped at 99 %.
    const auto pct = std::min<std::uint64_t>(99, done * 100 / total);
    const auto eta = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(total - done) / rate * 1000));
    line = fmt::format("{}: {} / ~{} rows ({}%), {:.0f} rows/s, ETA {}", table, done, total, pct, rate,
                       format_duration(eta));
  } else if (rate > 0) {
    line = fmt::format("{}: {} rows, {:.0f} rows/s", table, done, rate);
  } else {
    line = fmt::format("{}: {} rows", table, done);
  }
  // \r returns to the start of the line; ESC[K clears what a longer previous line left behind.
  if (plain_) fmt::print(stderr, "\r{:<78}", line);
  else fmt::print(stderr, "\r{}\x1b[K", line);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace m2m::app
