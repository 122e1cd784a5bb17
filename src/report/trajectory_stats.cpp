#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "mapd/core/error.hpp"
#include "mapd/report/report.hpp"

namespace mapd::report {
namespace {

// Histogram quantiles for groups too large to hold: bins uniform in log1p(loss) over [0, log1p(64)],
// i.e. a relative resolution of about 0.1%. Losses above 64 land in the last bin.
constexpr int64_t kBins = 4096;
const double kMaxLogLoss = std::log1p(64.0);

int64_t bin_of(float loss) {
  const double u = std::log1p(std::max(0.0, static_cast<double>(loss))) / kMaxLogLoss;
  return std::clamp<int64_t>(static_cast<int64_t>(u * kBins), 0, kBins - 1);
}

double bin_value(double position) { return std::expm1(position / kBins * kMaxLogLoss); }

// Quantile from counts: the rank q*(n-1) located inside its bin, values spread evenly in the bin.
double histogram_quantile(const int64_t* counts, int64_t n, double q) {
  if (n == 0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double rank = q * static_cast<double>(n - 1);
  int64_t below = 0;
  for (int64_t b = 0; b < kBins; ++b) {
    if (counts[b] > 0 && static_cast<double>(below + counts[b]) > rank) {
      const double within = (rank - static_cast<double>(below) + 0.5) / static_cast<double>(counts[b]);
      return bin_value(static_cast<double>(b) + within);
    }
    below += counts[b];
  }
  return bin_value(static_cast<double>(kBins));
}

struct Accumulator {
  bool exact = true;
  int64_t count = 0;
  std::vector<std::vector<float>> values;  // exact: [epoch][member]
  std::vector<int64_t> histogram;          // histogram: [epoch * kBins + bin]
  std::vector<double> sum;                 // [epoch]
  std::vector<int64_t> finite;             // [epoch] losses that were finite
  std::vector<int64_t> first_learned_at;   // [epoch + 1] count of examples first correct at epoch
  std::vector<int64_t> good_from;          // [epoch + 1] count of examples correct from epoch on
};

}  // namespace

double quantile_linear(std::vector<float>& values, double q) {
  if (values.empty()) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const double rank = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const double frac = rank - static_cast<double>(lo);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(lo), values.end());
  const double low = values[lo];
  if (frac == 0.0 || lo + 1 >= values.size()) {
    return low;
  }
  const double high = *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(lo) + 1, values.end());
  return low + frac * (high - low);
}

std::vector<GroupStats> trajectory_stats(const record::DynamicsStore& store, int64_t epochs,
                                         const std::vector<std::string>& group_names,
                                         const GroupsOfRow& groups_of_row, const StatsOptions& options) {
  MAPD_CHECK(epochs >= 1, ConfigError,
             fmt::format("{}: no committed epoch to summarise yet (need at least 1)", store.path().string()));
  const int64_t n = store.num_examples();
  const auto num_groups = static_cast<int64_t>(group_names.size());
  const auto& labels = store.examples().label;

  std::vector<Accumulator> acc(static_cast<size_t>(num_groups));
  std::vector<int32_t> groups;
  for (int64_t row = 0; row < n; ++row) {
    groups.clear();
    groups_of_row(row, groups);
    for (int32_t g : groups) {
      MAPD_ASSERT(g >= 0 && g < num_groups,
                  fmt::format("report: group index {} of row {} outside [0, {})", g, row, num_groups));
      ++acc[static_cast<size_t>(g)].count;
    }
  }
  for (auto& a : acc) {
    a.exact = a.count * epochs <= options.exact_limit;
    if (a.exact) {
      a.values.resize(static_cast<size_t>(epochs));
      for (auto& v : a.values) {
        v.reserve(static_cast<size_t>(a.count));
      }
    } else {
      a.histogram.assign(static_cast<size_t>(epochs * kBins), 0);
    }
    a.sum.assign(static_cast<size_t>(epochs), 0.0);
    a.finite.assign(static_cast<size_t>(epochs), 0);
    a.first_learned_at.assign(static_cast<size_t>(epochs + 1), 0);
    a.good_from.assign(static_cast<size_t>(epochs + 1), 0);
  }

  const int64_t block = std::max<int64_t>(1, options.block_values / epochs);
  std::vector<float> loss(static_cast<size_t>(block * epochs));
  std::vector<int32_t> pred(static_cast<size_t>(block * epochs));
  for (int64_t begin = 0; begin < n; begin += block) {
    const int64_t end = std::min(n, begin + block);
    store.read_losses(begin, end, 0, epochs, loss.data());
    store.read_preds(begin, end, 0, epochs, pred.data());
    for (int64_t row = begin; row < end; ++row) {
      groups.clear();
      groups_of_row(row, groups);
      if (groups.empty()) {
        continue;
      }
      const float* l = loss.data() + (row - begin) * epochs;
      const int32_t* p = pred.data() + (row - begin) * epochs;
      const int64_t label = labels[static_cast<size_t>(row)];
      int64_t first = epochs;  // first correct epoch (epochs = never)
      int64_t last_wrong = -1;
      for (int64_t e = 0; e < epochs; ++e) {
        if (p[e] == label) {
          first = std::min(first, e);
        } else {
          last_wrong = e;
        }
      }
      for (int32_t g : groups) {
        auto& a = acc[static_cast<size_t>(g)];
        for (int64_t e = 0; e < epochs; ++e) {
          const float v = l[e];
          if (!std::isfinite(v)) {
            continue;
          }
          a.sum[static_cast<size_t>(e)] += v;
          ++a.finite[static_cast<size_t>(e)];
          if (a.exact) {
            a.values[static_cast<size_t>(e)].push_back(v);
          } else {
            ++a.histogram[static_cast<size_t>(e * kBins + bin_of(v))];
          }
        }
        ++a.first_learned_at[static_cast<size_t>(first)];
        ++a.good_from[static_cast<size_t>(last_wrong + 1)];
      }
    }
  }

  std::vector<GroupStats> out(static_cast<size_t>(num_groups));
  for (int64_t g = 0; g < num_groups; ++g) {
    auto& a = acc[static_cast<size_t>(g)];
    auto& s = out[static_cast<size_t>(g)];
    s.name = group_names[static_cast<size_t>(g)];
    s.count = a.count;
    s.exact = a.exact;
    int64_t learned = 0;
    int64_t good = 0;
    for (int64_t e = 0; e < epochs; ++e) {
      const auto ue = static_cast<size_t>(e);
      if (a.exact) {
        auto& v = a.values[ue];
        s.q25.push_back(quantile_linear(v, 0.25));
        s.median.push_back(quantile_linear(v, 0.5));
        s.q75.push_back(quantile_linear(v, 0.75));
        std::vector<float>().swap(v);
      } else {
        const int64_t* counts = a.histogram.data() + e * kBins;
        s.q25.push_back(histogram_quantile(counts, a.finite[ue], 0.25));
        s.median.push_back(histogram_quantile(counts, a.finite[ue], 0.5));
        s.q75.push_back(histogram_quantile(counts, a.finite[ue], 0.75));
      }
      s.mean.push_back(a.finite[ue] > 0 ? a.sum[ue] / static_cast<double>(a.finite[ue])
                                        : std::numeric_limits<double>::quiet_NaN());
      learned += a.first_learned_at[ue];
      good += a.good_from[ue];
      const double denom = a.count > 0 ? static_cast<double>(a.count) : 1.0;
      s.first_learned.push_back(static_cast<double>(learned) / denom);
      s.learned_for_good.push_back(static_cast<double>(good) / denom);
    }
  }
  return out;
}

}  // namespace mapd::report
