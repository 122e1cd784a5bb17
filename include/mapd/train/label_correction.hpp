#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/record/trajectories.hpp"
#include "mapd/train/learner.hpp"

/// Label correction (train.mode=label_correction; docs/label-correction.md): Arazo et al. 2019's
/// M-DYR-H — mixup warm-up, then hard bootstrapping towards the network's own prediction,
/// weighted per example by the probability that its label is wrong — with that probability from
/// MAP-D (a k-NN over loss trajectories against clean and mislabeled probes) or from the
/// baselines (Arazo's beta mixture, per-category Gaussians).
namespace mapd::train {

class TrainingMode;

/// Bootstrap weights are clamped to [kBootstrapClamp, 1 - kBootstrapClamp] (as Arazo's code).
inline constexpr double kBootstrapClamp = 1e-4;

/// What a label-correction run records per example and epoch beside the loss (dynamics.h5
/// /epochs/<name>): `bootstrap_weight`, the weight of the network's prediction in the example's
/// loss (B, times the prediction's probability for bootstrap=confident; 0 in warm-up), and
/// `target`, the class the loss weights most (the prediction where its weight exceeds the given
/// label's, else the given label): the epoch's corrected label.
std::vector<record::SignalSpec> label_correction_signals();

/// Per-example targets of one batch: the weight of the cross-entropy with the given label and
/// with the network's own prediction, [B] float each on the device.
struct TargetWeights {
  torch::Tensor given;
  torch::Tensor predicted;
};

/// Weights from category posteriors `p` [B, C] (float, columns in the order clean, mislabeled,
/// then corrupted when present): binary = one-hot of the argmax (ties to the lower index) instead
/// of `p`; predicted = clamp(P(mislabeled), kBootstrapClamp, 1 - kBootstrapClamp); given = 1 -
/// predicted - (1 - corrupted_weight) * P(corrupted), at least 0 (two categories: 1 - predicted).
TargetWeights target_weights(const torch::Tensor& p, bool binary, double corrupted_weight);

/// The mixup weight and pairing of one step: lambda ~ Beta(alpha, alpha) and a permutation of the
/// batch, drawn from data::SplitMix64 streams seeded by (seed, epoch, step), so they are the same
/// on every machine and after a resume. alpha = 0: lambda = 1 (no mixing), identity.
struct MixupDraw {
  double lambda = 1.0;
  std::vector<int64_t> permutation;
};
MixupDraw draw_mixup(double alpha, int64_t batch, uint64_t seed, int64_t epoch, int64_t step);

/// A draw from Beta(alpha, alpha), alpha > 0, from the stream `seed` (Marsaglia-Tsang gammas with
/// Box-Muller normals written out here, so the draw does not depend on the standard library).
double sample_symmetric_beta(double alpha, uint64_t seed);

/// The M-DYR-H loss of one batch, given the mixed batch's fp32 logits [B, K], the given labels,
/// the bootstrap targets — the network's predictions on the unmixed batch, [B] int64 (hard), or
/// target distributions [B, K] float (soft: CE(x, t) = -sum_c t_c log p_c) — the weights, the mixup draw
/// (lambda; `permutation` [B] int64 on the device) and the regulariser's weight:
///   lambda * mean_i[given_i CE(x~_i, y_i) + predicted_i CE(x~_i, z_i)]
///   + (1 - lambda) * mean_i[given_pi(i) CE(x~_i, y_pi(i)) + predicted_pi(i) CE(x~_i, z_pi(i))]
///   + reg_weight * sum_c (1/C) log((1/C) / pbar_c),  pbar = mean over the batch of softmax(x~).
/// With predicted = 0, given = 1 and reg_weight = 0 it is the mixup cross-entropy.
torch::Tensor bootstrap_mixup_loss(const torch::Tensor& logits, const torch::Tensor& labels,
                                   const torch::Tensor& targets, const TargetWeights& weights, double lambda,
                                   const torch::Tensor& permutation, double reg_weight);

/// Reweights k-NN vote shares `prob` [n, categories] row-major (in place), voted by references of
/// which a share `reference`[c] is in category c, to the category priors the shares imply over the
/// n rows (EM of Saerens et al. 2002: p'(c | x) proportional to prior_c / reference_c * p(c | x),
/// prior = the mean of p' over the rows, started at `reference`, at most 100 iterations, until no
/// prior moves by 1e-6). Returns the priors. A row whose every reweighted share is 0 keeps its
/// shares.
std::vector<double> adjust_to_priors(std::vector<float>& prob, int64_t categories,
                                     const std::vector<double>& reference);

/// Where P(mislabeled) comes from (label_correction.method). Refit after every committed epoch
/// from the committed trajectories only, so a resumed run computes what the uninterrupted run did.
class MislabelEstimator {
 public:
  virtual ~MislabelEstimator() = default;
  /// Refits on epochs [0, source.complete_epochs()) of `source` (rows in `excluded`, ascending,
  /// were left out of training and are never estimated).
  virtual void refit(const record::TrajectorySource& source, const std::vector<int64_t>& excluded) = 0;
  /// Category posteriors [B, C] (float, on the device of `current_loss`) of the rows `indices`
  /// [B] given their current loss [B] (the reference pass's; methods that use trajectories only
  /// ignore it). Probe rows and excluded rows get the clean category with probability 1.
  [[nodiscard]] virtual torch::Tensor posteriors(const torch::Tensor& indices,
                                                 const torch::Tensor& current_loss) const = 0;
  /// Posteriors of every row [N, C] on the CPU from the last refit, with the last committed
  /// epoch's loss in `source` as the current loss where the method needs one.
  [[nodiscard]] virtual torch::Tensor all_posteriors(const record::TrajectorySource& source) const = 0;
  /// Categories (columns of the posteriors): clean, mislabeled[, corrupted].
  [[nodiscard]] virtual int64_t categories() const = 0;
};

/// The estimator label_correction.method names over a trained set whose /examples columns are
/// `examples` (categories from `category_names`), its tables on `device`. Null for method none.
/// Throws ConfigError for a probe category the run does not have (with did-you-mean).
std::unique_ptr<MislabelEstimator> make_mislabel_estimator(const config::RunConfig& config,
                                                           const record::ExampleColumns& examples,
                                                           const std::vector<std::string>& category_names,
                                                           const torch::Device& device);

/// The label-correction objective of one run: plain mixup during warm-up, M-DYR-H after. The
/// reference pass (no-grad, unmixed) gives the predictions bootstrapping pulls towards and the
/// current loss; it runs in train mode for record.view=online (and is what dynamics.h5 records)
/// and in eval mode for record.view=eval.
class LabelCorrectionObjective final : public Objective {
 public:
  LabelCorrectionObjective(const config::RunConfig& config, const MislabelEstimator* estimator);
  /// Before each step: the draws of (epoch, step) and whether correction is on (epoch >= warm-up).
  void start_step(int64_t epoch, int64_t step);

