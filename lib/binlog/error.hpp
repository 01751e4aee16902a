// Typed errors of the binlog layer. Every decoding or reading failure is a value: a kind the caller can
// branch on (an unsupported server setting is not a corrupt log) and one line naming the problem and the
// fix, convertible to the project's Failure.
#pragma once

#include "util/error.hpp"

#include <string>
#include <utility>
#include <variant>

namespace m2m::binlog {

enum class ErrorKind {
  truncated,          // an event or a field ends before its declared length: a corrupt or cut-off log
  corrupt,            // a value that the format does not allow (bad magic, impossible length, bad zlib data)
  checksum,           // the CRC32 of an event does not match
  unsupported,        // valid, but the tool cannot use it: transaction compression, partial JSON updates,
                      // statement-based row changes, an unknown column type, an encrypted file
  schema_mismatch,    // a TABLE_MAP does not describe the columns the caller expects
  position_lost,      // the requested binlog file or position no longer exists on the server (purged)
  io,                 // reading a file or the network failed (see Failure for the exit code)
};

struct BinlogError {
  ErrorKind kind = ErrorKind::corrupt;
  std::string message;  // one line: the problem, and where it is known, the fix
  Failure failure_value{};  // for io: the Failure of the connection or file; otherwise derived

  // The project's Failure: unsupported settings are configuration problems (78), a corrupt log or an
  // unusable event is unavailable data (69), I/O keeps its own code.
  Failure failure() const;
};

BinlogError make_error(ErrorKind kind, std::string message);
BinlogError io_error(Failure f);

// Expected<T> with a typed BinlogError instead of a Failure.
template <typename T>
class Result {
public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(BinlogError error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const BinlogError& error() const { return std::get<1>(v_); }
  Failure failure() const { return error().failure(); }

private:
  void check() const {
    if (!ok()) throw m2m::Error(std::get<1>(v_).failure());
  }
  std::variant<T, BinlogError> v_;
};

}  // namespace m2m::binlog
