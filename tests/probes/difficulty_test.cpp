#include "mapd/probes/difficulty.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <numeric>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"
#include "synthetic.hpp"

namespace mapd::probes {
namespace {

using testing::make_image_set;
using testing::temp_dir;

/// 2 well separated classes (dark vs bright); every 10th example has its label flipped: those are
/// the planted hard examples, the rest are easy.
data::ImageSet planted_set(std::vector<bool>& hard) {
  auto set = make_image_set(400, 2, 1, 8, 8, 3);
  hard.assign(400, false);
  for (size_t i = 0; i < 400; i += 10) {
    set.examples.label[i] = 1 - set.examples.label[i];
    hard[i] = true;
  }
  return set;
}

config::RunConfig small_config() {
  config::RunConfig config;
  config.model.arch = "small_cnn";
  config.model.width = 8;
  config.train.batch_size = 32;
  config.train.device = "cpu";
  config.train.threads = 1;
  config.optimizer.lr = 0.05;
  config.data.workers = 0;
  config.probes.holdout_models = 2;
  config.probes.holdout_epochs = 3;
  config.probes.pilot_epochs = 3;
  return config;
}

/// Probability that a random easy example outranks a random hard one (AUROC).
double auroc(const std::vector<double>& easiness, const std::vector<bool>& hard) {
  double wins = 0.0;
  double pairs = 0.0;
  for (size_t i = 0; i < easiness.size(); ++i) {
    if (hard[i]) continue;
    for (size_t j = 0; j < easiness.size(); ++j) {
      if (!hard[j]) continue;
      wins += easiness[i] > easiness[j] ? 1.0 : (easiness[i] == easiness[j] ? 0.5 : 0.0);
      pairs += 1.0;
    }
  }
  return wins / pairs;
}

TEST(Difficulty, HoldoutRanksPlantedEasyAboveHard) {
  std::vector<bool> hard;
  const auto set = planted_set(hard);
  const auto scores = holdout_scores(small_config(), set, 2, 3, 5);
  ASSERT_EQ(scores.size(), 400U);
  for (auto s : scores) {
    EXPECT_GE(s, 0.0);
    EXPECT_LE(s, 1.0);
  }
  EXPECT_GT(auroc(scores, hard), 0.95);
}

TEST(Difficulty, LearningSpeedRanksPlantedEasyAboveHard) {
  std::vector<bool> hard;
  const auto set = planted_set(hard);
  const auto scores = learning_speed_scores(small_config(), set, 3, 5);
  ASSERT_EQ(scores.size(), 400U);
  EXPECT_GT(auroc(scores, hard), 0.95);
}

TEST(Difficulty, EstimatedScoresAreCachedInTheRunDirectory) {
  std::vector<bool> hard;
  const auto set = planted_set(hard);
  const auto dir = temp_dir("difficulty_cache");
  auto config = small_config();
  config.probes.difficulty = "learning_speed";
  config.probes.pilot_epochs = 1;
  const auto first = compute_difficulty(config, set, dir);
  EXPECT_FALSE(first.from_cache);
  EXPECT_TRUE(std::filesystem::exists(dir / "difficulty_scores.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir / "difficulty_scores.json"));
  // The json also says which share of the labels the pilot doubts (below chance), per class.
  const auto meta = nlohmann::json::parse(std::ifstream(dir / "difficulty_scores.json"));
  const auto doubt = below_chance(first.easiness, set.examples.label, set.num_classes());
  EXPECT_NEAR(meta["below_chance"]["share"].get<double>(), doubt.share, 1e-12);
  EXPECT_EQ(meta["below_chance"]["per_class"].size(), static_cast<size_t>(set.num_classes()));
  const auto second = compute_difficulty(config, set, dir);
  EXPECT_TRUE(second.from_cache);
  ASSERT_EQ(second.easiness.size(), first.easiness.size());
  for (size_t i = 0; i < first.easiness.size(); ++i) EXPECT_NEAR(second.easiness[i], first.easiness[i], 1e-6);
  // Another config (or other labels) invalidates the cache.
  config.optimizer.lr = 0.01;
  EXPECT_FALSE(compute_difficulty(config, set, dir).from_cache);
  auto relabelled = set;
  relabelled.examples.label[1] = 0;
  EXPECT_FALSE(compute_difficulty(config, relabelled, dir).from_cache);
}

TEST(Difficulty, BelowChanceCountsDoubtfulLabelsOverallAndPerClass) {
  // 4 classes: chance = 0.25. Class 0: 1 of 2 below; class 1: 0 of 1; class 2: 2 of 2; class 3: none.
  const std::vector<double> scores = {0.1, 0.9, 0.25, 0.0, 0.24};
  const std::vector<int64_t> labels = {0, 0, 1, 2, 2};
  const auto doubt = below_chance(scores, labels, 4);
  EXPECT_DOUBLE_EQ(doubt.chance, 0.25);
  EXPECT_DOUBLE_EQ(doubt.share, 3.0 / 5.0);
  EXPECT_EQ(doubt.per_class, (std::vector<double>{0.5, 0.0, 1.0, 0.0}));
  // Labels and class count come from the same dataset (data::class_count): a mismatch is a bug.
  try {
    (void)below_chance(scores, {0, 0, 1, 2, 4}, 4);
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("below_chance: label 4 outside [0, 4)"), std::string::npos)
        << e.what();
  }
  try {
    (void)below_chance(scores, {0, 0}, 4);
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("got 5 scores, 2 labels and 4 classes"), std::string::npos)
        << e.what();
  }
}

TEST(Difficulty, SpearmanOfRankings) {
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 1, 2, 2}, {1, 1, 2, 2}), 1.0, 1e-12);
  EXPECT_THROW((void)spearman({1, 2, 3}, {1, 2}), InternalError);
}

}  // namespace
}  // namespace mapd::probes
