// Label correction (train.mode=label_correction): the loss against hand computations, the weights,
// the mixup draws, the estimators' use of committed epochs only, and whole runs (resume, the
// corrected labels).
#include "mapd/train/label_correction.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "../common/expect_error.hpp"
#include "synthetic.hpp"
#include "test_dir.hpp"

namespace mapd::train {
namespace {

namespace fsys = std::filesystem;

torch::Tensor longs(const std::vector<int64_t>& values) { return torch::tensor(values, torch::kInt64); }
torch::Tensor floats(const std::vector<float>& values) { return torch::tensor(values, torch::kFloat32); }

/// log softmax of one row, in double.
std::vector<double> log_softmax(const std::vector<double>& z) {
  double m = z[0];
  for (const double v : z) m = std::max(m, v);
  double sum = 0.0;
  for (const double v : z) sum += std::exp(v - m);
  std::vector<double> out;
  out.reserve(z.size());
  for (const double v : z) out.push_back(v - m - std::log(sum));
  return out;
}

TEST(BootstrapMixupLoss, MatchesAHandComputation) {
  const std::vector<std::vector<double>> z = {{2.0, 0.5, -1.0}, {0.1, 0.2, 1.5}};
  const std::vector<int64_t> y = {0, 1}, pred = {1, 2}, perm = {1, 0};
  const std::vector<double> given = {0.75, 0.4}, predicted = {0.25, 0.6};
  const double lambda = 0.7, reg = 0.5;
  // By hand: per-example weighted cross-entropies, both mixup terms, then KL(uniform || mean p).
  std::vector<std::vector<double>> lp = {log_softmax(z[0]), log_softmax(z[1])};
  auto term = [&](const std::vector<int64_t>& order) {
    double sum = 0.0;
    for (size_t i = 0; i < 2; ++i) {
      const auto j = static_cast<size_t>(order[i]);
      sum +=
          given[j] * -lp[i][static_cast<size_t>(y[j])] + predicted[j] * -lp[i][static_cast<size_t>(pred[j])];
    }
    return sum / 2.0;
  };
  double kl = 0.0;
  for (size_t c = 0; c < 3; ++c) {
    const double mean_p = (std::exp(lp[0][c]) + std::exp(lp[1][c])) / 2.0;
    kl += (1.0 / 3.0) * std::log((1.0 / 3.0) / mean_p);
  }
  const double expected = lambda * term({0, 1}) + (1.0 - lambda) * term(perm) + reg * kl;

  const auto logits = torch::tensor({2.0F, 0.5F, -1.0F, 0.1F, 0.2F, 1.5F}).view({2, 3});
  const TargetWeights w{floats({0.75F, 0.4F}), floats({0.25F, 0.6F})};
  const auto loss = bootstrap_mixup_loss(logits, longs(y), longs(pred), w, lambda, longs(perm), reg);
  EXPECT_NEAR(loss.item<double>(), expected, 1e-6);
  EXPECT_GT(kl, 0.0);  // the regulariser really contributes
}

TEST(BootstrapMixupLoss, WithNoBootstrapWeightIsTheMixupCrossEntropy) {
  torch::manual_seed(3);
  const auto logits = torch::randn({6, 4});
  const auto y = longs({0, 1, 2, 3, 0, 1});
  const auto pred = longs({3, 3, 0, 1, 2, 2});
  const auto perm = longs({5, 4, 3, 2, 1, 0});
  const double lambda = 0.35;
  const TargetWeights w{torch::ones({6}), torch::zeros({6})};
  const auto loss = bootstrap_mixup_loss(logits, y, pred, w, lambda, perm, 0.0);
  namespace F = torch::nn::functional;
  const auto mixup =
      lambda * F::cross_entropy(logits, y) + (1.0 - lambda) * F::cross_entropy(logits, y.index({perm}));
  EXPECT_NEAR(loss.item<double>(), mixup.item<double>(), 1e-6);
}

TEST(BootstrapMixupLoss, SoftTargetsAreTheCrossEntropyWithADistribution) {
  // Soft bootstrapping: the prediction term is -sum_c t_c log p_c; a one-hot t is the hard loss.
  const std::vector<std::vector<double>> z = {{1.0, -0.5, 0.25}, {0.0, 2.0, -1.0}};
  const std::vector<std::vector<double>> t = {{0.5, 0.3, 0.2}, {0.1, 0.1, 0.8}};
  const std::vector<int64_t> y = {2, 0};
  const std::vector<double> given = {0.6, 0.1}, predicted = {0.4, 0.9};
  double expected = 0.0;
  for (size_t i = 0; i < 2; ++i) {
    const auto lp = log_softmax(z[i]);
    double ce_t = 0.0;
    for (size_t c = 0; c < 3; ++c) ce_t -= t[i][c] * lp[c];
    expected += (given[i] * -lp[static_cast<size_t>(y[i])] + predicted[i] * ce_t) / 2.0;
  }
  const auto logits = torch::tensor({1.0F, -0.5F, 0.25F, 0.0F, 2.0F, -1.0F}).view({2, 3});
  const auto targets = torch::tensor({0.5F, 0.3F, 0.2F, 0.1F, 0.1F, 0.8F}).view({2, 3});
  const TargetWeights w{floats({0.6F, 0.1F}), floats({0.4F, 0.9F})};
  const auto perm = longs({1, 0});
  EXPECT_NEAR(bootstrap_mixup_loss(logits, longs(y), targets, w, 1.0, perm, 0.0).item<double>(), expected,
              1e-6);
  // With mixing, a one-hot distribution gives the hard loss.
  const auto pred = longs({1, 2});
  const auto one_hot = torch::nn::functional::one_hot(pred, 3).to(torch::kFloat32);
  EXPECT_NEAR(bootstrap_mixup_loss(logits, longs(y), one_hot, w, 0.3, perm, 0.5).item<double>(),
              bootstrap_mixup_loss(logits, longs(y), pred, w, 0.3, perm, 0.5).item<double>(), 1e-6);
}

TEST(TargetWeights, ProbabilitiesAreClampedAndBinaryTakesTheArgmax) {
  const auto p = floats({0.6F, 0.4F, 0.3F, 0.7F, 1.0F, 0.0F}).view({3, 2});
  const auto soft = target_weights(p, /*binary=*/false, 0.0);
  EXPECT_NEAR(soft.predicted[0].item<float>(), 0.4F, 1e-6);
  EXPECT_NEAR(soft.predicted[1].item<float>(), 0.7F, 1e-6);
  EXPECT_NEAR(soft.predicted[2].item<float>(), kBootstrapClamp, 1e-9);  // clamped, not 0
  EXPECT_NEAR(soft.given[1].item<float>(), 0.3F, 1e-6);
  const auto hard = target_weights(p, /*binary=*/true, 0.0);
  EXPECT_NEAR(hard.predicted[0].item<float>(), kBootstrapClamp, 1e-9);
  EXPECT_NEAR(hard.predicted[1].item<float>(), 1.0 - kBootstrapClamp, 1e-6);
  EXPECT_NEAR(hard.given[1].item<float>(), kBootstrapClamp, 1e-6);
}

TEST(TargetWeights, BinaryChangesTheLoss) {
  // The research code's binary mode cast B to an integer before clamping, so every B became 0 and
  // nothing was corrected; here binary must give another loss than probabilities, and than no
  // correction.
  const auto logits = torch::tensor({1.0F, 0.0F, -1.0F, 0.0F, 2.0F, 0.5F}).view({2, 3});
  const auto y = longs({0, 1}), pred = longs({2, 0}), perm = longs({0, 1});
  const auto p = floats({0.4F, 0.6F, 0.9F, 0.1F}).view({2, 2});
  auto loss_of = [&](const TargetWeights& w) {
    return bootstrap_mixup_loss(logits, y, pred, w, 1.0, perm, 0.0).item<double>();
  };
  const double soft = loss_of(target_weights(p, false, 0.0));
  const double hard = loss_of(target_weights(p, true, 0.0));
  const double none = loss_of(TargetWeights{torch::ones({2}), torch::zeros({2})});
  EXPECT_GT(std::abs(hard - soft), 0.1);
  EXPECT_GT(std::abs(hard - none), 0.1);
}

TEST(TargetWeights, ThreeSetsDropOrDownWeightTheCorruptedMass) {
  const auto p = floats({0.2F, 0.3F, 0.5F}).view({1, 3});
  const auto dropped = target_weights(p, false, 0.0);
  EXPECT_NEAR(dropped.predicted[0].item<float>(), 0.3F, 1e-6);
  EXPECT_NEAR(dropped.given[0].item<float>(), 0.2F, 1e-6);
  const auto half = target_weights(p, false, 0.5);
  EXPECT_NEAR(half.given[0].item<float>(), 0.45F, 1e-6);
}

TEST(MixupDraw, IsReproducibleAndFollowsTheBetaDistribution) {
  const auto a = draw_mixup(32.0, 8, 5, 2, 11);
  const auto b = draw_mixup(32.0, 8, 5, 2, 11);
  EXPECT_EQ(a.lambda, b.lambda);
  EXPECT_EQ(a.permutation, b.permutation);
  EXPECT_NE(draw_mixup(32.0, 8, 5, 2, 12).lambda, a.lambda);
  auto sorted = a.permutation;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 8; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  const auto off = draw_mixup(0.0, 4, 5, 2, 11);
  EXPECT_EQ(off.lambda, 1.0);
  EXPECT_EQ(off.permutation, (std::vector<int64_t>{0, 1, 2, 3}));
  // Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)); 20,000 draws per alpha.
  for (const double alpha : {0.4, 1.0, 2.5, 32.0}) {
    const int n = 20000;
    double sum = 0.0, sum_sq = 0.0;
    for (int i = 0; i < n; ++i) {
      const double x = sample_symmetric_beta(alpha, static_cast<uint64_t>(i) * 7919U + 1U);
      ASSERT_GE(x, 0.0);
      ASSERT_LE(x, 1.0);
      sum += x;
      sum_sq += x * x;
    }
    const double mean = sum / n, variance = sum_sq / n - mean * mean;
    const double expected = 1.0 / (4.0 * (2.0 * alpha + 1.0));
    EXPECT_NEAR(mean, 0.5, 0.01) << "alpha " << alpha;
    EXPECT_NEAR(variance / expected, 1.0, 0.05) << "alpha " << alpha;
  }
}

/// 4 clean probes (category 0), 4 mislabeled probes (category 1) and 4 training rows over
/// `epochs` epochs: probe losses stay low / high; training rows 0 and 1 look clean for the first
/// two epochs, then jump to the mislabeled probes' level.
record::InMemoryTrajectories committed_source(int64_t epochs) {
  record::DynamicsMeta meta;
  meta.category_names = {"typical", "mislabeled"};
  meta.class_names = {"a", "b"};
  record::ExampleColumns ex;
  for (int64_t i = 0; i < 12; ++i) {
    const bool probe = i < 8;
    ex.id.push_back(i);
    ex.label.push_back(0);
    ex.original_label.push_back(0);
    ex.role.push_back(static_cast<int8_t>(probe ? record::Role::kProbeFit : record::Role::kTrain));
    ex.probe_category.push_back(static_cast<int16_t>(probe ? i / 4 : -1));
    ex.source_index.push_back(i);
  }
  record::InMemoryTrajectories source(meta, ex);
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<float> loss(12);
    for (int64_t i = 0; i < 12; ++i) {
      const bool mislabeled_probe = i >= 4 && i < 8;
      const bool turns = i >= 8 && i < 10 && e >= 2;
      loss[static_cast<size_t>(i)] = mislabeled_probe || turns ? 3.0F + 0.01F * static_cast<float>(i) : 0.1F;
    }
    std::vector<int32_t> pred(12, 0);
    std::vector<float> prob(12, 0.5F);
    source.append_epoch(loss.data(), pred.data(), prob.data());
  }
  return source;
}

/// A source that shows only the first `visible` epochs of another as committed, and fails the
/// test if anything reads past them.
class CommittedPrefix final : public record::TrajectorySource {
 public:
  CommittedPrefix(const record::TrajectorySource& inner, int64_t visible)
      : inner_(inner), visible_(visible) {}
  [[nodiscard]] int64_t num_examples() const override { return inner_.num_examples(); }
  [[nodiscard]] int64_t complete_epochs() const override { return visible_; }
  [[nodiscard]] const record::DynamicsMeta& meta() const override { return inner_.meta(); }
  [[nodiscard]] const record::ExampleColumns& examples() const override { return inner_.examples(); }
  [[nodiscard]] std::string describe() const override { return "a committed prefix"; }
  void read_losses(int64_t b, int64_t e, int64_t eb, int64_t ee, float* out) const override {
    EXPECT_LE(ee, visible_) << "read an uncommitted epoch";
    inner_.read_losses(b, e, eb, ee, out);
  }
  void read_true_probs(int64_t b, int64_t e, int64_t eb, int64_t ee, float* out) const override {
    EXPECT_LE(ee, visible_) << "read an uncommitted epoch";
    inner_.read_true_probs(b, e, eb, ee, out);
  }
  void read_preds(int64_t b, int64_t e, int64_t eb, int64_t ee, int32_t* out) const override {
    EXPECT_LE(ee, visible_) << "read an uncommitted epoch";
    inner_.read_preds(b, e, eb, ee, out);
  }

