// The live binlog reader never blocks on a silent network: a server that accepts and never answers, and a
// dump whose replies stop coming after the request (a proxy that swallows everything from then on), both
// fail within the read timeout with a transient, one-line error.
#include "binlog/reader.hpp"
#include "support/net.hpp"
#include "support/rig.hpp"
#include "util/log.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace m2m;
using namespace m2m::binlog;

namespace {

int listen_loopback(unsigned& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

using rig::SilentPort;

// Forwards one client connection to the rig's MariaDB until the client sends COM_BINLOG_DUMP (command
// 0x12 in a packet of sequence 0); from then on it still forwards the client's bytes but drops the
// server's, as a network that went silent mid-dump.
class StallingProxy {
public:
  StallingProxy(std::string upstream_host, unsigned upstream_port)
      : host_(std::move(upstream_host)), upstream_port_(upstream_port) {
    listen_fd_ = listen_loopback(port_);
    thread_ = std::thread([this] { run(); });
  }
  ~StallingProxy() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  unsigned port() const { return port_; }
  bool stalled() const { return stalled_; }

private:
  void run() {
    int client = -1;
    while (!stop_ && client < 0) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) client = ::accept(listen_fd_, nullptr, nullptr);
    }
    if (client < 0) return;
    const int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(upstream_port_));
    ::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr);
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(client);
      ::close(server);
      return;
    }
    char buf[65536];
    bool server_open = true;
    // Bounded by stop_ (set by the destructor) and by the client closing. Once stalled, the server's
    // end of a non-blocking dump (it closes the connection after its EOF packet) is hidden too.
    while (!stop_) {
      pollfd p[2] = {{client, POLLIN, 0}, {server, static_cast<short>(server_open ? POLLIN : 0), 0}};
      if (::poll(p, 2, 100) <= 0) continue;
      if (p[0].revents & (POLLIN | POLLHUP)) {
        const ssize_t n = ::read(client, buf, sizeof buf);
        if (n <= 0) break;
        if (n >= 5 && buf[3] == 0 && static_cast<unsigned char>(buf[4]) == 0x12) stalled_ = true;
        if (server_open && ::write(server, buf, static_cast<size_t>(n)) != n) server_open = false;
      }
      if (server_open && (p[1].revents & (POLLIN | POLLHUP))) {
        const ssize_t n = ::read(server, buf, sizeof buf);
        if (n <= 0) {
          server_open = false;
          if (!stalled_) break;
          continue;
        }
        if (!stalled_ && ::write(client, buf, static_cast<size_t>(n)) != n) break;
      }
    }
    ::close(client);
    ::close(server);
  }

  std::string host_;
  unsigned upstream_port_;
  unsigned port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> stalled_{false};
  std::thread thread_;
};

config::MySql settings_for(const std::string& host, unsigned port, const std::string& database) {
  const auto& s = rig::servers();
  config::MySql c;
  c.host = host;
  c.port = port;
  c.user = s.mysql_user;
  c.password = s.mysql_password;
  c.has_password = true;
  c.database = database;
  c.ssl_mode = config::SslMode::disabled;  // the proxy looks at the plaintext protocol
  c.connect_timeout = std::chrono::seconds(2);
  c.option_group.clear();
  return c;
}

Logger& quiet_logger() {
  static Logger log;
  return log;
}

}  // namespace

TEST_CASE("binlog: a server that accepts and never answers fails the live reader in time", "[binlog]") {
  SilentPort silent;
  LiveOptions o;
  o.server_id = 424242;
  o.start = Position{"mysql-bin.000001", 4};
  o.read_timeout = std::chrono::seconds(2);
  const auto t0 = std::chrono::steady_clock::now();
  auto reader = LiveReader::open(settings_for("127.0.0.1", silent.port, "mysql"), quiet_logger(), o);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE_FALSE(reader.ok());
  INFO(reader.error().message);
  CHECK(reader.failure().code == Exit::unavailable);
  CHECK(reader.error().message.find('\n') == std::string::npos);
  CHECK(s < 15);
}

TEST_CASE("binlog: a dump whose replies stop coming ends with a transient error after the read timeout", "[binlog]") {
  rig::Scratch db("binlog");
  const auto& srv = rig::servers();
  StallingProxy proxy(srv.mysql_host, srv.mysql_port);
  LiveOptions o;
  o.server_id = 100000 + static_cast<std::uint32_t>(::getpid() % 100000);
  auto first = db.query("SHOW BINLOG STATUS");
  REQUIRE(first.size() == 1);
  o.start = Position{first[0][0], std::stoull(first[0][1])};
  o.read_timeout = std::chrono::seconds(2);
  auto reader = LiveReader::open(settings_for("127.0.0.1", proxy.port(), db.name()), quiet_logger(), o);
  INFO((reader.ok() ? std::string() : reader.error().message));
  REQUIRE(reader.ok());
  const auto t0 = std::chrono::steady_clock::now();
  RawEvent raw;
  auto r = (*reader)->next(raw);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(proxy.stalled());
  REQUIRE_FALSE(r.ok());
  INFO(r.error().message);
  CHECK(r.error().kind == ErrorKind::io);
  CHECK(r.failure().transient);
  CHECK(r.failure().code == Exit::unavailable);
  CHECK(r.error().message.find("read timeout 2 s") != std::string::npos);
  CHECK(s >= 1.5);
  CHECK(s < 15);
}
