#include "mapd/data/sampler.hpp"

#include <fmt/format.h>

#include <numeric>

#include "mapd/core/error.hpp"
#include "mapd/data/rng.hpp"

namespace mapd::data {

PermutationSampler::PermutationSampler(int64_t rows, bool shuffle, int64_t seed, Shard shard)
    : rows_(rows), shuffle_(shuffle), seed_(seed), shard_(shard) {
  MAPD_ASSERT(rows_ >= 0, fmt::format("sampler: {} rows", rows_));
  MAPD_ASSERT(shard_.world_size >= 1 && shard_.rank >= 0 && shard_.rank < shard_.world_size,
              fmt::format("sampler: rank {} of world size {}", shard_.rank, shard_.world_size));
}

std::vector<int64_t> PermutationSampler::global_order(int64_t epoch) const {
  if (!shuffle_) {
    std::vector<int64_t> order(static_cast<size_t>(rows_));
    std::iota(order.begin(), order.end(), 0);
    return order;
  }
  return permutation(rows_, mix_seed(static_cast<uint64_t>(seed_), 0x0bde5, static_cast<uint64_t>(epoch)));
}

std::vector<int64_t> PermutationSampler::epoch_order(int64_t epoch) const {
  auto all = global_order(epoch);
  if (shard_.world_size == 1) return all;
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(rows_per_epoch()));
  for (auto i = static_cast<size_t>(shard_.rank); i < all.size();
       i += static_cast<size_t>(shard_.world_size)) {
    mine.push_back(all[i]);
  }
  return mine;
}

int64_t PermutationSampler::rows_per_epoch() const {
  return rows_ > shard_.rank ? (rows_ - shard_.rank + shard_.world_size - 1) / shard_.world_size : 0;
}

}  // namespace mapd::data
