#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/models/models.hpp"
#include "mapd/record/trajectories.hpp"
#include "mapd/train/amp.hpp"

namespace mapd::train {

/// Per-example values of one epoch, preallocated on the training device and indexed by example
/// index (row of the trained set). Written with index_copy_ (no host sync); reaches the host once
/// per epoch through to_host().
class EpochRecord {
 public:
  /// Buffers for `num_examples` rows on `device`.
  EpochRecord(int64_t num_examples, const torch::Device& device);
  /// Marks every row unwritten (loss, margin and el2n NaN, pred -1) for a new epoch.
  void reset();
  /// Stores per-example cross-entropy `loss` [B] (float), predicted class `pred` [B] (int64) and,
  /// from the fp32 `logits` [B, K] and `labels` [B] they came from, the margin and EL2N (see
  /// Host) of rows `indices` [B] (int64), all on the buffer's device.
  void write(const torch::Tensor& indices, const torch::Tensor& loss, const torch::Tensor& pred,
             const torch::Tensor& logits, const torch::Tensor& labels);
  /// Rows written since reset() (counted on the host, duplicates included).
  [[nodiscard]] int64_t rows_written() const { return rows_written_; }
  [[nodiscard]] int64_t size() const { return loss_.size(0); }

  /// Host copy of one epoch: loss (nats), predicted class, probability of the given label
  /// (exp(-loss), the softmax probability of the label), the margin (logit of the label minus the
  /// largest other logit, as AUM averages it; clamped to +-kMarginLimit) and EL2N (L2 norm of
  /// softmax minus the label's one-hot vector).
  struct Host {
    std::vector<float> loss;
    std::vector<int32_t> pred;
    std::vector<float> true_prob;
    std::vector<float> margin;
    std::vector<float> el2n;
    /// The extra signals recorded_signals(config) names, in order: the margin and el2n rows
    /// (once the trainer put them there), then the mode's.
    std::vector<record::SignalRow> signals;
  };
  /// Margins are stored within +-this (fp16 holds up to 65504; a larger gap says nothing more).
  static constexpr float kMarginLimit = 60000.0F;
  /// Copies the buffers to the host (one transfer per buffer).
  [[nodiscard]] Host to_host() const;
  /// Writes the buffers (on the CPU) and the count of rows written into `archive`: the part of an
  /// epoch recorded so far, for a step checkpoint.
  void save(torch::serialize::OutputArchive& archive) const;
  /// Reads what save() wrote into this record (on its device). Throws IoError when the saved
  /// record has another number of rows.
  void load(torch::serialize::InputArchive& archive);

 private:
  torch::Tensor loss_;    ///< [N] float32
  torch::Tensor pred_;    ///< [N] int32
  torch::Tensor margin_;  ///< [N] float32
  torch::Tensor el2n_;    ///< [N] float32
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

/// Per-example values of a no-grad pass: plain cross-entropy [B] float and predicted class [B]
/// int64 from fp32 logits, and the rows [B] int64 they belong to, all on the learner's device.
struct Scores {
  torch::Tensor cross_entropy;
  torch::Tensor pred;
  torch::Tensor logits;  ///< fp32 [B, K], without gradient
  torch::Tensor labels;
  torch::Tensor indices;
};

/// BatchNorm (and dropout) behaviour of a scoring pass: eval uses the running statistics;
/// train normalises with the batch's own statistics, as the training pass does (and updates the
/// running statistics, as a training forward pass would); batch normalises with the batch's own
/// statistics and leaves the running statistics as they were (prioritized training's candidate
/// pass: scoring must not move the model).
enum class ScoreMode { kEval, kTrain, kBatch };

/// What an objective sees of one training batch. `logits` are fp32 [B, K] and `cross_entropy` the
/// plain per-example cross-entropy [B] of `labels` computed from them, both attached to the graph;
/// `labels` and `indices` (rows of the trained set) [B] int64 on the device. `reference` is the
/// no-grad pass over the unchanged batch the objective asked for (Objective::reference_pass), else
/// null.
struct ObjectiveInput {
  const torch::Tensor& logits;
  const torch::Tensor& labels;
  const torch::Tensor& indices;
  const torch::Tensor& cross_entropy;
  const Scores* reference = nullptr;
};

/// The training objective: what the gradient pass forwards and the scalar that is back-propagated.
/// Independent of what is recorded: dynamics.h5 always holds the plain cross-entropy of the
/// unchanged batch (of the reference pass when there is one, else of the gradient pass), whatever
/// the objective (label correction's bootstrapped mixup loss, ...) optimises.
///
/// Per step, Learner::train_step calls reference_pass(); runs that pass when asked; then inputs()
/// for the images to forward with gradients; then loss(). An objective may keep state between
/// inputs() and loss() of one step (a mixup's permutation and weight).
class Objective {
 public:
  virtual ~Objective() = default;
  /// A no-grad pass over the unchanged batch before the gradient pass, in this BatchNorm mode (its
  /// predictions are a bootstrapping objective's targets), or none (the default).
  [[nodiscard]] virtual std::optional<ScoreMode> reference_pass() const { return std::nullopt; }
  /// The images the gradient pass forwards, given the batch's own `images` (on the device, float,
  /// in the model's memory format), its labels and rows (on the device) and the reference pass
  /// (null without one). Default: the images unchanged.
  [[nodiscard]] virtual torch::Tensor inputs(const torch::Tensor& images, const torch::Tensor& /*labels*/,
                                             const torch::Tensor& /*indices*/, const Scores* /*reference*/) {
    return images;
  }
  [[nodiscard]] virtual torch::Tensor loss(const ObjectiveInput& input) = 0;
};

/// The default objective: the mean per-example cross-entropy of the batch.
class CrossEntropyObjective final : public Objective {
 public:
  [[nodiscard]] torch::Tensor loss(const ObjectiveInput& input) override {
    return input.cross_entropy.mean();
  }
};

/// Runs between backward and the optimizer step. Makes the (unscaled) gradients the ones this
/// process steps with (a data-parallel implementation averages them over the ranks) and returns
/// the step decision every process agrees on, given this process's "all gradients finite" from
/// the loss scaler. One process: nothing to synchronise, the decision is its own.
/// `examples`: how many examples this process's gradients are the mean over (0: none, a process
/// without a batch in this step of a data-parallel job), so that the ranks' means combine into the
/// mean over all of them.
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  [[nodiscard]] virtual bool synchronize(const std::vector<torch::Tensor>& parameters, bool finite,
                                         int64_t examples) = 0;
};

/// GradientSync of a single process (world size 1): returns `finite` unchanged.
class LocalGradientSync final : public GradientSync {
 public:
  [[nodiscard]] bool synchronize(const std::vector<torch::Tensor>& /*parameters*/, bool finite,
                                 int64_t /*examples*/) override {
    return finite;
  }
};

class DataParallel;

/// A model with its optimizer, mixed-precision state and device: one optimisation step or one
/// no-grad pass at a time. Used by the trainer and its modes, fit_and_score() and the benchmarks.
class Learner {
 public:
  /// Builds config.model for `in_channels` x `num_classes` on `device` (weights from torch's
  /// global generator: seed it first) and config.optimizer over all its parameters, with the
  /// cross-entropy objective and a single-process gradient sync. Throws ConfigError for an unknown
  /// optimizer, architecture or amp mode.
  Learner(const config::RunConfig& config, int64_t in_channels, int64_t num_classes,
          const torch::Device& device);

