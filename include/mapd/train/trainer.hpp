#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/record/dynamics_store.hpp"

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

/// Trains `config.model` on inputs.train_set for config.train.epochs epochs, recording the
/// per-example loss, prediction and probability of the label of every row every epoch into
/// `<run_dir>/dynamics.h5`, then checkpointing `<run_dir>/checkpoints/last.pt` (in that order).
/// With `resume`, continues from the checkpoint in run_dir (dynamics rows beyond it are dropped).
/// Throws DivergedError on a NaN/inf loss (naming epoch, step and example indices) and
/// InterruptedError after SIGINT/SIGTERM/SIGUSR1 once the last complete epoch is saved.
TrainSummary train(const config::RunConfig& config, const TrainInputs& inputs,
                   const std::filesystem::path& run_dir, bool resume);

/// Short training used by other modules (difficulty scores): trains a fresh model of
/// config.model on `fit` for `epochs` epochs (no recording, no checkpoints, no files) and returns,
/// after each epoch, the probability of the given label for every row of `score` as a [epochs,
/// score.size()] float tensor on the CPU. Deterministic for a given `seed` and a fixed train.threads.
torch::Tensor fit_and_score(const config::RunConfig& config, const data::TrainingSet& fit,
                            const data::TrainingSet& score, int64_t epochs, int64_t seed);

}  // namespace mapd::train
