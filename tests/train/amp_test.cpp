#include "mapd/train/amp.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"

namespace mapd::train {
namespace {

TEST(Amp, ParsesModesAndRejectsOthers) {
  EXPECT_EQ(parse_amp_mode("off"), AmpMode::kOff);
  EXPECT_EQ(parse_amp_mode("bf16"), AmpMode::kBf16);
  EXPECT_EQ(parse_amp_mode("fp16"), AmpMode::kFp16);
  MAPD_EXPECT_THROW_WITH(parse_amp_mode("fp8"), ConfigError, "train.amp", "'fp8'");
}

// Autocast's state is thread-local flags that need no GPU to set and read, so the guard's
// bookkeeping is tested here on any machine; tests/cuda checks that the matmuls then run in bf16/fp16.
TEST(Amp, AutocastGuardLeavesAutocastOffOnCpuAndWithAmpOff) {
  {
    AutocastGuard guard(torch::kCPU, AmpMode::kBf16);
    EXPECT_FALSE(guard.active());
    EXPECT_FALSE(detail::cuda_autocast_enabled());
    EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  }
  AutocastGuard off(torch::Device(torch::kCUDA, 0), AmpMode::kOff);
  EXPECT_FALSE(off.active());
  EXPECT_FALSE(detail::cuda_autocast_enabled());
}

TEST(Amp, AutocastGuardSetsCudaAutocastAndRestoresTheOuterState) {
  const auto outer_dtype = detail::cuda_autocast_dtype();
  {
    AutocastGuard bf16(torch::Device(torch::kCUDA, 0), AmpMode::kBf16);
    EXPECT_TRUE(bf16.active());
    EXPECT_TRUE(detail::cuda_autocast_enabled());
    EXPECT_EQ(detail::cuda_autocast_dtype(), at::kBFloat16);
    EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));  // CPU ops stay fp32
    {
      AutocastGuard fp16(torch::Device(torch::kCUDA, 0), AmpMode::kFp16);
      EXPECT_EQ(detail::cuda_autocast_dtype(), at::kHalf);
    }
    EXPECT_TRUE(detail::cuda_autocast_enabled());
    EXPECT_EQ(detail::cuda_autocast_dtype(), at::kBFloat16);
  }
  EXPECT_FALSE(detail::cuda_autocast_enabled());
  EXPECT_EQ(detail::cuda_autocast_dtype(), outer_dtype);
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

TEST(LossScaler, RestoredCleanStepsCountTowardsTheNextGrowth) {
  LossScaler scaler(true, 1024.0, 2.0, 0.5, 3);
  scaler.update(true);
  scaler.update(true);
  EXPECT_EQ(scaler.clean_steps(), 2);
  LossScaler restored(true, 1.0, 2.0, 0.5, 3);
  restored.set_scale(scaler.scale(), scaler.clean_steps());  // as a checkpoint restores it
  restored.update(true);
  EXPECT_DOUBLE_EQ(restored.scale(), 2048.0);  // the third clean step in a row, as without the stop
  EXPECT_EQ(restored.clean_steps(), 0);
}

}  // namespace
}  // namespace mapd::train
