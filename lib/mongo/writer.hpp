// Unordered bulk writes, flushed at a document count or a byte size, whichever comes first.
#pragma once

#include "mongo/client.hpp"

#include <cstdint>
#include <string>

namespace m2m::mongo {

struct WriteCounts {
  std::uint64_t inserted = 0, upserted = 0, matched = 0, modified = 0, deleted = 0;
};

// Owns a mongoc_write_concern_t built from "majority" or a node count.
class WriteConcern {
public:
  explicit WriteConcern(const std::string& spec);
  ~WriteConcern() { mongoc_write_concern_destroy(wc_); }
  WriteConcern(const WriteConcern&) = delete;
  WriteConcern& operator=(const WriteConcern&) = delete;
  const mongoc_write_concern_t* get() const { return wc_; }

private:
  mongoc_write_concern_t* wc_;
};

class BulkWriter {
public:
  BulkWriter(Client& client, const std::string& db, const std::string& collection, const WriteConcern& wc,
             std::size_t max_docs, std::size_t max_bytes, std::string where);
  ~BulkWriter();
  BulkWriter(const BulkWriter&) = delete;
  BulkWriter& operator=(const BulkWriter&) = delete;

  // Each adds one operation and flushes first if the batch is full.
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

  mongoc_collection_t* coll_;
  const WriteConcern& wc_;
  mongoc_bulk_operation_t* bulk_ = nullptr;
  std::size_t max_docs_, max_bytes_;
  std::size_t ops_ = 0, bytes_ = 0;
  WriteCounts counts_;
  std::string where_;
  bson_t upsert_opts_;
  bson_t insert_opts_;
};

}  // namespace m2m::mongo
