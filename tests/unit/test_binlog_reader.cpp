// FileReader over hand-built binlog files: the magic number, event boundaries and positions, a start
// offset (the FORMAT_DESCRIPTION event still comes first), following a ROTATE into the next file, a file
// that ends inside an event, and files that are not binlogs. Also the FORMAT_DESCRIPTION of an open file
// (in-use flag set after its CRC was computed).
#include "binlog/reader.hpp"
#include "unit/binlog_builder.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace m2m::binlog;
using namespace binlog_test;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/m2m-binlog-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Writes the magic number and the events, each with its log_pos set to its end offset; returns the end
// offset of every event.
std::vector<std::uint64_t> write_binlog(const std::filesystem::path& file, std::vector<Vec> events) {
  std::vector<std::uint64_t> ends;
  std::ofstream out(file, std::ios::binary);
  out.write("\xfe" "bin", 4);
  std::uint64_t pos = 4;
  for (auto& e : events) {
    pos += e.size();
    // Rewrite log_pos and recompute the CRC32 (every event here has one).
    e[13] = static_cast<std::uint8_t>(pos);
    e[14] = static_cast<std::uint8_t>(pos >> 8);
    e[15] = static_cast<std::uint8_t>(pos >> 16);
    e[16] = static_cast<std::uint8_t>(pos >> 24);
    const auto c = crc(e, e.size() - 4);
    for (int i = 0; i < 4; ++i) e[e.size() - 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(c >> (8 * i));
    out.write(reinterpret_cast<const char*>(e.data()), static_cast<std::streamsize>(e.size()));
    ends.push_back(pos);
  }
  return ends;
}

Vec xid(std::uint64_t n) { return event(EventType::xid, Buf().le(n, 8).b, true); }
Vec rotate(const std::string& next) { return event(EventType::rotate, Buf().le(4, 8).str(next).b, true); }

}  // namespace

TEST_CASE("FileReader: events, positions, start offset, rotation", "[binlog]") {
  TempDir dir;
  const auto fde = format_description("10.11.6-MariaDB-log", true, 0);
  const auto ends1 = write_binlog(dir.path / "mysql-bin.000001", {fde, xid(1), xid(2), xid(3), rotate("mysql-bin.000002")});
  const auto ends2 = write_binlog(dir.path / "mysql-bin.000002", {fde, xid(4)});

  SECTION("one file from the start") {
    auto r = FileReader::open((dir.path / "mysql-bin.000001").string());
    REQUIRE(r.ok());
    Decoder d;
    RawEvent raw;
    std::vector<std::uint64_t> xids;
    std::vector<Position> positions;
    while (true) {
      auto more = (*r)->next(raw);
      REQUIRE(more.ok());
      if (!*more) break;
      auto e = d.decode(raw.bytes);
      REQUIRE(e.ok());
      if (auto* x = e->as<Xid>()) xids.push_back(x->xid);
      positions.push_back((*r)->position());
    }
    CHECK(xids == std::vector<std::uint64_t>{1, 2, 3});
    REQUIRE(positions.size() == 5);
    CHECK(positions[0] == Position{"mysql-bin.000001", ends1[0]});
    CHECK(positions[3] == Position{"mysql-bin.000001", ends1[3]});
    CHECK(positions[4] == Position{"mysql-bin.000002", 4});  // after the ROTATE: the next file
    CHECK_FALSE((*r)->incomplete_tail());
  }
  SECTION("from an offset, following the rotation") {
    auto r = FileReader::open((dir.path / "mysql-bin.000001").string(), ends1[1], true);
    REQUIRE(r.ok());
    Decoder d;
    RawEvent raw;
    std::vector<std::string> seen;
    while (true) {
      auto more = (*r)->next(raw);
      REQUIRE(more.ok());
      if (!*more) break;
      auto e = d.decode(raw.bytes);
      REQUIRE(e.ok());
      seen.push_back(std::string(event_type_name(raw.header.type)) + "@" + (*r)->position().file + ":" +
                     std::to_string((*r)->position().offset));
    }
    CHECK(seen == std::vector<std::string>{
                      "FORMAT_DESCRIPTION@mysql-bin.000001:" + std::to_string(ends1[1]),  // position kept at the start
                      "XID@mysql-bin.000001:" + std::to_string(ends1[2]),
                      "XID@mysql-bin.000001:" + std::to_string(ends1[3]),
                      "ROTATE@mysql-bin.000002:4",
                      "FORMAT_DESCRIPTION@mysql-bin.000002:" + std::to_string(ends2[0]),
                      "XID@mysql-bin.000002:" + std::to_string(ends2[1])});
  }
  SECTION("a file that ends inside an event") {
    const auto full = std::filesystem::file_size(dir.path / "mysql-bin.000002");
    std::filesystem::resize_file(dir.path / "mysql-bin.000002", full - 3);
    auto r = FileReader::open((dir.path / "mysql-bin.000002").string());
    REQUIRE(r.ok());
    RawEvent raw;
    REQUIRE((*r)->next(raw).value());
    CHECK_FALSE((*r)->next(raw).value());
    CHECK((*r)->incomplete_tail());
    CHECK((*r)->position() == Position{"mysql-bin.000002", ends2[0]});
  }
  SECTION("not a binlog, no file, a bad offset, an impossible length") {
    std::ofstream(dir.path / "junk") << "hello world";
    auto junk = FileReader::open((dir.path / "junk").string());
    REQUIRE_FALSE(junk.ok());
    CHECK(junk.error().kind == ErrorKind::corrupt);
    auto none = FileReader::open((dir.path / "missing").string());
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().kind == ErrorKind::io);
    CHECK(none.failure().code == m2m::Exit::unavailable);
    CHECK_FALSE(FileReader::open((dir.path / "mysql-bin.000001").string(), 2).ok());
    {
      std::ofstream out(dir.path / "bad", std::ios::binary);
      out.write("\xfe" "bin", 4);
      Vec e = xid(1);
      e[9] = 3;  // event length 3: shorter than a header
      e[10] = e[11] = e[12] = 0;
      out.write(reinterpret_cast<const char*>(e.data()), static_cast<std::streamsize>(e.size()));
    }
    auto bad = FileReader::open((dir.path / "bad").string());
    REQUIRE(bad.ok());
    RawEvent raw;
    auto r = (*bad)->next(raw);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::corrupt);
  }
}

TEST_CASE("the FORMAT_DESCRIPTION of an open binlog verifies with its in-use flag set", "[binlog]") {
  auto fde = format_description("10.11.6-MariaDB-log", true);
  fde[17] |= 0x01;  // LOG_EVENT_BINLOG_IN_USE_F, set by the server after the CRC was computed
  Decoder d;
  CHECK(d.decode(fde).ok());
  fde[18] |= 0x01;  // any other change still fails
  Decoder d2;
  CHECK(d2.decode(fde).error().kind == ErrorKind::checksum);
}

TEST_CASE("random_uuid is a version 4 UUID", "[binlog]") {
  const std::string a = random_uuid(), b = random_uuid();
  CHECK(a.size() == 36);
  CHECK(a[14] == '4');
  CHECK(a != b);
}
