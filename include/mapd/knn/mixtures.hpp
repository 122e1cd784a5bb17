#pragma once

#include <array>
#include <cstddef>
#include <vector>

/// The two loss-mixture models that label correction uses as baselines (docs/label-correction.md §2,
/// three sets included): a two-component Beta mixture on normalised per-example losses (Arazo et al. 2019,
/// M-DYR-H) and per-category Gaussians on the loss whose means and standard deviations come from
/// the probe categories ("GMM treatment"). Losses are cross-entropies in nats. Pure C++, no torch;
/// all arithmetic is in double.
namespace mapd::knn {

/// The `q`-th percentile (q in [0, 100]) of `sorted` (ascending, non-empty), defined as numpy's
/// default `np.percentile(a, q)` (method "linear"): with h = (n - 1) q / 100 and i = floor(h),
/// the value lerps between sorted[i] and sorted[i + 1] by h - i, in numpy's numerically
/// symmetric form (a + (b - a) t for t < 0.5, b - (b - a)(1 - t) otherwise). Throws InternalError
/// for an empty input or q outside [0, 100] (callers pass fixed percentiles).
double linear_percentile(const std::vector<double>& sorted, double q);

/// Two-component Beta mixture on per-example losses (docs/label-correction.md §2, Arazo et al. 2019).
/// Component 0 starts as the low-loss (clean) mode Beta(1, 2), component 1 as the high-loss (noisy) mode
/// Beta(2, 1); `probability` is the posterior of component 1 read from a 100-bin lookup table. As in the
/// reference, EM does not re-order the components afterwards.
///
/// Caveat, inherited from the reference procedure (the numpy check in
/// tests/knn/mixtures_reference.py behaves the same): the table is non-decreasing only from its
/// first maximum on, and bin 0 holds the posterior at l' = 1e-12 although the losses that read it
/// have l' >= 1e-3. When EM ends with component 1 the more peaked one at 0 (alpha_1 < alpha_0,
/// typically alpha_1 < 1: a U-shaped "noisy" mode), that posterior tends to 1 as l' -> 0, so the
/// lowest losses read as noisy; if bin 0 is the maximum, every bin becomes it. Seen on 10 EM
/// iterations over 800 + 200 draws of 5 Beta(2, 8) / 5 Beta(8, 2) nats (bin 0 = 1, then 0.41,
/// 0.26, ...) and of 5 Beta(4, 16) / 5 Beta(16, 4) (every bin ~1); 600 + 400 draws of
/// 5 Beta(3, 17) / 5 Beta(17, 3) separate cleanly. Check `table()` before trusting a fit.
class BetaMixture {
 public:
  /// Bins of the lookup table over the normalised loss [0, 1].
  static constexpr size_t kBins = 100;
  /// EM iterations of `fit`.
  static constexpr int kIterations = 10;

  /// Fits the mixture to the training-set losses of one epoch.
  ///
  /// NaN losses are skipped (rows the trainer left out carry NaN); infinite losses take part like
  /// any other value. Steps: clip range [p5, p95] of the remaining losses (`linear_percentile`);
  /// keep the losses inside it (inclusive, before the shift); min = p5 + 1e-5, max = p95;
  /// normalise l' = (l - min) / (max - min + 1e-6) and clamp l' to [1e-3, 1 - 1e-3] (the
  /// documented clamp; Arazo et al.'s code only moves l' <= 0 to 1e-3 and l' >= 1 to 1 - 1e-3); run
  /// `kIterations` EM iterations from alpha = (1, 2), beta = (2, 1), weights = (0.5, 0.5): the
  /// E-step floors each weighted density pi_k Beta(l'; alpha_k, beta_k) at 1e-12 before
  /// normalising it into responsibilities, the M-step is the responsibility-weighted method of
  /// moments (mean m, variance v: alpha = m (m (1 - m) / v - 1), beta = alpha (1 - m) / m) and
  /// pi_k = mean responsibility; finally tabulates the posterior of component 1 at the kBins points
  /// of linspace(1e-12, 1 - 1e-12, kBins) (posterior = pi_1 f_1 / (pi_0 f_0 + pi_1 f_1 + 1e-12))
  /// and sets every bin after the first maximum to the maximum.
  ///
  /// Throws InternalError (the caller must not fit on such losses) when there is no non-NaN loss, when
  /// the clip range is not finite or has no width (p95 - p5 <= 1e-5, e.g. all losses equal), or
  /// when the clamped in-range losses are all equal, so that no Beta mixture is defined.
  static BetaMixture fit(const std::vector<float>& losses);

