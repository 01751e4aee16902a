// lib/util/log: level names, and the log file's lines (a timestamp with the UTC offset, the pid, the level,
// the message through the secrets door). Stderr's format is checked on the binary, in
// tests/integration/test_sync_output.cpp (journald) and test_cli_hardening.cpp.
#include "util/error.hpp"
#include "util/log.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <unistd.h>

using namespace m2m;

TEST_CASE("log levels parse from their names and print back", "[util][log]") {
  for (const auto& [text, level] : std::vector<std::pair<std::string, LogLevel>>{{"debug", LogLevel::debug},
                                                                                 {"info", LogLevel::info},
                                                                                 {"warning", LogLevel::warning},
                                                                                 {"error", LogLevel::error},
                                                                                 {"off", LogLevel::off}}) {
    INFO(text);
    LogLevel parsed = LogLevel::off;
    CHECK(parse_log_level(text, parsed));
    CHECK(parsed == level);
    CHECK(to_string(level) == text);
  }
  LogLevel l = LogLevel::info;
  CHECK(parse_log_level("warn", l));
  CHECK(l == LogLevel::warning);
  for (const char* bad : {"", "WARNING", "Info", "verbose", "warn "}) {
    INFO(bad);
    LogLevel untouched = LogLevel::debug;
    CHECK_FALSE(parse_log_level(bad, untouched));
    CHECK(untouched == LogLevel::debug);
  }
}

TEST_CASE("the log file: its level, one line each with timestamp, offset and pid, secrets hidden", "[util][log]") {
  char path[] = "/tmp/m2m-unit-log-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  ::close(fd);
  struct Remove {
    const char* p;
    ~Remove() { std::remove(p); }
  } remove{path};
  {
    Logger::Options o;
    o.stderr_level = LogLevel::off;  // nothing on the test's stderr
    o.file_level = LogLevel::info;
    o.file = path;
    Logger log(o);
    log.set_secrets({"Sup3rSecret"});
    CHECK(log.enabled(LogLevel::info));
    CHECK_FALSE(log.enabled(LogLevel::debug));
    log.debug("not written");
    log.info("table {}: {} rows", "film", 1000);
    log.warn("connecting to mongodb://admin:Sup3rSecret@db:27017 failed");
    log.error("the password Sup3rSecret was refused");
    log.to_file(LogLevel::info, "sync success: 1 tables ok, 0 failed");
  }
  std::ifstream in(path);
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  INFO(text);
  const std::string pid = std::to_string(::getpid());
  const std::string stamp = R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d \[)" + pid + R"(\] )";
  CHECK(std::regex_match(text, std::regex(stamp + "info table film: 1000 rows\n" +  //
                                          stamp + R"(warning connecting to mongodb://admin:\*\*\*@db:27017 failed)" + "\n" +
                                          stamp + R"(error the password \*\*\* was refused)" + "\n" +
                                          stamp + "info sync success: 1 tables ok, 0 failed\n")));
}

TEST_CASE("a log file that cannot be opened is a configuration error naming it", "[util][log]") {
  Logger::Options o;
  o.file = "/nonexistent/m2m/log.txt";
  try {
    Logger log(o);
    FAIL("the logger opened " << o.file);
  } catch (const Error& e) {
    CHECK(e.code() == Exit::config);
    CHECK(std::string(e.what()).rfind("cannot open log file /nonexistent/m2m/log.txt: ", 0) == 0);
    CHECK(std::string(e.what()).find("; fix --log-file or log.file") != std::string::npos);
  }
}
