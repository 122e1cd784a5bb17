#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/sampler.hpp"

namespace mapd::data {

/// What the trainer iterates: rows 0..size()-1, the "example index" used everywhere downstream
/// (the column of dynamics.h5). Rows [0, base_rows.size()) are dataset examples
/// (`base->read(base_rows[r])`, augmented); the rest are fixed float images (probe copies, built
/// once, never augmented unless `augment_fixed`).
struct TrainingSet {
  const ImageSet* base = nullptr;
  std::vector<int64_t> base_rows;  ///< row -> index into *base
  torch::Tensor fixed_images;      ///< [P, C, H, W] float in [0, 1] (may be undefined when P = 0)
  std::vector<int64_t> labels;     ///< label of every row (base rows and fixed rows), size() entries
  bool augment_fixed = false;

  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(labels.size()); }
  [[nodiscard]] int64_t num_base() const { return static_cast<int64_t>(base_rows.size()); }
  /// The whole split as a TrainingSet with no fixed rows.
  static TrainingSet from_image_set(const ImageSet& images);
};

/// Per-channel mean and standard deviation of the pixels (in [0, 1]) of up to `max_examples`
/// evenly spaced examples of `images` (for data.augment.normalize with empty mean/std). Compute them
/// on the training split and pass them to every loader (train and eval) in augment_config.mean/std.
std::pair<std::vector<double>, std::vector<double>> channel_stats(const ImageSet& images,
                                                                  int64_t max_examples = 10000);

/// One batch. `images` [B, C, H, W] float on the loader's device; `labels` [B] int64;
/// `indices` [B] int64 row indices into the TrainingSet.
struct Batch {
  torch::Tensor images;
  torch::Tensor labels;
  torch::Tensor indices;
};

/// A row whose image could not be decoded on demand during an epoch: left out of its batch and of
/// every later epoch. `input` names the image, the reason and that epoch.
struct UnreadableRow {
  int64_t row = 0;
  BadInput input;
};

struct LoaderOptions {
  int64_t batch_size = 128;  ///< rows per batch (per candidate batch for a prioritized mode)
  /// The rows of each epoch and their order; null = PermutationSampler(set.size(), shuffle, seed),
  /// all rows on one rank. Its shard's rank enters the augmentation seeds.
  std::shared_ptr<const RowSampler> sampler;
  bool shuffle = true;  ///< for the default sampler
  bool drop_last = false;
  bool augment = true;  ///< apply config.augment to base rows (false for eval passes)
  int64_t workers = 2;
  int64_t prefetch = 4;
  int64_t seed = 0;
  torch::Device device = torch::kCPU;
  /// Upload the base images (uint8, when held in memory) and the fixed rows to `device` once and
  /// gather every batch there: no per-batch host assembly and copy. Gives the same batches as the
  /// host path. Needs set.base->in_memory(); workers are not used.
  bool resident = false;
  config::AugmentConfig augment_config;  ///< normalize applies to every row, also when augment is false
  int64_t channels = 0;                  ///< 0 = as stored; 1 or 3 converts
};

/// Batches of a TrainingSet. The rows of epoch e and their order come from the sampler (by default a
/// permutation seeded by (seed, e)) and do not depend on the worker count; every row of the
/// sampler's epoch_order appears exactly once per epoch, except excluded rows: a row whose image
/// fails to decode on demand is left out of its batch (which is then smaller; a batch left empty is
/// skipped) and of every later epoch, and is reported once by take_unreadable(). Workers fill a bounded
/// queue of `prefetch` batches; images are pinned when the device is CUDA. With `resident`, batches
/// are gathered on the device from images uploaded once.
class Loader {
 public:
  Loader(const TrainingSet& set, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Starts epoch `epoch` (0-based) at its batch `first_batch` (a run continued mid-epoch: the
  /// batches before it are skipped without reading their images; the later ones are the same as
  /// in an epoch started at 0); stops any epoch in progress. Rows that failed to decode so far are
  /// left out of it.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  /// The next batch of the current epoch, or nullopt at its end. InternalError before start_epoch.
  std::optional<Batch> next();
  /// Leaves `rows` out of every epoch started from now on (a resumed run's rows whose image could
  /// not be read before). Stops any epoch in progress. Throws InternalError for a row outside the set.
  void exclude_rows(const std::vector<int64_t>& rows);
  /// The rows left out from the next epoch on, ascending.
  [[nodiscard]] std::vector<int64_t> excluded_rows() const;
  /// The rows whose decode failed since the last call, ascending (each row once; a failure also
  /// logs one warning).
  [[nodiscard]] std::vector<UnreadableRow> take_unreadable();
  /// Batches per epoch (fewer are delivered when excluded rows leave a batch empty).
  [[nodiscard]] int64_t num_batches() const;
  /// Batches of the current epoch next() has passed so far (delivered or skipped as empty, counted
  /// from 0 also after a start at a later batch): where start_epoch continues the epoch.
  [[nodiscard]] int64_t batches_taken() const;
  /// The row order of `epoch` (what start_epoch will produce).
  [[nodiscard]] std::vector<int64_t> epoch_order(int64_t epoch) const;
  /// The sampler the batches follow.
  [[nodiscard]] const RowSampler& sampler() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mapd::data
