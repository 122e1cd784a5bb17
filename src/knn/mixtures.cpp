// Loss-mixture baselines of label correction (docs/label-correction.md §2): Beta mixture and per-category
// Gaussians. Our own implementation of the procedures described there.
#include "mapd/knn/mixtures.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "mapd/core/error.hpp"

namespace mapd::knn {

namespace {

constexpr double kPercentileLow = 5.0;
constexpr double kPercentileHigh = 95.0;
constexpr double kMinShift = 1e-5;       // added to p5 before normalising (the reference's 10e-6)
constexpr double kRangeEpsilon = 1e-6;   // in the denominator of the normalisation
constexpr double kClampEpsilon = 1e-3;   // normalised losses live in [1e-3, 1 - 1e-3]
constexpr double kDensityFloor = 1e-12;  // E-step floor on weighted densities
constexpr double kPosteriorEpsilon = 1e-12;
constexpr double kGridEpsilon = 1e-12;  // the lookup grid is linspace(1e-12, 1 - 1e-12, kBins)
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kSqrtTwoPi = 2.5066282746310002;  // sqrt(2 pi)

/// Density of Beta(a, b) at x in (0, 1).
double beta_density(double x, double a, double b) {
  const double log_norm = std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
  return std::exp((a - 1.0) * std::log(x) + (b - 1.0) * std::log1p(-x) - log_norm);
}

/// Density of N(mean, std^2) at x.
double normal_density(double x, double mean, double std) {
  const double z = (x - mean) / std;
  return std::exp(-0.5 * z * z) / (std * kSqrtTwoPi);
}

double normalise(double loss, double min_loss, double max_loss) {
  return (loss - min_loss) / (max_loss - min_loss + kRangeEpsilon);
}

double clamp_unit(double x) { return std::clamp(x, kClampEpsilon, 1.0 - kClampEpsilon); }

}  // namespace

double linear_percentile(const std::vector<double>& sorted, double q) {
  MAPD_ASSERT(!sorted.empty(), "linear_percentile of an empty sample");
  MAPD_ASSERT(q >= 0.0 && q <= 100.0, fmt::format("linear_percentile: q = {} is outside [0, 100]", q));
  const double h = static_cast<double>(sorted.size() - 1) * (q / 100.0);
  const double lower = std::floor(h);
  const auto i = static_cast<size_t>(lower);
  if (i + 1 >= sorted.size()) {
    return sorted.back();
  }
  const double t = h - lower;
  const double a = sorted[i];
  const double b = sorted[i + 1];
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}

BetaMixture BetaMixture::fit(const std::vector<float>& losses) {
  std::vector<double> sorted;
  sorted.reserve(losses.size());
  for (const float loss : losses) {
    if (!std::isnan(loss)) {
      sorted.push_back(static_cast<double>(loss));
    }
  }
  MAPD_ASSERT(!sorted.empty(),
              fmt::format("BetaMixture::fit: none of the {} losses is a number (all NaN)", losses.size()));
  std::sort(sorted.begin(), sorted.end());
  const double low = linear_percentile(sorted, kPercentileLow);
  const double high = linear_percentile(sorted, kPercentileHigh);
  MAPD_ASSERT(std::isfinite(low) && std::isfinite(high),
              fmt::format("BetaMixture::fit: the clip range [p5, p95] = [{}, {}] of {} losses is not finite",
                          low, high, sorted.size()));

  BetaMixture model;
  model.min_loss_ = low + kMinShift;
  model.max_loss_ = high;
  MAPD_ASSERT(model.max_loss_ > model.min_loss_,
              fmt::format("BetaMixture::fit: the clip range [p5, p95] = [{}, {}] of {} losses has no width "
                          "(p95 - p5 <= {}); a Beta mixture needs losses that differ",
                          low, high, sorted.size(), kMinShift));

  std::vector<double> x;
  for (const double loss : sorted) {
    if (loss >= low && loss <= high) {
      x.push_back(clamp_unit(normalise(loss, model.min_loss_, model.max_loss_)));
    }
  }
  MAPD_ASSERT(!x.empty() && x.front() < x.back(),
              fmt::format("BetaMixture::fit: the {} losses in the clip range [{}, {}] all normalise to the "
                          "same value; a Beta mixture needs losses that differ",
                          x.size(), low, high));

  const size_t n = x.size();
  std::vector<std::array<double, 2>> responsibility(n);
  for (int iteration = 0; iteration < kIterations; ++iteration) {
    for (size_t i = 0; i < n; ++i) {
      std::array<double, 2>& r = responsibility[i];
      for (size_t k = 0; k < 2; ++k) {
        r[k] =
            std::max(model.weights_[k] * beta_density(x[i], model.alpha_[k], model.beta_[k]), kDensityFloor);
      }
      const double total = r[0] + r[1];
      r[0] /= total;
      r[1] /= total;
    }
    std::array<double, 2> mass{};
    for (size_t k = 0; k < 2; ++k) {
      double sum_r = 0.0;
      double sum_rx = 0.0;
      for (size_t i = 0; i < n; ++i) {
        sum_r += responsibility[i][k];
        sum_rx += responsibility[i][k] * x[i];
      }
      const double mean = sum_rx / sum_r;
      double sum_rd2 = 0.0;
      for (size_t i = 0; i < n; ++i) {
        const double d = x[i] - mean;
        sum_rd2 += responsibility[i][k] * d * d;
      }
      const double variance = sum_rd2 / sum_r;
      const double a = mean * (mean * (1.0 - mean) / variance - 1.0);
      const double b = a * (1.0 - mean) / mean;
      MAPD_ASSERT(std::isfinite(a) && std::isfinite(b) && a > 0.0 && b > 0.0,
                  fmt::format("BetaMixture::fit: EM iteration {} gave component {} alpha = {}, beta = {} "
                              "(weighted mean {}, variance {})",
                              iteration + 1, k, a, b, mean, variance));
      model.alpha_[k] = a;
      model.beta_[k] = b;
      mass[k] = sum_r;
    }
    model.weights_[0] = mass[0] / (mass[0] + mass[1]);
    model.weights_[1] = mass[1] / (mass[0] + mass[1]);
  }

  // Posterior of component 1 on linspace(1e-12, 1 - 1e-12, kBins), as numpy builds it: start +
  // j * step, the last point exactly the stop.
  const double start = kGridEpsilon;
  const double stop = 1.0 - kGridEpsilon;
  const double step = (stop - start) / static_cast<double>(kBins - 1);
  for (size_t j = 0; j < kBins; ++j) {
    const double grid = j + 1 == kBins ? stop : static_cast<double>(j) * step + start;
    const double low_density = model.weights_[0] * beta_density(grid, model.alpha_[0], model.beta_[0]);
    const double high_density = model.weights_[1] * beta_density(grid, model.alpha_[1], model.beta_[1]);
    model.table_[j] = high_density / (low_density + high_density + kPosteriorEpsilon);
  }
  const auto peak = std::max_element(model.table_.begin(), model.table_.end());  // first maximum
  std::fill(peak, model.table_.end(), *peak);
  return model;
}

double BetaMixture::probability(float loss) const {
  if (std::isnan(loss)) {
    return kNan;
  }
  const double x = clamp_unit(normalise(static_cast<double>(loss), min_loss_, max_loss_));
  const auto bin = std::min(static_cast<size_t>(static_cast<double>(kBins) * x), kBins - 1);
  return table_[bin];
}

GaussianMixture GaussianMixture::fit(const std::vector<std::vector<float>>& losses_per_category) {
  const size_t categories = losses_per_category.size();
  MAPD_ASSERT(categories >= 2,
              fmt::format("GaussianMixture::fit needs at least 2 categories, got {}", categories));
  std::vector<double> means(categories);
  std::vector<double> stds(categories);
  for (size_t k = 0; k < categories; ++k) {
    double sum = 0.0;
    size_t count = 0;
    for (const float loss : losses_per_category[k]) {
      if (!std::isnan(loss)) {
        MAPD_ASSERT(std::isfinite(loss),
                    fmt::format("GaussianMixture::fit: category {} has an infinite loss", k));
        sum += static_cast<double>(loss);
        ++count;
      }
    }
    MAPD_ASSERT(count > 0, fmt::format("GaussianMixture::fit: category {} has no loss that is a number ({} "
                                       "given, all NaN)",
                                       k, losses_per_category[k].size()));
    const double mean = sum / static_cast<double>(count);
    double sum_d2 = 0.0;
    for (const float loss : losses_per_category[k]) {
      if (!std::isnan(loss)) {
        const double d = static_cast<double>(loss) - mean;
        sum_d2 += d * d;
      }
    }
    means[k] = mean;
    stds[k] = std::max(std::sqrt(sum_d2 / static_cast<double>(count)), kMinStd);
  }
  return from_parameters(std::move(means), std::move(stds),
                         std::vector<double>(categories, 1.0 / static_cast<double>(categories)));
}

GaussianMixture GaussianMixture::from_parameters(std::vector<double> means, std::vector<double> stds,
                                                 std::vector<double> weights) {
  const size_t k = means.size();
  MAPD_ASSERT(
      k >= 2 && stds.size() == k && weights.size() == k,
      fmt::format("GaussianMixture: {} means, {} stds and {} weights (need the same number, at least 2)", k,
                  stds.size(), weights.size()));
  double total = 0.0;
  for (size_t c = 0; c < k; ++c) {
    MAPD_ASSERT(std::isfinite(means[c]),
                fmt::format("GaussianMixture: mean {} of component {}", means[c], c));
    MAPD_ASSERT(
        std::isfinite(stds[c]) && stds[c] >= kMinStd,
        fmt::format("GaussianMixture: std {} of component {} (need finite and >= {})", stds[c], c, kMinStd));
    MAPD_ASSERT(std::isfinite(weights[c]) && weights[c] >= 0.0,
                fmt::format("GaussianMixture: weight {} of component {}", weights[c], c));
    total += weights[c];
  }
  MAPD_ASSERT(total > 0.0, "GaussianMixture: all weights are 0");
  for (double& w : weights) {
    w /= total;
  }
  GaussianMixture model;
  model.means_ = std::move(means);
  model.stds_ = std::move(stds);
  model.weights_ = std::move(weights);
  return model;
}

std::vector<double> GaussianMixture::weighted_densities(double loss) const {
  std::vector<double> density(means_.size());
  for (size_t k = 0; k < means_.size(); ++k) {
    density[k] = weights_[k] * normal_density(loss, means_[k], stds_[k]);
  }
  return density;
}

void GaussianMixture::adapt_weights(const std::vector<float>& losses) {
  std::vector<double> mass(means_.size(), 0.0);
  size_t used = 0;
  for (const float loss : losses) {
    if (std::isnan(loss)) {
      continue;
    }
    std::vector<double> r = weighted_densities(static_cast<double>(loss));
    double total = 0.0;
    for (double& value : r) {
      value = std::max(value, kResponsibilityFloor);
      total += value;
    }
    for (size_t k = 0; k < r.size(); ++k) {
      mass[k] += r[k] / total;
    }
    ++used;
  }
  MAPD_ASSERT(used > 0,
              fmt::format("GaussianMixture::adapt_weights: none of the {} losses is a number (all NaN)",
                          losses.size()));
  double total_mass = 0.0;
  for (const double m : mass) {
    total_mass += m;
  }
  for (size_t k = 0; k < mass.size(); ++k) {
    weights_[k] = mass[k] / total_mass;
  }
}

std::vector<double> GaussianMixture::posterior(float loss) const {
  if (std::isnan(loss)) {
    return std::vector<double>(means_.size(), kNan);
  }
  std::vector<double> p = weighted_densities(static_cast<double>(loss));
  double total = 0.0;
  for (const double value : p) {
    total += value;
  }
  for (double& value : p) {
    value /= total + kPosteriorEpsilon;
  }
  return p;
}

size_t GaussianMixture::argmax(float loss) const {
  MAPD_ASSERT(!std::isnan(loss), "GaussianMixture::argmax of a NaN loss");
  const std::vector<double> p = posterior(loss);
  return static_cast<size_t>(std::max_element(p.begin(), p.end()) - p.begin());  // first maximum
}

}  // namespace mapd::knn
