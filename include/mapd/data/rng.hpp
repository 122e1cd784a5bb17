#pragma once

#include <cstdint>
#include <vector>

/// A small portable random number generator. Every random decision of the data layer (epoch order,
/// augmentation, subsetting, label noise) goes through it, so results are identical on every
/// platform and standard library (std::shuffle and std::uniform_int_distribution are not).
namespace mapd::data {

/// Mixes several integers into one well-spread 64-bit seed (splitmix64 finaliser).
uint64_t mix_seed(uint64_t a, uint64_t b = 0, uint64_t c = 0);

/// splitmix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, trivially portable.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  /// Next 64 random bits.
  uint64_t next();
  /// Uniform integer in [0, n); n > 0. Unbiased (rejection sampling).
  uint64_t uniform(uint64_t n);
  /// Uniform double in [0, 1) with 53 random bits.
  double uniform_double();

 private:
  uint64_t state_;
};

/// A permutation of 0..n-1 by Fisher-Yates driven by SplitMix64(seed).
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

}  // namespace mapd::data
