#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/dist/collective.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/train/learner.hpp"
#include "mapd/train/mode.hpp"

namespace mapd::train {

/// What a finished (or interrupted) run reports.
struct TrainSummary {
  int64_t epochs_completed = 0;
  double test_accuracy = -1.0;  ///< last epoch, -1 without a test set
  double test_loss = -1.0;
  double seconds = 0.0;
  double images_per_second = 0.0;
};

/// Everything a training run needs besides the config: the trained set (dataset rows + probe
/// rows), its /examples columns and category names for dynamics.h5, and an optional test split.
struct TrainInputs {
  data::TrainingSet train_set;
  record::ExampleColumns examples;          ///< one row per train_set row
  std::vector<std::string> category_names;  ///< probe categories (index = probe_category)
  std::vector<std::string> class_names;
  const data::ImageSet* test = nullptr;  ///< may be null
};

/// One epoch trained and recorded in memory, not yet committed.
struct EpochResult {
  int64_t epoch = 0;
  EpochPass pass;
  EpochRecord::Host record;     ///< the row every example gets in dynamics.h5
  double test_accuracy = -1.0;  ///< -1 without a test pass
  double test_loss = -1.0;
  double seconds = 0.0;  ///< wall time of the epoch: training, recording and test passes
};

/// A training run in a run directory: open (a new run, or resume from its checkpoint), then per
/// epoch run_epoch (the training mode's epoch, the test pass, the checks that every row was
/// recorded once and finitely) and commit_epoch (the dynamics row, the metrics line, then the
/// checkpoint that points past both: a kill before the checkpoint redoes the epoch). Observers
/// see every step and every commit; the mode (config.train.mode) is the first of them.
///
/// SIGINT/SIGTERM/SIGUSR1 from construction on only set a flag: the epoch in progress stops
/// after its current batch (every rank after the same step), its progress is written to a step
/// checkpoint (checkpoints/step.pt and each rank's checkpoints/step.rank-R.pt) and
/// InterruptedError says where; committed epochs stay. open(resume) continues that epoch from its
/// step when the step checkpoint belongs to the next epoch to commit, and removes it otherwise.
class Trainer {
 public:
  /// Checks the inputs, seeds torch with config.train.seed and builds the model. Touches no file.
  /// `run` says where the run's files go (a run directory's path is rank 0 of 1). With `group`, the
  /// trainer is rank run.rank() of a data-parallel job (docs/distributed.md): it starts from rank
  /// 0's parameters, trains its shard of every epoch in train.batch_size / ranks batches with the
  /// gradients averaged over the ranks, and agrees with the others on every step and stop; rank 0
  /// writes the run's files (dynamics.h5 with every rank's rows, metrics, checkpoints).
  Trainer(const config::RunConfig& config, const TrainInputs& inputs, RunLayout run,
          std::shared_ptr<dist::Collective> group = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Creates `<run_dir>/dynamics.h5` (or, with `resume`, reopens it at the epoch of
  /// checkpoints/last.pt, dropping rows beyond it), then the mode and its loaders. Returns the
  /// first epoch to train (config.train.epochs when the run is already complete).
  int64_t open(bool resume);
  /// Trains and records `epoch` (the next one). Throws InterruptedError when a stop signal ends it
  /// early, DivergedError on a NaN/inf loss.
  EpochResult run_epoch(int64_t epoch);
  /// Writes `result` to the run directory and tells the observers.
  void commit_epoch(const EpochResult& result);
  /// open(resume), then run_epoch + commit_epoch up to config.train.epochs. After a commit, a
  /// pending stop signal ends the run with InterruptedError.
  TrainSummary run(bool resume);

  /// Adds an observer (not owned; it must outlive the run), told after the mode and the
  /// trainer's own observers.
  void add_observer(TrainingObserver* observer);
  [[nodiscard]] Learner& learner();
  /// The mode; only after open().
  [[nodiscard]] TrainingMode& mode();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Trains `config.model` on inputs.train_set for config.train.epochs epochs, recording the
/// per-example loss, prediction and probability of the label of every row every epoch into
/// `<run_dir>/dynamics.h5`, then checkpointing `<run_dir>/checkpoints/last.pt` (in that order).
/// With `resume`, continues from the checkpoint in run_dir (dynamics rows beyond it are dropped).
/// Throws DivergedError on a NaN/inf loss (naming epoch, step and example indices) and
/// InterruptedError after SIGINT/SIGTERM/SIGUSR1 once the last complete epoch and the progress of
/// the one in progress (a step checkpoint) are saved.
/// Trainer(config, inputs, run_dir, group).run(resume).
TrainSummary train(const config::RunConfig& config, const TrainInputs& inputs, const RunLayout& run,
                   bool resume, std::shared_ptr<dist::Collective> group = nullptr);

/// Short training used by other modules (difficulty scores): trains a fresh model of
/// config.model on `fit` for `epochs` epochs (no recording, no checkpoints, no files) and returns,
/// after each epoch, the probability of the given label for every row of `score` as a [epochs,
/// score.size()] float tensor on the CPU. Deterministic for a given `seed` and a fixed train.threads.
/// InternalError for epochs < 1 or an empty `fit` (callers check both first).
torch::Tensor fit_and_score(const config::RunConfig& config, const data::TrainingSet& fit,
                            const data::TrainingSet& score, int64_t epochs, int64_t seed);

/// Softmax outputs [set.size(), classes] (float, CPU) of the model saved in `checkpoint` (a run's
/// checkpoint of config.model with `classes` outputs) for every row of `set`, in eval mode, in row
/// order. Throws IoError naming the checkpoint when it is missing or does not fit the model.
torch::Tensor predict_probabilities(const config::RunConfig& config, const data::TrainingSet& set,
                                    int64_t classes, const std::filesystem::path& checkpoint);

}  // namespace mapd::train
