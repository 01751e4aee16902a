// Elapsed wall time of a step, for the durations reports carry.
#pragma once

#include <chrono>

namespace m2m {

class Stopwatch {
public:
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace m2m
