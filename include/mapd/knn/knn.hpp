#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"

/// Exact k-NN over loss trajectories (docs/method.md §1 steps 4-5). No torch in this header.
namespace mapd::knn {

/// The fit set: trajectories of the fit-half probes with their categories.
struct FitSet {
  int64_t dim = 0;                ///< trajectory length T
  std::vector<float> x;           ///< [n, dim] row-major
  std::vector<int32_t> category;  ///< [n] in [0, num_categories)
  int64_t num_categories = 0;
  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(category.size()); }
};

/// Per-query output of one block.
struct Prediction {
  std::vector<float> prob;        ///< [n, C] share of the k neighbours in each category (the paper)
  std::vector<float> score;       ///< [n, C] continuous score for sorting (no ties at vote steps)
  std::vector<int16_t> assigned;  ///< [n] argmax of prob, ties to the lowest category index
  std::vector<float> max_prob;    ///< [n]
  /// Queries whose k-th and (k+1)-th nearest fit rows are at exactly the same distance: the only
  /// queries where another exact k-NN (scikit-learn) may pick other neighbours. Ties are broken
  /// here by fit row order (category, then fit index).
  std::vector<uint8_t> boundary_tie;  ///< [n] 1 where such a tie exists
  int64_t boundary_ties = 0;          ///< number of 1s in boundary_tie
  /// Queries whose fp32 shortlist could not prove exactness and were re-scanned in double.
  int64_t rescanned = 0;
};

/// k-NN classifier: Euclidean distance, k neighbours, uniform or distance-weighted votes,
/// optional per-epoch standardisation with the fit set's statistics. Matches scikit-learn's
/// KNeighborsClassifier(n_neighbors=k).predict_proba up to exact distance ties.
class TrajectoryKnn {
 public:
  /// Builds the index. Throws ConfigError when options.k > fit.size() (with both numbers) or the
  /// backend is unavailable, DataError for an empty fit set, a bad category or a non-finite value.
  TrajectoryKnn(FitSet fit, const config::KnnConfig& options);
  ~TrajectoryKnn();
  TrajectoryKnn(TrajectoryKnn&&) noexcept;
  TrajectoryKnn& operator=(TrajectoryKnn&&) noexcept;

  /// Predicts `n` queries `x` [n, dim] row-major (raw losses; standardisation, when enabled,
  /// is applied here). Distances are shortlisted in fp32 (BLAS GEMM or LibTorch) and the final
  /// ranking is computed in double with a proven fp32 error bound, so the neighbours are exact.
  /// Throws DataError for a non-finite value (naming the query row).
  [[nodiscard]] Prediction predict(const float* x, int64_t n) const;

  /// Bytes of working memory `predict` needs per query (for block sizing).
  [[nodiscard]] int64_t bytes_per_query() const;
  /// Bytes held by the fitted index (fit rows in float and double, norms).
  [[nodiscard]] int64_t index_bytes() const;
  /// The backend actually used: "blas" or "torch:<device>".
  [[nodiscard]] std::string backend_name() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Summary of `assign_run`.
struct AssignSummary {
  int64_t queries = 0;
  int64_t excluded = 0;  ///< rows left out during training (unreadable images), not assigned
  int64_t epochs_used = 0;
  double self_test_accuracy = 0.0;  ///< NaN when there are no val probes
  double seconds = 0.0;
  int64_t block_size = 0;       ///< queries per streamed block
  int64_t boundary_ties = 0;    ///< queries with an exact distance tie at the k-th neighbour
  std::string backend;          ///< search backend used
  std::string self_test_table;  ///< the probe self-test as a printable table
  std::string detection_table;  ///< ground-truth detection table (empty without injected noise)
};

/// Reads <run_dir>/dynamics.h5 (committed epochs only), fits on probe_fit rows, assigns every
/// train and probe_val row in blocks bounded by options.memory_budget_mb, and writes
/// assignments.h5, assignments.csv, the probe self-test (selftest.json, printed as a table) and,
/// when labels were injected with noise, ground-truth detection metrics (detection.json).
/// Throws DataError/ConfigError with the numbers (too few epochs, no probes, k > fit set, unknown
/// format_version).
AssignSummary assign_run(const std::filesystem::path& run_dir, const config::KnnConfig& options);

/// Task `index` of `count` of a sharded assignment (0 <= index < count).
struct Shard {
  int64_t index = 0;
  int64_t count = 1;
};

/// Summary of `assign_part`.
struct PartSummary {
  std::filesystem::path path;  ///< RUN_DIR/assign_parts/part-IIII-of-NNNN.h5
  bool skipped = false;        ///< a finished part with the same key was there already
  int64_t column_begin = 0;    ///< the part's examples: columns [column_begin, column_end) of dynamics.h5
  int64_t column_end = 0;
  int64_t queries = 0;  ///< train and probe_val rows among them (the rows assigned)
  double seconds = 0.0;
};

/// Assigns the query rows of the `shard.index`-th of `shard.count` contiguous column ranges of
/// <run_dir>/dynamics.h5 (committed epochs only) exactly as assign_run does them (same fit set,
/// same mean-loss ranking over all train rows), and writes them atomically to RunLayout's
/// assign_part() with a key: the epochs used (the committed ones unless knn.epoch_end pins them),
/// the k-NN options that change results, the shard and a fingerprint of the trained set. A part
/// already there with the same key is kept (skipped); one with another key is redone. Throws
/// ConfigError for a shard outside [0, count), and what assign_run throws.
PartSummary assign_part(const std::filesystem::path& run_dir, const config::KnnConfig& options, Shard shard);

/// Joins the `count` parts that assign_part wrote into the outputs of assign_run (assignments.h5,
/// assignments.csv, selftest.json, detection.json, with the same values). Throws
/// DataError naming the first missing part, or a part whose key differs from what the run and
/// `options` give now (written for other epochs or options: rerun `mapd assign --shard I/N`).
AssignSummary merge_parts(const std::filesystem::path& run_dir, const config::KnnConfig& options,
                          int64_t count);

}  // namespace mapd::knn
