// Where a stored binlog position stands among the server's files: still readable, purged, or in the
// oldest file left (the next purge breaks the chain), and how many bytes lie after it.
#include "binlog/server.hpp"

#include <catch2/catch.hpp>

using namespace m2m::binlog;

TEST_CASE("standing and locate: a position among SHOW BINARY LOGS", "[binlog]") {
  const std::vector<BinaryLog> logs{{"mysql-bin.000007", 1000}, {"mysql-bin.000008", 500}, {"mysql-bin.000009", 200}};

  const auto middle = standing(logs, {"mysql-bin.000008", 300});
  CHECK(middle.present);
  CHECK(middle.lag_bytes == 200 + 200);
  CHECK(middle.oldest_file == "mysql-bin.000007");
  CHECK_FALSE(middle.oldest);
  CHECK(locate(logs, {"mysql-bin.000008", 300}) == PositionState::available);

  const auto first = standing(logs, {"mysql-bin.000007", 1000});
  CHECK(first.present);
  CHECK(first.oldest);  // the next PURGE removes it
  CHECK(first.lag_bytes == 700);

  const auto at_end = standing(logs, {"mysql-bin.000009", 200});
  CHECK(at_end.lag_bytes == 0);
  CHECK_FALSE(at_end.oldest);

  const auto gone = standing(logs, {"mysql-bin.000003", 4});
  CHECK_FALSE(gone.present);
  CHECK(gone.lag_bytes == 0);
  CHECK(locate(logs, {"mysql-bin.000003", 4}) == PositionState::purged);
  CHECK(locate(logs, {"mysql-bin.000009", 201}) == PositionState::beyond_end);

  // The only file is the one being written: PURGE never removes it.
  const std::vector<BinaryLog> one{{"mysql-bin.000001", 900}};
  CHECK_FALSE(standing(one, {"mysql-bin.000001", 4}).oldest);
  CHECK(standing(one, {"mysql-bin.000001", 4}).lag_bytes == 896);
  CHECK_FALSE(standing({}, {"mysql-bin.000001", 4}).present);
}
