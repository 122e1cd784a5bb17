#pragma once

#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/train/learner.hpp"

namespace mapd::record {
class DynamicsStore;
}

namespace mapd::train {

/// One optimisation step, as observers see it.
struct BatchEvent {
  int64_t epoch = 0;
  int64_t step = 0;   ///< 0-based within the epoch
  int64_t steps = 0;  ///< steps of the epoch
  const data::Batch& batch;
  const torch::Tensor& loss;  ///< the objective's loss, a detached device scalar (no host sync)
  double lr = 0.0;
  const EpochTotals& totals;  ///< the epoch's running sums after this step
};

/// The run directory is open: dynamics.h5 holds `start_epoch` committed epochs (0 for a new run).
struct OpenEvent {
  int64_t start_epoch = 0;
  bool resumed = false;
  const record::DynamicsStore& store;
  /// Rows left out of training because their image could not be read (their last committed loss
  /// is NaN), ascending; a mode's loaders must leave them out of every epoch from now on.
  const std::vector<int64_t>& excluded;
};

/// An epoch is committed: its dynamics row, metrics line and checkpoint are on disk.
struct CommitEvent {
  int64_t epoch = 0;
  const EpochRecord::Host& record;  ///< the row appended to dynamics.h5
  const nlohmann::json& metrics;    ///< the line written to metrics.jsonl
  const record::DynamicsStore& store;
};

/// The last epoch of the run is committed.
struct FinishEvent {
  const record::DynamicsStore& store;
  const RunLayout& run;
  /// Rows left out of training because their image could not be read, ascending.
  const std::vector<int64_t>& excluded;
};

/// Watches a training run (progress display, thread governor, divergence checks, and the modes
/// that need to act after a commit). Every hook defaults to doing nothing; a hook that throws
/// ends the run (the epoch in progress is discarded, committed epochs stay).
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  virtual void run_opened(const OpenEvent& /*event*/) {}
  /// Before the first step of `epoch`, which has `steps` steps.
  virtual void epoch_started(int64_t /*epoch*/, int64_t /*steps*/) {}
  virtual void batch_done(const BatchEvent& /*event*/) {}
  /// After the training pass of `epoch` (before its recording and test passes).
  virtual void pass_done(int64_t /*epoch*/) {}
  virtual void epoch_committed(const CommitEvent& /*event*/) {}
  /// After the commit of the run's last epoch (not when a resumed run had nothing left to train).
  virtual void run_finished(const FinishEvent& /*event*/) {}
};

struct EpochPass;

/// What a mode runs one epoch with. Owned by whoever drives the epochs (Trainer, fit_and_score).
struct EpochContext {
  int64_t epoch = 0;
  int64_t epochs = 0;
  const config::RunConfig& config;
  Learner& learner;
  EpochRecord* record = nullptr;  ///< where the epoch's per-example values go; null: not recorded
  const std::vector<TrainingObserver*>& observers;  ///< told of every step, in order
  /// The pass of this epoch that a stop signal ended earlier (restored from a step checkpoint):
  /// the pass continues it (its steps, loader position, totals and unreadable rows) instead of
  /// starting the epoch; ctx.record then already holds the rows it recorded. Null: a new epoch.
  const EpochPass* continued = nullptr;

  /// The scheduled learning rate at `step` of `steps` in this epoch.
  [[nodiscard]] double learning_rate(int64_t step, int64_t steps) const;
  void epoch_started(int64_t steps) const;
  /// Tells the observers; returns false when a stop signal is pending and the pass must end
  /// after this batch.
  [[nodiscard]] bool batch_done(const BatchEvent& event) const;
  void pass_done() const;
  /// A stop signal (SIGINT, SIGTERM, SIGUSR1) is pending.
  [[nodiscard]] static bool stop_requested();
};

/// What one epoch's training pass did.
struct EpochPass {
  EpochTotals totals;          ///< cross-entropy and accuracy of the trained batches
  double train_seconds = 0.0;  ///< wall time of the training pass alone
  double lr = 0.0;             ///< the learning rate of the last step
  bool stopped = false;        ///< ended early on a stop signal: the epoch is not complete
  int64_t steps_done = 0;      ///< steps of the epoch trained (all of them unless stopped)
  int64_t batches_done = 0;    ///< training loader batches passed (Loader::batches_taken)
  /// Rows whose image could not be read in this epoch, ascending: they have no recorded values
  /// (NaN loss, pred -1) from this epoch on, and the mode leaves them out of every later epoch.
  std::vector<data::UnreadableRow> unreadable;
};

/// What one step of a training pass did: the objective's loss (a detached device scalar) and the
/// batch the gradient step trained on (observers see it: a divergence names its rows).
struct StepOutcome {
  torch::Tensor loss;
  data::Batch trained;
};

/// A mode's own step over one loader batch at learning rate `lr` (step index `step`), adding the
/// trained examples to `totals`.
using StepFunction =
    std::function<StepOutcome(const data::Batch& batch, int64_t step, double lr, EpochTotals& totals)>;

