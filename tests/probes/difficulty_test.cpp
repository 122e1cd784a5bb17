#include "mapd/probes/difficulty.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <numeric>

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

TEST(Difficulty, SpearmanOfRankings) {
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {10, 20, 30, 40}), 1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  EXPECT_NEAR(spearman({1, 1, 2, 2}, {1, 1, 2, 2}), 1.0, 1e-12);
}

}  // namespace
}  // namespace mapd::probes
