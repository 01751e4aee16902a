// Collection-level operations, sent as commands (mongo-c-driver 1.23 has no index-model API).
#pragma once

#include "mongo/client.hpp"

#include <string>
#include <vector>

namespace m2m::mongo {

// Creates (or confirms) an ascending index on the fields. A unique index over existing duplicates fails.
Status create_index(Client& client, const std::string& db, const std::string& collection,
                    const std::vector<std::string>& fields, bool unique, const std::string& name,
                    std::string_view where);
Status drop_collection(Client& client, const std::string& db, const std::string& collection, std::string_view where);
// Atomically replaces `to` with `from` (renameCollection with dropTarget).
Status rename_collection(Client& client, const std::string& db, const std::string& from, const std::string& to,
                         std::string_view where);
Expected<std::int64_t> count_documents(Client& client, const std::string& db, const std::string& collection,
                                       std::string_view where);

}  // namespace m2m::mongo
