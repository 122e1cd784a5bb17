#include "mapd/train/label_correction.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>

#include "mapd/core/csv_field.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/rng.hpp"
#include "mapd/knn/classify.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/knn/mixtures.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/train/mode.hpp"

namespace mapd::train {
namespace {

namespace F = torch::nn::functional;

/// Bins of the bootstrap-weight histogram in the metrics line (tenths of [0, 1]).
constexpr size_t kWeightBins = 10;

/// Stream tags of the mixup draws (data::mix_seed purposes).
constexpr uint64_t kMixupLambda = 0x3a1b0d;
constexpr uint64_t kMixupPairs = 0x3a1b0e;
/// EM of adjust_to_priors: at most this many iterations, until no prior moves by the tolerance.
constexpr int kPriorIterations = 100;
constexpr double kPriorTolerance = 1e-6;
constexpr double kTwoPi = 6.283185307179586476925286766559;

/// A standard normal draw (Box-Muller, the cosine branch), from two uniform doubles.
double standard_normal(data::SplitMix64& rng) {
  double u = rng.uniform_double();
  while (u <= 0.0) u = rng.uniform_double();
  const double v = rng.uniform_double();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(kTwoPi * v);
}

/// Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 through Gamma(shape + 1) * U^(1/shape).
double sample_gamma(double shape, data::SplitMix64& rng) {
  if (shape < 1.0) {
    double u = rng.uniform_double();
    while (u <= 0.0) u = rng.uniform_double();
    return sample_gamma(shape + 1.0, rng) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0.0;
    double v = 0.0;
    do {
      x = standard_normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = rng.uniform_double();
    if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0.0 && std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
  }
}

/// Probe categories of label correction, as indices into the run's category names: clean,
/// mislabeled, then corrupted when configured.
std::vector<int64_t> correction_categories(const config::LabelCorrectionConfig& options,
                                           const std::vector<std::string>& names) {
  std::vector<int64_t> out{
      knn::category_index(names, options.clean_category, "label_correction.clean_category"),
      knn::category_index(names, options.mislabeled_category, "label_correction.mislabeled_category")};
  if (!options.corrupted_category.empty()) {
    out.push_back(
        knn::category_index(names, options.corrupted_category, "label_correction.corrupted_category"));
  }
  return out;
}

/// The probes an estimator is fitted on: both halves (fit and val). Label correction runs no
/// self-test, so the val half would sit unused; with both, the k-NN has twice the references.
std::vector<int64_t> reference_probes(const knn::RowRoles& roles) {
  std::vector<int64_t> rows = roles.fit;
  rows.insert(rows.end(), roles.val.begin(), roles.val.end());
  std::sort(rows.begin(), rows.end());
  return rows;
}

/// Posteriors of rows that are never corrected (probes, rows left out): the clean category.
torch::Tensor clean_rows(int64_t rows, int64_t categories) {
  auto table = torch::zeros({rows, categories}, torch::kFloat32);
  table.select(1, 0).fill_(1.0F);
  return table;
}

/// Share of the fit set's rows in each of its categories.
std::vector<double> category_shares(const knn::FitSet& fit) {
  std::vector<double> shares(static_cast<size_t>(fit.num_categories), 0.0);
  for (const int32_t c : fit.category) shares[static_cast<size_t>(c)] += 1.0;
  for (double& s : shares) s /= static_cast<double>(std::max<int64_t>(fit.size(), 1));
  return shares;
}

/// method=mapd: P(category) of every training row from the k-NN over its trajectory of the
/// committed epochs (all, or the last label_correction.knn_epochs), fitted on the probes (both
/// halves) of the correction categories (the same view as the training rows: both are recorded by
/// the same pass). A trajectory is what knn.signals says (the losses, then EL2N and margin per
/// epoch, standardised with the fit set's mean and std), for probes and training rows alike. The
/// vote shares are reweighted to the estimated priors with label_correction.prior=estimated. A
/// table [N, C] looked up by row.
class TrajectoryEstimator final : public MislabelEstimator {
 public:
  TrajectoryEstimator(const config::RunConfig& config, const record::ExampleColumns& examples,
                      const std::vector<std::string>& category_names, const torch::Device& device)
      : knn_options_(config.knn),
        window_(config.label_correction.knn_epochs),
        estimate_prior_(config.label_correction.prior == "estimated"),
        categories_(correction_categories(config.label_correction, category_names)),
        roles_(knn::split_by_role(examples, "the trained set")),
        device_(device) {
    table_ = clean_rows(examples.size(), categories()).to(device_);
  }

  void refit(const record::TrajectorySource& source, const std::vector<int64_t>& excluded) override {
    const auto start = std::chrono::steady_clock::now();
    const int64_t epochs = source.complete_epochs();
    MAPD_ASSERT(epochs > 0, "label correction: the k-NN was asked to fit before any epoch was committed");
    const knn::EpochRange range{window_ > 0 ? std::max<int64_t>(0, epochs - window_) : 0, epochs};
    const auto roles = knn::without_rows(roles_, excluded);
    auto options = knn_options_;
    const auto features = knn::features_of(source, &options.signals);
    if (!features.extra.empty()) {
      options.standardize = true;  // losses, EL2N and margins live on different scales
    }
    const auto probes = reference_probes(roles);
    auto fit = knn::make_fit_set(source, probes, range, categories_, features);
    const auto reference = category_shares(fit);
    const knn::TrajectoryKnn index(std::move(fit), options);
    const auto x = knn::read_feature_rows(source, roles.train, range, features);
    const auto n = static_cast<int64_t>(roles.train.size());
    knn::check_finite(source, x.data(), roles.train.data(), n, features.width(range), range.begin, features,
                      range.size());
    auto prediction = index.predict(x.data(), n);
    const int64_t c = categories();
    // The P(mislabeled) prior the shares stand for: the reference share, or the estimated one.
    const double prior = estimate_prior_ ? adjust_to_priors(prediction.prob, c, reference)[1] : reference[1];
    auto table = clean_rows(source.num_examples(), categories());
    auto* out = table.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const auto row = static_cast<size_t>(roles.train[static_cast<size_t>(i)]);
      std::copy_n(prediction.prob.begin() + i * c, c, out + row * static_cast<size_t>(c));
    }
    host_ = table;
    table_ = table.to(device_);
    log::get("train")->debug(
        "label correction (mapd): k-NN of {} rows x {} values ({}) against {} probes in {:.1f} ms, "
        "P(mislabeled) prior {:.3f}",
        n, features.width(range), options.signals, probes.size(),
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count(), prior);
  }

  [[nodiscard]] torch::Tensor posteriors(const torch::Tensor& indices,
                                         const torch::Tensor& /*current_loss*/) const override {
    return table_.index_select(0, indices);
  }

  [[nodiscard]] torch::Tensor all_posteriors(const record::TrajectorySource& /*source*/) const override {
    return host_.defined() ? host_ : table_.to(torch::kCPU);
  }

  [[nodiscard]] int64_t categories() const override { return static_cast<int64_t>(categories_.size()); }

 private:
  config::KnnConfig knn_options_;
  int64_t window_;       ///< label_correction.knn_epochs (0 = all)
  bool estimate_prior_;  ///< label_correction.prior=estimated
  std::vector<int64_t> categories_;
  knn::RowRoles roles_;
  torch::Device device_;
  torch::Tensor table_;  ///< [N, C] on the device
  torch::Tensor host_;   ///< the same on the CPU
};

/// Losses of `rows` (ascending) at epoch `epoch` of `source`.
std::vector<float> losses_at(const record::TrajectorySource& source, const std::vector<int64_t>& rows,
                             int64_t epoch) {
  return knn::read_loss_rows(source, rows, knn::EpochRange{epoch, epoch + 1});
}

/// [N] bool on `device`: true for the training rows (the only rows a loss-based method corrects).
torch::Tensor train_mask(const record::ExampleColumns& examples, const torch::Device& device) {
  auto mask = torch::zeros({examples.size()}, torch::kBool);
  auto* m = mask.data_ptr<bool>();
  for (size_t i = 0; i < examples.role.size(); ++i) {
    m[i] = examples.role[i] == static_cast<int8_t>(record::Role::kTrain);
  }
  return mask.to(device);
}

/// Posteriors [B, C] of a method that reads the current loss: `p` for training rows, the clean
/// category for probes (their labels are references and stay as given).
torch::Tensor only_training_rows(const torch::Tensor& p, const torch::Tensor& mask,
                                 const torch::Tensor& indices) {
  const auto clean = torch::zeros_like(p);
  clean.select(1, 0).fill_(1.0);
  return torch::where(mask.index_select(0, indices).unsqueeze(1), p, clean).to(torch::kFloat32);
}

/// Every row's posteriors [N, C] on the CPU from `posterior_of(loss)` at the last committed epoch
/// of `source`; probes and rows without a finite loss get the clean category.
template <class Posterior>
torch::Tensor posteriors_at_last_epoch(const record::TrajectorySource& source,
                                       const std::vector<int64_t>& rows, int64_t categories,
                                       const Posterior& posterior_of) {
  auto table = clean_rows(source.num_examples(), categories);
  const auto losses = losses_at(source, rows, source.complete_epochs() - 1);
  auto* out = table.data_ptr<float>();
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!std::isfinite(losses[i])) continue;
    const std::vector<double> p = posterior_of(losses[i]);
    for (int64_t c = 0; c < categories; ++c) {
      out[rows[i] * categories + c] = static_cast<float>(p[static_cast<size_t>(c)]);
    }
  }
  return table;
}

