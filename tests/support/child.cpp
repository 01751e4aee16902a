#include "support/child.hpp"

#include "support/rig.hpp"
#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <signal.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace rig {

std::string this_host() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return host;
}

Child::Child(const std::vector<std::string>& args, const std::map<std::string, std::string>& env) {
  static std::atomic<int> counter{0};
  const std::string base = "/tmp/m2m_child_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  out_path_ = base + ".out";
  err_path_ = base + ".err";
  std::vector<std::string> argv_s{MYSQL2MONGO_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s;
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  if (!env.count("PATH")) env_s.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  if (!env.count("HOME")) env_s.push_back("HOME=/nonexistent");
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  start_ = std::chrono::steady_clock::now();
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    setpgid(0, 0);
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  setpgid(pid_, pid_);  // also from here, so a signal sent at once reaches the group
}

Child::~Child() {
  if (!done_) {
    ::kill(-pid_, SIGKILL);
    siginfo_t exited{};
    waitid(P_PID, static_cast<id_t>(pid_), &exited, WEXITED | WNOWAIT);
    remove_driver_leftovers(pid_);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::remove(out_path_.c_str());
  std::remove(err_path_.c_str());
}

bool Child::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done_) {
    // Exited? Looked at without reaping, so that the driver's leftovers can go while the pid is still
    // this child's.
    siginfo_t exited{};
    if (waitid(P_PID, static_cast<id_t>(pid_), &exited, WEXITED | WNOHANG | WNOWAIT) == 0 && exited.si_pid == pid_) {
      remove_driver_leftovers(pid_);
      int status = 0;
      waitpid(pid_, &status, 0);
      done_ = true;
      code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

bool Child::running() {
  if (done_) return false;
  return !wait(std::chrono::milliseconds(0));
}

void Child::signal(int sig) { REQUIRE(::kill(pid_, sig) == 0); }
void Child::kill_group(int sig) { REQUIRE(::kill(-pid_, sig) == 0); }
std::string Child::out() const { return slurp(out_path_); }
std::string Child::err() const { return slurp(err_path_); }

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace rig