/// One pass over an epoch of `loader` (started at ctx.epoch): per batch the scheduled learning
/// rate, one step, the observers. The step is Learner::train_step on the whole batch, its
/// per-example values into `record` when given, unless `step` is given (prioritized training
/// trains on part of each batch). `before_step`, when given, is called with the step's index
/// before each step. Stops after the batch at which a stop signal is seen. The rows the loader
/// could not read go to the result's `unreadable`.
EpochPass run_training_pass(const EpochContext& ctx, data::Loader& loader, EpochRecord* record,
                            const std::function<void(int64_t)>& before_step = {},
                            const StepFunction& step = {});

/// record.view=eval after a training pass that was not stopped: an eval-mode pass of
/// `eval_loader` over every row into ctx.record. Rows either pass could not read are left out of
/// the other loader from now on and added to `pass.unreadable` (ascending); `pass.stopped` is set
/// when a stop signal ended the eval pass.
void record_eval_view(const EpochContext& ctx, EpochPass& pass, data::Loader& train_loader,
                      data::Loader& eval_loader);

/// The rows of `unreadable`, in order.
std::vector<int64_t> rows_of(const std::vector<data::UnreadableRow>& unreadable);

/// A training mode (train.mode): what happens in an epoch, and what "every row recorded exactly
/// once per epoch" means for it. The trainer checks that promise before it commits the epoch, and
/// notifies the mode (as the first observer) of the run's open and of every commit.
class TrainingMode : public TrainingObserver {
 public:
  /// The train.mode value.
  [[nodiscard]] virtual std::string name() const = 0;
  /// How the recorded losses are measured ("online": in the training pass, "eval": an eval-mode
  /// pass after it); written into dynamics.h5 and every metrics line.
  [[nodiscard]] virtual std::string view() const = 0;
  /// Optimisation steps per epoch.
  [[nodiscard]] virtual int64_t steps_per_epoch() const = 0;
  /// Runs one epoch. Unless the result says stopped, ctx.record then holds every row of the
  /// trained set exactly once, except the rows excluded before (OpenEvent::excluded and earlier
  /// results' `unreadable`) and the result's `unreadable`, which it holds not at all.
  virtual EpochPass run_epoch(const EpochContext& ctx) = 0;
  /// Whether an epoch a stop signal ended can be continued from its last step (a step checkpoint):
  /// run_epoch then honours EpochContext::continued, and save_epoch_progress/load_epoch_progress
  /// keep the mode's own state of the epoch in progress. A mode that cannot redoes the epoch.
  [[nodiscard]] virtual bool continues_mid_epoch() const { return false; }
  /// After a stopped run_epoch: the mode's state of the epoch so far (beyond the pass and the
  /// record), into `archive`.
  virtual void save_epoch_progress(torch::serialize::OutputArchive& /*archive*/) const {}
  /// After run_opened, before the run_epoch that continues the stopped epoch: restores what
  /// save_epoch_progress wrote.
  virtual void load_epoch_progress(torch::serialize::InputArchive& /*archive*/) {}
  /// Adds the mode's own fields to the epoch's metrics line.
  virtual void add_metrics(nlohmann::json& /*line*/) const {}
  /// After run_epoch: the epoch's rows of the mode's own extra signals (recorded_signals(config)
  /// after per_example_signals()), in that order (NaN / -1 for rows not trained on).
  [[nodiscard]] virtual std::vector<record::SignalRow> signal_rows() { return {}; }
};

/// The extra per-epoch signals a run with `config` records in dynamics.h5 beside the loss:
/// per_example_signals(), then the mode's (label_correction: bootstrap_weight and target;
/// prioritized: priority and selected).
std::vector<record::SignalSpec> recorded_signals(const config::RunConfig& config);

/// The signals every run records (EpochRecord::Host): `margin` (AUM's margin) and `el2n`. Files
/// written before mapd recorded them lack both; such a run still resumes, without them.
std::vector<record::SignalSpec> per_example_signals();

/// What the recorded losses of a run with `config` measure (dynamics.h5's view): record.view,
/// or "candidate" for train.mode=prioritized (the no-grad pass that scores each candidate batch).
std::string recorded_view(const config::RunConfig& config);

/// The mode config.train.mode names, over `set` on `device` (its loaders seeded by
/// config.train.seed); `shard`: the rank of a data-parallel job it trains as (the standard mode
/// only). Throws ConfigError for an unknown mode or view, or another mode in a data-parallel job.
std::unique_ptr<TrainingMode> make_training_mode(const config::RunConfig& config,
                                                 const data::TrainingSet& set, const torch::Device& device,
                                                 data::Shard shard = {});

/// The loader options of a training (shuffled, augmented) or scoring (fixed order, twice the
/// batch size) pass over `set` on `device`, following config.data. A training pass of rank r of a
/// data-parallel job of W (`shard`) takes every W-th row of the epoch's permutation from r, in
/// batches of train.batch_size / W: the ranks' k-th batches together are one process's k-th batch.
data::LoaderOptions loader_options(const config::RunConfig& config, const data::TrainingSet& set,
                                   const torch::Device& device, bool training, int64_t seed,
                                   data::Shard shard = {});

}  // namespace mapd::train
