// The mysql2mongo binary running in the background, for tests that signal, kill or race it.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace rig {

// This machine's host name, as the tool writes it into a lease owner ("host:pid").
std::string this_host();

// The binary running in the background, in a process group of its own, its output going to files.
class Child {
public:
  Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);
  ~Child();  // kills the group if it still runs
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  std::string owner() const { return this_host() + ":" + std::to_string(pid_); }

  // Waits for the exit; false if it is still running after `timeout`.
  bool wait(std::chrono::milliseconds timeout);
  bool running();
  void signal(int sig);
  void kill_group(int sig);

  int code() const { return code_; }
  double seconds() const { return seconds_; }
  std::string out() const;
  std::string err() const;

private:
  pid_t pid_ = -1;
  bool done_ = false;
  int code_ = -1;
  double seconds_ = 0;
  std::string out_path_, err_path_;
  std::chrono::steady_clock::time_point start_;
};

// Polls `condition` every 50 ms until it holds or `timeout` passes.
// `poll` is the pause between checks; InnoDB's INNODB_TRX view needs more than 100 ms between reads
// before it shows anything new.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(50));

}  // namespace rig