/// method=bmm: Arazo et al.'s two-component beta mixture, fitted after each epoch on the training
/// rows' losses of that epoch; P(mislabeled) = the high-loss component's posterior (its monotone
/// 100-bin table) at the current loss.
class BetaMixtureEstimator final : public MislabelEstimator {
 public:
  BetaMixtureEstimator(const record::ExampleColumns& examples, const torch::Device& device)
      : roles_(knn::split_by_role(examples, "the trained set")),
        mask_(train_mask(examples, device)),
        device_(device) {}

  void refit(const record::TrajectorySource& source, const std::vector<int64_t>& excluded) override {
    rows_ = knn::without_rows(roles_, excluded).train;
    const auto losses = losses_at(source, rows_, source.complete_epochs() - 1);
    try {
      model_ = knn::BetaMixture::fit(losses);
    } catch (const InternalError& e) {
      // All losses (nearly) equal: nothing separates clean from noisy, so nothing is corrected.
      log::get("train")->warn(
          "label correction (bmm): no beta mixture fits this epoch's losses ({}); "
          "no label is corrected in the next epoch",
          e.what());
      model_.reset();
    }
    const auto table = model_ ? model_->table() : std::array<double, knn::BetaMixture::kBins>{};
    table_ = torch::tensor(std::vector<double>(table.begin(), table.end()), torch::kFloat64).to(device_);
  }

