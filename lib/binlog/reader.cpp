#include "binlog/reader.hpp"

#include <mariadb_rpl.h>
#include <mysql.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>

namespace m2m::binlog {

namespace {

constexpr std::uint64_t kMaxEventBytes = std::uint64_t{1} << 30;
constexpr unsigned char kMagic[4] = {0xfe, 'b', 'i', 'n'};

bool is_heartbeat(std::uint8_t type) {
  return type == static_cast<std::uint8_t>(EventType::heartbeat) ||
         type == static_cast<std::uint8_t>(EventType::heartbeat_v2);
}

// Connector/C's binlog parser errors (errmsg.h, 5017-5023), raised for packets that were read whole.
bool is_parser_error(unsigned err) { return err >= 5017 && err <= 5023; }

BinlogError reader_error(Exit code, std::string message, bool transient = false) {
  return io_error(Failure{code, std::move(message), transient});
}

}  // namespace

std::string random_uuid() {
  std::random_device rd;
  std::uint8_t b[16];
  for (std::size_t i = 0; i < 16; i += 4) {
    const std::uint32_t r = rd();
    std::memcpy(b + i, &r, 4);
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  std::string s;
  static constexpr char digits[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

Result<Unit> EventReader::track(const RawEvent& ev, std::uint64_t end_offset) {
  const auto type = ev.header.event_type();
  if (type == EventType::format_description || type == EventType::rotate) {
    auto decoded = tracker_.decode(ev.bytes);
    if (!decoded) return decoded.error();
    if (const auto* r = decoded->as<Rotate>()) {
      position_ = Position{r->next_file, r->position};
      return Unit{};
    }
  }
  // Within one file positions only move forward: the FORMAT_DESCRIPTION event a dump re-sends when it
  // starts past offset 4 (and artificial events) carry 0 or their original, earlier end.
  if (end_offset > position_.offset) position_.offset = end_offset;
  return Unit{};
}

// ---------------------------------------------------------------------------------------------------
// LiveReader
//
// Tested against MariaDB 10.11 with Connector/C 3.3. For MySQL the session also sets
// @source_binlog_checksum (8.0.26+) and @replica_uuid; MySQL's refusal of a checksum-unaware replica and its
// TRANSACTION_PAYLOAD events (taken from the packet buffer when Connector/C rejects them) were not seen
// running.

void LiveReader::RplCloser::operator()(st_mariadb_rpl* r) const noexcept { mariadb_rpl_close(r); }
void LiveReader::EventFree::operator()(st_mariadb_rpl_event* e) const noexcept { mariadb_free_rpl_event(e); }

LiveReader::~LiveReader() = default;

Result<std::unique_ptr<LiveReader>> LiveReader::open(const config::MySql& cfg, Logger& log, const LiveOptions& options) {
  if (options.server_id == 0 || options.server_id == 1)
    return reader_error(Exit::config,
                        fmt::format("binlog reader server id {} is reserved (0 is refused by the server, 1 is the "
                                    "usual id of the primary itself); choose another, unique among its replicas",
                                    options.server_id));
  if (options.start.file.empty())
    return reader_error(Exit::internal, "binlog reader started without a binlog file name");
  if (options.start.offset < 4 || options.start.offset > 0xffffffffu)
    return reader_error(Exit::config, fmt::format("binlog position {} is not a valid offset", options.start.offset));

  config::MySql settings = cfg;
  settings.read_timeout = options.read_timeout;
  auto conn = mysql::Connection::open(settings, log);
  if (!conn) return io_error(conn.failure());

  std::unique_ptr<LiveReader> reader(new LiveReader(std::move(*conn)));
  mysql::Connection& c = reader->conn_;
  reader->read_timeout_ = options.read_timeout;
  // The version the server sent in its handshake ("5.5.5-10.11.6-MariaDB..." on MariaDB): no query.
  const char* version = mysql_get_server_info(c.handle());
  reader->mariadb_ = version && std::string_view(version).find("MariaDB") != std::string_view::npos;

  // Ask for events with the checksums they have in the file (a replica that says nothing gets them
  // stripped, and MySQL 8 refuses a checksum-unaware replica); MySQL 8.0.26+ reads the source_ name.
  std::string setup =
      "SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum, "
      "@slave_uuid = " + c.literal(random_uuid()) + ", @replica_uuid = @slave_uuid";
  // MariaDB: declare that GTID events are understood (capability 4, MARIA_SLAVE_CAPABILITY_GTID); older
  // capabilities get them rewritten as BEGIN queries and dummy events.
  if (reader->mariadb_) setup += ", @mariadb_slave_capability = 4";
  if (auto st = c.execute(setup); !st) return io_error(st.failure());

  MYSQL* m = c.handle();
  reader->rpl_.reset(mariadb_rpl_init(m));
  if (!reader->rpl_) return reader_error(Exit::internal, fmt::format("{}: mariadb_rpl_init failed: {}", c.description(), mysql_error(m)));
  MARIADB_RPL* rpl = reader->rpl_.get();
  const std::string& file = options.start.file;
  // MARIADB_RPL_IGNORE_HEARTBEAT does not fit the 16-bit flags field of Connector/C 3.3 and is lost;
  // heartbeats are skipped in next() instead.
  if (mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, file.c_str(), file.size()) ||
      mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, static_cast<unsigned long>(options.start.offset)) ||
      mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, static_cast<unsigned int>(options.server_id)) ||
      mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS,
                           static_cast<unsigned int>(MARIADB_RPL_BINLOG_DUMP_NON_BLOCK | MARIADB_RPL_IGNORE_HEARTBEAT)))
    return reader_error(Exit::internal, fmt::format("{}: mariadb_rpl_optionsv refused an option", c.description()));
  log.debug("binlog dump from {} at {}:{} as server id {}", c.description(), file, options.start.offset, options.server_id);
  if (mariadb_rpl_open(rpl) != 0) return reader->fetch_error("starting the binlog dump");
  reader->position_ = options.start;
  reader->read_timeout_ = options.read_timeout;
  return reader;
}

