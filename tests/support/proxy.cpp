#include "support/proxy.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace rig {

namespace {

int connect_to(const std::string& host, unsigned port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

// Copies what is readable on `from` to `to`; false when either side closed.
bool pump(int from, int to) {
  char buf[65536];
  const ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return n < 0 && (errno == EINTR || errno == EAGAIN);
  ssize_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(to, buf + done, static_cast<size_t>(n - done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    done += w;
  }
  return true;
}

}  // namespace

Proxy::Proxy(std::string target_host, unsigned target_port)
    : target_host_(std::move(target_host)), target_port_(target_port) {
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("proxy: pipe failed");
  open_listener();
  thread_ = std::thread([this] { run(); });
}

Proxy::~Proxy() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake();
  thread_.join();
  for (auto& p : pairs_) close_pair(p);
  if (listener_ >= 0) ::close(listener_);
  if (reserved_ >= 0) ::close(reserved_);
  ::close(wake_[0]);
  ::close(wake_[1]);
}

namespace {

// A socket bound to 127.0.0.1:port (0: any free port). SO_REUSEPORT lets refuse() bind a second socket
// to the port while the listener still holds it, so the port is never free for another socket to take
// (a client's ephemeral port, another test's server) while the proxy refuses.
int bound_socket(unsigned port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("proxy: cannot bind port " + std::to_string(port));
  }
  return fd;
}

}  // namespace

void Proxy::open_listener() {
  listener_ = bound_socket(port_);
  if (::listen(listener_, 64) != 0) throw std::runtime_error("proxy: cannot listen");
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
}

void Proxy::wake() {
  const char c = 1;
  (void)!::write(wake_[1], &c, 1);
}

void Proxy::pause() {
  std::lock_guard lock(mutex_);
  paused_ = true;
  wake();
}

void Proxy::resume() {
  std::lock_guard lock(mutex_);
  paused_ = false;
  wake();
}

void Proxy::cut() {
  std::lock_guard lock(mutex_);
  cut_requested_ = true;
  wake();
}

void Proxy::refuse() {
  std::lock_guard lock(mutex_);
  refusing_ = true;
  cut_requested_ = true;
  if (listener_ >= 0) {
    // A bound socket that does not listen: the kernel answers a connection attempt with a reset.
    if (reserved_ < 0) reserved_ = bound_socket(port_);
    ::close(listener_);
    listener_ = -1;
  }
  wake();
}

void Proxy::accept_again() {
  std::lock_guard lock(mutex_);
  refusing_ = false;
  if (listener_ < 0 && reserved_ >= 0) {  // the same port again, held since refuse()
    if (::listen(reserved_, 64) != 0) throw std::runtime_error("proxy: cannot listen");
    listener_ = std::exchange(reserved_, -1);
  } else if (listener_ < 0) {
    open_listener();
  }
  wake();
}

void Proxy::close_pair(Pair& p) {
  // SO_LINGER 0: the peer sees a reset at once, as when a server dies.
  linger l{1, 0};
  for (int* fd : {&p.client, &p.server}) {
    if (*fd < 0) continue;
    setsockopt(*fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    ::close(*fd);
    *fd = -1;
  }
}

void Proxy::run() {
  while (true) {
    std::vector<pollfd> fds;
    {
      std::lock_guard lock(mutex_);
      if (stop_) return;
      if (cut_requested_) {
        for (auto& p : pairs_) close_pair(p);
        pairs_.clear();
        cut_requested_ = false;
      }
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listener_, static_cast<short>(listener_ >= 0 ? POLLIN : 0), 0});
      for (const auto& p : pairs_) {
        const short events = paused_ ? 0 : POLLIN;
        fds.push_back({p.client, events, 0});
        fds.push_back({p.server, events, 0});
      }
    }
    if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return;
    if (fds[0].revents & POLLIN) {
      char buf[64];
      while (::read(wake_[0], buf, sizeof buf) > 0) {
      }
    }
    std::lock_guard lock(mutex_);
    if (stop_) return;
    if (listener_ >= 0 && fds[1].fd == listener_ && (fds[1].revents & POLLIN)) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        ++accepted_;
        const int server = connect_to(target_host_, target_port_);
        if (server < 0) {
          ::close(client);
        } else {
          int one = 1;
          setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          pairs_.push_back({client, server});
        }
      }
    }
    if (paused_ || cut_requested_) continue;
    // The fds vector was built from pairs_ before any push above: index i maps to pairs_[i].
    std::vector<Pair> alive;
    for (std::size_t k = 0; k < pairs_.size(); ++k) {
      Pair& p = pairs_[k];
      const std::size_t at = 2 + 2 * k;
      bool ok = true;
      if (at + 1 < fds.size()) {
        if (fds[at].revents & (POLLIN | POLLHUP | POLLERR)) ok = pump(p.client, p.server);
        if (ok && (fds[at + 1].revents & (POLLIN | POLLHUP | POLLERR))) ok = pump(p.server, p.client);
      }
      if (ok) alive.push_back(p);
      else close_pair(p);
    }
    pairs_ = std::move(alive);
  }
}

}  // namespace rig
