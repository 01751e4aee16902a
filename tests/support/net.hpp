// Servers that do not answer: a port nothing listens on, a port that accepts and stays silent, and the
// environment of a scratch database with one of its servers unreachable.
#pragma once

#include "support/rig.hpp"

#include <map>
#include <string>

namespace rig {

// A loopback port nothing listens on (bound, then released): connecting fails at once.
unsigned closed_port();

// A loopback port that accepts connections (the kernel completes the handshake) but never says
// anything: what a hung or firewalled server looks like to a client. Closed at the end of the scope.
struct SilentPort {
  int fd = -1;
  unsigned port = 0;
  SilentPort();
  ~SilentPort();
  SilentPort(const SilentPort&) = delete;
  SilentPort& operator=(const SilentPort&) = delete;
};

// The environment of a scratch database with MongoDB unreachable (a closed port, a short timeout).
std::map<std::string, std::string> mongo_down(const Scratch& db);

// The environment of a scratch database with MySQL unreachable.
std::map<std::string, std::string> mysql_down(const Scratch& db);

}  // namespace rig