  [[nodiscard]] torch::Tensor posteriors(const torch::Tensor& indices,
                                         const torch::Tensor& current_loss) const override {
    torch::Tensor b;
    if (model_) {
      const double lo = model_->min_loss();
      const double hi = model_->max_loss();
      const auto x = ((current_loss.to(torch::kFloat64) - lo) / (hi - lo + 1e-6)).clamp(1e-3, 1.0 - 1e-3);
      const auto bin = (x * static_cast<double>(knn::BetaMixture::kBins))
                           .floor()
                           .to(torch::kInt64)
                           .clamp(0, static_cast<int64_t>(knn::BetaMixture::kBins) - 1);
      b = table_.index_select(0, bin);
    } else {
      b = torch::zeros_like(current_loss, torch::kFloat64);
    }
    return only_training_rows(torch::stack({1.0 - b, b}, 1), mask_, indices);
  }

  [[nodiscard]] torch::Tensor all_posteriors(const record::TrajectorySource& source) const override {
    return posteriors_at_last_epoch(source, rows_, 2, [&](float loss) {
      const double b = model_ ? model_->probability(loss) : 0.0;
      return std::vector<double>{1.0 - b, b};
    });
  }

  [[nodiscard]] int64_t categories() const override { return 2; }

 private:
  knn::RowRoles roles_;
  torch::Tensor mask_;
  torch::Device device_;
  std::vector<int64_t> rows_;
  std::optional<knn::BetaMixture> model_;
  torch::Tensor table_;
};

/// method=gmm: one Gaussian per correction category, its mean and std from that category's
/// probes' losses (both halves) of the last epoch; weights 1/K, or (gmm_weights=adaptive) moved by one
/// E-step over the training rows' losses after every correction epoch, replayed from the
/// committed epochs so a resume computes the same weights. P(category) at the current loss.
class GaussianEstimator final : public MislabelEstimator {
 public:
  GaussianEstimator(const config::RunConfig& config, const record::ExampleColumns& examples,
                    const std::vector<std::string>& category_names, const torch::Device& device)
      : categories_(correction_categories(config.label_correction, category_names)),
        adaptive_(config.label_correction.gmm_weights == "adaptive"),
        warmup_(config.label_correction.warmup_for(config.train.epochs)),
        roles_(knn::split_by_role(examples, "the trained set")),
        mask_(train_mask(examples, device)),
        device_(device) {}

  void refit(const record::TrajectorySource& source, const std::vector<int64_t>& excluded) override {
    const auto roles = knn::without_rows(roles_, excluded);
    rows_ = roles.train;
    const int64_t last = source.complete_epochs() - 1;
    std::vector<double> weights(categories_.size(), 1.0 / static_cast<double>(categories_.size()));
    if (adaptive_) {
      for (int64_t epoch = std::max<int64_t>(warmup_, 1) - 1; epoch < last; ++epoch) {
        auto model = fit_at(source, reference_probes(roles), epoch, weights);
        model.adapt_weights(losses_at(source, rows_, epoch));
        weights = model.weights();
      }
    }
    model_ = fit_at(source, reference_probes(roles), last, weights);
    const auto& m = *model_;
    means_ = torch::tensor(m.means(), torch::kFloat64).to(device_);
    stds_ = torch::tensor(m.stds(), torch::kFloat64).to(device_);
    weights_ = torch::tensor(m.weights(), torch::kFloat64).to(device_);
  }

