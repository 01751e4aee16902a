// Errors: values at I/O edges (Expected<T>), one exception type above them (Error), caught only in main.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace m2m {

// Exit codes are part of the command-line API (documented in mysql2mongo(1)); they follow sysexits.h.
enum class Exit : int {
  ok = 0,
  differences = 1,     // verify: MongoDB differs from MySQL (as diff(1) and cmp(1) exit 1)
  tables_failed = 3,   // at least one table failed, the others were synced
  usage = 64,          // EX_USAGE: wrong flags or arguments
  unavailable = 69,    // EX_UNAVAILABLE: a server could not be reached or the database does not exist
  internal = 70,       // EX_SOFTWARE: a bug
  tempfail = 75,       // EX_TEMPFAIL: another run holds the lock, or a transient failure; retry later
  noperm = 77,         // EX_NOPERM: access denied by MySQL or MongoDB
  config = 78,         // EX_CONFIG: a configuration value is wrong
  sigint = 130,
  sigterm = 143,
};

// Failures whose handling differs from their exit code alone: the callers decide by this, never by the
// message's text.
enum class Cause {
  none,
  lock_held,   // another run holds the run lock: the normal overlap of cron with a long run
  lease_lost,  // this run's lock was taken over; it stopped writing
  stopped,     // a stop was requested; progress was saved
  unit_lost,   // a shard's lease on one work unit expired and another shard took the unit over
};

// What went wrong, as a value: an exit code and one line that names the problem and the fix.
struct Failure {
  Exit code = Exit::internal;
  std::string message;
  bool transient = false;  // worth retrying: a deadlock, a lock wait timeout, a dropped connection
  int server_code = 0;     // the server's error number (MySQL errno, MongoDB code), when one gave it
  Cause cause = Cause::none;
};

// The one exception type. Library code above the I/O edges throws it; only main() catches it.
class Error : public std::runtime_error {
public:
  Error(Exit code, const std::string& message, Cause cause = Cause::none)
      : std::runtime_error(message), code_(code), cause_(cause) {}
  explicit Error(const Failure& f) : std::runtime_error(f.message), code_(f.code), cause_(f.cause) {}
  Exit code() const noexcept { return code_; }
  Cause cause() const noexcept { return cause_; }

private:
  Exit code_;
  Cause cause_;
};

// A minimal expected<T, Failure>: the project targets C++20, which has no std::expected.
template <typename T>
class Expected {
public:
  Expected(T value) : v_(std::move(value)) {}             // NOLINT: implicit by design
  Expected(Failure failure) : v_(std::move(failure)) {}   // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Failure& failure() const { return std::get<1>(v_); }

  // Converts a failure into the exception the callers above the I/O edge expect.
  T& or_throw() & { check(); return std::get<0>(v_); }
  T&& or_throw() && { check(); return std::get<0>(std::move(v_)); }

private:
  void check() const {
    if (!ok()) throw Error(std::get<1>(v_));
  }
  std::variant<T, Failure> v_;
};

// For operations that return nothing but may fail.
struct Unit {};
using Status = Expected<Unit>;
inline Status success() { return Unit{}; }

}  // namespace m2m
