// Where a table's sync stands: the clock a run reads by, the incremental window, the marks a full sync
// leaves, and the table's record in _sync_metadata.
#pragma once

#include "mongo/metadata.hpp"
#include "sync/report.hpp"
#include "sync/sql.hpp"
#include "sync/table_sync.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace m2m::sync {

// Read once at the start of a run (one query): the server's clock, and the oldest transaction that has
// written and is still open. Rows such a transaction stamped carry a time from before this read but
// become visible only when it commits, so the next run's window must reach back to its start.
struct ReadTime {
  std::string now;                          // NOW(6) in the session's zone, UTC
  std::optional<std::string> oldest_write;  // UTC start of the oldest open transaction that has written
  bool transactions_visible = false;        // information_schema.INNODB_TRX could be read (needs PROCESS)
  std::string transactions_error;           // why not
  std::string server_zone;                  // @@global.time_zone: "SYSTEM", "+01:00", "Europe/Berlin"
};
Expected<ReadTime> read_time(mysql::Connection& conn);

// What the lower bound of an incremental run's re-read window depends on.
struct WindowSpec {
  bool instant = false;          // TIMESTAMP column: values are UTC instants
  std::string zone;              // DATETIME/DATE column: the SQL time zone its wall-clock values are in
  std::string mark_change;       // the change value of the stored mark; empty if none
  std::string previous_read;     // UTC NOW(6) of the previous run's read; empty if unknown
  std::string floor;             // UTC instant the window must reach back to; empty if none
  std::int64_t lookback_us = 0;  // sync.lookback
};

// The lower bound as a constant SQL expression (empty: no window). For a TIMESTAMP column:
//   min(previous read, floor) - lookback.
// For a DATETIME/DATE column, whose values carry no zone: the earlier of the mark's value and the
// previous read (and floor) converted to the column's zone, minus the lookback and minus the hour a clock
// set back for the end of daylight saving time repeats (the drop of the zone's UTC offset between the
// previous read and now), so that a row written in the repeated hour, earlier on the wall clock than the
// mark but later in fact, is read.
std::string window_bound_sql(const WindowSpec& w, const Quote& quote);

// The smaller of two UTC instants written as 'YYYY-MM-DD HH:MM:SS[.ffffff]' (text order is time order);
// an empty one does not count.
std::string earlier(const std::string& a, const std::string& b);

// Where the next incremental run starts after a full sync, read before copying: [server time, largest
// change value, last key at that value when settled] as the source's own text ([server time] alone for
// an empty table).
Expected<std::vector<std::string>> current_mark(TableContext& ctx, const TablePlan& plan);

// Queues the table's document in _sync_metadata at the end of its sync (MetadataStore::flush writes it).
// `finish` sets what the sync decided: the checkpoint, marks and window, written only when the sync got
// through the table (refused rows aside); otherwise those keep what the run wrote as it went.
void record(TableContext& ctx, const TablePlan& plan, const std::optional<mongo::TableState>& prior, TableReport& report,
            const std::function<void(mongo::TableState&)>& finish);

}  // namespace m2m::sync
