#include "mongo/writer.hpp"

#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

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
  // The driver compiles a write concern into BSON on its first use and keeps that: it is done here, once,
  // so that the workers sharing this object only ever read it (ThreadSanitizer caught two workers'
  // first flushes compiling it at the same time).
  bson_t scratch = BSON_INITIALIZER;
  mongoc_write_concern_append(wc_, &scratch);
  bson_destroy(&scratch);
}

BulkWriter::BulkWriter(Client& client, const std::string& db, const std::string& collection, const WriteConcern& wc,
                       std::size_t max_docs, std::size_t max_bytes, std::string where, OnFlush on_flush)
    : client_(client.get()),
      coll_(mongo::collection(client, db, collection)),
      collection_name_(collection),
      // The driver's default for retryable writes is on.
      retry_writes_(mongoc_uri_get_option_as_bool(mongoc_client_get_uri(client.get()), MONGOC_URI_RETRYWRITES, true)),
      wc_(wc),
      // The server's maxWriteBatchSize; the bulk API split larger batches itself, the update command cannot.
      max_docs_(std::min(max_docs, kMaxWriteBatch)),
      max_bytes_(max_bytes),
      where_(std::move(where)),
      on_flush_(std::move(on_flush)) {
  // The documents are built by convert/, which already guarantees valid UTF-8 and legal field names;
  // the driver's own validation of every document was a third of the whole sync's CPU time.
  bson_init(&insert_opts_);
  BSON_APPEND_BOOL(&insert_opts_, "validate", false);
}

BulkWriter::~BulkWriter() {
  if (bulk_) mongoc_bulk_operation_destroy(bulk_);
  bson_destroy(&insert_opts_);
}

void BulkWriter::reset() {
  if (bulk_) mongoc_bulk_operation_destroy(bulk_);
  bulk_ = nullptr;
  ops_ = 0;
  bytes_ = 0;
  mode_ = Mode::none;
  command_.clear();
}

Status BulkWriter::before_add(std::size_t bytes, Mode mode, std::size_t command_bytes) {
  // Replacements and the bulk API's operations go out in different messages: a change of kind ends the
  // batch, as the bulk API itself starts a new command when the kind of operation changes.
  if (ops_ > 0 && (ops_ >= max_docs_ || bytes_ + bytes > max_bytes_ || mode != mode_ ||
                   (mode == Mode::update && command_.size() + command_bytes > kMaxUpdateCommandBytes))) {
    if (auto st = flush(); !st) return st;
  }
  if (mode == Mode::bulk && !bulk_) {
    bson_t opts;
    bson_init(&opts);
    BSON_APPEND_BOOL(&opts, "ordered", false);
    mongoc_write_concern_append(const_cast<mongoc_write_concern_t*>(wc_.get()), &opts);
    bulk_ = mongoc_collection_create_bulk_operation_with_opts(coll_.get(), &opts);
    bson_destroy(&opts);
  }
  if (mode == Mode::update && ops_ == 0) {
    command_.clear();
    command_.append_utf8("update", collection_name_);
    command_.append_bool("ordered", false);
    updates_at_ = command_.begin_array("updates");
  }
  mode_ = mode;
  ++ops_;
  bytes_ += bytes;
  return success();
}

Status BulkWriter::replace_upsert(const bson_t* selector, const bson_t* document) {
  // The statement's bytes besides its two documents: its length and terminator, the array index, the
  // "q" and "u" element headers, upsert and multi.
  constexpr std::size_t kStatementBytes = 64;
  const std::size_t bytes = selector->len + document->len;
  if (auto st = before_add(bytes, Mode::update, bytes + kStatementBytes); !st) return st;
  char key[16];
  const std::size_t at = command_.begin_document(BsonBuilder::array_key(static_cast<std::uint32_t>(ops_ - 1), key));
  if (at == 0 || !command_.append_document("q", selector) || !command_.append_document("u", document) ||
      !command_.append_bool("upsert", true) || !command_.append_bool("multi", false) || !command_.end(at))
    return Failure{Exit::internal, fmt::format("{}: a replacement of {} bytes does not fit in a command", where_, bytes)};
  return success();
}

Status BulkWriter::insert(const bson_t* document) {
  if (auto st = before_add(document->len, Mode::bulk); !st) return st;
  bson_error_t error;
  if (!mongoc_bulk_operation_insert_with_opts(bulk_, document, &insert_opts_, &error))
    return Failure{Exit::internal, fmt::format("{}: invalid document: {}", where_, error.message)};
  return success();
}

