#include "mapd/record/derived_scores.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "test_util.hpp"

namespace mapd::record {
namespace {

using testing::make_examples;
using testing::make_meta;
using testing::TempDir;

/// Four training examples (labels 0, 1, 2, 3) and two probes, over five epochs. Per example and
/// epoch: the predicted class, the probability of the label, the margin and el2n; loss = -log p.
struct Trajectories {
  std::vector<std::vector<int32_t>> pred;  // [epoch][column]
  std::vector<std::vector<float>> prob;    // [epoch][column]
  std::vector<std::vector<float>> margin;  // [epoch][column]
  std::vector<std::vector<float>> el2n;    // [epoch][column]
};

Trajectories example_trajectories() {
  Trajectories t;
  // Example 0 (label 0): learned at epoch 1, forgotten at 3, relearned at 4: one event.
  // Example 1 (label 1): right from epoch 0 on: no event, first_correct 0.
  // Example 2 (label 2): never right (always predicted 5): no event, first_correct -1.
  // Example 3 (label 3): right, wrong, right, wrong, right: two events.
  // Columns 4 and 5 are probes (not scored).
  t.pred = {
      {7, 1, 5, 3, 0, 0}, {0, 1, 5, 4, 0, 0}, {0, 1, 5, 3, 0, 0}, {6, 1, 5, 4, 0, 0}, {0, 1, 5, 3, 0, 0}};
  t.prob = {{0.1F, 0.6F, 0.05F, 0.5F, 0.5F, 0.5F},
            {0.5F, 0.7F, 0.05F, 0.2F, 0.5F, 0.5F},
            {0.6F, 0.8F, 0.05F, 0.5F, 0.5F, 0.5F},
            {0.2F, 0.9F, 0.05F, 0.2F, 0.5F, 0.5F},
            {0.7F, 1.0F, 0.05F, 0.5F, 0.5F, 0.5F}};
  t.margin = {{-1.0F, 1.0F, -3.0F, 0.5F, 0, 0},
              {0.5F, 2.0F, -3.0F, -0.5F, 0, 0},
              {1.0F, 3.0F, -3.0F, 0.5F, 0, 0},
              {-0.5F, 4.0F, -3.0F, -0.5F, 0, 0},
              {2.0F, 5.0F, -3.0F, 0.5F, 0, 0}};
  t.el2n = {{1.0F, 0.5F, 1.3F, 0.6F, 0, 0},
            {0.6F, 0.3F, 1.3F, 1.0F, 0, 0},
            {0.5F, 0.2F, 1.3F, 0.6F, 0, 0},
            {0.9F, 0.1F, 1.3F, 1.0F, 0, 0},
            {0.4F, 0.0F, 1.3F, 0.6F, 0, 0}};
  return t;
}

void write_run(const std::filesystem::path& path, const Trajectories& t, bool signals) {
  auto meta = make_meta("fp32");
  if (signals) meta.signals = {SignalSpec{"margin", false}, SignalSpec{"el2n", false}};
  auto store = DynamicsStore::create(path, meta, make_examples(6, /*probes=*/2));
  for (size_t e = 0; e < t.pred.size(); ++e) {
    std::vector<float> loss;
    for (const float p : t.prob[e]) loss.push_back(-std::log(p));
    std::vector<SignalRow> rows;
    if (signals) rows = {SignalRow{t.margin[e], {}}, SignalRow{t.el2n[e], {}}};
    store.append_epoch(loss.data(), t.pred[e].data(), t.prob[e].data(), rows);
  }
}

TEST(DerivedScores, ForgettingAumEl2nAndCartographyByHand) {
  TempDir dir;
  const auto t = example_trajectories();
  write_run(dir / "dynamics.h5", t, /*signals=*/true);
  const auto store = DynamicsStore::open_read(dir / "dynamics.h5");
  const auto s = derive_scores(store, DerivedOptions{/*early_epochs=*/2, /*block=*/3});

  ASSERT_EQ(s.size(), 4);
  EXPECT_EQ(s.column, (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(s.epochs, 5);
  EXPECT_EQ(s.early_epochs, 2);
  EXPECT_TRUE(s.has_margin);
  EXPECT_TRUE(s.has_el2n);
  EXPECT_EQ(s.forgetting, (std::vector<int32_t>{1, 0, 0, 2}));
  EXPECT_EQ(s.first_correct, (std::vector<int32_t>{1, 0, -1, 0}));
  EXPECT_EQ(s.last_pred, (std::vector<int32_t>{0, 1, 5, 3}));
  EXPECT_NEAR(s.aum[0], (-1.0 + 0.5 + 1.0 - 0.5 + 2.0) / 5, 1e-6);
  EXPECT_NEAR(s.aum[1], 3.0, 1e-6);
  EXPECT_NEAR(s.aum[2], -3.0, 1e-6);
  EXPECT_NEAR(s.el2n[0], (1.0 + 0.6) / 2, 1e-6);  // the first two epochs only
  EXPECT_NEAR(s.el2n[3], (0.6 + 1.0) / 2, 1e-6);
  // Cartography: confidence = mean p, variability = population std of p, correctness = share right.
  EXPECT_NEAR(s.confidence[0], (0.1 + 0.5 + 0.6 + 0.2 + 0.7) / 5, 1e-6);
  const double m0 = (0.1 + 0.5 + 0.6 + 0.2 + 0.7) / 5;
  double v0 = 0;
  for (const double p : {0.1, 0.5, 0.6, 0.2, 0.7}) v0 += (p - m0) * (p - m0);
  EXPECT_NEAR(s.variability[0], std::sqrt(v0 / 5), 1e-6);
  EXPECT_NEAR(s.variability[2], 0.0, 1e-6);
  EXPECT_NEAR(s.correctness[0], 3.0 / 5, 1e-6);
  EXPECT_NEAR(s.correctness[1], 1.0, 1e-6);
  EXPECT_NEAR(s.correctness[2], 0.0, 1e-6);
  EXPECT_NEAR(s.mean_loss[2], -std::log(0.05), 1e-5);

  // The block size only changes how the file is read.
  const auto whole = derive_scores(store, DerivedOptions{2, 1000});
  EXPECT_EQ(whole.forgetting, s.forgetting);
  EXPECT_EQ(whole.aum, s.aum);
  EXPECT_EQ(whole.variability, s.variability);

  // Default early epochs: the first fifth of the committed ones, at least one.
  EXPECT_EQ(derive_scores(store).early_epochs, 1);
  EXPECT_EQ(derive_scores(store, DerivedOptions{50, 7}).early_epochs, 5);
}

TEST(DerivedScores, AnEpochRangeScoresOnlyItsEpochs) {
  TempDir dir;
  write_run(dir / "dynamics.h5", example_trajectories(), /*signals=*/true);
  const auto store = DynamicsStore::open_read(dir / "dynamics.h5");
  DerivedOptions options;
  options.epoch_begin = 1;
  options.epoch_end = 4;
  const auto s = derive_scores(store, options);
  EXPECT_EQ(s.epoch_begin, 1);
  EXPECT_EQ(s.epochs, 3);
  // Example 3 over epochs 1-3: wrong, right, wrong: one event; first right at epoch 2 (absolute).
  EXPECT_EQ(s.forgetting[3], 1);
  EXPECT_EQ(s.first_correct[3], 2);
  EXPECT_EQ(s.first_correct[0], 1);
  EXPECT_NEAR(s.aum[1], 3.0, 1e-6);
  EXPECT_NEAR(s.el2n[0], 0.6, 1e-6);  // early epochs count from the range's first
  options.epoch_end = 6;
  EXPECT_THROW((void)derive_scores(store, options), IoError);
}

TEST(DerivedScores, UnrecordedEpochsCountForNothing) {
  TempDir dir;
  auto t = example_trajectories();
  // Example 0 unreadable from epoch 2 on (loss NaN, pred -1); example 3 never read.
  for (size_t e = 0; e < t.pred.size(); ++e) {
    if (e >= 2) {
      t.pred[e][0] = -1;
      t.prob[e][0] = std::nanf("");
      t.margin[e][0] = std::nanf("");
    }
    t.pred[e][3] = -1;
    t.prob[e][3] = std::nanf("");
    t.margin[e][3] = std::nanf("");
    t.el2n[e][3] = std::nanf("");
  }
  write_run(dir / "dynamics.h5", t, /*signals=*/true);
  const auto s = derive_scores(DynamicsStore::open_read(dir / "dynamics.h5"));
  EXPECT_NEAR(s.confidence[0], (0.1 + 0.5) / 2, 1e-6);
  EXPECT_NEAR(s.correctness[0], 0.5, 1e-6);
  EXPECT_NEAR(s.aum[0], (-1.0 + 0.5) / 2, 1e-6);
  EXPECT_EQ(s.last_pred[0], 0);
  EXPECT_TRUE(std::isnan(s.confidence[3]));
  EXPECT_TRUE(std::isnan(s.aum[3]));
  EXPECT_TRUE(std::isnan(s.el2n[3]));
  EXPECT_EQ(s.forgetting[3], 0);
  EXPECT_EQ(s.first_correct[3], -1);
  EXPECT_EQ(s.last_pred[3], -1);
}

TEST(DerivedScores, FilesWithoutMarginGiveNaNAumAndEl2n) {
  TempDir dir;
  write_run(dir / "dynamics.h5", example_trajectories(), /*signals=*/false);
  const auto s = derive_scores(DynamicsStore::open_read(dir / "dynamics.h5"));
  EXPECT_FALSE(s.has_margin);
  EXPECT_FALSE(s.has_el2n);
  EXPECT_TRUE(std::isnan(s.aum[0]));
  EXPECT_TRUE(std::isnan(s.el2n[0]));
  EXPECT_EQ(s.forgetting, (std::vector<int32_t>{1, 0, 0, 2}));
}

TEST(DerivedScores, NoCommittedEpochIsADataError) {
  TempDir dir;
  { (void)DynamicsStore::create(dir / "dynamics.h5", make_meta("fp32"), make_examples(6, 2)); }
  try {
    (void)derive_scores(DynamicsStore::open_read(dir / "dynamics.h5"));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no committed epoch"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mapd::record
