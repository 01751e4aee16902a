#include "support/net.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace rig {

namespace {

// A socket bound to a free loopback port; the port is written to `port`.
int bind_loopback(unsigned& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

unsigned closed_port() {
  unsigned port = 0;
  ::close(bind_loopback(port));
  return port;
}

SilentPort::SilentPort() {
  fd = bind_loopback(port);
  REQUIRE(::listen(fd, 16) == 0);
}

SilentPort::~SilentPort() { ::close(fd); }

std::map<std::string, std::string> mongo_down(const Scratch& db) {
  return with_env(db.env(), {{"MONGODB_URL", "mongodb://127.0.0.1:" + std::to_string(closed_port())},
                             {"MONGODB_CONNECT_TIMEOUT", "2s"}});
}

std::map<std::string, std::string> mysql_down(const Scratch& db) {
  return with_env(db.env(), {{"MYSQL_HOST", "127.0.0.1"}, {"MYSQL_PORT", "1"}, {"MYSQL_CONNECT_TIMEOUT", "2s"}});
}

}  // namespace rig
