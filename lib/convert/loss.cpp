// The lossy-conversion report: column -> reason -> count.
#include "convert/convert.hpp"

namespace m2m::convert {

void LossReport::add(const std::string& column, std::string_view reason, std::uint64_t n) {
  if (n == 0) return;
  if (last_.count && last_.reason == reason && last_.column == column) {
    *last_.count += n;
    return;
  }
  std::uint64_t& count = counts_[column][std::string(reason)];
  count += n;
  last_.column = column;
  last_.reason = reason;
  last_.count = &count;
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