  [[nodiscard]] torch::Tensor posteriors(const torch::Tensor& indices,
                                         const torch::Tensor& current_loss) const override {
    const auto z = (current_loss.to(torch::kFloat64).unsqueeze(1) - means_) / stds_;
    const auto density = weights_ * torch::exp(-0.5 * z * z) / (stds_ * std::sqrt(kTwoPi));
    const auto p = density / (density.sum(1, /*keepdim=*/true) + 1e-12);
    return only_training_rows(p, mask_, indices);
  }

  [[nodiscard]] torch::Tensor all_posteriors(const record::TrajectorySource& source) const override {
    return posteriors_at_last_epoch(source, rows_, categories(),
                                    [&](float loss) { return model_->posterior(loss); });
  }

  [[nodiscard]] int64_t categories() const override { return static_cast<int64_t>(categories_.size()); }

 private:
  /// The Gaussians of the reference probes' losses at `epoch`, with `weights`.
  [[nodiscard]] knn::GaussianMixture fit_at(const record::TrajectorySource& source,
                                            const std::vector<int64_t>& fit_rows, int64_t epoch,
                                            const std::vector<double>& weights) const {
    const auto& probe_category = source.examples().probe_category;
    std::vector<std::vector<float>> per_category(categories_.size());
    const auto losses = losses_at(source, fit_rows, epoch);
    for (size_t i = 0; i < fit_rows.size(); ++i) {
      const auto at =
          std::find(categories_.begin(), categories_.end(), probe_category[static_cast<size_t>(fit_rows[i])]);
      if (at != categories_.end())
        per_category[static_cast<size_t>(at - categories_.begin())].push_back(losses[i]);
    }
    for (size_t k = 0; k < per_category.size(); ++k) {
      MAPD_CHECK(
          !per_category[k].empty(), DataError,
          fmt::format("label correction (gmm): no probe of category '{}' in {}",
                      source.meta().category_names[static_cast<size_t>(categories_[k])], source.describe()));
    }
    const auto fitted = knn::GaussianMixture::fit(per_category);
    return knn::GaussianMixture::from_parameters(fitted.means(), fitted.stds(), weights);
  }

  std::vector<int64_t> categories_;
  bool adaptive_;
  int64_t warmup_;
  knn::RowRoles roles_;
  torch::Tensor mask_;
  torch::Device device_;
  std::vector<int64_t> rows_;
  std::optional<knn::GaussianMixture> model_;
  torch::Tensor means_, stds_, weights_;
};

/// train.mode=label_correction: one training pass over every row per epoch with the
/// label-correction objective; the recorded losses are the reference pass's (record.view=online:
/// train mode, unmixed, before the step) or an eval-mode pass after the epoch (record.view=eval).
/// Training rows and probes are recorded by the same pass, so the k-NN compares like with like.
class LabelCorrectionMode final : public TrainingMode {
 public:
  LabelCorrectionMode(const config::RunConfig& config, const data::TrainingSet& set,
                      const torch::Device& device)
      : config_(config),
        device_(device),
        warmup_(config.label_correction.warmup_for(config.train.epochs)),
        train_loader_(set, loader_options(config, set, device, /*training=*/true, config.train.seed)) {
    if (config.record.view == "eval") {
      eval_loader_.emplace(set, loader_options(config, set, device, /*training=*/false, config.train.seed));
    }
  }

  [[nodiscard]] std::string name() const override { return "label_correction"; }
  [[nodiscard]] std::string view() const override { return config_.record.view; }
  [[nodiscard]] int64_t steps_per_epoch() const override { return train_loader_.num_batches(); }

  void run_opened(const OpenEvent& event) override {
    train_loader_.exclude_rows(event.excluded);
    if (eval_loader_) eval_loader_->exclude_rows(event.excluded);
    excluded_ = event.excluded;
    const auto& examples = event.store.examples();
    estimator_ = make_mislabel_estimator(config_, examples, event.store.meta().category_names, device_);
    objective_ = std::make_shared<LabelCorrectionObjective>(config_, estimator_.get());
    train_rows_.clear();
    flipped_.clear();
    rows_ = examples.size();
    for (size_t i = 0; i < examples.role.size(); ++i) {
      if (examples.role[i] != static_cast<int8_t>(record::Role::kTrain)) continue;
      train_rows_.push_back(static_cast<int64_t>(i));
      flipped_.push_back(examples.label[i] != examples.original_label[i]);
    }
    injected_noise_ = std::find(flipped_.begin(), flipped_.end(), true) != flipped_.end();
    if (event.start_epoch > 0) refit(event.store, event.start_epoch);
  }

  [[nodiscard]] bool continues_mid_epoch() const override { return true; }
  void save_epoch_progress(torch::serialize::OutputArchive& archive) const override {
    objective_->save_epoch_rows(archive);
  }
  void load_epoch_progress(torch::serialize::InputArchive& archive) override {
    objective_->load_epoch_rows(archive, device_);
  }

