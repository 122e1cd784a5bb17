#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

/// Portable random helpers of module probes: mt19937_64 is fully specified by the standard, the
/// distributions and std::shuffle are not, so these are written out here.
namespace mapd::probes::detail {

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  /// Uniform integer in [0, n), n > 0, without modulo bias.
  int64_t below(int64_t n) {
    const auto range = static_cast<uint64_t>(n);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t x = engine_();
    while (x >= limit) x = engine_();
    return static_cast<int64_t>(x % range);
  }
  /// Fisher-Yates shuffle.
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) {
      const auto j = static_cast<size_t>(below(static_cast<int64_t>(i)));
      std::swap(items[i - 1], items[j]);
    }
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace mapd::probes::detail
