#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/record/dynamics_store.hpp"

/// Probe suites (docs/method.md §1, docs/probes.md): categories, selection, transforms, fit/val split.
namespace mapd::probes {

/// The built suite: which dataset examples were removed and the probe copies that replace them.
struct ProbeSuite {
  std::vector<std::string> category_names;  ///< index = category
  torch::Tensor images;                     ///< [P, C, H, W] float in [0, 1], fixed
  std::vector<int64_t> labels;              ///< [P] label trained on
  std::vector<int64_t> original_labels;  ///< [P] label of the source example (random_input: the drawn label)
  std::vector<int16_t> category;         ///< [P]
  std::vector<int8_t> role;              ///< [P] record::Role::kProbeFit or kProbeVal
  std::vector<int64_t> source_index;     ///< [P] dataset index of the source, -1 for synthetic
  std::vector<int64_t> source_id;        ///< [P] dataset id of the source, -1 for synthetic
  std::vector<int64_t> removed;          ///< dataset indices removed from the training rows (sorted)

  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

/// Builds the suite named by config.probes from `dataset.train` (and, for ood_source=dataset,
/// the other dataset). Writes the difficulty-score cache and logs under `run_dir` when non-empty.
/// Throws ConfigError (unknown category, too few examples, with the numbers) or DataError.
ProbeSuite build_probe_suite(const config::RunConfig& config, const data::Dataset& dataset,
                             const std::filesystem::path& run_dir);

/// The trained set = dataset training rows not removed ∪ probe rows, with its /examples columns.
struct TrainedSet {
  data::TrainingSet train_set;
  record::ExampleColumns examples;
};
TrainedSet compose_trained_set(const data::ImageSet& train, const ProbeSuite& suite, bool augment_probes);

}  // namespace mapd::probes