 private:
  const record::TrajectorySource& inner_;
  int64_t visible_;
};

config::RunConfig estimator_config(const std::string& method) {
  config::RunConfig config;
  config.train.epochs = 4;
  config.knn.k = 3;
  config.label_correction.method = method;
  config.label_correction.warmup_epochs = 1;
  return config;
}

TEST(MislabelEstimator, TheTrajectoryKnnSeesOnlyCommittedEpochs) {
  const auto all = committed_source(4);
  const auto config = estimator_config("mapd");
  auto estimator = make_mislabel_estimator(config, all.examples(), all.meta().category_names, torch::kCPU);
  ASSERT_NE(estimator, nullptr);
  const auto rows = longs({8, 9, 10, 11, 0, 4});
  const auto current = torch::zeros({6});
  // After 2 committed epochs rows 8, 9 still look clean; the later epochs are not read.
  estimator->refit(CommittedPrefix(all, 2), {});
  auto p = estimator->posteriors(rows, current);
  for (int64_t r = 0; r < 4; ++r) EXPECT_FLOAT_EQ(p[r][1].item<float>(), 0.0F) << "row " << r;
  EXPECT_FLOAT_EQ(p[4][0].item<float>(), 1.0F);  // probes are never corrected
  EXPECT_FLOAT_EQ(p[5][0].item<float>(), 1.0F);
  // With all 4 committed, rows 8 and 9 are nearest to the mislabeled probes.
  estimator->refit(CommittedPrefix(all, 4), {});
  p = estimator->posteriors(rows, current);
  EXPECT_FLOAT_EQ(p[0][1].item<float>(), 1.0F);
  EXPECT_FLOAT_EQ(p[1][1].item<float>(), 1.0F);
  EXPECT_FLOAT_EQ(p[2][1].item<float>(), 0.0F);
  // A row left out of training is never estimated.
  estimator->refit(CommittedPrefix(all, 4), {8});
  EXPECT_FLOAT_EQ(estimator->posteriors(longs({8}), torch::zeros({1}))[0][1].item<float>(), 0.0F);
}

/// 4 clean probes (category 0), 4 mislabeled probes (category 1) and 4 training rows (8-11) over
/// `epochs` epochs, with the loss of row i at epoch e from `loss(i, e)` and an EL2N signal
/// `el2n(i, e)` (meta().signals = {el2n}), readable as the recorded signals of a dynamics.h5 are.
class WithEl2n final : public record::TrajectorySource {
 public:
  template <class Loss, class El2n>
  WithEl2n(int64_t epochs, const Loss& loss, const El2n& el2n)
      : losses_(el2n_meta(), committed_source(0).examples()) {
    for (int64_t e = 0; e < epochs; ++e) {
      std::vector<float> row(12);
      for (int64_t i = 0; i < 12; ++i) {
        row[static_cast<size_t>(i)] = loss(i, e);
        el2n_.push_back(el2n(i, e));  // [epochs, N] epoch-major
      }
      std::vector<int32_t> pred(12, 0);
      std::vector<float> prob(12, 0.5F);
      losses_.append_epoch(row.data(), pred.data(), prob.data());
    }
  }
  [[nodiscard]] int64_t num_examples() const override { return losses_.num_examples(); }
  [[nodiscard]] int64_t complete_epochs() const override { return losses_.complete_epochs(); }
  [[nodiscard]] const record::DynamicsMeta& meta() const override { return losses_.meta(); }
  [[nodiscard]] const record::ExampleColumns& examples() const override { return losses_.examples(); }
  [[nodiscard]] std::string describe() const override { return "losses and EL2N in memory"; }
  void read_losses(int64_t b, int64_t e, int64_t eb, int64_t ee, float* out) const override {
    losses_.read_losses(b, e, eb, ee, out);
  }
  void read_true_probs(int64_t b, int64_t e, int64_t eb, int64_t ee, float* out) const override {
    losses_.read_true_probs(b, e, eb, ee, out);
  }
  void read_preds(int64_t b, int64_t e, int64_t eb, int64_t ee, int32_t* out) const override {
    losses_.read_preds(b, e, eb, ee, out);
  }
  void read_signal_values(const std::string& name, int64_t b, int64_t e, int64_t eb, int64_t ee,
                          float* out) const override {
    EXPECT_EQ(name, "el2n");
    for (int64_t i = b; i < e; ++i) {
      for (int64_t t = eb; t < ee; ++t) *out++ = el2n_[static_cast<size_t>(t * 12 + i)];
    }
  }

