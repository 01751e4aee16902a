// A TCP proxy between the tool and a server, for tests of what the network does to a run: an outage
// (connections cut, new ones refused), a stall (connections open, nothing forwarded: a black hole or a
// paused proxy), and recovery.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rig {

class Proxy {
public:
  // Listens on 127.0.0.1 (a free port) and forwards every connection to target_host:target_port.
  Proxy(std::string target_host, unsigned target_port);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  unsigned port() const { return port_; }

  // Stop forwarding in both directions; connections stay open, new ones are accepted and hang as well.
  void pause();
  void resume();
  // Close every open connection now (the peers see the connection drop).
  void cut();
  // While refusing, nothing listens on the port: connecting fails at once, as with a server that is down.
  // The port stays bound meanwhile (not listening), so no other socket can take it before accept_again().
  void refuse();
  void accept_again();
  // Connections accepted so far.
  int accepted() const { return accepted_.load(); }

private:
  struct Pair {
    int client = -1;
    int server = -1;
  };
  void run();
  void open_listener();
  void close_pair(Pair& p);
  void wake();

  std::string target_host_;
  unsigned target_port_;
  unsigned port_ = 0;
  int listener_ = -1;
  int reserved_ = -1;  // while refusing: the port, bound and not listening
  int wake_[2] = {-1, -1};
  std::mutex mutex_;
  std::vector<Pair> pairs_;
  bool paused_ = false;
  bool refusing_ = false;
  bool cut_requested_ = false;
  bool stop_ = false;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

}  // namespace rig
