#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

/// mapd's one random number API. Every random decision (epoch order, augmentation, subsetting,
/// label noise, probe selection, probe noise, labels and glyphs) goes through it, so results are
/// identical on every platform and standard library: the engines below are fully specified, and
/// the draws (uniform integers, doubles, shuffles) are written out here because the standard
/// distributions and std::shuffle are not.
///
/// Two engines, each with its own role; both sit behind the same RandomStream interface:
/// - SplitMix64: the data layer (epoch order, augmentation, subsetting, label noise).
/// - MersenneTwister64 (std::mt19937_64): the probe builder (which examples become probes, their
///   noise, wrong labels, random inputs and glyphs). The probe streams were defined with it, so a
///   probe seed keeps giving the same probes.
/// Tensors are never filled from torch's generator, so a seed means the same on every LibTorch.
namespace mapd::data {

/// The splitmix64 engine (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, trivially
/// portable. A UniformRandomBitGenerator over all 64-bit values.
class SplitMix64Engine {
 public:
  using result_type = uint64_t;
  explicit SplitMix64Engine(uint64_t seed) : state_(seed) {}
  /// Next 64 random bits.
  uint64_t operator()();
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return UINT64_MAX; }

 private:
  uint64_t state_;
};

/// Random draws from a 64-bit `Engine` (a UniformRandomBitGenerator over all of [0, 2^64)
/// constructible from a uint64_t seed). Use it through SplitMix64 or MersenneTwister64.
template <class Engine>
class RandomStream {
 public:
  explicit RandomStream(uint64_t seed) : engine_(seed) {}
  /// Next 64 random bits.
  uint64_t next() { return engine_(); }
  /// Uniform integer in [0, n); n > 0. Unbiased (rejection sampling).
  uint64_t uniform(uint64_t n) {
    // Rejection keeps the draw unbiased: accept only values below the largest multiple of n.
    const uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x = next();
    while (x >= limit) x = next();
    return x % n;
  }
  /// uniform(n) for a signed count n > 0.
  int64_t below(int64_t n) { return static_cast<int64_t>(uniform(static_cast<uint64_t>(n))); }
  /// Uniform double in [0, 1) with 53 random bits (one draw of the engine).
  double uniform_double() { return static_cast<double>(next() >> 11U) * 0x1.0p-53; }
  /// Uniform double in [lo, hi) (one draw of the engine).
  double uniform_double(double lo, double hi) { return lo + (hi - lo) * uniform_double(); }
  /// Fisher-Yates shuffle of `items` (from the back: item i swaps with a uniform j <= i).
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (size_t i = items.size(); i > 1; --i) {
      const auto j = static_cast<size_t>(uniform(i));
      std::swap(items[i - 1], items[j]);
    }
  }

 private:
  static_assert(Engine::min() == 0 && Engine::max() == UINT64_MAX, "RandomStream needs a full 64-bit engine");
  Engine engine_;
};

/// The data layer's generator (see the namespace comment).
using SplitMix64 = RandomStream<SplitMix64Engine>;
/// The probe builder's generator (see the namespace comment).
using MersenneTwister64 = RandomStream<std::mt19937_64>;

/// Mixes several integers into one well-spread 64-bit seed (splitmix64 finaliser): the data
/// layer's seeds (per purpose, epoch, batch, rank, class).
uint64_t mix_seed(uint64_t a, uint64_t b = 0, uint64_t c = 0);

/// Output number `stream` (counted from 0) of SplitMix64(seed), computed directly: an
/// independent seed per stream tag, so that every probe category and purpose draws from its own
/// random stream.
uint64_t stream_seed(uint64_t seed, uint64_t stream);

/// A permutation of 0..n-1 by Fisher-Yates driven by SplitMix64(seed).
std::vector<int64_t> permutation(int64_t n, uint64_t seed);

}  // namespace mapd::data
