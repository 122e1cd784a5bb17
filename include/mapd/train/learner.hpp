#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/models/models.hpp"
#include "mapd/train/amp.hpp"

namespace mapd::train {

/// Per-example values of one epoch, preallocated on the training device and indexed by example
/// index (row of the trained set). Written with index_copy_ (no host sync); reaches the host once
/// per epoch through to_host().
class EpochRecord {
 public:
  /// Buffers for `num_examples` rows on `device`.
  EpochRecord(int64_t num_examples, const torch::Device& device);
  /// Marks every row unwritten (loss NaN, pred -1) for a new epoch.
  void reset();
  /// Stores per-example cross-entropy `loss` [B] (float) and predicted class `pred` [B] (int64)
  /// of rows `indices` [B] (int64), all on the buffer's device.
  void write(const torch::Tensor& indices, const torch::Tensor& loss, const torch::Tensor& pred);
  /// Rows written since reset() (counted on the host, duplicates included).
  [[nodiscard]] int64_t rows_written() const { return rows_written_; }
  [[nodiscard]] int64_t size() const { return loss_.size(0); }

  /// Host copy of one epoch: loss (nats), predicted class, and probability of the given label
  /// (exp(-loss), the softmax probability of the label).
  struct Host {
    std::vector<float> loss;
    std::vector<int32_t> pred;
    std::vector<float> true_prob;
  };
  /// Copies the buffers to the host (one transfer per buffer).
  [[nodiscard]] Host to_host() const;

 private:
  torch::Tensor loss_;  ///< [N] float32
  torch::Tensor pred_;  ///< [N] int32
  int64_t rows_written_ = 0;
};

/// Running sums over an epoch, kept on the device so steps need no host sync.
struct EpochTotals {
  torch::Tensor loss_sum;  ///< scalar float, sum of per-example losses
  torch::Tensor correct;   ///< scalar int64, correctly predicted examples
  int64_t count = 0;       ///< examples seen (host)

  /// Zeroed sums on `device`.
  static EpochTotals zeros(const torch::Device& device);
  /// Mean loss and accuracy (one host sync each).
  [[nodiscard]] double mean_loss() const;
  [[nodiscard]] double accuracy() const;
};

/// A model with its optimizer, mixed-precision state and device: one optimisation step or one
/// eval-mode pass at a time. Used by train(), fit_and_score() and the benchmarks.
class Learner {
 public:
  /// Builds config.model for `in_channels` x `num_classes` on `device` (weights from torch's
  /// global generator: seed it first) and config.optimizer over all its parameters. Throws
  /// ConfigError for an unknown optimizer, architecture or amp mode.
  Learner(const config::RunConfig& config, int64_t in_channels, int64_t num_classes,
          const torch::Device& device);

  /// One optimisation step at learning rate `lr` on `batch` (images [B, C, H, W] on the device):
  /// forward (autocast under AMP), per-example cross-entropy, mean, backward, optimizer step
  /// (skipped by the fp16 loss scaler on overflow). Adds to `totals`; writes per-example loss and
  /// prediction into `record` when given. Returns the batch mean loss as a detached device scalar
  /// (no host sync).
  torch::Tensor train_step(const data::Batch& batch, double lr, EpochTotals& totals, EpochRecord* record);

  /// Eval-mode, no-grad pass over one epoch of `loader` (started at `epoch`), writing per-example
  /// values into `record` when given. `should_stop` is polled after each batch; when it returns
  /// true the pass stops early. Returns the totals.
  EpochTotals evaluate(data::Loader& loader, int64_t epoch, EpochRecord* record,
                       const std::function<bool()>& should_stop = {});

  [[nodiscard]] models::ClassifierImpl& model() { return *model_; }
  [[nodiscard]] torch::optim::Optimizer& optimizer() { return *optimizer_; }
  [[nodiscard]] LossScaler& scaler() { return scaler_; }
  [[nodiscard]] const torch::Device& device() const { return device_; }

 private:
  torch::Tensor prepare(const torch::Tensor& images) const;
  torch::Tensor forward(const torch::Tensor& images);

  torch::Device device_;
  AmpMode amp_;
  bool channels_last_;
  models::Classifier model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<torch::Tensor> parameters_;
  LossScaler scaler_;
};

/// Channels of the images the loader will produce for `set` (data.channels, else as stored).
int64_t input_channels(const config::RunConfig& config, const data::TrainingSet& set);
/// Classes of `set`: its base ImageSet's class names, at least max(label) + 1.
int64_t class_count(const data::TrainingSet& set, const std::vector<std::string>& class_names);

}  // namespace mapd::train
