#include "mongo/admin.hpp"

#include <fmt/format.h>

namespace m2m::mongo {

Status create_index(Client& client, const std::string& db, const std::string& collection,
                    const std::vector<std::string>& fields, bool unique, const std::string& name,
                    std::string_view where) {
  Bson cmd;
  bson_t indexes, index, key;
  BSON_APPEND_UTF8(cmd.get(), "createIndexes", collection.c_str());
  BSON_APPEND_ARRAY_BEGIN(cmd.get(), "indexes", &indexes);
  BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &index);
  BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
  for (const auto& f : fields) bson_append_int32(&key, f.data(), static_cast<int>(f.size()), 1);
  bson_append_document_end(&index, &key);
  BSON_APPEND_UTF8(&index, "name", name.c_str());
  if (unique) BSON_APPEND_BOOL(&index, "unique", true);
  bson_append_document_end(&indexes, &index);
  bson_append_array_end(cmd.get(), &indexes);
  Reply reply;
  if (auto st = run_command(client, db, cmd.get(), reply, where, "creating an index"); !st) {
    if (unique && st.failure().server_code == 11000)  // DuplicateKey
      return Failure{Exit::unavailable,
                     fmt::format("{}: cannot create the unique index {} on {}: the collection already holds "
                                 "duplicate keys; drop the collection and run a full sync",
                                 where, name, collection)};
    return st;
  }
  return success();
}

Status drop_collection(Client& client, const std::string& db, const std::string& collection, std::string_view where) {
  Bson cmd;
  BSON_APPEND_UTF8(cmd.get(), "drop", collection.c_str());
  Reply reply;
  auto st = run_command(client, db, cmd.get(), reply, where, "dropping a collection");
  // Dropping what is not there is fine (NamespaceNotFound, 26).
  if (!st && st.failure().server_code != 26) return st;
  return success();
}

Status rename_collection(Client& client, const std::string& db, const std::string& from, const std::string& to,
                         std::string_view where) {
  Bson cmd;
  const std::string src = db + "." + from, dst = db + "." + to;
  BSON_APPEND_UTF8(cmd.get(), "renameCollection", src.c_str());
  BSON_APPEND_UTF8(cmd.get(), "to", dst.c_str());
  BSON_APPEND_BOOL(cmd.get(), "dropTarget", true);
  Reply reply;
  return run_command(client, "admin", cmd.get(), reply, where, "swapping in the staging collection");
}

Expected<std::int64_t> count_documents(Client& client, const std::string& db, const std::string& collection,
                                       std::string_view where) {
  CollectionPtr coll(mongoc_client_get_collection(client.get(), db.c_str(), collection.c_str()));
  Bson filter;
  bson_error_t error;
  const int64_t n = mongoc_collection_count_documents(coll.get(), filter.get(), nullptr, nullptr, nullptr, &error);
  if (n < 0) return classify(error, where, "counting documents");
  return n;
}

}  // namespace m2m::mongo
