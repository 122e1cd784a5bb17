#include "mapd/data/rng.hpp"

#include <cstddef>
#include <numeric>

namespace mapd::data {
namespace {

/// splitmix64's increment (the golden ratio in 64-bit fixed point).
constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;

uint64_t finalize(uint64_t z) {
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

}  // namespace

uint64_t SplitMix64Engine::operator()() {
  state_ += kGamma;
  return finalize(state_);
}

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t h = finalize(a + kGamma);
  h = finalize(h ^ (b + 0x632be59bd9b4e019ULL));
  h = finalize(h ^ (c + 0x85157af5c3c3b3a1ULL));
  return h;
}

uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  // Jump straight to the state before output `stream`: the engine adds kGamma per output.
  SplitMix64Engine engine(seed + kGamma * stream);
  return engine();
}

std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  SplitMix64(seed).shuffle(order);
  return order;
}

}  // namespace mapd::data
