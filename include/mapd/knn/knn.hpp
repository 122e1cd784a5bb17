#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"

/// Exact k-NN over loss trajectories (DESIGN.md §1 steps 4-5). No torch in this header.
namespace mapd::knn {

/// The fit set: trajectories of the fit-half probes with their categories.
struct FitSet {
  int64_t dim = 0;               ///< trajectory length T
  std::vector<float> x;          ///< [n, dim] row-major
  std::vector<int32_t> category; ///< [n] in [0, num_categories)
  int64_t num_categories = 0;
  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(category.size()); }
};

/// Per-query output of one block.
struct Prediction {
  std::vector<float> prob;       ///< [n, C] share of the k neighbours in each category (the paper)
  std::vector<float> score;      ///< [n, C] continuous score for sorting (no ties at vote steps)
  std::vector<int16_t> assigned; ///< [n] argmax of prob, ties to the lowest category index
  std::vector<float> max_prob;   ///< [n]
};

/// k-NN classifier: Euclidean distance, k neighbours, uniform or distance-weighted votes,
/// optional per-epoch standardisation with the fit set's statistics. Matches scikit-learn's
/// KNeighborsClassifier(n_neighbors=k).predict_proba up to exact distance ties.
class TrajectoryKnn {
 public:
  TrajectoryKnn(FitSet fit, const config::KnnConfig& options);
  ~TrajectoryKnn();
  TrajectoryKnn(TrajectoryKnn&&) noexcept;
  TrajectoryKnn& operator=(TrajectoryKnn&&) noexcept;

  /// Predicts `n` queries `x` [n, dim] row-major.
  [[nodiscard]] Prediction predict(const float* x, int64_t n) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Summary of `assign_run`.
struct AssignSummary {
  int64_t queries = 0;
  int64_t epochs_used = 0;
  double self_test_accuracy = 0.0;
  double seconds = 0.0;
};

/// Reads <run_dir>/dynamics.h5 (committed epochs only), fits on probe_fit rows, assigns every
/// train and probe_val row in blocks bounded by options.memory_budget_mb, and writes
/// assignments.h5, assignments.csv, the probe self-test (selftest.json, printed as a table) and,
/// when labels were injected with noise, ground-truth detection metrics (detection.json).
/// Throws DataError/ConfigError with the numbers (too few epochs, no probes, k > fit set, unknown
/// format_version).
AssignSummary assign_run(const std::filesystem::path& run_dir, const config::KnnConfig& options);

}  // namespace mapd::knn
