// A TCP proxy for the benchmarks that delays every MongoDB request by a fixed time: what a server one
// network hop away costs each round trip (bench/units.sh: 1 ms).
//
//   m2m_delay_proxy --listen PORT --to HOST:PORT [--delay-us N] [--port-file PATH]
//
// Each client connection gets its own connection upstream and two threads: requests are read whole
// (the wire protocol's int32 length prefix), held for the delay, then forwarded; replies are copied back
// as they arrive. Connections are independent, so N clients waiting at once wait N delays in parallel,
// as they would on a real network. --listen 0 picks a free port (written to --port-file).

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "m2m_delay_proxy: %s\n", message.c_str());
  std::exit(1);
}

bool read_all(int fd, char* buf, std::size_t n) {
  while (n > 0) {
    const ssize_t got = ::read(fd, buf, n);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      return false;
    }
    buf += got;
    n -= static_cast<std::size_t>(got);
  }
  return true;
}

bool write_all(int fd, const char* buf, std::size_t n) {
  while (n > 0) {
    const ssize_t put = ::write(fd, buf, n);
    if (put <= 0) {
      if (put < 0 && errno == EINTR) continue;
      return false;
    }
    buf += put;
    n -= static_cast<std::size_t>(put);
  }
  return true;
}

void no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connect_to(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd >= 0) no_delay(fd);
  return fd;
}

// Client -> upstream: whole messages, each held for `delay` first.
void requests(int from, int to, std::chrono::microseconds delay) {
  std::vector<char> buf;
  while (true) {
    char head[4];
    if (!read_all(from, head, 4)) break;
    std::int32_t len = 0;
    std::memcpy(&len, head, 4);  // little-endian, as the wire protocol and this machine are
    if (len < 16 || len > 64 * 1024 * 1024) break;
    buf.resize(static_cast<std::size_t>(len));
    std::memcpy(buf.data(), head, 4);
    if (!read_all(from, buf.data() + 4, static_cast<std::size_t>(len) - 4)) break;
    std::this_thread::sleep_for(delay);
    if (!write_all(to, buf.data(), buf.size())) break;
  }
  ::shutdown(to, SHUT_WR);
}

// Upstream -> client: bytes as they come.
void replies(int from, int to) {
  char buf[64 * 1024];
  while (true) {
    const ssize_t got = ::read(from, buf, sizeof buf);
    if (got <= 0) {
      if (got < 0 && errno == EINTR) continue;
      break;
    }
    if (!write_all(to, buf, static_cast<std::size_t>(got))) break;
  }
  ::shutdown(to, SHUT_WR);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_port = "0", to, port_file;
  long delay_us = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--listen") listen_port = v;
    else if (k == "--to") to = v;
    else if (k == "--delay-us") delay_us = std::strtol(v.c_str(), nullptr, 10);
    else if (k == "--port-file") port_file = v;
    else die("unknown option " + k);
  }
  const auto colon = to.rfind(':');
  if (colon == std::string::npos) die("--to HOST:PORT is required");
  const std::string up_host = to.substr(0, colon), up_port = to.substr(colon + 1);
  ::signal(SIGPIPE, SIG_IGN);

  const int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(std::strtol(listen_port.c_str(), nullptr, 10)));
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 128) != 0)
    die(std::string("cannot listen: ") + std::strerror(errno));
  socklen_t alen = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen);
  if (!port_file.empty()) std::ofstream(port_file) << ntohs(addr.sin_port) << "\n";

  const std::chrono::microseconds delay(delay_us);
  while (true) {
    const int client = ::accept(lfd, nullptr, nullptr);
    if (client < 0) {
      if (errno == EINTR) continue;
      die(std::string("accept: ") + std::strerror(errno));
    }
    no_delay(client);
    const int upstream = connect_to(up_host, up_port);
    if (upstream < 0) {
      ::close(client);
      continue;
    }
    std::thread([client, upstream, delay] {
      std::thread back(replies, upstream, client);
      requests(client, upstream, delay);
      back.join();
      ::close(client);
      ::close(upstream);
    }).detach();
  }
}
