// lib/mongo/lease: the pure parts of the run lock (acquiring, renewing and releasing it need MongoDB and
// are tested in tests/integration/test_sync_lock.cpp): whether a lease is live, and this run's owner name.
#include "mongo/lease.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

using namespace m2m;

TEST_CASE("a lease is live while it has an owner and has not expired", "[mongo][lease]") {
  constexpr std::int64_t now = 1'760'000'000'000;
  mongo::LeaseInfo l{"db1:4242", now + 1, now - 60'000, 7, 0, false, {}};
  CHECK(l.live(now));
  // It expires at expires_at: a lease that ends now is no longer held.
  l.expires_at_ms = now;
  CHECK_FALSE(l.live(now));
  l.expires_at_ms = now - 1;
  CHECK_FALSE(l.live(now));
  // Released: the document stays (with its fencing token) without an owner.
  mongo::LeaseInfo released{"", now + 120'000, now - 60'000, 7, 0, false, {}};
  CHECK_FALSE(released.live(now));
}

TEST_CASE("this run's owner name is host:pid, as status and the messages show it", "[mongo][lease]") {
  char host[256] = {0};
  REQUIRE(::gethostname(host, sizeof host - 1) == 0);
  CHECK(mongo::lease_owner_id() == std::string(host) + ":" + std::to_string(::getpid()));
}
