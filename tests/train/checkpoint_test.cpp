#include "mapd/train/checkpoint.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/models/models.hpp"

#include "../common/expect_error.hpp"

namespace mapd::train {
namespace {

namespace fsys = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fsys::temp_directory_path() / ("mapd_ckpt_" + std::to_string(::getpid()));
    fsys::create_directories(dir_);
  }
  void TearDown() override { fsys::remove_all(dir_); }
  fsys::path dir_;
};

models::Classifier model_with_seed(int seed) {
  torch::manual_seed(seed);
  config::ModelConfig cfg;
  cfg.width = 4;
  return models::make_model(cfg, 1, 3);
}

void one_step(models::ClassifierImpl& model, torch::optim::Optimizer& opt) {
  opt.zero_grad();
  model.forward(torch::rand({4, 1, 8, 8})).sum().backward();
  opt.step();
}

TEST_F(CheckpointTest, RoundTripRestoresModelOptimizerEpochConfigAndRng) {
  auto a = model_with_seed(1);
  torch::optim::SGD opt_a(a->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  one_step(*a, opt_a);
  const auto path = dir_ / "checkpoints" / "last.pt";
  save_checkpoint(path, *a, opt_a, CheckpointInfo{3, R"({"x":1})", 256.0, 17, 5, 2});
  const auto expected_draw = torch::rand({5});

  auto b = model_with_seed(2);
  torch::optim::SGD opt_b(b->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  one_step(*b, opt_b);
  const auto info = load_checkpoint(path, *b, opt_b);
  EXPECT_EQ(info.epoch, 3);
  EXPECT_EQ(info.config_json, R"({"x":1})");
  EXPECT_DOUBLE_EQ(info.loss_scale, 256.0);
  EXPECT_EQ(info.loss_scale_clean_steps, 17);
  EXPECT_EQ(info.steps, 5);
  EXPECT_EQ(info.world_size, 2);
  const auto peeked = read_checkpoint_info(path);  // the same info without loading the tensors
  EXPECT_EQ(peeked.epoch, 3);
  EXPECT_EQ(peeked.loss_scale_clean_steps, 17);
  EXPECT_EQ(peeked.steps, 5);
  EXPECT_TRUE(torch::equal(torch::rand({5}), expected_draw));  // CPU generator restored

  auto pa = a->named_parameters();
  for (const auto& kv : b->named_parameters())
    EXPECT_TRUE(torch::equal(kv.value(), pa[kv.key()])) << kv.key();
  auto ba = a->named_buffers();
  for (const auto& kv : b->named_buffers()) EXPECT_TRUE(torch::equal(kv.value(), ba[kv.key()])) << kv.key();
  // Same momentum buffers: one more identical step keeps them identical.
  torch::manual_seed(9);
  one_step(*a, opt_a);
  torch::manual_seed(9);
  one_step(*b, opt_b);
  pa = a->named_parameters();
  for (const auto& kv : b->named_parameters())
    EXPECT_TRUE(torch::equal(kv.value(), pa[kv.key()])) << kv.key();
}

TEST_F(CheckpointTest, MissingTruncatedOrMismatchedCheckpointIsAnIoErrorNamingThePath) {
  auto model = model_with_seed(1);
  torch::optim::SGD opt(model->parameters(), torch::optim::SGDOptions(0.1));
  const auto path = dir_ / "last.pt";
  try {
    load_checkpoint(path, *model, opt);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos);
  }
  save_checkpoint(path, *model, opt, CheckpointInfo{1, "{}", 1.0});
  const auto bytes = fs::read_file(path);
  fs::write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  MAPD_EXPECT_THROW_WITH(load_checkpoint(path, *model, opt), IoError, path.string());

  save_checkpoint(path, *model, opt, CheckpointInfo{1, "{}", 1.0});
  config::ModelConfig wide;
  wide.width = 8;
  auto other = models::make_model(wide, 1, 3);
  torch::optim::SGD opt_other(other->parameters(), torch::optim::SGDOptions(0.1));
  MAPD_EXPECT_THROW_WITH(load_checkpoint(path, *other, opt_other), IoError, path.string(), "model.*");
}

TEST_F(CheckpointTest, AtomicWriteLeavesNoTemporaryFiles) {
  auto model = model_with_seed(1);
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(1e-3));
  one_step(*model, opt);
  save_checkpoint(dir_ / "last.pt", *model, opt, CheckpointInfo{1, "{}", 1.0});
  save_checkpoint(dir_ / "last.pt", *model, opt, CheckpointInfo{2, "{}", 1.0});
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fsys::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1);
  auto again = model_with_seed(1);
  torch::optim::AdamW opt_again(again->parameters(), torch::optim::AdamWOptions(1e-3));
  EXPECT_EQ(load_checkpoint(dir_ / "last.pt", *again, opt_again).epoch, 2);
}

}  // namespace
}  // namespace mapd::train
