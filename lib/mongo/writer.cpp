#include "mongo/writer.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::mongo {

WriteConcern::WriteConcern(const std::string& spec) : wc_(mongoc_write_concern_new()) {
  if (spec == "majority") {
    mongoc_write_concern_set_w(wc_, MONGOC_WRITE_CONCERN_W_MAJORITY);
  } else if (auto n = parse_int(spec); n && *n >= 0) {
    mongoc_write_concern_set_w(wc_, static_cast<int32_t>(*n));
  } else {
    throw Error(Exit::config, fmt::format("mongodb.write_concern '{}': use \"majority\" or a number of nodes", spec));
  }
}

BulkWriter::BulkWriter(Client& client, const std::string& db, const std::string& collection, const WriteConcern& wc,
                       std::size_t max_docs, std::size_t max_bytes, std::string where)
    : coll_(mongoc_client_get_collection(client.get(), db.c_str(), collection.c_str())),
      wc_(wc),
      max_docs_(max_docs),
      max_bytes_(max_bytes),
      where_(std::move(where)) {
  bson_init(&upsert_opts_);
  BSON_APPEND_BOOL(&upsert_opts_, "upsert", true);
  // The documents are built by convert/, which already guarantees valid UTF-8 and legal field names;
  // the driver's own validation of every document was a third of the whole sync's CPU time.
  BSON_APPEND_BOOL(&upsert_opts_, "validate", false);
  bson_init(&insert_opts_);
  BSON_APPEND_BOOL(&insert_opts_, "validate", false);
}

BulkWriter::~BulkWriter() {
  if (bulk_) mongoc_bulk_operation_destroy(bulk_);
  bson_destroy(&upsert_opts_);
  bson_destroy(&insert_opts_);
  mongoc_collection_destroy(coll_);
}

void BulkWriter::reset() {
  if (bulk_) mongoc_bulk_operation_destroy(bulk_);
  bulk_ = nullptr;
  ops_ = 0;
  bytes_ = 0;
}

Status BulkWriter::before_add(std::size_t bytes) {
  if (ops_ > 0 && (ops_ >= max_docs_ || bytes_ + bytes > max_bytes_)) {
    if (auto st = flush(); !st) return st;
  }
  if (!bulk_) {
    bson_t opts;
    bson_init(&opts);
    BSON_APPEND_BOOL(&opts, "ordered", false);
    mongoc_write_concern_append(const_cast<mongoc_write_concern_t*>(wc_.get()), &opts);
    bulk_ = mongoc_collection_create_bulk_operation_with_opts(coll_, &opts);
    bson_destroy(&opts);
  }
  ++ops_;
  bytes_ += bytes;
  return success();
}

Status BulkWriter::replace_upsert(const bson_t* selector, const bson_t* document) {
  if (auto st = before_add(selector->len + document->len); !st) return st;
  bson_error_t error;
  if (!mongoc_bulk_operation_replace_one_with_opts(bulk_, selector, document, &upsert_opts_, &error))
    return Failure{Exit::internal, fmt::format("{}: invalid replacement document: {}", where_, error.message)};
  return success();
}

Status BulkWriter::insert(const bson_t* document) {
  if (auto st = before_add(document->len); !st) return st;
  bson_error_t error;
  if (!mongoc_bulk_operation_insert_with_opts(bulk_, document, &insert_opts_, &error))
    return Failure{Exit::internal, fmt::format("{}: invalid document: {}", where_, error.message)};
  return success();
}

Status BulkWriter::remove_one(const bson_t* selector) {
  if (auto st = before_add(selector->len); !st) return st;
  bson_error_t error;
  if (!mongoc_bulk_operation_remove_one_with_opts(bulk_, selector, nullptr, &error))
    return Failure{Exit::internal, fmt::format("{}: invalid delete selector: {}", where_, error.message)};
  return success();
}

Status BulkWriter::flush() {
  if (!bulk_ || ops_ == 0) {
    reset();
    return success();
  }
  bson_t reply;
  bson_error_t error;
  const uint32_t ok = mongoc_bulk_operation_execute(bulk_, &reply, &error);
  auto get = [&](const char* key) -> std::uint64_t {
    bson_iter_t it;
    return bson_iter_init_find(&it, &reply, key) ? static_cast<std::uint64_t>(bson_iter_as_int64(&it)) : 0;
  };
  counts_.inserted += get("nInserted");
  counts_.upserted += get("nUpserted");
  counts_.matched += get("nMatched");
  counts_.modified += get("nModified");
  counts_.deleted += get("nRemoved");
  std::string first_write_error;
  if (!ok) {
    bson_iter_t it, child;
    if (bson_iter_init_find(&it, &reply, "writeErrors") && bson_iter_recurse(&it, &child) && bson_iter_next(&child)) {
      bson_iter_t err;
      if (bson_iter_recurse(&child, &err) && bson_iter_find(&err, "errmsg"))
        first_write_error = bson_iter_utf8(&err, nullptr);
    }
  }
  bson_destroy(&reply);
  reset();
  if (!ok) {
    if (error.domain == MONGOC_ERROR_SERVER || error.domain == MONGOC_ERROR_WRITE_CONCERN ||
        error.domain == MONGOC_ERROR_COMMAND) {
      if (error.code == 11000)
        return Failure{Exit::unavailable, fmt::format("{}: duplicate key: {}", where_,
                                                      first_write_error.empty() ? error.message : first_write_error)};
    }
    return classify(error, where_, "writing a batch");
  }
  return success();
}

}  // namespace m2m::mongo