  EpochPass run_epoch(const EpochContext& ctx) override {
    ctx.learner.set_objective(objective_);
    // A continued epoch goes on with the rows load_epoch_progress restored.
    if (ctx.continued == nullptr) objective_->start_epoch_rows(rows_, device_);
    auto pass = run_training_pass(ctx, train_loader_, eval_loader_ ? nullptr : ctx.record,
                                  [&](int64_t step) { objective_->start_step(ctx.epoch, step); });
    if (!pass.stopped && eval_loader_) record_eval_view(ctx, pass, train_loader_, *eval_loader_);
    phase_ = estimator_ == nullptr ? "none" : ctx.epoch >= warmup_ ? "correction" : "warmup";
    pending_unreadable_ = rows_of(pass.unreadable);
    return pass;
  }

  void epoch_committed(const CommitEvent& event) override {
    excluded_.insert(excluded_.end(), pending_unreadable_.begin(), pending_unreadable_.end());
    std::sort(excluded_.begin(), excluded_.end());
    pending_unreadable_.clear();
    refit(event.store, event.epoch + 1);
  }

  std::vector<record::SignalRow> signal_rows() override {
    auto rows = objective_->take_epoch_rows();
    // The distribution of B over the training rows trained on this epoch, for the metrics line.
    const auto& weights = rows[0].values;
    histogram_.assign(kWeightBins, 0);
    double sum = 0.0;
    int64_t count = 0;
    for (const int64_t row : train_rows_) {
      const float b = weights[static_cast<size_t>(row)];
      if (!std::isfinite(b)) continue;
      sum += b;
      ++count;
      ++histogram_[std::min<size_t>(kWeightBins - 1,
                                    static_cast<size_t>(b * static_cast<float>(kWeightBins)))];
    }
    mean_weight_ = count > 0 ? sum / static_cast<double>(count) : 0.0;
    return rows;
  }

  void add_metrics(nlohmann::json& line) const override {
    nlohmann::json lc{{"method", config_.label_correction.method},
                      {"phase", phase_},
                      {"mean_bootstrap_weight", mean_weight_},
                      {"bootstrap_weight_histogram", histogram_}};
    if (!flags_.is_null()) lc["estimate"] = flags_;
    line["label_correction"] = std::move(lc);
  }

  void run_finished(const FinishEvent& event) override {
    if (estimator_ == nullptr || !event.run.writes_shared_files()) return;
    const auto path = event.run.dir() / "corrected_labels.csv";
    const int64_t changed = write_corrected_labels(event.store, estimator_.get(), event.excluded,
                                                   config_.label_correction.relabel_threshold, path);
    log::get("train")->info("label correction: {} of {} training labels corrected, listed in {}", changed,
                            train_rows_.size(), path.string());
  }

 private:
  /// After `committed` epochs: refits the estimator when a next epoch corrects, and summarises
  /// its estimate for the next metrics line (after the last epoch, write_corrected_labels refits).
  void refit(const record::TrajectorySource& source, int64_t committed) {
    if (estimator_ == nullptr || committed < warmup_ || committed >= config_.train.epochs) return;
    estimator_->refit(source, excluded_);
    const auto p = estimator_->all_posteriors(source);
    const auto* prob = p.data_ptr<float>();
    const int64_t c = p.size(1);
    int64_t flagged = 0, flagged_flipped = 0, flipped = 0;
    double sum = 0.0;
    for (size_t i = 0; i < train_rows_.size(); ++i) {
      const float b = prob[train_rows_[i] * c + 1];
      const bool flag = b > 0.5F;
      sum += b;
      flagged += flag ? 1 : 0;
      flagged_flipped += flag && flipped_[i] ? 1 : 0;
      flipped += flipped_[i] ? 1 : 0;
    }
    const auto n = static_cast<double>(std::max<size_t>(train_rows_.size(), 1));
    flags_ = {{"mean_p_mislabeled", sum / n}, {"flagged", flagged}};
    if (injected_noise_) {
      flags_["precision"] =
          flagged > 0 ? static_cast<double>(flagged_flipped) / static_cast<double>(flagged) : 0.0;
      flags_["recall"] =
          flipped > 0 ? static_cast<double>(flagged_flipped) / static_cast<double>(flipped) : 0.0;
    }
  }

  config::RunConfig config_;
  torch::Device device_;
  int64_t warmup_;
  data::Loader train_loader_;
  std::optional<data::Loader> eval_loader_;
  std::unique_ptr<MislabelEstimator> estimator_;
  std::shared_ptr<LabelCorrectionObjective> objective_;
  std::vector<int64_t> excluded_, pending_unreadable_, train_rows_;
  std::vector<bool> flipped_;
  bool injected_noise_ = false;
  int64_t rows_ = 0;  ///< rows of the trained set
  double mean_weight_ = 0.0;
  std::vector<int64_t> histogram_;  ///< training rows per tenth of [0, 1] of B
  std::string phase_ = "warmup";
  nlohmann::json flags_;
};

}  // namespace

