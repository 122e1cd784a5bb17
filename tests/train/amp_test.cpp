#include "mapd/train/amp.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "mapd/core/error.hpp"

namespace mapd::train {
namespace {

TEST(Amp, ParsesModesAndRejectsOthers) {
  EXPECT_EQ(parse_amp_mode("off"), AmpMode::kOff);
  EXPECT_EQ(parse_amp_mode("bf16"), AmpMode::kBf16);
  EXPECT_EQ(parse_amp_mode("fp16"), AmpMode::kFp16);
  EXPECT_THROW(parse_amp_mode("fp8"), ConfigError);
}

TEST(Amp, AutocastGuardIsANoOpOnCpu) {
  AutocastGuard guard(torch::kCPU, AmpMode::kBf16);
  EXPECT_FALSE(guard.active());
  auto y = torch::matmul(torch::ones({2, 2}), torch::ones({2, 2}));
  EXPECT_EQ(y.scalar_type(), torch::kFloat32);
}

TEST(LossScaler, DisabledScalerNeverScalesOrSkips) {
  LossScaler scaler(false);
  auto loss = torch::tensor(2.0F);
  EXPECT_TRUE(torch::equal(scaler.scale_loss(loss), loss));
  EXPECT_TRUE(scaler.unscale_and_check({}));
  EXPECT_DOUBLE_EQ(scaler.scale(), 1.0);
}

TEST(LossScaler, UnscalesGradientsAndBacksOffOnOverflow) {
  LossScaler scaler(true, 1024.0, 2.0, 0.5, 2);
  auto w = torch::ones({3}, torch::requires_grad());
  scaler.scale_loss((w * 3).sum()).backward();
  EXPECT_FLOAT_EQ(w.grad()[0].item<float>(), 3 * 1024.0F);
  EXPECT_TRUE(scaler.unscale_and_check({w}));
  EXPECT_FLOAT_EQ(w.grad()[0].item<float>(), 3.0F);
  scaler.update(true);
  EXPECT_DOUBLE_EQ(scaler.scale(), 1024.0);
  scaler.update(true);
  EXPECT_DOUBLE_EQ(scaler.scale(), 2048.0);  // grows after growth_interval clean steps

  w.mutable_grad() = torch::tensor({1.0F, std::numeric_limits<float>::infinity(), 0.0F});
  EXPECT_FALSE(scaler.unscale_and_check({w}));
  scaler.update(false);
  EXPECT_DOUBLE_EQ(scaler.scale(), 1024.0);
}

}  // namespace
}  // namespace mapd::train
