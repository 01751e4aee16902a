// Reading a collection in a given order: the owner of a find cursor, errors as values.
#pragma once

#include "mongo/client.hpp"

#include <string>
#include <vector>

namespace m2m::mongo {

class SortedCursor {
public:
  // The documents of `collection` (those `filter` matches, when given), sorted ascending by `fields`
  // (projected to them and _id when `project` is set), fetched `batch` at a time.
  SortedCursor(Client& client, const std::string& db, const std::string& collection,
               const std::vector<std::string>& fields, bool project, int batch, std::string where,
               const bson_t* filter = nullptr);

  // The next document (valid until the next call), nullptr at the end or on an error (see error()).
  const bson_t* next();
  // Non-empty when reading stopped because of an error.
  const Failure* error() const { return failed_ ? &failure_ : nullptr; }
  // Ends the read early (the server frees the cursor).
  void close() { cursor_.reset(); }

private:
  CollectionPtr coll_;
  CursorPtr cursor_;
  std::string where_;
  bool failed_ = false;
  Failure failure_;
};

}  // namespace m2m::mongo