std::vector<double> adjust_to_priors(std::vector<float>& prob, int64_t categories,
                                     const std::vector<double>& reference) {
  const auto c = static_cast<size_t>(categories);
  MAPD_ASSERT(categories > 0 && reference.size() == c && prob.size() % c == 0,
              fmt::format("adjust_to_priors: {} shares for {} categories and {} reference shares",
                          prob.size(), categories, reference.size()));
  const size_t n = prob.size() / c;
  const std::vector<float> shares = prob;
  std::vector<double> prior = reference;
  std::vector<double> next(c);
  std::vector<double> row(c);
  for (int iteration = 0; iteration < kPriorIterations && n > 0; ++iteration) {
    std::fill(next.begin(), next.end(), 0.0);
    for (size_t i = 0; i < n; ++i) {
      double sum = 0.0;
      for (size_t k = 0; k < c; ++k) {
        row[k] = reference[k] > 0.0 ? prior[k] / reference[k] * shares[i * c + k] : 0.0;
        sum += row[k];
      }
      for (size_t k = 0; k < c; ++k) {
        const double p = sum > 0.0 ? row[k] / sum : shares[i * c + k];
        next[k] += p;
        prob[i * c + k] = static_cast<float>(p);
      }
    }
    double moved = 0.0;
    for (size_t k = 0; k < c; ++k) {
      next[k] /= static_cast<double>(n);
      moved = std::max(moved, std::abs(next[k] - prior[k]));
    }
    prior = next;
    if (moved < kPriorTolerance) break;
  }
  return prior;
}

TargetWeights target_weights(const torch::Tensor& p, bool binary, double corrupted_weight) {
  auto probs = p;
  if (binary) probs = F::one_hot(p.argmax(1), p.size(1)).to(torch::kFloat32);
  TargetWeights w;
  w.predicted = probs.select(1, 1).clamp(kBootstrapClamp, 1.0 - kBootstrapClamp);
  auto given = 1.0 - w.predicted;
  if (p.size(1) > 2) given = given - (1.0 - corrupted_weight) * probs.select(1, 2);
  w.given = given.clamp_min(0.0);
  return w;
}

double sample_symmetric_beta(double alpha, uint64_t seed) {
  MAPD_ASSERT(alpha > 0.0, fmt::format("sample_symmetric_beta: alpha must be positive, got {}", alpha));
  data::SplitMix64 rng(seed);
  const double x = sample_gamma(alpha, rng);
  const double y = sample_gamma(alpha, rng);
  return x + y > 0.0 ? x / (x + y) : 0.5;
}

MixupDraw draw_mixup(double alpha, int64_t batch, uint64_t seed, int64_t epoch, int64_t step) {
  MixupDraw draw;
  draw.permutation.resize(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) draw.permutation[static_cast<size_t>(i)] = i;
  if (alpha <= 0.0) return draw;
  const auto e = static_cast<uint64_t>(epoch);
  const auto s = static_cast<uint64_t>(step);
  draw.lambda = sample_symmetric_beta(alpha, data::mix_seed(data::mix_seed(seed, kMixupLambda), e, s));
  draw.permutation = data::permutation(batch, data::mix_seed(data::mix_seed(seed, kMixupPairs), e, s));
  return draw;
}

torch::Tensor bootstrap_mixup_loss(const torch::Tensor& logits, const torch::Tensor& labels,
                                   const torch::Tensor& targets, const TargetWeights& weights, double lambda,
                                   const torch::Tensor& permutation, double reg_weight) {
  const auto log_p = F::log_softmax(logits, F::LogSoftmaxFuncOptions(1));
  const bool soft = targets.dim() == 2;
  auto term = [&](const torch::Tensor& y, const torch::Tensor& t, const torch::Tensor& given,
                  const torch::Tensor& predicted) {
    const auto ce_given = -log_p.gather(1, y.unsqueeze(1)).squeeze(1);
    const auto ce_target = soft ? -(t * log_p).sum(1) : -log_p.gather(1, t.unsqueeze(1)).squeeze(1);
    return (given * ce_given + predicted * ce_target).mean();
  };
  auto loss = lambda * term(labels, targets, weights.given, weights.predicted);
  if (lambda < 1.0) {
    loss = loss + (1.0 - lambda) * term(labels.index_select(0, permutation),
                                        targets.index_select(0, permutation),
                                        weights.given.index_select(0, permutation),
                                        weights.predicted.index_select(0, permutation));
  }
  if (reg_weight > 0.0) {
    const auto classes = static_cast<double>(logits.size(1));
    const auto mean_p = log_p.exp().mean(0);
    loss = loss + reg_weight * ((1.0 / classes) * (std::log(1.0 / classes) - mean_p.log())).sum();
  }
  return loss;
}