BinlogError LiveReader::fetch_error(const char* doing) {
  MYSQL* m = conn_.handle();
  const unsigned err = mysql_errno(m);
  const std::string msg = mysql_error(m);
  const std::string& where = conn_.description();
  done_ = true;
  switch (err) {
    case 1236:  // ER_MASTER_FATAL_ERROR_READING_BINLOG: unknown file, purged file, position past the end
      return make_error(ErrorKind::position_lost,
                        fmt::format("{}: cannot read the binlog from {}:{}: {}; the position is gone (binlogs "
                                    "purged?): run sync --full",
                                    where, position_.file, position_.offset, msg));
    case 1045:  // ER_ACCESS_DENIED_ERROR
    case 1227:  // ER_SPECIFIC_ACCESS_DENIED_ERROR
    case 1142:  // ER_TABLEACCESS_DENIED_ERROR
      return reader_error(Exit::noperm,
                          fmt::format("{}: {} ({}); grant the user REPLICATION SLAVE: GRANT REPLICATION SLAVE ON *.* "
                                      "TO the user",
                                      where, msg, doing));
    case 2006:  // CR_SERVER_GONE_ERROR
    case 2013:  // CR_SERVER_LOST, also a read timeout
      return reader_error(Exit::unavailable,
                          fmt::format("{}: the binlog dump stopped: {} ({}, read timeout {} s); a network or server "
                                      "problem: retry later",
                                      where, msg, doing, (read_timeout_.count() + 999) / 1000),
                          true);
    default:
      return reader_error(Exit::unavailable, fmt::format("{}: error {}: {} ({})", where, err, msg, doing));
  }
}

Result<bool> LiveReader::next(RawEvent& out) {
  if (done_) return false;
  MYSQL* m = conn_.handle();
  for (;;) {
    event_.reset();
    MARIADB_RPL_EVENT* e = mariadb_rpl_fetch(rpl_.get(), nullptr);
    Bytes bytes;
    if (e) {
      event_.reset(e);
      if (e->raw_data_ofs > e->raw_data_size || !e->raw_data) {
        done_ = true;
        return reader_error(Exit::internal, "Connector/C returned an event with inconsistent raw data");
      }
      bytes = Bytes(e->raw_data + e->raw_data_ofs, e->raw_data_size - e->raw_data_ofs);
    } else {
      // A network or server error ends the dump. Errors of Connector/C's own event parser do not: it
      // rejects event types it does not know (MySQL's TRANSACTION_PAYLOAD, PARTIAL_UPDATE_ROWS) and
      // bodies it misreads, though the packet arrived whole; and such an error stays set on the
      // connection after later successful reads. Either way the last packet is still in the
      // connection's buffer: the EOF packet that ends a non-blocking dump (0xfe), or an event packet (a
      // 0x00 byte and the event, whose header gives its length), which is taken from there.
      if (mysql_errno(m) && !is_parser_error(mysql_errno(m))) return fetch_error("reading the binlog dump");
      const unsigned char* rp = m->net.read_pos;
      const unsigned char* end = m->net.buff_end;
      if (rp && end && rp < end && rp[0] == 0xfe) {
        done_ = true;
        return false;
      }
      if (!rp || !end || rp >= end || rp[0] != 0x00) {
        done_ = true;
        return reader_error(Exit::internal, fmt::format("{}: Connector/C ended the binlog dump without an event, "
                                                        "an EOF packet or an error", conn_.description()));
      }
      const Bytes available(rp + 1, static_cast<std::size_t>(end - rp - 1));
      const auto h = peek_header(available);
      if (!h || h->event_length < Header::size || h->event_length > available.size()) {
        done_ = true;
        return make_error(ErrorKind::corrupt,
                          fmt::format("{}: Connector/C rejected a binlog event after {}:{} that cannot be recovered",
                                      conn_.description(), position_.file, position_.offset));
      }
      salvage_.assign(available.begin(), available.begin() + h->event_length);
      bytes = Bytes(salvage_);
      ++salvaged_;
    }
    const auto h = peek_header(bytes);
    if (!h || h->event_length != bytes.size()) {
      done_ = true;
      return make_error(ErrorKind::corrupt, fmt::format("{}: a binlog event of {} bytes has a bad header",
                                                        conn_.description(), bytes.size()));
    }
    if (is_heartbeat(h->type)) continue;
    out.header = *h;
    out.bytes = bytes;
    const bool artificial = h->flags & Header::artificial_flag;
    if (auto st = track(out, artificial ? 0 : h->log_pos); !st) {
      done_ = true;
      return st.error();
    }
    return true;
  }
}

