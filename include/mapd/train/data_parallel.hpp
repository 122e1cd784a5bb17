#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/dist/collective.hpp"
#include "mapd/train/learner.hpp"

namespace mapd::train {

/// Refuses, before anything is read or written, a config a data-parallel job of `world_size` ranks
/// cannot train: another train.mode than standard, or a train.batch_size that is not a multiple
/// of the ranks. ConfigError naming the key and the way out.
void check_data_parallel(const config::RunConfig& config, int64_t world_size);

/// What the ranks agreed on before a step.
struct StepAgreement {
  bool any_batch = false;      ///< some rank still has a batch in this pass
  int stop_signal = 0;         ///< a stop signal some rank received (the largest number), or 0
  int64_t diverged_rank = -1;  ///< a rank whose last step's loss was not finite (the largest), or -1
};

/// One rank of a data-parallel job as the training loop sees it (docs/distributed.md): the
/// gradient sync (the mean over every rank's examples: each rank's gradients weighted by its
/// example count, summed in all-reduces of about `bucket_bytes`, with the step taken only when
/// every rank's gradients are finite), and the agreements that keep the ranks in the same step:
/// how many steps a pass has, whether any rank still has a batch, whether any rank received a stop
/// signal. Every rank calls each member in the same order.
class DataParallel final : public GradientSync {
 public:
  DataParallel(std::shared_ptr<dist::Collective> group, int64_t bucket_bytes);

  [[nodiscard]] bool synchronize(const std::vector<torch::Tensor>& parameters, bool finite,
                                 int64_t examples) override;

  /// Rank 0's parameters and buffers (BatchNorm statistics) on every rank.
  void broadcast_module(torch::nn::Module& module);
  /// The largest of the ranks' `local`.
  int64_t max(int64_t local);
  /// Before a step (or after a pass): whether any rank has a batch, any rank's stop signal, and
  /// whether any rank's previous step diverged (`diverged`: this rank's).
  StepAgreement agree(bool has_batch, int stop_signal, bool diverged = false);
  /// Makes every rank's epoch record the job's: a row recorded by some ranks gets the mean of their
  /// values (a pass every rank runs over all rows gives equal values), a row no rank recorded stays
  /// unrecorded (loss NaN, pred -1). With `exactly_once` (the ranks trained disjoint shards) a row
  /// recorded by two ranks is an InternalError.
  void merge_record(EpochRecord::Host& host, bool exactly_once);
  /// Per-rank recording (docs/distributed.md): rank r keeps the columns [first_columns[r],
  /// first_columns[r + 1]) of the epoch record. Each rank sends every other rank only the rows of
  /// that rank's block it recorded (its row within the block and five 4-byte values, one
  /// all-to-all), and returns the record of its own block (first_columns[rank + 1] -
  /// first_columns[rank] rows), merged as merge_record merges: a row recorded by several ranks gets
  /// the mean, a row no rank recorded stays unrecorded (loss NaN, pred -1), and with `exactly_once`
  /// a row recorded twice is an InternalError. `first_columns`: size() + 1 ascending boundaries
  /// from 0 to `host`'s row count; blocks of fewer than 2^31 rows.
  [[nodiscard]] EpochRecord::Host exchange_record(const EpochRecord::Host& host,
                                                  const std::vector<int64_t>& first_columns,
                                                  bool exactly_once);
  /// Every rank's `rows`, concatenated in rank order (an all-reduce of a [ranks, longest] table).
  [[nodiscard]] std::vector<int64_t> gather_rows(const std::vector<int64_t>& rows);
  /// In place: the element-wise sum of every rank's `values` (the same length everywhere).
  void sum(std::vector<double>& values);
  /// Checks that every rank's `parameters` are bit-identical (a 64-bit checksum of their bytes,
  /// all-reduced as its largest and smallest value) and returns the checksum. The ranks apply the
  /// same summed gradients to the same start, so they stay identical also with BatchNorm (whose
  /// running statistics, buffers, are per rank); a difference means the ranks diverged (a bug, or
  /// ranks running different builds): DistributedError on every rank, naming `epoch`.
  uint64_t check_identical(const std::vector<torch::Tensor>& parameters, int64_t epoch);
  /// Sums the ranks' totals (loss, correct, count) into every rank's.
  void merge_totals(EpochTotals& totals);
  /// Returns when every rank has called it.
  void barrier();

  [[nodiscard]] int64_t rank() const { return group_->rank(); }
  [[nodiscard]] int64_t size() const { return group_->size(); }
  [[nodiscard]] dist::Collective& group() { return *group_; }

 private:
  std::shared_ptr<dist::Collective> group_;
  int64_t bucket_bytes_;
};

}  // namespace mapd::train