 private:
  static record::DynamicsMeta el2n_meta() {
    record::DynamicsMeta m;
    m.category_names = {"typical", "mislabeled"};
    m.class_names = {"a", "b"};
    m.signals = {record::SignalSpec{"el2n", false}};
    return m;
  }
  record::InMemoryTrajectories losses_;
  std::vector<float> el2n_;
};

/// P(mislabeled) of training rows 8-11 after refitting `method`'s estimator with `config` on `source`.
std::vector<float> p_mislabeled(const config::RunConfig& config, const record::TrajectorySource& source) {
  auto estimator =
      make_mislabel_estimator(config, source.examples(), source.meta().category_names, torch::kCPU);
  estimator->refit(source, {});
  const auto p = estimator->posteriors(longs({8, 9, 10, 11}), torch::zeros({4}));
  std::vector<float> out;
  for (int64_t r = 0; r < 4; ++r) out.push_back(p[r][1].item<float>());
  return out;
}

TEST(MislabelEstimator, TheTrajectoryKnnComparesTheSignalsKnnSignalsNames) {
  // Losses alike for every row (small ties broken by row); EL2N high for the mislabeled probes
  // and training rows 8 and 9 only.
  const WithEl2n source(
      3, [](int64_t i, int64_t /*e*/) { return 1.0F + 0.001F * static_cast<float>(i % 4); },
      [](int64_t i, int64_t /*e*/) { return (i >= 4 && i < 10) ? 1.2F : 0.2F; });
  auto config = estimator_config("mapd");
  config.knn.signals = "loss+el2n";
  auto p = p_mislabeled(config, source);
  EXPECT_FLOAT_EQ(p[0], 1.0F);
  EXPECT_FLOAT_EQ(p[1], 1.0F);
  EXPECT_FLOAT_EQ(p[2], 0.0F);
  EXPECT_FLOAT_EQ(p[3], 0.0F);
  // The losses alone do not tell rows 8 and 9 from 10 and 11 (equal losses, equal votes).
  config.knn.signals = "loss";
  p = p_mislabeled(config, source);
  EXPECT_FLOAT_EQ(p[0], p[2]);
  EXPECT_FLOAT_EQ(p[1], p[3]);
}

TEST(MislabelEstimator, KnnEpochsComparesOnlyTheLastCommittedEpochs) {
  // Rows 8 and 9 lose like the mislabeled probes for three epochs, then like the clean ones.
  const WithEl2n source(
      4,
      [](int64_t i, int64_t e) {
        const bool high = (i >= 4 && i < 8) || (i >= 8 && i < 10 && e < 3);
        return high ? 3.0F : 0.1F;
      },
      [](int64_t /*i*/, int64_t /*e*/) { return 0.0F; });
  auto config = estimator_config("mapd");
  config.knn.signals = "loss";
  auto p = p_mislabeled(config, source);
  EXPECT_FLOAT_EQ(p[0], 1.0F);  // all 4 epochs: nearest to the mislabeled probes
  EXPECT_FLOAT_EQ(p[2], 0.0F);
  config.label_correction.knn_epochs = 1;
  p = p_mislabeled(config, source);
  EXPECT_FLOAT_EQ(p[0], 0.0F);  // the last epoch alone: clean
  EXPECT_FLOAT_EQ(p[1], 0.0F);
}

TEST(AdjustToPriors, ReweightsTheSharesToTheImpliedPrior) {
  // One row certainly clean, one undecided: the implied mislabeled share halves every iteration
  // (prior_1 <- (0 + prior_1) / 2), so the undecided row ends clean too.
  std::vector<float> prob{1.0F, 0.0F, 0.5F, 0.5F};
  auto prior = adjust_to_priors(prob, 2, {0.5, 0.5});
  EXPECT_LT(prior[1], 1e-5);
  EXPECT_NEAR(prior[0] + prior[1], 1.0, 1e-9);
  EXPECT_FLOAT_EQ(prob[0], 1.0F);
  EXPECT_LT(prob[3], 1e-5F);
  EXPECT_NEAR(prob[2] + prob[3], 1.0F, 1e-6F);
  // Mostly clean rows: every P(mislabeled) shrinks, the order stays, the prior is the mean.
  prob = {0.9F, 0.1F, 0.9F, 0.1F, 0.9F, 0.1F, 0.05F, 0.95F};
  const std::vector<float> before = prob;
  prior = adjust_to_priors(prob, 2, {0.5, 0.5});
  double mean = 0.0;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_LT(prob[2 * i + 1], before[2 * i + 1]) << "row " << i;
    mean += prob[2 * i + 1] / 4.0;
  }
  EXPECT_NEAR(mean, prior[1], 1e-5);
  EXPECT_NEAR(prior[1], 0.2396,
              1e-3);  // the fixed point prior = mean_i prior f_i / (prior f_i + (1 - prior)(1 - f_i))
  EXPECT_LT(prob[5], prob[7]);
  // References of unequal counts: shares voted by 1/4 mislabeled references imply more mislabeled
  // mass than the same shares voted by equal counts.
  prob = {0.5F, 0.5F};
  prior = adjust_to_priors(prob, 2, {0.75, 0.25});
  EXPECT_GT(prob[1], 0.5F);
}

