#include "mapd/train/schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"

namespace mapd::train {
namespace {

TEST(LearningRate, CosineStartsAtBaseHalvesMidwayAndEndsNearMin) {
  config::ScheduleConfig s;
  s.name = "cosine";
  s.min_lr = 0.001;
  EXPECT_DOUBLE_EQ(learning_rate(s, 0.1, 0, 0, 10, 10), 0.1);
  EXPECT_NEAR(learning_rate(s, 0.1, 5, 0, 10, 10), 0.001 + 0.099 * 0.5, 1e-12);
  const double last = learning_rate(s, 0.1, 9, 9, 10, 10);
  EXPECT_GT(last, 0.001);
  EXPECT_LT(last, 0.0015);
  EXPECT_LT(learning_rate(s, 0.1, 3, 4, 10, 10), learning_rate(s, 0.1, 3, 3, 10, 10));  // per-step decay
}

TEST(LearningRate, LinearWarmupRisesToBaseThenFollowsTheSchedule) {
  config::ScheduleConfig s;
  s.name = "cosine";
  s.warmup_epochs = 2;
  EXPECT_DOUBLE_EQ(learning_rate(s, 0.1, 0, 0, 10, 12), 0.1 / 20);
  EXPECT_DOUBLE_EQ(learning_rate(s, 0.1, 0, 9, 10, 12), 0.1 * 10 / 20);
  EXPECT_DOUBLE_EQ(learning_rate(s, 0.1, 1, 9, 10, 12), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(s, 0.1, 2, 0, 10, 12), 0.1);  // cosine starts after warm-up
  EXPECT_NEAR(learning_rate(s, 0.1, 7, 0, 10, 12), 0.05, 1e-12);
}

TEST(LearningRate, MultistepMultipliesByGammaAtEachMilestone) {
  config::ScheduleConfig s;
  s.name = "multistep";
  s.milestones = {100, 250};
  s.gamma = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(s, 0.02, 99, 5, 10, 300), 0.02);
  EXPECT_NEAR(learning_rate(s, 0.02, 100, 0, 10, 300), 0.002, 1e-15);
  EXPECT_NEAR(learning_rate(s, 0.02, 299, 0, 10, 300), 0.0002, 1e-15);
}

TEST(LearningRate, ConstantIsConstantAndPure) {
  config::ScheduleConfig s;
  s.name = "constant";
  for (int64_t e = 0; e < 5; ++e) EXPECT_DOUBLE_EQ(learning_rate(s, 0.3, e, 2, 4, 5), 0.3);
}

TEST(LearningRate, RejectsUnknownScheduleAndBadStepCounts) {
  config::ScheduleConfig s;
  s.name = "step";
  try {
    learning_rate(s, 0.1, 0, 0, 10, 10);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("schedule.name"), std::string::npos);
  }
  s.name = "cosine";
  MAPD_EXPECT_THROW_WITH(learning_rate(s, 0.1, 0, 0, 0, 10), ConfigError,
                         "steps per epoch (0) and epochs (10)");
  MAPD_EXPECT_THROW_WITH(learning_rate(s, 0.1, 0, 0, 10, 0), ConfigError,
                         "steps per epoch (10) and epochs (0)");
}

}  // namespace
}  // namespace mapd::train