  [[nodiscard]] std::optional<ScoreMode> reference_pass() const override { return reference_mode_; }
  [[nodiscard]] torch::Tensor inputs(const torch::Tensor& images, const torch::Tensor& labels,
                                     const torch::Tensor& indices, const Scores* reference) override;
  [[nodiscard]] torch::Tensor loss(const ObjectiveInput& input) override;

  /// Starts the epoch's per-row record of bootstrap weight and target: `rows` rows on `device`,
  /// NaN and -1 until a step trains the row.
  void start_epoch_rows(int64_t rows, const torch::Device& device);
  /// The epoch's rows (label_correction_signals order), on the host.
  [[nodiscard]] std::vector<record::SignalRow> take_epoch_rows();
  /// The epoch's rows so far into `archive` (a step checkpoint), and back onto `device`.
  void save_epoch_rows(torch::serialize::OutputArchive& archive) const;
  void load_epoch_rows(torch::serialize::InputArchive& archive, const torch::Device& device);

 private:
  config::LabelCorrectionConfig options_;
  const MislabelEstimator* estimator_;
  ScoreMode reference_mode_;
  uint64_t seed_;
  int64_t warmup_;
  int64_t epoch_ = 0;
  int64_t step_ = 0;
  bool correcting_ = false;
  MixupDraw draw_;
  torch::Tensor permutation_;
  torch::Tensor weight_row_;  ///< [N] float: bootstrap weight of each row this epoch
  torch::Tensor target_row_;  ///< [N] int64: target of each row this epoch
};

/// The train.mode=label_correction training mode over `set` on `device` (its loaders seeded by
/// config.train.seed).
std::unique_ptr<TrainingMode> make_label_correction_mode(const config::RunConfig& config,
                                                         const data::TrainingSet& set,
                                                         const torch::Device& device);

/// Writes `<path>` (corrected_labels.csv): for every training row (probes left out) the id, the
/// given label, the corrected label (the last committed epoch's prediction where P(mislabeled) >
/// `threshold`, else the given label), P(mislabeled) from `estimator` refitted on all committed epochs
/// and, when labels were changed by injected noise, the original label. Rows left out of training
/// are listed with an empty P. Written to a temporary file and renamed. Returns the rows whose
/// label was changed.
int64_t write_corrected_labels(const record::TrajectorySource& source, MislabelEstimator* estimator,
                               const std::vector<int64_t>& excluded, double threshold,
                               const std::filesystem::path& path);

}  // namespace mapd::train