TEST(MislabelEstimator, GaussiansUseTheCurrentLossAndTheLastCommittedEpoch) {
  const auto all = committed_source(4);
  auto estimator = make_mislabel_estimator(estimator_config("gmm"), all.examples(), all.meta().category_names,
                                           torch::kCPU);
  estimator->refit(CommittedPrefix(all, 2), {});
  const auto p = estimator->posteriors(longs({8, 9, 0}), floats({0.1F, 3.05F, 3.05F}));
  EXPECT_GT(p[0][0].item<float>(), 0.99F);
  EXPECT_GT(p[1][1].item<float>(), 0.99F);
  EXPECT_FLOAT_EQ(p[2][0].item<float>(), 1.0F);  // a probe row keeps its label
}

TEST(MislabelEstimator, TheOracleFlagsExactlyTheLabelsInjectedNoiseChanged) {
  auto all = committed_source(2);
  auto examples = all.examples();
  examples.label[9] = 1;  // a training row whose label noise changed
  examples.label[5] = 1;  // a probe relabelled by the suite: a reference, never corrected
  auto estimator =
      make_mislabel_estimator(estimator_config("oracle"), examples, all.meta().category_names, torch::kCPU);
  estimator->refit(all, {});
  // The current loss does not matter: row 8 (clean) has a high one, row 9 (flipped) a low one.
  const auto p = estimator->posteriors(longs({8, 9, 5, 0}), floats({3.0F, 0.1F, 3.0F, 0.1F}));
  EXPECT_FLOAT_EQ(p[0][1].item<float>(), 0.0F);
  EXPECT_FLOAT_EQ(p[1][1].item<float>(), 1.0F);
  EXPECT_FLOAT_EQ(p[2][0].item<float>(), 1.0F);
  EXPECT_FLOAT_EQ(p[3][0].item<float>(), 1.0F);
  const auto table = estimator->all_posteriors(all);
  ASSERT_EQ(table.size(0), 12);
  EXPECT_FLOAT_EQ(table.select(1, 1).sum().item<float>(), 1.0F);
  EXPECT_FLOAT_EQ(table[9][1].item<float>(), 1.0F);

  // Without a changed training label the oracle has nothing to go on.
  MAPD_EXPECT_THROW_WITH(make_mislabel_estimator(estimator_config("oracle"), all.examples(),
                                                 all.meta().category_names, torch::kCPU),
                         ConfigError, "label_correction.method=oracle", "data.label_noise.rate");
}

