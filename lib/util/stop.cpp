#include "util/stop.hpp"

#include <cerrno>
#include <cstdint>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <vector>

namespace m2m {

StopToken::StopToken() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

StopToken::~StopToken() {
  if (fd_ >= 0) ::close(fd_);
}

void StopToken::request_signal(int signo) noexcept {
  int expected = 0;
  state_.compare_exchange_strong(expected, signo);
  const std::uint64_t one = 1;
  if (fd_ >= 0) (void)!::write(fd_, &one, sizeof one);
}

void StopToken::request_lease_lost() noexcept {
  int expected = 0;
  state_.compare_exchange_strong(expected, -1);
  const std::uint64_t one = 1;
  if (fd_ >= 0) (void)!::write(fd_, &one, sizeof one);
}

StopToken::Reason StopToken::reason() const noexcept {
  const int s = state_.load();
  return s == 0 ? Reason::none : s < 0 ? Reason::lease_lost : Reason::signal;
}

int StopToken::signal() const noexcept {
  const int s = state_.load();
  return s > 0 ? s : 0;
}

bool StopToken::sleep_for(std::chrono::milliseconds d, int wake_fd) const {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + d;
  while (!requested()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return true;
    // The eventfd is never read, so once written it stays readable: every waiter wakes.
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    const nfds_t n_fds = fd_ < 0 ? 0 : wake_fd < 0 ? 1 : 2;
    const int n = ::poll(p, n_fds, static_cast<int>(std::min<long long>(left, 1000)));
    if (n < 0 && errno != EINTR) return !requested();
    if (n > 0 && n_fds == 2 && (p[1].revents & POLLIN)) return false;
  }
  return false;
}

StopToken::Registration& StopToken::Registration::operator=(Registration&& o) noexcept {
  if (this != &o) {
    reset();
    token_ = o.token_;
    id_ = o.id_;
    o.token_ = nullptr;
  }
  return *this;
}

void StopToken::Registration::reset() {
  if (token_) token_->remove(id_);
  token_ = nullptr;
}

StopToken::Registration StopToken::add(std::map<std::uint64_t, std::function<void()>>& to, std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  const auto id = next_id_++;
  to.emplace(id, std::move(fn));
  return Registration(this, id);
}

StopToken::Registration StopToken::on_interrupt(std::function<void()> fn) { return add(interrupters_, std::move(fn)); }
StopToken::Registration StopToken::on_abandon(std::function<void()> fn) { return add(abandon_, std::move(fn)); }

void StopToken::remove(std::uint64_t id) {
  // Holding the mutex while an interrupter runs means a registration cannot end (and its owner be
  // destroyed) in the middle of it.
  std::lock_guard lock(mutex_);
  interrupters_.erase(id);
  abandon_.erase(id);
}

void StopToken::run_interrupters() {
  std::lock_guard lock(mutex_);
  for (auto& [id, fn] : interrupters_) fn();
}

void StopToken::run_abandon_actions() {
  std::lock_guard lock(mutex_);
  for (auto& [id, fn] : abandon_) fn();
}

}  // namespace m2m
