// Logging to stderr (and optionally a file). Owned by app/, passed down by reference: no global logger.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace m2m {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3, off = 4 };

// Parses "debug", "info", "warning"/"warn", "error", "off"; false if unknown.
bool parse_log_level(std::string_view text, LogLevel& out);
std::string_view to_string(LogLevel level);

class Logger {
public:
  struct Options {
    LogLevel stderr_level = LogLevel::warning;  // cron-friendly: quiet unless something is wrong
    LogLevel file_level = LogLevel::info;
    std::string file;           // empty: no log file
    bool journald = false;      // stderr is connected to the journal: priority prefixes, no timestamps
  };

  Logger();  // warnings and errors to stderr only
  explicit Logger(Options options);  // throws Error(config) if the log file cannot be opened
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // The secrets no line may show (config::Config::secrets): every line goes through redact() with them.
  void set_secrets(std::vector<std::string> secrets) { secrets_ = std::move(secrets); }

  // Called before every line written to stderr (app's progress display erases its live line there):
  // a log line never lands in the middle of a redrawn line. Empty: nothing.
  void set_before_stderr(std::function<void()> hook) {
    std::lock_guard lock(mutex_);
    before_stderr_ = std::move(hook);
  }
  // Writes to the log file only (the run summary app prints on stderr itself).
  void to_file(LogLevel level, std::string_view message);

  bool enabled(LogLevel level) const;           // on stderr or in the log file
  bool on_stderr(LogLevel level) const { return level >= options_.stderr_level; }
  void write(LogLevel level, std::string_view message);

  template <typename... Args>
  void debug(fmt::format_string<Args...> f, Args&&... args) { log(LogLevel::debug, f, std::forward<Args>(args)...); }
  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) { log(LogLevel::info, f, std::forward<Args>(args)...); }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) { log(LogLevel::warning, f, std::forward<Args>(args)...); }
  template <typename... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) { log(LogLevel::error, f, std::forward<Args>(args)...); }

private:
  template <typename... Args>
  void log(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(level)) write(level, fmt::format(f, std::forward<Args>(args)...));
  }

  void write_file(LogLevel level, std::string_view message);  // mutex_ held

  Options options_;
  std::vector<std::string> secrets_;
  std::function<void()> before_stderr_;
  std::FILE* file_ = nullptr;
  std::mutex mutex_;  // worker threads share one logger
};

}  // namespace m2m