// ---------------------------------------------------------------------------------------------------
// FileReader

Result<std::unique_ptr<FileReader>> FileReader::open(const std::string& path, std::uint64_t start, bool follow_rotate) {
  if (start < 4) return reader_error(Exit::config, fmt::format("binlog offset {} is before the first event", start));
  std::unique_ptr<FileReader> r(new FileReader());
  r->follow_rotate_ = follow_rotate;
  r->start_ = start;
  if (auto st = r->open_file(path); !st) return st.error();
  // Like a dump: the position is the start from the beginning, and the FORMAT_DESCRIPTION event read
  // first (it ends before the start) does not move it back.
  r->position_.offset = start;
  return r;
}

Result<Unit> FileReader::open_file(const std::string& path) {
  const std::filesystem::path p(path);
  dir_ = p.parent_path().string();
  path_ = path;
  file_.reset(std::fopen(path.c_str(), "rb"));
  if (!file_)
    return reader_error(Exit::unavailable, fmt::format("cannot open binlog file {}: {}", path, std::strerror(errno)));
  unsigned char magic[4];
  if (std::fread(magic, 1, 4, file_.get()) != 4 || std::memcmp(magic, kMagic, 4) != 0)
    return make_error(ErrorKind::corrupt, fmt::format("{} is not a binlog file (no binlog magic number)", path));
  offset_ = 4;
  position_ = Position{p.filename().string(), 4};
  tracker_ = Decoder{};
  return Unit{};
}

Result<bool> FileReader::next(RawEvent& out) {
  for (;;) {
    if (done_) return false;
    // After the FORMAT_DESCRIPTION event, jump to the start offset (once, in the first file).
    if (start_ > offset_ && offset_ > 4) {
      if (std::fseek(file_.get(), static_cast<long>(start_), SEEK_SET) != 0)
        return reader_error(Exit::unavailable, fmt::format("cannot seek to {} in {}: {}", start_, path_, std::strerror(errno)));
      offset_ = start_;
      position_.offset = start_;
      start_ = 4;
    }
    std::uint8_t head[Header::size];
    const std::size_t n = std::fread(head, 1, Header::size, file_.get());
    if (n == 0 && std::feof(file_.get())) {
      done_ = true;
      return false;
    }
    if (n < Header::size) {
      if (std::ferror(file_.get()))
        return reader_error(Exit::unavailable, fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
      incomplete_tail_ = true;
      done_ = true;
      return false;
    }
    const auto h = peek_header(Bytes(head, Header::size));
    if (h->event_length < Header::size || h->event_length > kMaxEventBytes) {
      done_ = true;
      return make_error(ErrorKind::corrupt, fmt::format("{}: an event at offset {} claims {} bytes", path_, offset_,
                                                        h->event_length));
    }
    buffer_.resize(h->event_length);
    std::memcpy(buffer_.data(), head, Header::size);
    const std::size_t rest = h->event_length - Header::size;
    if (std::fread(buffer_.data() + Header::size, 1, rest, file_.get()) != rest) {
      if (std::ferror(file_.get()))
        return reader_error(Exit::unavailable, fmt::format("cannot read {}: {}", path_, std::strerror(errno)));
      incomplete_tail_ = true;
      done_ = true;
      return false;
    }
    offset_ += h->event_length;
    if (is_heartbeat(h->type)) continue;
    out.header = *h;
    out.bytes = Bytes(buffer_);
    if (auto st = track(out, offset_); !st) {
      done_ = true;
      return st.error();
    }
    if (h->event_type() == EventType::rotate && follow_rotate_) {
      const std::filesystem::path next = std::filesystem::path(dir_) / position_.file;
      std::error_code ec;
      if (std::filesystem::exists(next, ec)) {
        // Keep this event's bytes: they live in buffer_, which open_file does not touch.
        const Position rotated = position_;
        if (auto st = open_file(next.string()); !st) return st.error();
        position_ = rotated;
        start_ = rotated.offset;
      } else {
        done_ = true;
      }
    }
    return true;
  }
}

}  // namespace m2m::binlog