TEST(MislabelEstimator, UnknownProbeCategoryIsAConfigErrorWithTheKey) {
  const auto all = committed_source(1);
  auto config = estimator_config("mapd");
  config.label_correction.mislabeled_category = "mislabelled";
  MAPD_EXPECT_THROW_WITH(
      make_mislabel_estimator(config, all.examples(), all.meta().category_names, torch::kCPU), ConfigError,
      "label_correction.mislabeled_category", "mislabeled");
  EXPECT_EQ(make_mislabel_estimator(estimator_config("none"), all.examples(), all.meta().category_names,
                                    torch::kCPU),
            nullptr);
}

config::RunConfig correction_config(int64_t epochs) {
  auto config = test::tiny_config(epochs);
  config.train.mode = "label_correction";
  config.schedule.name = "constant";
  config.data.augment.hflip = true;
  config.knn.k = 5;
  config.label_correction.warmup_epochs = 2;
  config.label_correction.mixup_alpha = 4.0;
  return config;
}

/// The recorded bootstrap weight and target of every epoch, epoch-major [epochs * N].
struct RecordedSignals {
  std::vector<float> weight;
  std::vector<int32_t> target;
  int64_t epochs = 0;
  int64_t n = 0;
};

RecordedSignals read_signals(const fsys::path& run_dir) {
  const auto store = record::DynamicsStore::open_read(run_dir / "dynamics.h5");
  RecordedSignals out;
  out.epochs = store.complete_epochs();
  out.n = store.num_examples();
  std::vector<float> weight(static_cast<size_t>(out.epochs * out.n));
  std::vector<int32_t> target(weight.size());
  store.read_signal_values("bootstrap_weight", 0, out.n, 0, out.epochs, weight.data());
  store.read_signal_classes("target", 0, out.n, 0, out.epochs, target.data());
  // example-major from the store; transpose to epoch-major
  out.weight.resize(weight.size());
  out.target.resize(target.size());
  for (int64_t i = 0; i < out.n; ++i) {
    for (int64_t e = 0; e < out.epochs; ++e) {
      out.weight[static_cast<size_t>(e * out.n + i)] = weight[static_cast<size_t>(i * out.epochs + e)];
      out.target[static_cast<size_t>(e * out.n + i)] = target[static_cast<size_t>(i * out.epochs + e)];
    }
  }
  return out;
}

