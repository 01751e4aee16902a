// Sources of raw binlog events: a live, non-blocking binlog dump from the server (LiveReader), or a local
// binlog file (FileReader), behind one interface. Both yield whole events (header to checksum) and keep
// the position to resume from after the last event returned; neither decodes row events.
#pragma once

#include "binlog/error.hpp"
#include "binlog/event.hpp"
#include "config/config.hpp"
#include "mysql/connection.hpp"
#include "util/log.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

struct st_mariadb_rpl;
struct st_mariadb_rpl_event;

namespace m2m::binlog {

// A position in the binlog: a file name as the server names it ("mysql-bin.000042") and a byte offset.
struct Position {
  std::string file;
  std::uint64_t offset = 4;  // the first event of every file starts after the 4-byte magic
  bool operator==(const Position&) const = default;
};

struct RawEvent {
  Header header;
  Bytes bytes;  // the whole event, checksum included; valid until the next call of next()
};

class EventReader {
public:
  virtual ~EventReader() = default;
  // The next event: true and `out` filled, or false at the end (a non-blocking dump that caught up, or
  // the end of the file). Heartbeats are skipped.
  virtual Result<bool> next(RawEvent& out) = 0;
  // Where to resume after the last event returned: its end, or for a ROTATE the next file's start.
  // Resume only after an event that ends a transaction (XID, COMMIT, a standalone statement): row events
  // cannot be decoded without the TABLE_MAP that precedes them.
  const Position& position() const { return position_; }

protected:
  // Follows FORMAT_DESCRIPTION (for the checksum) and ROTATE events, and every event's end position.
  Result<Unit> track(const RawEvent& ev, std::uint64_t end_offset);
  Position position_;
  Decoder tracker_;
};

struct LiveOptions {
  std::uint32_t server_id = 0;  // this reader's replica id: non-zero, not 1, unique among the server's replicas
  Position start;               // where the dump starts (from SHOW BINARY LOG STATUS, or a stored position)
  std::chrono::milliseconds read_timeout{30'000};  // a silent network fails after this, never blocks
};

// A non-blocking binlog dump (COM_BINLOG_DUMP with BINLOG_DUMP_NON_BLOCK) over its own connection: the
// server sends the events from the start position to the current end of its binlog, then an EOF packet,
// which ends the read normally.
class LiveReader : public EventReader {
public:
  // Connects with the settings of `cfg` (its own session, never the caller's), prepares the session as a
  // replica (checksums, MariaDB's GTID capability, a fresh @slave_uuid) and starts the dump.
  static Result<std::unique_ptr<LiveReader>> open(const config::MySql& cfg, Logger& log, const LiveOptions& options);
  ~LiveReader() override;
  LiveReader(const LiveReader&) = delete;
  LiveReader& operator=(const LiveReader&) = delete;

  Result<bool> next(RawEvent& out) override;
  bool mariadb() const { return mariadb_; }
  // How many events Connector/C failed to parse on its own and that were taken from the packet buffer
  // instead (see next()); 0 on a healthy MariaDB stream.
  std::uint64_t salvaged() const { return salvaged_; }

private:
  struct RplCloser {
    void operator()(st_mariadb_rpl* r) const noexcept;
  };
  struct EventFree {
    void operator()(st_mariadb_rpl_event* e) const noexcept;
  };
  explicit LiveReader(mysql::Connection conn) : conn_(std::move(conn)) {}
  BinlogError fetch_error(const char* doing);

  mysql::Connection conn_;
  std::unique_ptr<st_mariadb_rpl, RplCloser> rpl_;      // destroyed before conn_
  std::unique_ptr<st_mariadb_rpl_event, EventFree> event_;  // destroyed before rpl_
  std::vector<std::uint8_t> salvage_;
  std::chrono::milliseconds read_timeout_{0};
  bool mariadb_ = false;
  bool done_ = false;
  std::uint64_t salvaged_ = 0;
};

// A local binlog file, read like a dump: the FORMAT_DESCRIPTION event at offset 4 first, then the events
// from `start`. With follow_rotate, a ROTATE to a file that exists in the same directory continues there.
class FileReader : public EventReader {
public:
  static Result<std::unique_ptr<FileReader>> open(const std::string& path, std::uint64_t start = 4,
                                                  bool follow_rotate = false);
  Result<bool> next(RawEvent& out) override;
  // True when the file ended inside an event (a file still being written): the read ended before it.
  bool incomplete_tail() const { return incomplete_tail_; }

private:
  struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  FileReader() = default;
  Result<Unit> open_file(const std::string& path);

  std::string dir_;
  std::string path_;
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::vector<std::uint8_t> buffer_;
  std::uint64_t offset_ = 0;   // of the next event in the file
  std::uint64_t start_ = 4;    // where to jump after the FORMAT_DESCRIPTION event
  bool follow_rotate_ = false;
  bool incomplete_tail_ = false;
  bool done_ = false;
};

// A random RFC 4122 version 4 UUID: the @slave_uuid of one run.
std::string random_uuid();

}  // namespace m2m::binlog
