// Tests that need a CUDA device (CTest label `cuda`). `scripts/test` leaves them out; on a GPU
// machine `ctest -L cuda` runs them (scripts/gpu/check.sh). Without a visible GPU each one skips.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <random>

#include "mapd/core/device.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/dist/collective.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/train/amp.hpp"

#include "../common/scratch_dir.hpp"
#include "../train/synthetic.hpp"

namespace mapd {
namespace {

#define MAPD_REQUIRE_GPU()                                              \
  do {                                                                  \
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device is visible"; \
  } while (false)

const torch::Device kGpu(torch::kCUDA, 0);

TEST(Cuda, BuildSeesTheDevice) {
  MAPD_REQUIRE_GPU();
  const auto info = build_info();
  EXPECT_TRUE(info.cuda_built);
  EXPECT_GE(info.gpus, 1);
  EXPECT_EQ(resolve_device("auto"), kGpu);
  EXPECT_EQ(resolve_device("cuda:0"), kGpu);
}

// dist.backend nccl at world size 1: CUDA tensors go through c10d's NCCL, CPU tensors through
// Gloo, on the GPU the rank's node-local index names.
TEST(Cuda, NcclWorldOfOneReducesCudaTensorsAndGlooTheCpuOnes) {
  MAPD_REQUIRE_GPU();
  ASSERT_TRUE(dist::Collective::nccl_built());
  set_local_device_index(0);
  dist::World world;
  world.master_addr = "127.0.0.1";
  world.launcher = "test";
  const auto group = dist::Collective::connect(world, "nccl", std::chrono::seconds(60), 0);
  EXPECT_EQ(group->backend_name(), "nccl");
  auto x = torch::arange(1000, torch::device(kGpu).dtype(torch::kFloat64));
  group->all_reduce_sum(x);
  EXPECT_TRUE(torch::equal(x.cpu(), torch::arange(1000, torch::kFloat64)));
  group->broadcast(x, 0);
  auto flags = torch::tensor({1, 0}, torch::kInt64);
  group->all_reduce_max(flags);
  EXPECT_EQ(flags[0].item<int64_t>(), 1);
  group->barrier();
}

TEST(Cuda, AutocastBf16AndFp16RunMatmulsInHalfPrecision) {
  MAPD_REQUIRE_GPU();
  const auto a = torch::randn({64, 64}, torch::device(kGpu));
  for (const auto& [mode, dtype] :
       {std::pair{train::AmpMode::kBf16, torch::kBFloat16}, std::pair{train::AmpMode::kFp16, torch::kHalf}}) {
    {
      train::AutocastGuard guard(kGpu, mode);
      EXPECT_TRUE(guard.active());
      EXPECT_EQ(torch::matmul(a, a).scalar_type(), dtype);
    }
    // The guard restores the previous (disabled) state.
    EXPECT_EQ(torch::matmul(a, a).scalar_type(), torch::kFloat32);
  }
}

TEST(Cuda, Fp16LossScalerStepsAndBacksOffOnOverflow) {
  MAPD_REQUIRE_GPU();
  torch::manual_seed(1);
  auto model = torch::nn::Linear(16, 4);
  model->to(kGpu);
  torch::optim::SGD opt(model->parameters(), 0.1);
  train::LossScaler scaler(true, 1024.0, 2.0, 0.5, 1000);
  const auto x = torch::randn({32, 16}, torch::device(kGpu));
  const auto y = torch::randint(0, 4, {32}, torch::dtype(torch::kLong).device(kGpu));
  const auto before = model->weight.detach().clone();
  {
    train::AutocastGuard guard(kGpu, train::AmpMode::kFp16);
    const auto logits = model->forward(x);
    EXPECT_EQ(logits.scalar_type(), torch::kHalf);
    scaler.scale_loss(torch::cross_entropy_loss(logits.to(torch::kFloat), y)).backward();
  }
  ASSERT_TRUE(scaler.unscale_and_check(model->parameters()));
  opt.step();
  EXPECT_FALSE(torch::equal(before, model->weight.detach()));
  EXPECT_TRUE(torch::isfinite(model->weight).all().item<bool>());
  // An infinite gradient is caught on the device and halves the scale.
  opt.zero_grad();
  model->weight.mutable_grad() = torch::full_like(model->weight, INFINITY);
  EXPECT_FALSE(scaler.unscale_and_check(model->parameters()));
  scaler.update(false);
  EXPECT_DOUBLE_EQ(scaler.scale(), 512.0);
}

TEST(Cuda, ResidentBatchesAreGatheredOnTheGpuAndMatchTheHostPath) {
  MAPD_REQUIRE_GPU();
  const auto images = test::make_image_set(90, 4, 12, 3);
  auto set = data::TrainingSet::from_image_set(images);
  data::LoaderOptions opt;
  opt.batch_size = 16;
  opt.seed = 5;
  opt.workers = 0;
  opt.augment_config.crop_padding = 2;
  opt.augment_config.hflip = true;
  opt.device = torch::kCPU;
  data::Loader host(set, opt);
  opt.device = kGpu;
  opt.resident = true;
  data::Loader resident(set, opt);
  host.start_epoch(1);
  resident.start_epoch(1);
  int64_t batches = 0;
  while (auto h = host.next()) {
    auto r = resident.next();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->images.is_cuda());
    EXPECT_TRUE(r->labels.is_cuda());
    EXPECT_TRUE(torch::equal(h->indices, r->indices.cpu()));
    EXPECT_TRUE(torch::equal(h->labels, r->labels.cpu()));
    EXPECT_TRUE(torch::equal(h->images, r->images.cpu())) << "batch " << batches;  // copies and flips only
    ++batches;
  }
  EXPECT_FALSE(resident.next());
  EXPECT_EQ(batches, host.num_batches());
}

TEST(Cuda, TorchKnnBackendOnTheGpuAgreesWithBlas) {
  MAPD_REQUIRE_GPU();
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  knn::FitSet fit;
  fit.dim = 24;
  fit.num_categories = 6;
  for (int64_t i = 0; i < 600; ++i) {
    fit.category.push_back(static_cast<int32_t>(i % 6));
    for (int64_t t = 0; t < fit.dim; ++t) fit.x.push_back(normal(rng) + static_cast<float>(i % 6));
  }
  std::vector<float> q;
  for (int64_t i = 0; i < 500 * fit.dim; ++i) q.push_back(normal(rng) + 2.5F);
  config::KnnConfig options;
  options.k = 20;
  options.backend = "auto";
  const auto blas = knn::TrajectoryKnn(fit, options).predict(q.data(), 500);
  options.backend = "torch:cuda";
  knn::TrajectoryKnn gpu(fit, options);
  EXPECT_EQ(gpu.backend_name().rfind("torch:cuda", 0), 0U) << gpu.backend_name();
  const auto on_gpu = gpu.predict(q.data(), 500);
  EXPECT_EQ(blas.assigned, on_gpu.assigned);
  EXPECT_EQ(blas.prob, on_gpu.prob);
}

TEST(Cuda, TrainsAndRecordsOnTheGpuWithBf16) {
  MAPD_REQUIRE_GPU();
  const auto dir = test::scratch_dir("mapd_cuda_test_", "train");
  const auto images = test::make_image_set(256);
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(3);
  config.train.device = "cuda";
  config.train.amp = "bf16";
  const auto summary = train::train(config, inputs, dir, false);
  EXPECT_EQ(summary.epochs_completed, 3);
  const auto losses = test::read_losses(dir / "dynamics.h5");
  ASSERT_EQ(losses.size(), 3U);
  double first = 0;
  double last = 0;
  for (size_t i = 0; i < losses[0].size(); ++i) {
    ASSERT_TRUE(std::isfinite(losses[0][i]) && std::isfinite(losses[2][i])) << "example " << i;
    first += losses[0][i];
    last += losses[2][i];
  }
  EXPECT_LT(last, first);  // it learns
}

}  // namespace
}  // namespace mapd
