// The incremental window's lower bound: instants for TIMESTAMP, wall clock with daylight saving time for
// DATETIME. The SQL is checked here as text; what the server makes of it is checked against MariaDB in
// tests/integration/test_sync_window.cpp.
#include "sync/state.hpp"

#include <catch2/catch.hpp>

using namespace m2m;

namespace {
std::string quote(std::string_view s) { return "'" + std::string(s) + "'"; }
}  // namespace

TEST_CASE("earlier picks the earlier UTC instant and ignores an empty one", "[sync][state]") {
  CHECK(sync::earlier("2024-10-27 00:40:00.000000", "2024-10-27 00:39:59.999999") == "2024-10-27 00:39:59.999999");
  CHECK(sync::earlier("", "2024-01-01 00:00:00.000000") == "2024-01-01 00:00:00.000000");
  CHECK(sync::earlier("2024-01-01 00:00:00.000000", "") == "2024-01-01 00:00:00.000000");
  CHECK(sync::earlier("", "").empty());
}

TEST_CASE("a TIMESTAMP window starts at the previous read or the oldest open transaction, minus the lookback",
          "[sync][state]") {
  sync::WindowSpec w;
  w.instant = true;
  w.lookback_us = 5'000'000;
  CHECK(sync::window_bound_sql(w, quote).empty());  // nothing known: no window
  w.mark_change = "2024-01-01 00:00:00";
  CHECK(sync::window_bound_sql(w, quote) == "CAST('2024-01-01 00:00:00' AS DATETIME(6)) - INTERVAL 5000000 MICROSECOND");
  w.previous_read = "2024-01-02 10:00:00.000000";
  CHECK(sync::window_bound_sql(w, quote) ==
        "CAST('2024-01-02 10:00:00.000000' AS DATETIME(6)) - INTERVAL 5000000 MICROSECOND");
  // A transaction that had written and was still open at the previous read: back to its start.
  w.floor = "2024-01-02 09:59:40.000000";
  CHECK(sync::window_bound_sql(w, quote) ==
        "CAST('2024-01-02 09:59:40.000000' AS DATETIME(6)) - INTERVAL 5000000 MICROSECOND");
  // A floor after the previous read does not narrow the window.
  w.floor = "2024-01-02 10:00:01.000000";
  CHECK(sync::window_bound_sql(w, quote) ==
        "CAST('2024-01-02 10:00:00.000000' AS DATETIME(6)) - INTERVAL 5000000 MICROSECOND");
}

TEST_CASE("a DATETIME window takes the earlier of the mark and the previous read in the column's zone, and the DST "
          "drop",
          "[sync][state]") {
  sync::WindowSpec w;
  w.instant = false;
  w.zone = "Europe/Berlin";
  w.lookback_us = 1'000'000;
  w.mark_change = "2024-10-27 02:40:00";
  CHECK(sync::window_bound_sql(w, quote) ==
        "CAST('2024-10-27 02:40:00' AS DATETIME(6)) - INTERVAL (1000000 + 0) MICROSECOND");
  w.previous_read = "2024-10-27 00:40:00.000000";
  const std::string p = "CAST('2024-10-27 00:40:00.000000' AS DATETIME(6))";
  CHECK(sync::window_bound_sql(w, quote) ==
        "LEAST(CAST('2024-10-27 02:40:00' AS DATETIME(6)), COALESCE(CONVERT_TZ(" + p +
            ", '+00:00', 'Europe/Berlin'), CAST('2024-10-27 02:40:00' AS DATETIME(6)))) - INTERVAL (1000000 + "
            "COALESCE(GREATEST(0, TIMESTAMPDIFF(MICROSECOND, " + p + ", CONVERT_TZ(" + p +
            ", '+00:00', 'Europe/Berlin')) - TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), CONVERT_TZ(UTC_TIMESTAMP(6), "
            "'+00:00', 'Europe/Berlin'))), 0)) MICROSECOND");
  // Without a zone of its own the column is in the server's.
  w.zone.clear();
  CHECK(sync::window_bound_sql(w, quote).find("'+00:00', 'SYSTEM')") != std::string::npos);
  // No mark (an empty table at the full sync): the previous read alone.
  w.mark_change.clear();
  CHECK(sync::window_bound_sql(w, quote).rfind("CONVERT_TZ(" + p + ", '+00:00', 'SYSTEM') - INTERVAL (1000000 + ", 0) == 0);
}