Status BulkWriter::remove_one(const bson_t* selector) {
  if (auto st = before_add(selector->len, Mode::bulk); !st) return st;
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

// The reply of an update command: its counts and errors as the bulk API reports them.
bool bulk_result_of_update(const bson_t* reply, bool command_ok, const bson_error_t& command_error,
                           bson_t* bulk_reply, bson_error_t* error) {
  bson_init(bulk_reply);
  bson_iter_t it, child;
  auto number = [&](const char* key) -> std::int64_t {
    return bson_iter_init_find(&it, reply, key) && BSON_ITER_HOLDS_NUMBER(&it) ? bson_iter_as_int64(&it) : 0;
  };
  std::int64_t upserted = 0;
  if (bson_iter_init_find(&it, reply, "upserted") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &child))
    while (bson_iter_next(&child)) ++upserted;
  const std::int64_t n = number("n");
  BSON_APPEND_INT32(bulk_reply, "nInserted", 0);
  BSON_APPEND_INT32(bulk_reply, "nMatched", static_cast<std::int32_t>(n - upserted));
  BSON_APPEND_INT32(bulk_reply, "nModified", static_cast<std::int32_t>(number("nModified")));
  BSON_APPEND_INT32(bulk_reply, "nRemoved", 0);
  BSON_APPEND_INT32(bulk_reply, "nUpserted", static_cast<std::int32_t>(upserted));

  // writeErrors as the server listed them: {index, code, errmsg, ...}; the first code and every message
  // make the error, as the bulk API words it.
  bson_t write_errors;
  BSON_APPEND_ARRAY_BEGIN(bulk_reply, "writeErrors", &write_errors);
  std::uint32_t count = 0;
  int first_code = 0;
  std::vector<std::string> messages;
  if (bson_iter_init_find(&it, reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &child)) {
    while (bson_iter_next(&child)) {
      if (!BSON_ITER_HOLDS_DOCUMENT(&child)) continue;
      std::uint32_t len = 0;
      const std::uint8_t* data = nullptr;
      bson_iter_document(&child, &len, &data);
      bson_t entry;
      if (!bson_init_static(&entry, data, len)) continue;
      char key[16];
      const std::string_view k = BsonBuilder::array_key(count++, key);
      bson_append_document(&write_errors, k.data(), static_cast<int>(k.size()), &entry);
      bson_iter_t field;
      if (first_code == 0 && bson_iter_init_find(&field, &entry, "code")) first_code = static_cast<int>(bson_iter_as_int64(&field));
      if (bson_iter_init_find(&field, &entry, "errmsg") && BSON_ITER_HOLDS_UTF8(&field))
        messages.emplace_back(bson_iter_utf8(&field, nullptr));
    }
  }
  bson_append_array_end(bulk_reply, &write_errors);

  int concern_code = 0;
  std::string concern_message;
  if (bson_iter_init_find(&it, reply, "writeConcernError") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
    std::uint32_t len = 0;
    const std::uint8_t* data = nullptr;
    bson_iter_document(&it, &len, &data);
    bson_t entry;
    if (bson_init_static(&entry, data, len)) {
      bson_t concern_errors;
      BSON_APPEND_ARRAY_BEGIN(bulk_reply, "writeConcernErrors", &concern_errors);
      BSON_APPEND_DOCUMENT(&concern_errors, "0", &entry);
      bson_append_array_end(bulk_reply, &concern_errors);
      bson_iter_t field;
      if (bson_iter_init_find(&field, &entry, "code")) concern_code = static_cast<int>(bson_iter_as_int64(&field));
      if (bson_iter_init_find(&field, &entry, "errmsg") && BSON_ITER_HOLDS_UTF8(&field))
        concern_message = bson_iter_utf8(&field, nullptr);
    }
  }

  if (count > 0) {
    std::string text;
    if (messages.size() == 1) {
      text = messages.front();
    } else {
      text = "Multiple write errors: ";
      for (std::size_t i = 0; i < messages.size(); ++i) text += fmt::format("{}\"{}\"", i ? ", " : "", messages[i]);
    }
    bson_set_error(error, MONGOC_ERROR_SERVER, static_cast<std::uint32_t>(first_code), "%s", text.c_str());
    return false;
  }
  if (concern_code != 0) {
    bson_set_error(error, MONGOC_ERROR_WRITE_CONCERN, static_cast<std::uint32_t>(concern_code), "%s",
                   concern_message.c_str());
    return false;
  }
  if (!command_ok) {
    *error = command_error;
    return false;
  }
  return true;
}

bool BulkWriter::execute_bulk(bson_t* reply, bson_error_t* error) {
  return mongoc_bulk_operation_execute(bulk_, reply, error) != 0;
}

// As the driver decides for its own retryable writes: a server to write to can be selected again, and it
// is not a standalone server (which has nothing to fail over to).
bool BulkWriter::retryable_topology() {
  bson_error_t error;
  mongoc_server_description_t* sd = mongoc_client_select_server(client_, true, nullptr, &error);
  if (!sd) return false;
  const bool standalone = std::string_view(mongoc_server_description_type(sd)) == "Standalone";
  mongoc_server_description_destroy(sd);
  return !standalone;
}

bool BulkWriter::execute_update(bson_t* reply, bson_error_t* error) {
  command_.end(updates_at_);
  bson_t opts;
  bson_init(&opts);
  mongoc_write_concern_append(const_cast<mongoc_write_concern_t*>(wc_.get()), &opts);
  Reply command_reply;
  bson_error_t command_error;
  bool ok = mongoc_collection_write_command_with_opts(coll_.get(), command_.view(), &opts, command_reply.get(),
                                                      &command_error);
  if (!ok && retry_writes_ && is_transient(command_error) && retryable_topology()) {
    // What retryable writes do: one more attempt, on the server selected then.
    Reply again;
    ok = mongoc_collection_write_command_with_opts(coll_.get(), command_.view(), &opts, again.get(), &command_error);
    bson_destroy(&opts);
    return bulk_result_of_update(again.get(), ok, command_error, reply, error);
  }
  bson_destroy(&opts);
  return bulk_result_of_update(command_reply.get(), ok, command_error, reply, error);
}

Status BulkWriter::flush() {
  if (ops_ == 0 || (mode_ == Mode::bulk && !bulk_)) {
    reset();
    return success();
  }
  Reply reply;  // both executions initialize it again (it holds nothing yet)
  bson_error_t error;
  const bool ok = mode_ == Mode::update ? execute_update(reply.get(), &error) : execute_bulk(reply.get(), &error);
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
