// Unordered bulk writes, flushed at a document count or a byte size, whichever comes first.
#pragma once

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
  Status replace_upsert(const bson_t* selector, const bson_t* document);
  Status insert(const bson_t* document);
  Status remove_one(const bson_t* selector);

  // Sends the pending batch and waits for the acknowledgement.
  Status flush();
  std::size_t pending() const { return ops_; }
  const WriteCounts& counts() const { return counts_; }

private:
  Status before_add(std::size_t bytes);
  void reset();

  CollectionPtr coll_;
  const WriteConcern& wc_;
  mongoc_bulk_operation_t* bulk_ = nullptr;
  std::size_t max_docs_, max_bytes_;
  std::size_t ops_ = 0, bytes_ = 0;
  WriteCounts counts_;
  std::string where_;
  OnFlush on_flush_;
  bson_t upsert_opts_;
  bson_t insert_opts_;
};

}  // namespace m2m::mongo
