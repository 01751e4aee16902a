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
  if (!active_ || drawn_ == 0) return;
  // \r returns to the start of the line; ESC[K erases it; ESC[A goes up to the line of the worker
  // above (plain terminals get spaces instead, on their one line).
  if (plain_) {
    fmt::print(stderr, "\r{:78}\r", "");
  } else {
    fmt::print(stderr, "\r\x1b[K");
    for (int i = 1; i < drawn_; ++i) fmt::print(stderr, "\x1b[A\x1b[K");
  }
  std::fflush(stderr);
  drawn_ = 0;
  // Whatever is printed next, the lines come back at the next update, not 200 ms later.
  last_draw_ = {};
}

void Progress::table_done(int worker, const sync::TableReport& t) {
  if (!active_) return;
  std::lock_guard lock(mutex_);
  clear_locked();
  lines_.erase(worker);
  if (t.status != mongo::TableStatus::success) return;  // the failure itself is logged as an error
  fmt::print(stderr, "{}: {} rows{} in {}\n", t.table, t.records_synced,
             t.deleted ? fmt::format(", {} deleted", t.deleted) : "",
             format_duration(std::chrono::milliseconds(static_cast<std::int64_t>(t.duration_seconds * 1000))));
  std::fflush(stderr);
}

void Progress::unit_done(int worker) {
  if (!active_) return;
  std::lock_guard lock(mutex_);
  clear_locked();
  lines_.erase(worker);
}

std::string Progress::text_of(const Line& l, std::chrono::steady_clock::time_point now) {
  const double secs = std::chrono::duration<double>(now - l.start).count();
  // The first batch of a table arrives before its clock means anything: no rate (nor ETA) until then.
  const double rate = secs > 0.05 ? static_cast<double>(l.done) / secs : 0;
  if (l.total > l.done && rate > 0) {
    // TABLE_ROWS is InnoDB's estimate: the share and the ETA are approximate, and capped at 99 %.
    const auto pct = std::min<std::uint64_t>(99, l.done * 100 / l.total);
    const auto eta = std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(l.total - l.done) / rate * 1000));
    return fmt::format("{}: {} / ~{} rows ({}%), {:.0f} rows/s, ETA {}", l.unit, l.done, l.total, pct, rate,
                       format_duration(eta));
  }
  if (rate > 0) return fmt::format("{}: {} rows, {:.0f} rows/s", l.unit, l.done, rate);
  return fmt::format("{}: {} rows", l.unit, l.done);
}

void Progress::draw_locked(std::chrono::steady_clock::time_point now) {
  last_draw_ = now;
  std::vector<std::string> texts;
  for (const auto& [worker, line] : lines_) texts.push_back(text_of(line, now));
  if (texts.empty()) return;
  if (plain_) {
    // One line: a dumb terminal cannot go back up.
    std::string line = join(texts, " | ");
    if (line.size() > 78 && texts.size() > 1) line = line.substr(0, 75) + "...";
    fmt::print(stderr, "\r{:<78}", line);
    drawn_ = 1;
  } else {
    // Back to the first line, then every worker's line, each cleared of what a longer one left.
    std::string out = "\r";
    for (int i = 1; i < drawn_; ++i) out += "\x1b[A";
    for (std::size_t i = 0; i < texts.size(); ++i) out += (i ? "\n" : "") + texts[i] + "\x1b[K";
    // Fewer lines than last time: erase the ones below.
    for (int i = static_cast<int>(texts.size()); i < drawn_; ++i) out += "\n\x1b[K";
    for (int i = static_cast<int>(texts.size()); i < drawn_; ++i) out += "\x1b[A";
    fmt::print(stderr, "{}", out);
    drawn_ = static_cast<int>(texts.size());
  }
  std::fflush(stderr);
}

void Progress::done_line(const std::string& line) {
  if (!active_) return;
  std::lock_guard lock(mutex_);
  clear_locked();
  lines_.clear();
  fmt::print(stderr, "{}\n", line);
  std::fflush(stderr);
}

void Progress::update(int worker, const std::string& unit, std::uint64_t done, std::uint64_t total) {
  if (!active_) return;
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  auto& line = lines_[worker];
  const bool fresh = line.unit != unit;
  if (fresh) {
    line.unit = unit;
    line.start = now;
  }
  line.done = done;
  line.total = total;
  if (!fresh && now - last_draw_ < std::chrono::milliseconds(200)) return;
  draw_locked(now);
}

ProgressHook::ProgressHook(Progress& progress, Logger& log) : log_(log) {
  if (progress.active()) log_.set_before_stderr([&progress] { progress.clear(); });
}

ProgressHook::~ProgressHook() { log_.set_before_stderr({}); }

}  // namespace m2m::app
