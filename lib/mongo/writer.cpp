#include "mongo/writer.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

namespace m2m::mongo {

bool WriteConcern::valid(const std::string& spec) {
  if (spec == "majority") return true;
  const auto n = parse_int(spec);
  return n && *n >= 0 && *n <= 1000;
}

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
                       std::size_t max_docs, std::size_t max_bytes, std::string where, OnFlush on_flush)
    : coll_(mongo::collection(client, db, collection)),
      wc_(wc),
      max_docs_(max_docs),
      max_bytes_(max_bytes),
      where_(std::move(where)),
      on_flush_(std::move(on_flush)) {
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
    bulk_ = mongoc_collection_create_bulk_operation_with_opts(coll_.get(), &opts);
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

namespace {

// Duplicate keys and transient server states fail a batch; anything else the server refused for one
// document only (too large, too deep, a field name it does not accept) leaves the others applied.
bool fails_batch(int code) {
  switch (code) {
    case 11000:  // DuplicateKey: two rows for one document; never skip that silently
    case 10107: case 13435: case 13436: case 189: case 91: case 11600: case 6: case 89: case 262:  // transient
    case 13: case 18:  // not authorized
      return true;
    default:
      return false;
  }
}

}  // namespace

Status BulkWriter::flush() {
  if (!bulk_ || ops_ == 0) {
    reset();
    return success();
  }
  Reply reply;
  bson_error_t error;
  const uint32_t ok = mongoc_bulk_operation_execute(bulk_, reply.get(), &error);
  auto get = [&](const char* key) -> std::uint64_t {
    bson_iter_t it;
    return bson_iter_init_find(&it, reply.get(), key) ? static_cast<std::uint64_t>(bson_iter_as_int64(&it)) : 0;
  };
  counts_.inserted += get("nInserted");
  counts_.upserted += get("nUpserted");
  counts_.matched += get("nMatched");
  counts_.modified += get("nModified");
  counts_.deleted += get("nRemoved");
  const std::size_t ops = ops_;
  std::vector<RefusedOp> refused;
  bool batch_failed = !ok;
  std::string first_write_error;
  if (!ok) {
    bson_iter_t it, child;
    bool has_concern_error = false;
    if (bson_iter_init_find(&it, reply.get(), "writeConcernErrors") && bson_iter_recurse(&it, &child))
      has_concern_error = bson_iter_next(&child);
    if (bson_iter_init_find(&it, reply.get(), "writeErrors") && bson_iter_recurse(&it, &child)) {
      bool all_per_document = !has_concern_error;
      while (bson_iter_next(&child)) {
        bson_iter_t field;
        RefusedOp op;
        if (bson_iter_recurse(&child, &field) && bson_iter_find(&field, "index")) op.index = static_cast<std::size_t>(bson_iter_as_int64(&field));
        if (bson_iter_recurse(&child, &field) && bson_iter_find(&field, "code")) op.code = static_cast<int>(bson_iter_as_int64(&field));
        if (bson_iter_recurse(&child, &field) && bson_iter_find(&field, "errmsg") && BSON_ITER_HOLDS_UTF8(&field))
          op.message = bson_iter_utf8(&field, nullptr);
        if (first_write_error.empty()) first_write_error = op.message;
        if (fails_batch(op.code)) all_per_document = false;
        refused.push_back(std::move(op));
      }
      // The batch is unordered: every operation not listed was applied.
      if (all_per_document && !refused.empty()) batch_failed = false;
    }
  }
  reset();
  if (batch_failed) {
    if (error.code == 11000)
      return Failure{Exit::unavailable, fmt::format("{}: duplicate key: {}", where_,
                                                    first_write_error.empty() ? error.message : first_write_error)};
    return classify(error, where_, "writing a batch");
  }
  if (on_flush_) return on_flush_(ops, refused);
  if (!refused.empty())
    return Failure{Exit::unavailable, fmt::format("{}: the server refused a document: {}", where_, refused.front().message)};
  return success();
}

}  // namespace m2m::mongo
