#pragma once

#include <cstdint>
#include <vector>

/// Which rows of a TrainingSet an epoch visits, in which order, and which share of them belongs to
/// one rank of a data-parallel job. The loader cuts the order into batches (for a prioritized mode,
/// candidate batches of `prioritized.candidates` rows); a sampler never looks at images.
namespace mapd::data {

/// The part of the job a process is: rank `rank` of `world_size` (one process = rank 0 of 1).
struct Shard {
  int64_t rank = 0;
  int64_t world_size = 1;
};

class RowSampler {
 public:
  virtual ~RowSampler() = default;
  /// Rows this shard visits in `epoch` (0-based), in order. Deterministic in (epoch, the sampler's
  /// construction arguments): the same on every platform and for every worker count.
  [[nodiscard]] virtual std::vector<int64_t> epoch_order(int64_t epoch) const = 0;
  /// Rows in every epoch_order (the same each epoch).
  [[nodiscard]] virtual int64_t rows_per_epoch() const = 0;
  /// The shard this sampler serves; its rank enters the augmentation seeds.
  [[nodiscard]] virtual Shard shard() const = 0;
};

/// The default: epoch e visits a seeded permutation of all `rows` rows (or 0..rows-1 in order
/// without `shuffle`), and rank r of W takes every W-th row of it starting at r (strided, so
/// probes and classes spread over all ranks). Rank 0 of 1 visits exactly the whole permutation.
/// A shard holds ceil((rows - r) / W) rows: the shards differ by at most one row.
class PermutationSampler final : public RowSampler {
 public:
  PermutationSampler(int64_t rows, bool shuffle, int64_t seed, Shard shard = {});
  [[nodiscard]] std::vector<int64_t> epoch_order(int64_t epoch) const override;
  [[nodiscard]] int64_t rows_per_epoch() const override;
  [[nodiscard]] Shard shard() const override { return shard_; }
  /// The permutation of all rows of `epoch` that the shards stride over.
  [[nodiscard]] std::vector<int64_t> global_order(int64_t epoch) const;

 private:
  int64_t rows_;
  bool shuffle_;
  int64_t seed_;
  Shard shard_;
};

}  // namespace mapd::data
