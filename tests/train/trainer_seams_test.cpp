// The Trainer's seams: open / run_epoch / commit_epoch driven by hand, observers, the mode factory.

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/train/mode.hpp"
#include "mapd/train/trainer.hpp"

#include "synthetic.hpp"
#include "test_dir.hpp"

namespace mapd::train {
namespace {

namespace fsys = std::filesystem;

class TrainerSeams : public test::RunDirTest {
 protected:
  TrainerSeams() : RunDirTest("mapd_seams") {}
};

/// Records what it was told, in order.
struct Recorder final : TrainingObserver {
  std::vector<std::string> events;
  std::vector<int64_t> steps_seen;  ///< per epoch: batch_done calls
  std::vector<std::vector<float>> committed;
  int64_t opened_at = -1;
  bool opened_resumed = false;
  int64_t store_epochs_at_open = -1;

  void run_opened(const OpenEvent& e) override {
    events.push_back("open");
    opened_at = e.start_epoch;
    opened_resumed = e.resumed;
    store_epochs_at_open = e.store.complete_epochs();
  }
  void epoch_started(int64_t epoch, int64_t steps) override {
    events.push_back("start " + std::to_string(epoch) + "/" + std::to_string(steps));
    steps_seen.push_back(0);
  }
  void batch_done(const BatchEvent& e) override {
    ASSERT_EQ(e.step, steps_seen.back());
    ++steps_seen.back();
    ASSERT_EQ(e.totals.count, (e.step + 1) * 16);
  }
  void pass_done(int64_t epoch) override { events.push_back("pass " + std::to_string(epoch)); }
  void epoch_committed(const CommitEvent& e) override {
    events.push_back("commit " + std::to_string(e.epoch));
    EXPECT_EQ(e.metrics["epoch"].get<int64_t>(), e.epoch);
    EXPECT_EQ(e.store.complete_epochs(), e.epoch + 1);  // on disk before the observers hear of it
    committed.push_back(e.record.loss);
  }
};

TEST_F(TrainerSeams, ObserversSeeEveryStepAndEveryCommitAfterItIsOnDisk) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(3);
  config.schedule.name = "constant";
  auto first = config;
  first.train.epochs = 2;
  Recorder recorder;
  {
    Trainer trainer(first, inputs, dir_);
    trainer.add_observer(&recorder);
    trainer.run(false);
    EXPECT_EQ(trainer.mode().name(), "standard");
    EXPECT_EQ(trainer.mode().steps_per_epoch(), 6);
  }
  const std::vector<std::string> expected{"open",      "start 0/6", "pass 0",  "commit 0",
                                          "start 1/6", "pass 1",    "commit 1"};
  EXPECT_EQ(recorder.events, expected);
  EXPECT_EQ(recorder.steps_seen, (std::vector<int64_t>{6, 6}));
  EXPECT_EQ(recorder.opened_at, 0);
  EXPECT_FALSE(recorder.opened_resumed);

  Recorder resumed;
  Trainer trainer(config, inputs, dir_);
  trainer.add_observer(&resumed);
  EXPECT_EQ(trainer.run(true).epochs_completed, 3);
  EXPECT_EQ(resumed.opened_at, 2);
  EXPECT_TRUE(resumed.opened_resumed);
  EXPECT_EQ(resumed.store_epochs_at_open, 2);
  ASSERT_EQ(resumed.committed.size(), 1U);

  const auto losses = test::read_losses(dir_ / "dynamics.h5");
  ASSERT_EQ(losses.size(), 3U);
  EXPECT_EQ(recorder.committed[0], losses[0]);
  EXPECT_EQ(recorder.committed[1], losses[1]);
  EXPECT_EQ(resumed.committed[0], losses[2]);
}

TEST_F(TrainerSeams, EpochsDrivenByHandEqualTrainBitwise) {
  const auto images = test::make_image_set(80);
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(3);
  config.record.view = "eval";
  train(config, inputs, dir_ / "whole", false);
  {
    Trainer trainer(config, inputs, dir_ / "by_hand");
    ASSERT_EQ(trainer.open(false), 0);
    for (int64_t epoch = 0; epoch < 3; ++epoch) {
      const auto result = trainer.run_epoch(epoch);
      EXPECT_EQ(result.epoch, epoch);
      EXPECT_EQ(result.record.loss.size(), 80U);
      EXPECT_EQ(result.pass.totals.count, 80);
      trainer.commit_epoch(result);
    }
  }
  EXPECT_EQ(test::read_losses(dir_ / "whole" / "dynamics.h5"),
            test::read_losses(dir_ / "by_hand" / "dynamics.h5"));
}

/// Throws DataError at one step of one epoch.
struct FailAt final : TrainingObserver {
  int64_t epoch, step;
  FailAt(int64_t e, int64_t s) : epoch(e), step(s) {}
  void batch_done(const BatchEvent& e) override {
    if (e.epoch == epoch && e.step == step) throw DataError("observer failed on purpose");
  }
};

TEST_F(TrainerSeams, AnObserverThatThrowsEndsTheRunKeepingCommittedEpochsAndResumeIsExact) {
  const auto images = test::make_image_set(64);
  const auto inputs = test::make_inputs(images);
  const auto config = test::tiny_config(3);
  train(config, inputs, dir_ / "whole", false);
  {
    FailAt fail(1, 2);
    Trainer trainer(config, inputs, dir_ / "failed");
    trainer.add_observer(&fail);
    EXPECT_THROW(
        {
          try {
            trainer.run(false);
          } catch (const DataError& e) {
            EXPECT_STREQ(e.what(), "observer failed on purpose");
            throw;
          }
        },
        DataError);
  }
  EXPECT_EQ(record::DynamicsStore::open_read(dir_ / "failed" / "dynamics.h5").complete_epochs(), 1);
  train(config, inputs, dir_ / "failed", true);
  EXPECT_EQ(test::read_losses(dir_ / "whole" / "dynamics.h5"),
            test::read_losses(dir_ / "failed" / "dynamics.h5"));
}

TEST_F(TrainerSeams, EpochsOutOfOrderAreAnInternalError) {
  const auto images = test::make_image_set(32);
  const auto inputs = test::make_inputs(images);
  Trainer trainer(test::tiny_config(2), inputs, dir_);
  EXPECT_EQ(trainer.open(false), 0);
  try {
    (void)trainer.run_epoch(1);
    FAIL() << "run_epoch(1) before epoch 0 must throw";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("run_epoch(1) but epoch 0 is next"), std::string::npos) << e.what();
  }
}

TEST(TrainingMode, FactoryNamesAnUnknownModeAndView) {
  const auto images = test::make_image_set(16);
  const auto set = data::TrainingSet::from_image_set(images);
  auto config = test::tiny_config(1);
  EXPECT_EQ(make_training_mode(config, set, torch::kCPU)->view(), "online");
  config.train.mode = "bogus";
  try {
    (void)make_training_mode(config, set, torch::kCPU);
    FAIL() << "an unknown mode must throw";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(),
                 "train.mode: unknown mode 'bogus' (expected standard, label_correction or prioritized)");
  }
  config.train.mode = "standard";
  config.record.view = "offline";
  try {
    (void)make_training_mode(config, set, torch::kCPU);
    FAIL() << "an unknown view must throw";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "record.view: unknown view 'offline' (expected online or eval)");
  }
}

}  // namespace
}  // namespace mapd::train
