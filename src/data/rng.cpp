#include "mapd/data/rng.hpp"

#include <numeric>

namespace mapd::data {
namespace {

uint64_t finalize(uint64_t z) {
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

}  // namespace

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t h = finalize(a + 0x9e3779b97f4a7c15ULL);
  h = finalize(h ^ (b + 0x632be59bd9b4e019ULL));
  h = finalize(h ^ (c + 0x85157af5c3c3b3a1ULL));
  return h;
}

uint64_t SplitMix64::next() {
  state_ += 0x9e3779b97f4a7c15ULL;
  return finalize(state_);
}

uint64_t SplitMix64::uniform(uint64_t n) {
  // Rejection keeps the draw unbiased: accept only values below the largest multiple of n.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  uint64_t x = next();
  while (x >= limit) {
    x = next();
  }
  return x % n;
}

double SplitMix64::uniform_double() { return static_cast<double>(next() >> 11U) * 0x1.0p-53; }

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace mapd::data
