#include "mapd/knn/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "mapd/core/error.hpp"

namespace mapd::knn {

namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

/// Indices sorted by descending score.
std::vector<size_t> by_descending_score(const std::vector<float>& score) {
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  return order;
}

void check_sizes(const std::vector<float>& score, const std::vector<uint8_t>& positive) {
  MAPD_ASSERT(score.size() == positive.size(),
              fmt::format("metric: {} scores but {} labels", score.size(), positive.size()));
}

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

double auroc(const std::vector<float>& score, const std::vector<uint8_t>& positive) {
  check_sizes(score, positive);
  // Mann-Whitney U with mid-ranks for ties.
  std::vector<size_t> order(score.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] < score[b]; });
  double rank_sum = 0.0;
  double positives = 0.0;
  size_t i = 0;
  while (i < order.size()) {
    size_t j = i;
    while (j < order.size() && score[order[j]] == score[order[i]]) {
      ++j;
    }
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t r = i; r < j; ++r) {
      if (positive[order[r]] != 0) {
        rank_sum += mid_rank;
        positives += 1.0;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(score.size()) - positives;
  if (positives == 0.0 || negatives == 0.0) {
    return kNan;
  }
  return (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives);
}

double average_precision(const std::vector<float>& score, const std::vector<uint8_t>& positive) {
  check_sizes(score, positive);
  const double total_positive =
      static_cast<double>(std::count_if(positive.begin(), positive.end(), [](uint8_t p) { return p != 0; }));
  if (total_positive == 0.0) {
    return kNan;
  }
  const auto order = by_descending_score(score);
  double tp = 0.0;
  double seen = 0.0;
  double previous_recall = 0.0;
  double ap = 0.0;
  size_t i = 0;
  while (i < order.size()) {
    size_t j = i;
    while (j < order.size() && score[order[j]] == score[order[i]]) {
      tp += positive[order[j]] != 0 ? 1.0 : 0.0;
      seen += 1.0;
      ++j;
    }
    const double recall = tp / total_positive;
    ap += (recall - previous_recall) * (tp / seen);
    previous_recall = recall;
    i = j;
  }
  return ap;
}

void ConfusionMatrix::add(int64_t truth, int64_t predicted) {
  MAPD_ASSERT(
      truth >= 0 && truth < num_classes && predicted >= 0 && predicted < num_classes,
      fmt::format("confusion matrix: category pair ({}, {}) outside [0, {})", truth, predicted, num_classes));
  counts[static_cast<size_t>(truth * num_classes + predicted)]++;
}

int64_t ConfusionMatrix::total() const { return std::accumulate(counts.begin(), counts.end(), int64_t{0}); }

double ConfusionMatrix::accuracy() const {
  const int64_t n = total();
  if (n == 0) {
    return kNan;
  }
  int64_t diagonal = 0;
  for (int64_t c = 0; c < num_classes; ++c) {
    diagonal += at(c, c);
  }
  return static_cast<double>(diagonal) / static_cast<double>(n);
}

std::vector<double> ConfusionMatrix::row_normalized() const {
  std::vector<double> out(counts.size(), 0.0);
  for (int64_t t = 0; t < num_classes; ++t) {
    int64_t row = 0;
    for (int64_t p = 0; p < num_classes; ++p) {
      row += at(t, p);
    }
    for (int64_t p = 0; p < num_classes && row > 0; ++p) {
      out[static_cast<size_t>(t * num_classes + p)] =
          static_cast<double>(at(t, p)) / static_cast<double>(row);
    }
  }
  return out;
}

double ConfusionMatrix::precision(int64_t c) const {
  int64_t column = 0;
  for (int64_t t = 0; t < num_classes; ++t) {
    column += at(t, c);
  }
  return column == 0 ? kNan : static_cast<double>(at(c, c)) / static_cast<double>(column);
}

double ConfusionMatrix::recall(int64_t c) const {
  int64_t row = 0;
  for (int64_t p = 0; p < num_classes; ++p) {
    row += at(c, p);
  }
  return row == 0 ? kNan : static_cast<double>(at(c, c)) / static_cast<double>(row);
}

nlohmann::json ConfusionMatrix::to_json(const std::vector<std::string>& names) const {
  nlohmann::json j;
  j["accuracy"] = number(accuracy());
  j["total"] = total();
  j["labels"] = names;
  const auto normalized = row_normalized();
  j["counts"] = nlohmann::json::array();
  j["row_normalized"] = nlohmann::json::array();
  j["per_category"] = nlohmann::json::array();
  for (int64_t t = 0; t < num_classes; ++t) {
    nlohmann::json counts_row = nlohmann::json::array();
    nlohmann::json norm_row = nlohmann::json::array();
    int64_t support = 0;
    for (int64_t p = 0; p < num_classes; ++p) {
      counts_row.push_back(at(t, p));
      norm_row.push_back(normalized[static_cast<size_t>(t * num_classes + p)]);
      support += at(t, p);
    }
    j["counts"].push_back(counts_row);
    j["row_normalized"].push_back(norm_row);
    j["per_category"].push_back({{"name", names.at(static_cast<size_t>(t))},
                                 {"precision", number(precision(t))},
                                 {"recall", number(recall(t))},
                                 {"support", support}});
  }
  return j;
}

std::string ConfusionMatrix::to_table(const std::vector<std::string>& names) const {
  size_t width = 9;
  for (const auto& n : names) {
    width = std::max(width, n.size() + 1);
  }
  auto cell = [&](const std::string& s) { return fmt::format("{:>{}}", s, width); };
  auto fraction = [](double v) { return std::isfinite(v) ? fmt::format("{:.3f}", v) : std::string("-"); };
  std::ostringstream out;
  out << fmt::format("probe self-test: accuracy {} on {} val probes\n", fraction(accuracy()), total());
  out << "counts (rows: true category, columns: assigned)\n" << cell("");
  for (const auto& n : names) {
    out << cell(n);
  }
  out << "\n";
  for (int64_t t = 0; t < num_classes; ++t) {
    out << cell(names.at(static_cast<size_t>(t)));
    for (int64_t p = 0; p < num_classes; ++p) {
      out << cell(std::to_string(at(t, p)));
    }
    out << "\n";
  }
  out << "row-normalised\n" << cell("");
  for (const auto& n : names) {
    out << cell(n);
  }
  out << "\n";
  const auto normalized = row_normalized();
  for (int64_t t = 0; t < num_classes; ++t) {
    out << cell(names.at(static_cast<size_t>(t)));
    for (int64_t p = 0; p < num_classes; ++p) {
      out << cell(fmt::format("{:.3f}", normalized[static_cast<size_t>(t * num_classes + p)]));
    }
    out << "\n";
  }
  out << cell("category") << cell("precision") << cell("recall") << cell("support") << "\n";
  for (int64_t c = 0; c < num_classes; ++c) {
    int64_t support = 0;
    for (int64_t p = 0; p < num_classes; ++p) {
      support += at(c, p);
    }
    out << cell(names.at(static_cast<size_t>(c))) << cell(fraction(precision(c))) << cell(fraction(recall(c)))
        << cell(std::to_string(support)) << "\n";
  }
  return out.str();
}

}  // namespace mapd::knn