/// method=oracle: P(mislabeled) = 1 for the training rows whose label injected noise changed, 0
/// for the others: the correction a perfect detector would make, a ceiling for the benchmark.
/// Real data has no such truth, so a run without injected noise is refused.
class OracleEstimator final : public MislabelEstimator {
 public:
  OracleEstimator(const record::ExampleColumns& examples, const torch::Device& device) {
    auto flipped = torch::zeros({examples.size()}, torch::kFloat32);
    auto* f = flipped.data_ptr<float>();
    int64_t count = 0;
    for (size_t i = 0; i < examples.role.size(); ++i) {
      const bool changed = examples.role[i] == static_cast<int8_t>(record::Role::kTrain) &&
                           examples.label[i] != examples.original_label[i];
      f[i] = changed ? 1.0F : 0.0F;
      count += changed ? 1 : 0;
    }
    MAPD_CHECK(count > 0, ConfigError,
               "label_correction.method=oracle takes P(mislabeled) from the labels injected noise changed, "
               "and no training label was changed: set data.label_noise.rate (or use method mapd, bmm or gmm "
               "on real data)");
    table_ = torch::stack({1.0 - flipped, flipped}, 1).contiguous();
    on_device_ = table_.to(device);
  }

  void refit(const record::TrajectorySource& /*source*/, const std::vector<int64_t>& /*excluded*/) override {}

  [[nodiscard]] torch::Tensor posteriors(const torch::Tensor& indices,
                                         const torch::Tensor& current_loss) const override {
    return on_device_.index_select(0, indices).to(current_loss.device());
  }

  [[nodiscard]] torch::Tensor all_posteriors(const record::TrajectorySource& /*source*/) const override {
    return table_.clone();
  }

  [[nodiscard]] int64_t categories() const override { return 2; }

 private:
  torch::Tensor table_;      ///< [N, 2] on the CPU
  torch::Tensor on_device_;  ///< the same on the run's device
};

std::unique_ptr<MislabelEstimator> make_mislabel_estimator(const config::RunConfig& config,
                                                           const record::ExampleColumns& examples,
                                                           const std::vector<std::string>& category_names,
                                                           const torch::Device& device) {
  const auto& method = config.label_correction.method;
  if (method == "none") return nullptr;
  if (method == "mapd")
    return std::make_unique<TrajectoryEstimator>(config, examples, category_names, device);
  if (method == "bmm") return std::make_unique<BetaMixtureEstimator>(examples, device);
  if (method == "gmm") return std::make_unique<GaussianEstimator>(config, examples, category_names, device);
  if (method == "oracle") return std::make_unique<OracleEstimator>(examples, device);
  throw ConfigError(fmt::format(
      "label_correction.method: unknown method '{}' (expected mapd, bmm, gmm, oracle or none)", method));
}

LabelCorrectionObjective::LabelCorrectionObjective(const config::RunConfig& config,
                                                   const MislabelEstimator* estimator)
    : options_(config.label_correction),
      estimator_(estimator),
      reference_mode_(config.record.view == "eval" ? ScoreMode::kEval : ScoreMode::kTrain),
      seed_(static_cast<uint64_t>(config.train.seed)),
      warmup_(config.label_correction.warmup_for(config.train.epochs)) {}

void LabelCorrectionObjective::start_step(int64_t epoch, int64_t step) {
  epoch_ = epoch;
  step_ = step;
  correcting_ = estimator_ != nullptr && epoch >= warmup_;
}

torch::Tensor LabelCorrectionObjective::inputs(const torch::Tensor& images, const torch::Tensor& /*labels*/,
                                               const torch::Tensor& /*indices*/,
                                               const Scores* /*reference*/) {
  draw_ = draw_mixup(options_.mixup_alpha, images.size(0), seed_, epoch_, step_);
  if (draw_.lambda >= 1.0) {
    permutation_ = torch::Tensor();
    return images;
  }
  permutation_ = torch::tensor(draw_.permutation, torch::kInt64).to(images.device(), /*non_blocking=*/true);
  return draw_.lambda * images + (1.0 - draw_.lambda) * images.index_select(0, permutation_);
}

torch::Tensor LabelCorrectionObjective::loss(const ObjectiveInput& input) {
  MAPD_ASSERT(input.reference != nullptr, "LabelCorrectionObjective::loss without its reference pass");
  const auto& reference = *input.reference;
  TargetWeights weights;
  torch::Tensor targets = reference.pred;
  if (correcting_) {
    weights = target_weights(estimator_->posteriors(input.indices, reference.cross_entropy),
                             options_.assignment == "binary", options_.corrupted_weight);
    if (options_.bootstrap == "soft") {
      targets = F::softmax(reference.logits, F::SoftmaxFuncOptions(1));
    } else if (options_.bootstrap == "confident") {
      weights.predicted =
          weights.predicted * std::get<0>(F::softmax(reference.logits, F::SoftmaxFuncOptions(1)).max(1));
    }
  } else {
    weights.given = torch::ones_like(input.cross_entropy);
    weights.predicted = torch::zeros_like(input.cross_entropy);
  }
  if (weight_row_.defined()) {
    torch::NoGradGuard no_grad;
    const auto target = torch::where(weights.predicted > weights.given, reference.pred, input.labels);
    weight_row_.index_copy_(0, input.indices, weights.predicted.detach().to(torch::kFloat32));
    target_row_.index_copy_(0, input.indices, target);
  }
  return bootstrap_mixup_loss(input.logits, input.labels, targets, weights, draw_.lambda, permutation_,
                              correcting_ ? options_.reg_weight : 0.0);
}

