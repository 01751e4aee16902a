#include "binlog/error.hpp"

namespace m2m::binlog {

Failure BinlogError::failure() const {
  switch (kind) {
    case ErrorKind::io:
      return failure_value;
    case ErrorKind::unsupported:
      return Failure{Exit::config, message};
    case ErrorKind::truncated:
    case ErrorKind::corrupt:
    case ErrorKind::checksum:
    case ErrorKind::schema_mismatch:
    case ErrorKind::position_lost:
      break;
  }
  return Failure{Exit::unavailable, message};
}

BinlogError make_error(ErrorKind kind, std::string message) {
  BinlogError e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

BinlogError io_error(Failure f) {
  BinlogError e;
  e.kind = ErrorKind::io;
  e.message = f.message;
  e.failure_value = std::move(f);
  return e;
}

}  // namespace m2m::binlog
