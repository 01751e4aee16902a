// The lossy-conversion report: column -> reason -> count.
#include "convert/convert.hpp"

namespace m2m::convert {

void LossReport::add(const std::string& column, const std::string& reason, std::uint64_t n) {
  if (n == 0) return;
  counts_[column][reason] += n;
}

void LossReport::merge(const LossReport& other) {
  for (const auto& [column, reasons] : other.counts_)
    for (const auto& [reason, n] : reasons) add(column, reason, n);
}

std::uint64_t LossReport::total() const {
  std::uint64_t sum = 0;
  for (const auto& [column, reasons] : counts_)
    for (const auto& [reason, n] : reasons) sum += n;
  return sum;
}

}  // namespace m2m::convert
