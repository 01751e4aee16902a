// The work units of a sharded run (--shard I/N) in MongoDB, claimed through leases: the only code that
// knows the unit fields of _sync_metadata's documents.
//
// A unit's lease lives on its own document: a table's (a whole table, or the finish of a split table) or
// a key range's (mongo::RangeState). The fields: unit_run (the run's fencing token: units of another run
// are not claimable), unit_kind ("table", "range", "finish"), unit_state ("pending", "claimed", "ranges":
// a split table waiting for its ranges, "done"), unit_shard (the shard it belongs to first), unit_size
// (rows, for the order of claims), unit_owner ("host:pid"), unit_expires (a date on the server's clock),
// unit_token (incremented by every claim: every write on the unit's behalf requires it, see
// MetadataStore::hold_unit), unit_quiet (the run's probe found nothing to read), unit_reason, and
// unit_taken_over. Expiry is judged by the server's clock ($$NOW), never by a host's.
#pragma once

#include "mongo/client.hpp"
#include "mongo/metadata.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace m2m::mongo {

// A table unit as the run that planned it publishes it.
struct PublishedUnit {
  std::string table;
  std::uint32_t shard = 0;
  std::uint64_t size = 0;
  bool quiet = false;
};

// A unit this process claimed.
struct UnitClaim {
  enum class Kind { table, range, finish };
  Kind kind = Kind::table;
  std::string table;
  std::int64_t range = -1;         // Kind::range: its index
  std::int64_t token = 0;          // the claim's token
  bool quiet = false;
  bool taken_over = false;         // claimed after another shard's lease on it expired
  std::string reason;              // Kind::range, Kind::finish: why the table is copied in full
  std::optional<TableState> table_state;  // Kind::table, Kind::finish: the table's document as claimed
  std::optional<RangeState> range_state;  // Kind::range
  std::string label() const;       // "orders", "orders [3/8]"
};

// What `status` shows of a unit held now.
struct HeldUnit {
  std::string unit;                // "orders", "orders [3/8]"
  std::string kind;                // "table", "range", "finish"
  std::string owner;               // "host:pid"
  std::int64_t expires_at_ms = 0;
  std::optional<std::vector<std::string>> checkpoint;  // a range's
};

// The units of one sharded run, seen by one worker (its own client and metadata store).
class UnitBoard {
public:
  UnitBoard(Client& client, MetadataStore& meta, std::string db, std::string where, std::int64_t run, std::string owner,
            std::chrono::milliseconds ttl);

  // The run's table units (by the shard that planned it, fenced by the run's token).
  Status publish(const std::vector<PublishedUnit>& units);
  // A split table's ranges, claimable now (ranges already done stay done), and the table unit waiting for
  // them; or, when every range is done already, the table's finish. By the holder of the table unit.
  Status publish_ranges(const std::string& table, const std::vector<RangeState>& ranges,
                        const std::vector<std::uint32_t>& shards, std::uint64_t size, const std::string& reason);
  // The next unit for shard `shard` (see ops::next_claim for the order): one findAndModify per tier.
  Expected<std::optional<UnitClaim>> claim(int shard);
  // The unit is done (its outcome recorded): never claimed again in this run.
  Status complete(const UnitClaim& claim);
  // The unit goes back to pending, for any shard to claim at once (this process stops).
  Status release(const UnitClaim& claim);
  // After a range: once no range of `table` is left undone, the table's finish becomes claimable.
  Status range_ended(const std::string& table);
  // Units of the run not done yet (claimed by anyone, or pending).
  Expected<std::int64_t> unfinished();

private:
  Status set_state(const UnitClaim& claim, bool done);

  Client& client_;
  MetadataStore& meta_;
  std::string db_, where_;
  std::int64_t run_;
  std::string owner_;
  std::chrono::milliseconds ttl_;
};

// Keeps the leases of the units this process holds alive: every third of sync.unit_ttl, each held unit's
// expiry is pushed on (on the server's clock) while its token is still the claim's. A unit whose renewal
// finds another token was taken over: noted (lost()), and its next write is refused anyway.
class UnitKeeper {
public:
  UnitKeeper(Pool& pool, std::string db, std::int64_t run, std::chrono::milliseconds ttl, Logger& log);
  ~UnitKeeper();
  UnitKeeper(const UnitKeeper&) = delete;
  UnitKeeper& operator=(const UnitKeeper&) = delete;
  void hold(const UnitClaim& claim);
  void drop(const UnitClaim& claim);

private:
  void loop();
  struct Held {
    bool by_id = false;
    std::string key;
    std::string label;
  };
  Pool& pool_;
  std::string db_;
  std::int64_t run_;
  std::chrono::milliseconds ttl_;
  Logger& log_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::map<std::int64_t, std::map<std::string, Held>> held_;  // token -> key -> unit
  std::thread thread_;
};

// The units held now (claimed, lease not expired by this host's clock), for `status`.
Expected<std::vector<HeldUnit>> read_held_units(Client& client, const std::string& db, std::string_view where);

}  // namespace m2m::mongo
