#include "support/pty.hpp"

#include "support/text.hpp"

#include <catch2/catch.hpp>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace rig {

bool have_script() { return ::access("/usr/bin/script", X_OK) == 0; }

PtyResult run_in_pty(const std::vector<std::string>& args, std::map<std::string, std::string> env,
                     std::chrono::seconds timeout) {
  std::string cmd = shell_quote(MYSQL2MONGO_BINARY);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  env.emplace("PATH", "/usr/local/bin:/usr/bin:/bin");
  env.emplace("HOME", "/nonexistent");
  env["SHELL"] = "/bin/sh";
  std::vector<std::string> argv_s{"/usr/bin/script", "-qec", cmd, "/dev/null"};
  std::vector<std::string> env_s;
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  int out_pipe[2];
  REQUIRE(pipe2(out_pipe, O_CLOEXEC) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    const int devnull = ::open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(out_pipe[1], 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  PtyResult r;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool killed = false;
  while (true) {
    pollfd pfd{out_pipe[0], POLLIN, 0};
    if (poll(&pfd, 1, 200) > 0) {
      char buf[65536];
      const ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
      if (n > 0) r.output.append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) break;
    }
    if (!killed && std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
  }
  close(out_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (killed) FAIL("script " << cmd << " timed out; output: " << r.output);
  return r;
}

std::vector<std::string> visible_lines(const std::string& output) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= output.size()) {
    auto e = output.find('\n', b);
    if (e == std::string::npos) e = output.size();
    std::string line = output.substr(b, e - b);
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the pty's \r\n
    if (const auto cr = line.rfind('\r'); cr != std::string::npos) line = line.substr(cr + 1);
    if (line.rfind("\x1b[K", 0) == 0) line = line.substr(3);
    if (!line.empty()) out.push_back(line);
    b = e + 1;
  }
  return out;
}

}  // namespace rig