std::unique_ptr<TrainingMode> make_label_correction_mode(const config::RunConfig& config,
                                                         const data::TrainingSet& set,
                                                         const torch::Device& device) {
  return std::make_unique<LabelCorrectionMode>(config, set, device);
}

void LabelCorrectionObjective::start_epoch_rows(int64_t rows, const torch::Device& device) {
  weight_row_ = torch::full({rows}, std::numeric_limits<float>::quiet_NaN(),
                            torch::TensorOptions().dtype(torch::kFloat32).device(device));
  target_row_ = torch::full({rows}, -1, torch::TensorOptions().dtype(torch::kInt64).device(device));
}

void LabelCorrectionObjective::save_epoch_rows(torch::serialize::OutputArchive& archive) const {
  MAPD_ASSERT(weight_row_.defined(), "LabelCorrectionObjective::save_epoch_rows before start_epoch_rows");
  archive.write("bootstrap_weight", weight_row_.to(torch::kCPU), /*is_buffer=*/true);
  archive.write("target", target_row_.to(torch::kCPU), /*is_buffer=*/true);
}

void LabelCorrectionObjective::load_epoch_rows(torch::serialize::InputArchive& archive,
                                               const torch::Device& device) {
  archive.read("bootstrap_weight", weight_row_, /*is_buffer=*/true);
  archive.read("target", target_row_, /*is_buffer=*/true);
  weight_row_ = weight_row_.to(device);
  target_row_ = target_row_.to(device);
}

std::vector<record::SignalRow> LabelCorrectionObjective::take_epoch_rows() {
  MAPD_ASSERT(weight_row_.defined(), "LabelCorrectionObjective::take_epoch_rows before start_epoch_rows");
  const auto weights = weight_row_.to(torch::kCPU).contiguous();
  const auto targets = target_row_.to(torch::kInt32).to(torch::kCPU).contiguous();
  std::vector<record::SignalRow> rows(2);
  rows[0].values.assign(weights.data_ptr<float>(), weights.data_ptr<float>() + weights.numel());
  rows[1].classes.assign(targets.data_ptr<int32_t>(), targets.data_ptr<int32_t>() + targets.numel());
  weight_row_ = torch::Tensor();
  target_row_ = torch::Tensor();
  return rows;
}

std::vector<record::SignalSpec> label_correction_signals() {
  return {record::SignalSpec{"bootstrap_weight", false}, record::SignalSpec{"target", true}};
}

int64_t write_corrected_labels(const record::TrajectorySource& source, MislabelEstimator* estimator,
                               const std::vector<int64_t>& excluded, double threshold,
                               const std::filesystem::path& path) {
  MAPD_ASSERT(estimator != nullptr, "write_corrected_labels without an estimator (method none)");
  const int64_t epochs = source.complete_epochs();
  MAPD_ASSERT(epochs > 0, "write_corrected_labels before any epoch was committed");
  estimator->refit(source, excluded);
  const auto p = estimator->all_posteriors(source).contiguous();
  const auto* prob = p.data_ptr<float>();
  const int64_t c = p.size(1);
  const auto& ex = source.examples();
  const int64_t n = source.num_examples();
  std::vector<int32_t> pred(static_cast<size_t>(n));
  source.read_preds(0, n, epochs - 1, epochs, pred.data());
  const bool noisy = !ex.original_label.empty() && ex.original_label != ex.label;
  std::string text = noisy ? "id,given_label,corrected_label,p_mislabeled,original_label\n"
                           : "id,given_label,corrected_label,p_mislabeled\n";
  int64_t changed = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto r = static_cast<size_t>(i);
    if (ex.role[r] != static_cast<int8_t>(record::Role::kTrain)) continue;
    const bool left_out = std::binary_search(excluded.begin(), excluded.end(), i);
    const float p_mis = prob[i * c + 1];
    int64_t corrected = ex.label[r];
    if (!left_out && p_mis > threshold && pred[r] >= 0) corrected = pred[r];
    changed += corrected != ex.label[r] ? 1 : 0;
    text += fmt::format("{},{},{},{}", csv_field(ex.id_text(i)), ex.label[r], corrected,
                        left_out ? std::string() : fmt::format("{:.4f}", p_mis));
    if (noisy) text += fmt::format(",{}", ex.original_label[r]);
    text += '\n';
  }
  fs::write_file_atomic(path, text);
  return changed;
}

}  // namespace mapd::train
