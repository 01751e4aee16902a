#include "util/log.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <unistd.h>

namespace m2m {

bool parse_log_level(std::string_view text, LogLevel& out) {
  if (text == "debug") out = LogLevel::debug;
  else if (text == "info") out = LogLevel::info;
  else if (text == "warning" || text == "warn") out = LogLevel::warning;
  else if (text == "error") out = LogLevel::error;
  else if (text == "off") out = LogLevel::off;
  else return false;
  return true;
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warning: return "warning";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "?";
}

Logger::Logger() = default;

Logger::Logger(Options options) : options_(std::move(options)) {
  if (!options_.file.empty()) {
    file_ = std::fopen(options_.file.c_str(), "a");
    if (!file_) {
      throw Error(Exit::config, fmt::format("cannot open log file {}: {}; fix --log-file or log.file",
                                            options_.file, std::strerror(errno)));
    }
  }
}

Logger::~Logger() {
  if (file_) std::fclose(file_);
}

bool Logger::enabled(LogLevel level) const {
  return level >= options_.stderr_level || (file_ && level >= options_.file_level);
}

namespace {

std::string timestamp() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  // The offset makes lines from machines (or runs) in different zones, or across a DST change,
  // comparable: RFC 3339's "+02:00".
  char zone[8];
  std::strftime(zone, sizeof zone, "%z", &tm);
  const std::string_view z(zone);
  return fmt::format("{}.{:03d}{}:{}", buf, static_cast<int>(ms), z.substr(0, 3), z.substr(3, 2));
}

// sd-daemon(3) priority prefixes: journald strips them and stores the priority.
const char* journal_prefix(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "<7>";
    case LogLevel::info: return "<6>";
    case LogLevel::warning: return "<4>";
    default: return "<3>";
  }
}

}  // namespace

void Logger::write(LogLevel level, std::string_view raw) {
  // The one door: a driver's or resolver's text may quote a URL or a piece of a password.
  const std::string message = redact(raw, secrets_);
  std::lock_guard lock(mutex_);
  if (level >= options_.stderr_level && level != LogLevel::off) {
    if (before_stderr_) before_stderr_();
    if (options_.journald) {
      fmt::print(stderr, "{}{}\n", journal_prefix(level), message);
    } else {
      fmt::print(stderr, "mysql2mongo: {}: {}\n", to_string(level), message);
    }
    std::fflush(stderr);
  }
  write_file(level, message);
}

void Logger::to_file(LogLevel level, std::string_view raw) {
  const std::string message = redact(raw, secrets_);
  std::lock_guard lock(mutex_);
  write_file(level, message);
}

void Logger::write_file(LogLevel level, std::string_view message) {
  if (file_ && level >= options_.file_level && level != LogLevel::off) {
    // Several runs (the timer's and one by hand) may append to one file: the pid tells them apart.
    fmt::print(file_, "{} [{}] {} {}\n", timestamp(), ::getpid(), to_string(level), message);
    std::fflush(file_);
  }
}

}  // namespace m2m
