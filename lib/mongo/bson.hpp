// Owners for libbson handles.
#pragma once

#include <bson/bson.h>

#include <chrono>
#include <string>
#include <utility>

namespace m2m::mongo {

// A heap bson_t with value semantics for moves. bson_t itself must not be moved after init (it may
// point into itself), so this holds a pointer.
class Bson {
public:
  Bson() : b_(bson_new()) {}
  // Takes ownership of b (from bson_new / bson_copy / a driver call that hands one over).
  explicit Bson(bson_t* b) : b_(b) {}
  Bson(const Bson& other) : b_(bson_copy(other.b_)) {}
  Bson& operator=(const Bson& other) {
    if (this != &other) { bson_destroy(b_); b_ = bson_copy(other.b_); }
    return *this;
  }
  Bson(Bson&& other) noexcept : b_(std::exchange(other.b_, nullptr)) {}
  Bson& operator=(Bson&& other) noexcept { std::swap(b_, other.b_); return *this; }
  ~Bson() { if (b_) bson_destroy(b_); }

  bson_t* get() { return b_; }
  const bson_t* get() const { return b_; }
  void clear() { bson_reinit(b_); }
  std::string json() const;  // relaxed Extended JSON, for logs and tests

  static Bson from_json(std::string_view json);  // trusted literal JSON only (never MySQL data)

private:
  bson_t* b_;
};

// For bson_t values the driver fills in (replies): destroyed at scope end.
class Reply {
public:
  Reply() { bson_init(&b_); }
  ~Reply() { bson_destroy(&b_); }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  bson_t* get() { return &b_; }
  const bson_t* get() const { return &b_; }
  std::string json() const;

private:
  bson_t b_;
};

// {key: {$add: ["$$NOW", ms]}}: a time on the server's clock, whatever this host's clock says (in an
// update pipeline), for the leases' expiry.
void append_server_time_plus(bson_t* doc, const char* key, std::chrono::milliseconds ms);

// u: [{$set: {key: $$NOW + ms}}] in the update statement `statement`: a lease renewed on the server's clock.
void append_renewal(bson_t* statement, const char* key, std::chrono::milliseconds ms);

}  // namespace m2m::mongo