class LabelCorrectionRun : public test::RunDirTest {
 protected:
  LabelCorrectionRun() : RunDirTest("mapd_label_correction") {}
};

TEST_F(LabelCorrectionRun, ResumeInTheMiddleOfCorrectionIsBitwiseTheSame) {
  const auto images = test::make_image_set(128);
  const auto inputs = test::noisy_inputs_with_probes(images);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"mapd", "soft"}, {"gmm", "hard"}, {"mapd", "confident"}};
  for (const auto& [method, bootstrap] : cases) {
    SCOPED_TRACE(method + " " + bootstrap);
    auto config = correction_config(5);
    config.label_correction.method = method;
    config.label_correction.bootstrap = bootstrap;
    config.label_correction.gmm_weights = "adaptive";
    const auto full = dir_ / (method + "-" + bootstrap + "-full");
    const auto split = dir_ / (method + "-" + bootstrap + "-split");
    train(config, inputs, full, false);
    auto first = config;
    first.train.epochs = 3;  // stops after the first correction epoch
    first.label_correction.warmup_epochs = 2;
    train(first, inputs, split, false);
    train(config, inputs, split, true);
    const auto a = test::read_losses(full / "dynamics.h5");
    const auto b = test::read_losses(split / "dynamics.h5");
    ASSERT_EQ(a.size(), 5U);
    ASSERT_EQ(b.size(), 5U);
    for (size_t e = 0; e < 5; ++e) EXPECT_EQ(a[e], b[e]) << "epoch " << e;  // bitwise
    const auto sa = read_signals(full), sb = read_signals(split);
    EXPECT_EQ(0, std::memcmp(sa.weight.data(), sb.weight.data(), sa.weight.size() * sizeof(float)));
    EXPECT_EQ(sa.target, sb.target);
    const auto ma = test::metrics_lines(full), mb = test::metrics_lines(split);
    ASSERT_EQ(ma.size(), 5U);
    ASSERT_EQ(mb.size(), 5U);
    for (size_t e = 0; e < 5; ++e) EXPECT_EQ(ma[e]["label_correction"], mb[e]["label_correction"]) << e;
    EXPECT_EQ(ma[1]["label_correction"]["phase"], "warmup");
    EXPECT_EQ(ma[2]["label_correction"]["phase"], "correction");
    EXPECT_GT(ma[3]["label_correction"]["mean_bootstrap_weight"].get<double>(), 0.01);
    EXPECT_EQ(test::read_text(full / "corrected_labels.csv"),
              test::read_text(split / "corrected_labels.csv"));
  }
}

