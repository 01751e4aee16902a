#include "mongo/cursor.hpp"

namespace m2m::mongo {

SortedCursor::SortedCursor(Client& client, const std::string& db, const std::string& collection,
                           const std::vector<std::string>& fields, bool project, int batch, std::string where,
                           const bson_t* only)
    : coll_(mongo::collection(client, db, collection)), where_(std::move(where)) {
  Bson filter, opts;
  if (only) bson_concat(filter.get(), only);
  bson_t proj, sort;
  if (project) {
    BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "projection", &proj);
    BSON_APPEND_INT32(&proj, "_id", 1);
    for (const auto& f : fields)
      if (f != "_id") bson_append_int32(&proj, f.data(), static_cast<int>(f.size()), 1);
    bson_append_document_end(opts.get(), &proj);
  }
  BSON_APPEND_DOCUMENT_BEGIN(opts.get(), "sort", &sort);
  for (const auto& f : fields) bson_append_int32(&sort, f.data(), static_cast<int>(f.size()), 1);
  bson_append_document_end(opts.get(), &sort);
  BSON_APPEND_INT32(opts.get(), "batchSize", batch);
  cursor_.reset(mongoc_collection_find_with_opts(coll_.get(), filter.get(), opts.get(), nullptr));
}

const bson_t* SortedCursor::next() {
  const bson_t* doc = nullptr;
  if (failed_ || !mongoc_cursor_next(cursor_.get(), &doc)) {
    bson_error_t error;
    if (!failed_ && mongoc_cursor_error(cursor_.get(), &error)) {
      failed_ = true;
      failure_ = classify(error, where_, "reading documents in key order");
    }
    return nullptr;
  }
  return doc;
}

}  // namespace m2m::mongo
