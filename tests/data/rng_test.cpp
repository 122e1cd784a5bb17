#include "mapd/data/rng.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

namespace mapd::data {
namespace {

// Pinned values: the engines and the draws are fully specified, so these must never change (a
// change would silently give users other probes, other noise and other epoch orders).

TEST(Rng, StreamSeedIsTheNthSplitMix64Output) {
  EXPECT_EQ(stream_seed(42, 0), 0xbdd732262feb6e95ULL);  // splitmix64(42)'s well-known first output
  EXPECT_EQ(stream_seed(42, 1), 0x28efe333b266f103ULL);
  EXPECT_EQ(stream_seed(42, 7), 0xccf635ee9e9e2fa4ULL);
  EXPECT_EQ(stream_seed(42, 1000), 0x5566dbe893f1b4aeULL);
  SplitMix64 rng(42);
  for (uint64_t k = 0; k < 8; ++k) EXPECT_EQ(rng.next(), stream_seed(42, k)) << k;
}

TEST(Rng, SplitMix64DrawsArePinned) {
  SplitMix64 rng(3);
  EXPECT_EQ(rng.uniform(1000), 53U);
  EXPECT_EQ(rng.uniform(1000), 561U);
  EXPECT_EQ(rng.uniform(1000), 729U);
  EXPECT_EQ(rng.uniform_double(), 0.072866736771785345);
  EXPECT_EQ(permutation(10, 42), (std::vector<int64_t>{0, 9, 5, 8, 6, 4, 7, 2, 1, 3}));
  EXPECT_EQ(mix_seed(1, 2, 3), 0xdac36fef890f82ffULL);
}

TEST(Rng, MersenneTwister64IsStdMt19937_64WithPinnedDraws) {
  MersenneTwister64 rng(7);
  EXPECT_EQ(rng.next(), 0xc11f6531eb66d9a7ULL);
  EXPECT_EQ(rng.next(), 0xf30567547a34c162ULL);
  // The C++ standard's own check of mt19937_64: output 10000 of the default seed 5489.
  MersenneTwister64 standard(5489);
  for (int i = 1; i < 10000; ++i) standard.next();
  EXPECT_EQ(standard.next(), 9981545732273789042ULL);
  MersenneTwister64 draws(5);
  std::vector<int64_t> below;
  below.reserve(5);
  for (int i = 0; i < 5; ++i) below.push_back(draws.below(10));
  EXPECT_EQ(below, (std::vector<int64_t>{2, 8, 0, 8, 4}));
  std::vector<int> items{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  MersenneTwister64(6).shuffle(items);
  EXPECT_EQ(items, (std::vector<int>{8, 5, 7, 9, 1, 2, 4, 3, 6, 0}));
  MersenneTwister64 doubles(7);
  doubles.next();
  EXPECT_EQ(doubles.uniform_double(), 0.94930120289264419);
}

TEST(Rng, UniformStaysInRangeAndShuffleIsAPermutation) {
  SplitMix64 rng(11);
  std::vector<int64_t> counts(3, 0);
  for (int i = 0; i < 3000; ++i) {
    const auto x = rng.uniform(3);
    ASSERT_LT(x, 3U);
    ++counts[x];
  }
  for (auto c : counts) EXPECT_NEAR(c, 1000, 100);
  for (int i = 0; i < 100; ++i) {
    const double u = rng.uniform_double(-2.0, 3.0);
    ASSERT_GE(u, -2.0);
    ASSERT_LT(u, 3.0);
  }
  std::vector<int> items(50);
  std::iota(items.begin(), items.end(), 0);
  SplitMix64(1).shuffle(items);
  auto sorted = items;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_NE(items, sorted);
}

}  // namespace
}  // namespace mapd::data
