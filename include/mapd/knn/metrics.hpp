#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

/// Evaluation metrics of the assigner: the probe self-test (docs/method.md §1 step 5) and the
/// ground-truth detection metrics on injected label noise. No torch, no HDF5.
namespace mapd::knn {

/// Area under the ROC curve of `score` for the positives `positive` (ties count one half, as in
/// scikit-learn's roc_auc_score). Returns NaN when either class is empty. Sizes must match
/// (InternalError otherwise).
double auroc(const std::vector<float>& score, const std::vector<uint8_t>& positive);

/// Average precision (scikit-learn's average_precision_score: sum over thresholds of
/// (R_n - R_{n-1}) P_n, tied scores form one threshold). NaN when there is no positive.
double average_precision(const std::vector<float>& score, const std::vector<uint8_t>& positive);

/// Confusion matrix of `num_classes` classes: counts[truth][predicted].
struct ConfusionMatrix {
  int64_t num_classes = 0;
  std::vector<int64_t> counts;  ///< [num_classes, num_classes] row-major

  explicit ConfusionMatrix(int64_t classes = 0)
      : num_classes(classes), counts(static_cast<size_t>(classes * classes), 0) {}
  /// Adds one observation. Throws InternalError for an index outside [0, num_classes) (callers
  /// check the categories they read from a file first).
  void add(int64_t truth, int64_t predicted);
  [[nodiscard]] int64_t at(int64_t truth, int64_t predicted) const {
    return counts[static_cast<size_t>(truth * num_classes + predicted)];
  }
  [[nodiscard]] int64_t total() const;
  /// Fraction on the diagonal (NaN when empty).
  [[nodiscard]] double accuracy() const;
  /// counts / row sum (rows without observations are all zero).
  [[nodiscard]] std::vector<double> row_normalized() const;
  /// Of the examples predicted `c`, the fraction truly `c` (NaN when none was predicted `c`).
  [[nodiscard]] double precision(int64_t c) const;
  /// Of the examples truly `c`, the fraction predicted `c` (NaN when there is none).
  [[nodiscard]] double recall(int64_t c) const;
  /// {"accuracy", "labels", "counts", "row_normalized", "per_category": [{name, precision,
  /// recall, support}]} (NaN written as null).
  [[nodiscard]] nlohmann::json to_json(const std::vector<std::string>& names) const;
  /// A fixed-width text table: accuracy, counts, row-normalised, precision/recall per category.
  [[nodiscard]] std::string to_table(const std::vector<std::string>& names) const;
};

}  // namespace mapd::knn