  /// P(high-loss component | `loss`) in [0, 1]: `loss` (nats) normalised with the stored min/max
  /// as in `fit`, clamped to [1e-3, 1 - 1e-3], bin = int(100 l'), table lookup. Losses below the
  /// clip range read the first bin, those above (and +inf) the last. NaN in, NaN out.
  [[nodiscard]] double probability(float loss) const;

  /// Shape parameters alpha of components 0 (low loss) and 1 (high loss).
  [[nodiscard]] const std::array<double, 2>& alpha() const { return alpha_; }
  /// Shape parameters beta of components 0 and 1.
  [[nodiscard]] const std::array<double, 2>& beta() const { return beta_; }
  /// Mixture weights of components 0 and 1 (sum 1).
  [[nodiscard]] const std::array<double, 2>& weights() const { return weights_; }
  /// The lookup table: posterior of component 1 per bin of the normalised loss, non-decreasing
  /// from its first maximum on.
  [[nodiscard]] const std::array<double, kBins>& table() const { return table_; }
  /// Lower end of the normalisation, p5 + 1e-5 (nats).
  [[nodiscard]] double min_loss() const { return min_loss_; }
  /// Upper end of the normalisation, p95 (nats).
  [[nodiscard]] double max_loss() const { return max_loss_; }

 private:
  BetaMixture() = default;

  std::array<double, 2> alpha_{1.0, 2.0};
  std::array<double, 2> beta_{2.0, 1.0};
  std::array<double, 2> weights_{0.5, 0.5};
  std::array<double, kBins> table_{};
  double min_loss_ = 0.0;
  double max_loss_ = 0.0;
};

/// One 1-D Gaussian per probe category on the loss, with mixture weights (docs/label-correction.md §2; the
/// three-set variant uses three categories [typical, corrupted, noisy]). Component k is category k in the
/// order the caller passes them.
class GaussianMixture {
 public:
  /// Floor on each component's standard deviation (nats): a category whose losses are all equal
  /// (or that has one loss) gets this std instead of 0, which would make its density undefined.
  static constexpr double kMinStd = 1e-6;
  /// Floor on each weighted density in the E-step of `adapt_weights`.
  static constexpr double kResponsibilityFloor = 1e-12;

  /// Mean and population standard deviation (divisor n, floored at kMinStd) of each category's
  /// losses; weights 1/K. NaN losses are skipped. Throws InternalError for fewer than two
  /// categories, or for a category without a non-NaN loss or with an infinite one.
  static GaussianMixture fit(const std::vector<std::vector<float>>& losses_per_category);

  /// A mixture with the given parameters, e.g. means and stds of a refit together with the
  /// weights that `adapt_weights` reached before it. Weights are normalised to sum 1. Throws
  /// InternalError unless the three have the same size K >= 2, means are finite, stds are finite
  /// and >= kMinStd, and weights are finite, >= 0 and not all 0.
  static GaussianMixture from_parameters(std::vector<double> means, std::vector<double> stds,
                                         std::vector<double> weights);

  /// One E-step over `losses` (nats; NaN skipped): r_ik = max(pi_k N(l_i; mu_k, sigma_k), 1e-12)
  /// normalised over k, then pi_k = sum_i r_ik / sum_ik r_ik. Means and stds are unchanged.
  /// Throws InternalError when no loss is non-NaN.
  void adapt_weights(const std::vector<float>& losses);

  /// Posterior of each component at `loss` (nats): pi_k N(l; mu_k, sigma_k) /
  /// (sum_j pi_j N(l; mu_j, sigma_j) + 1e-12), K values. The 1e-12 is the reference's; where every
  /// density underflows (a loss tens of stds from every mean) all K values are 0, not 1/K. NaN in,
  /// all NaN out.
  [[nodiscard]] std::vector<double> posterior(float loss) const;

  /// Index of the largest posterior at `loss` (binary mode); ties go to the lowest index, so the
  /// all-zero posterior of an underflow gives 0. Throws InternalError for a NaN loss.
  [[nodiscard]] size_t argmax(float loss) const;

  /// Number of components K.
  [[nodiscard]] size_t size() const { return means_.size(); }
  /// Component means (nats).
  [[nodiscard]] const std::vector<double>& means() const { return means_; }
  /// Component standard deviations (nats, >= kMinStd).
  [[nodiscard]] const std::vector<double>& stds() const { return stds_; }
  /// Mixture weights (sum 1).
  [[nodiscard]] const std::vector<double>& weights() const { return weights_; }

 private:
  GaussianMixture() = default;
  /// pi_k N(loss; mu_k, sigma_k) for each k.
  [[nodiscard]] std::vector<double> weighted_densities(double loss) const;

  std::vector<double> means_;
  std::vector<double> stds_;
  std::vector<double> weights_;
};

}  // namespace mapd::knn
