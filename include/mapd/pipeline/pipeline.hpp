#pragma once

#include <memory>
#include <optional>
#include <string>

#include "mapd/config/config.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/core/run_lock.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/dist/collective.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/probes/probe_suite.hpp"
#include "mapd/report/export.hpp"
#include "mapd/report/report.hpp"
#include "mapd/train/trainer.hpp"

/// The MAP-D pipeline as library functions: prepare (dataset, probe suite, trained set) → train
/// (recording) → assign (k-NN) → report, and resume. The command line (`mapd audit`, `train`,
/// `resume`) only resolves its arguments and calls these; tests and other programs may call them
/// directly. Errors propagate as mapd::Error subclasses.
namespace mapd::pipeline {

/// Everything built from the data before training. The training set points into the dataset, so
/// a Prepared stays where it was made (it is neither copied nor moved).
struct Prepared {
  data::Dataset dataset;
  probes::ProbeSuite suite;
  probes::TrainedSet trained;

  Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  /// The trainer's inputs: the trained set, its /examples columns, category and class names, and
  /// the test split when there is one.
  [[nodiscard]] train::TrainInputs train_inputs() const;
};

/// Checks that config.train.device is available (before anything is read), loads the dataset
/// (listing unreadable inputs in run's bad_inputs.csv), builds the probe suite (running the
/// difficulty pilot, whose scores are cached in the run directory) and composes the trained set.
/// In a data-parallel job (`group`) rank 0 writes the run's files and builds the probe suite first;
/// the other ranks then build the same one from its cached scores.
std::unique_ptr<Prepared> prepare(const config::RunConfig& config, const RunLayout& run,
                                  const std::shared_ptr<dist::Collective>& group = nullptr);

/// Starts a new run in `run`: creates the directory, takes its writer's lock (held while the
/// returned RunLock lives), refuses a directory that already holds a run (one with a committed
/// epoch, i.e. a checkpoint) with the way out in the message, then writes config.resolved.json
/// (rank 0) and attaches the run's log. `command` names the caller in messages ("mapd train").
/// Throws ConfigError when the directory holds a run, IoError when another live process writes it
/// or it cannot be written.
RunLock create_run(const config::RunConfig& config, const RunLayout& run, const std::string& command);

/// create_run for the other ranks of a data-parallel job (rank > 0): the same refusal of a directory
/// that holds a run, then this rank's log (train.rank-R.log); rank 0 holds the lock and writes the
/// config.
void join_run(const RunLayout& run, const std::string& command);

/// A new training run into `run` (started by create_run): prepare, then train with recording; with
/// `group`, as one rank of a data-parallel job (train::Trainer).
train::TrainSummary train_run(const config::RunConfig& config, const RunLayout& run,
                              const std::shared_ptr<dist::Collective>& group = nullptr);

/// Continues the interrupted run in `run` from its last checkpoint, with the config it was started
/// with (config.resolved.json, resolved as `mapd resume` resolves it), holding the run's lock. A run
/// stopped before its first epoch was committed (no checkpoint) starts again from epoch 0. The
/// dataset and probe suite rebuilt from the config must be the ones recorded in dynamics.h5.
/// Throws IoError when the run directory is missing or a live process writes it, ConfigError when
/// it has no config.resolved.json, DataError when the examples changed.
train::TrainSummary resume_run(const RunLayout& run,
                               const std::shared_ptr<dist::Collective>& group = nullptr);

/// The predicted probabilities of every training example of the run in `run` (column order of
/// dynamics.h5) from the model of its last committed epoch, in eval mode, for `mapd export --format
/// cleanlab`: reloads the dataset from config.resolved.json (writing nothing into the run). An
/// example whose image cannot be read any more gets uniform probabilities (logged). Throws IoError
/// when the run has no checkpoint, DataError when the dataset no longer holds the recorded examples.
/// `overrides` (`--set data.path=...`, `train.device=cpu`) apply on top of the run's config.
report::PredictedProbabilities predict_training_examples(const RunLayout& run,
                                                         const std::vector<std::string>& overrides = {});

/// What an audit did.
struct AuditSummary {
  train::TrainSummary train;
  knn::AssignSummary assign;
  std::optional<report::ReportResult> report;  ///< none with report.enabled = false
  double seconds = 0.0;
};

/// The whole audit in `run` (started by create_run): train_run, then the k-NN assignment, then the
/// report when config.report.enabled. In a data-parallel job the ranks train together and rank 0
/// alone assigns and reports (the others return after training).
AuditSummary audit_run(const config::RunConfig& config, const RunLayout& run,
                       const std::shared_ptr<dist::Collective>& group = nullptr);

}  // namespace mapd::pipeline