  /// One optimisation step at learning rate `lr` on `batch` (images [B, C, H, W]): the objective's
  /// reference pass when it asks for one, forward of the objective's inputs (autocast under AMP),
  /// fp32 logits, per-example cross-entropy, the objective's loss, backward, unscale (fp16), the
  /// gradient sync's decision, optimizer step unless it said skip. Adds the cross-entropy and
  /// accuracy of the unchanged batch (the reference pass's, else the gradient pass's) to `totals`
  /// and writes them with the prediction into `record` when given. Returns the objective's loss as
  /// a detached device scalar (no host sync).
  torch::Tensor train_step(const data::Batch& batch, double lr, EpochTotals& totals, EpochRecord* record);

  /// The step of a data-parallel process that has no batch left in this step while others do: no
  /// forward, zero gradients into the sync, then the optimizer step every rank takes with the
  /// averaged gradients. Only with a data-parallel sync (set_data_parallel).
  void idle_step(double lr);

  /// No-grad forward of `batch` in `mode`: per-example cross-entropy and prediction. The model is
  /// left in training mode.
  Scores score(const data::Batch& batch, ScoreMode mode = ScoreMode::kEval);

  /// Eval-mode, no-grad pass over one epoch of `loader` (started at `epoch`), writing per-example
  /// values into `record` when given. `should_stop` is polled after each batch; when it returns
  /// true the pass stops early. Returns the totals.
  EpochTotals evaluate(data::Loader& loader, int64_t epoch, EpochRecord* record,
                       const std::function<bool()>& should_stop = {});

  /// Replaces the objective (default: CrossEntropyObjective).
  void set_objective(std::shared_ptr<Objective> objective);
  /// Replaces the gradient sync (default: LocalGradientSync).
  void set_gradient_sync(std::shared_ptr<GradientSync> sync);
  /// Makes this learner one rank of a data-parallel job: `parallel` becomes its gradient sync, and
  /// the training loop asks it to agree on steps and stops (data_parallel()).
  void set_data_parallel(std::shared_ptr<DataParallel> parallel);
  /// The data-parallel job this learner is part of, or null (one process).
  [[nodiscard]] DataParallel* data_parallel() const { return parallel_.get(); }

  [[nodiscard]] models::ClassifierImpl& model() { return *model_; }
  [[nodiscard]] torch::optim::Optimizer& optimizer() { return *optimizer_; }
  [[nodiscard]] LossScaler& scaler() { return scaler_; }
  [[nodiscard]] const torch::Device& device() const { return device_; }
  /// The parameters the optimizer steps (what a gradient sync reduces).
  [[nodiscard]] const std::vector<torch::Tensor>& parameters() const { return parameters_; }

 private:
  torch::Tensor prepare(const torch::Tensor& images) const;
  torch::Tensor forward(const torch::Tensor& images);
  /// Per-example values of `images` (prepared) in the model's current mode (call under NoGradGuard).
  Scores forward_scores(const torch::Tensor& images, torch::Tensor labels, torch::Tensor indices);

  torch::Device device_;
  AmpMode amp_;
  bool channels_last_;
  models::Classifier model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  std::vector<torch::Tensor> parameters_;
  LossScaler scaler_;
  std::shared_ptr<Objective> objective_;
  std::shared_ptr<GradientSync> sync_;
  std::shared_ptr<DataParallel> parallel_;
};

/// Channels of the images the loader will produce for `set` (data.channels, else as stored).
int64_t input_channels(const config::RunConfig& config, const data::TrainingSet& set);

}  // namespace mapd::train