TEST_F(LabelCorrectionRun, CorrectedLabelsRestoreFlippedLabelsOfLearnableData) {
  const auto images = test::make_image_set(512);
  const auto inputs = test::noisy_inputs_with_probes(images);
  auto config = correction_config(10);
  config.label_correction.warmup_epochs = 5;
  config.label_correction.mixup_alpha = 1.0;
  config.label_correction.relabel_threshold = 0.5;
  // Hard targets: on these 480 squares, soft bootstrapping (the default) pulls less and restores
  // 55 of the 120 flipped labels in 10 epochs, hard 60 or more.
  config.label_correction.bootstrap = "hard";
  train(config, inputs, dir_, false);
  std::ifstream in(dir_ / "corrected_labels.csv");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "id,given_label,corrected_label,p_mislabeled,original_label");
  int64_t rows = 0, flipped = 0, restored = 0, clean = 0, clean_changed = 0;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, ',');) f.push_back(cell);
    ASSERT_EQ(f.size(), 5U) << line;
    ++rows;
    const double p = std::stod(f[3]);
    EXPECT_GE(p, 0.0);
    EXPECT_LE(p, 1.0);
    if (f[2] != f[1]) {
      EXPECT_GT(p, 0.5) << line;  // only above relabel_threshold
    }
    if (f[1] != f[4]) {
      ++flipped;
      restored += f[2] == f[4] ? 1 : 0;
    } else {
      ++clean;
      clean_changed += f[2] != f[1] ? 1 : 0;
    }
  }
  EXPECT_EQ(rows, 512 - 32);  // training rows only
  EXPECT_EQ(flipped, 120);
  // The squares are easy to learn: most flipped labels come back, few clean ones change.
  EXPECT_GE(restored, flipped / 2) << restored << " of " << flipped;
  EXPECT_LE(clean_changed, clean / 10) << clean_changed << " of " << clean;
  const auto lines = test::metrics_lines(dir_);
  EXPECT_GT(lines.back()["label_correction"]["estimate"]["recall"].get<double>(), 0.5);

  // Per example and epoch: B = 0 and the given label as target in warm-up; in correction, B of a
  // training row in [1e-4, 1) with the prediction as target where B > 1/2, probes at the clamp.
  const auto signals = read_signals(dir_);
  ASSERT_EQ(signals.epochs, 10);
  const auto& ex = inputs.examples;
  int64_t relabelled = 0;
  for (int64_t e = 0; e < signals.epochs; ++e) {
    std::vector<int64_t> histogram(10, 0);
    for (int64_t i = 0; i < signals.n; ++i) {
      const auto at = static_cast<size_t>(e * signals.n + i);
      const float b = signals.weight[at];
      const bool probe = ex.role[static_cast<size_t>(i)] != static_cast<int8_t>(record::Role::kTrain);
      if (e < 5) {
        EXPECT_EQ(b, 0.0F);
        EXPECT_EQ(signals.target[at], ex.label[static_cast<size_t>(i)]);
      } else if (probe) {
        EXPECT_NEAR(b, kBootstrapClamp, 1e-7);
        EXPECT_EQ(signals.target[at], ex.label[static_cast<size_t>(i)]);
      } else {
        EXPECT_GE(b, static_cast<float>(kBootstrapClamp) * 0.999F);
        EXPECT_LT(b, 1.0F);
        if (b > 0.5F) relabelled += signals.target[at] != ex.label[static_cast<size_t>(i)] ? 1 : 0;
      }
      if (!probe) ++histogram[std::min<size_t>(9, static_cast<size_t>(b * 10.0F))];
    }
    EXPECT_EQ(lines[static_cast<size_t>(e)]["label_correction"]["bootstrap_weight_histogram"],
              nlohmann::json(histogram))
        << "epoch " << e;
  }
  EXPECT_GT(relabelled, 0);
}

TEST_F(LabelCorrectionRun, MethodNoneTrainsWithoutCorrectionAndWritesNoLabels) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::noisy_inputs_with_probes(images);
  auto config = correction_config(3);
  config.label_correction.method = "none";
  train(config, inputs, dir_, false);
  for (const auto& line : test::metrics_lines(dir_)) {
    EXPECT_EQ(line["label_correction"]["phase"], "none");
    EXPECT_EQ(line["label_correction"]["mean_bootstrap_weight"].get<double>(), 0.0);
  }
  EXPECT_FALSE(fsys::exists(dir_ / "corrected_labels.csv"));
}

}  // namespace
}  // namespace mapd::train
