// Unordered bulk writes, flushed at a document count or a byte size, whichever comes first.
#pragma once

#include "mongo/builder.hpp"
#include "mongo/client.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace m2m::mongo {

struct WriteCounts {
  std::uint64_t inserted = 0, upserted = 0, matched = 0, modified = 0, deleted = 0;
};

// One operation of a batch that the server refused while applying the others (the batch is unordered):
// a document too large or too deep, a field name it does not accept.
struct RefusedOp {
  std::size_t index = 0;  // position in the flushed batch
  int code = 0;
  std::string message;
};

// Owns a mongoc_write_concern_t built from "majority" or a node count.
class WriteConcern {
public:
  explicit WriteConcern(const std::string& spec);
  ~WriteConcern() { mongoc_write_concern_destroy(wc_); }
  WriteConcern(const WriteConcern&) = delete;
  WriteConcern& operator=(const WriteConcern&) = delete;
  const mongoc_write_concern_t* get() const { return wc_; }

  // Whether `spec` is a write concern this class accepts ("majority" or a whole number >= 0).
  static bool valid(const std::string& spec);

private:
  mongoc_write_concern_t* wc_;
};

// The reply of an `update` command made into what mongoc_bulk_operation_execute gives for the same
// operations: {nInserted, nMatched, nModified, nRemoved, nUpserted, writeErrors, writeConcernErrors} in
// `bulk_reply` (initialized here), and the same result and error: false with the first write error
// (domain MONGOC_ERROR_SERVER, its code, "Multiple write errors: ..." when there are several), else the
// write concern error (MONGOC_ERROR_WRITE_CONCERN), else the command's own error. `command_ok` and
// `command_error` are what the driver's command call returned.
bool bulk_result_of_update(const bson_t* reply, bool command_ok, const bson_error_t& command_error,
                           bson_t* bulk_reply, bson_error_t* error);

class BulkWriter {
public:
  // Runs after every acknowledged flush, with the number of operations the batch held and those the
  // server refused; its failure becomes the failure of the operation that caused the flush.
  using OnFlush = std::function<Status(std::size_t ops, const std::vector<RefusedOp>& refused)>;

  BulkWriter(Client& client, const std::string& db, const std::string& collection, const WriteConcern& wc,
             std::size_t max_docs, std::size_t max_bytes, std::string where, OnFlush on_flush = {});
  ~BulkWriter();
  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  // Each adds one operation, flushing the batch first if it is full.
  //
  // Replacements go out as one `update` command per batch that this class builds itself (statements
  // {q, u, upsert: true, multi: false}, ordered: false, the write concern) and sends with
  // mongoc_collection_write_command_with_opts: the driver's bulk API builds a document per operation,
  // re-parses the same options and formats an integer to test the first key for a pipeline, most of the
  // cost of a row. The server applies exactly the same statements, and the reply is read into what the
  // bulk API reports (bulk_result_of_update). Two of the bulk API's duties stay here: a command holds
  // at most kMaxUpdateCommandBytes (the server refuses a larger body), and a batch that fails with a
  // transient error (network, not primary, as is_transient says) is sent once more when the driver would
  // retry a write (retryWrites on, and a server to write to that is not a standalone one); every
  // statement replaces a document by its key, so applying one twice changes nothing.
  Status replace_upsert(const bson_t* selector, const bson_t* document);
  Status insert(const bson_t* document);
  Status remove_one(const bson_t* selector);

  // Sends the pending batch and waits for the acknowledgement.
  Status flush();
  std::size_t pending() const { return ops_; }
  const WriteCounts& counts() const { return counts_; }

  // MongoDB's maxBsonObjectSize: the body of an update command this class builds stays within it (the
  // server accepts 16 KiB more, for what the driver adds: $db, lsid, $clusterTime, txnNumber). A single
  // statement larger than this (a document near 16 MiB) is sent alone.
  static constexpr std::size_t kMaxUpdateCommandBytes = 16 * 1024 * 1024;
  // MongoDB's maxWriteBatchSize: the statements of one command (sync.batch_size cannot be larger).
  static constexpr std::size_t kMaxWriteBatch = 100'000;

private:
  enum class Mode { none, bulk, update };  // what the pending batch holds
  Status before_add(std::size_t bytes, Mode mode, std::size_t command_bytes = 0);
  bool execute_bulk(bson_t* reply, bson_error_t* error);
  bool execute_update(bson_t* reply, bson_error_t* error);
  bool retryable_topology();
  void reset();

  mongoc_client_t* client_;
  CollectionPtr coll_;
  std::string collection_name_;
  bool retry_writes_ = true;  // the URL's retryWrites (the driver's default: true)
  Mode mode_ = Mode::none;
  BsonBuilder command_;       // the update command being built
  std::size_t updates_at_ = 0;  // where its `updates` array starts
  const WriteConcern& wc_;
  mongoc_bulk_operation_t* bulk_ = nullptr;
  std::size_t max_docs_, max_bytes_;
  std::size_t ops_ = 0, bytes_ = 0;
  WriteCounts counts_;
  std::string where_;
  OnFlush on_flush_;
  bson_t insert_opts_;
};

}  // namespace m2m::mongo
