// A stop signal mid-epoch writes a step checkpoint; `mapd resume` continues the epoch from that
// step, and the run ends bitwise as an uninterrupted one (issue 15 item 3).
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/train/checkpoint.hpp"
#include "mapd/train/learner.hpp"

#include "../dist/free_port.hpp"
#include "synthetic.hpp"
#include "test_dir.hpp"

namespace mapd::train {
namespace {

namespace fsys = std::filesystem;

/// The steps each epoch trained in this process (from batch_done).
class StepCounter final : public TrainingObserver {
 public:
  void batch_done(const BatchEvent& event) override { ++steps[event.epoch]; }
  std::map<int64_t, int64_t> steps;
};

/// Expects the committed rows of two trajectory files to hold the same bits: loss, probability of
/// the label, prediction and every extra signal.
void expect_same_dynamics(const fsys::path& a, const fsys::path& b) {
  SCOPED_TRACE(a.string() + " vs " + b.string());
  const auto sa = record::DynamicsStore::open_read(a);
  const auto sb = record::DynamicsStore::open_read(b);
  ASSERT_EQ(sa.complete_epochs(), sb.complete_epochs());
  ASSERT_EQ(sa.num_examples(), sb.num_examples());
  const int64_t n = sa.num_examples(), e = sa.complete_epochs();
  const auto size = static_cast<size_t>(n * e);
  std::vector<float> fa(size), fb(size);
  std::vector<int32_t> ia(size), ib(size);
  sa.read_losses(0, n, 0, e, fa.data());
  sb.read_losses(0, n, 0, e, fb.data());
  EXPECT_EQ(0, std::memcmp(fa.data(), fb.data(), size * sizeof(float))) << "loss";
  sa.read_true_probs(0, n, 0, e, fa.data());
  sb.read_true_probs(0, n, 0, e, fb.data());
  EXPECT_EQ(0, std::memcmp(fa.data(), fb.data(), size * sizeof(float))) << "true_prob";
  sa.read_preds(0, n, 0, e, ia.data());
  sb.read_preds(0, n, 0, e, ib.data());
  EXPECT_EQ(ia, ib) << "pred";
  ASSERT_EQ(sa.meta().signals.size(), sb.meta().signals.size());
  for (const auto& signal : sa.meta().signals) {
    if (signal.classes) {
      sa.read_signal_classes(signal.name, 0, n, 0, e, ia.data());
      sb.read_signal_classes(signal.name, 0, n, 0, e, ib.data());
      EXPECT_EQ(ia, ib) << signal.name;
    } else {
      sa.read_signal_values(signal.name, 0, n, 0, e, fa.data());
      sb.read_signal_values(signal.name, 0, n, 0, e, fb.data());
      EXPECT_EQ(0, std::memcmp(fa.data(), fb.data(), size * sizeof(float))) << signal.name;
    }
  }
}

/// A metrics line without its wall times.
nlohmann::json without_wall_times(nlohmann::json line) {
  line.erase("img_s");
  line.erase("seconds");
  if (line.contains("prioritized")) {
    line["prioritized"].erase("seconds");
    line["prioritized"].erase("irreducible_loss_seconds");
  }
  return line;
}

/// Expects two runs' dynamics, metrics lines (but wall times) and last checkpoints (parameters and
/// buffers) to be the same bits.
void expect_same_run(const config::RunConfig& config, const fsys::path& a, const fsys::path& b,
                     const std::string& dynamics = "dynamics.h5") {
  expect_same_dynamics(a / dynamics, b / dynamics);
  const auto ma = test::metrics_lines(a), mb = test::metrics_lines(b);
  ASSERT_EQ(ma.size(), mb.size());
  ASSERT_EQ(ma.size(), static_cast<size_t>(config.train.epochs));
  for (size_t e = 0; e < ma.size(); ++e) {
    EXPECT_EQ(without_wall_times(ma[e]), without_wall_times(mb[e])) << "metrics line " << e;
  }
  Learner la(config, 1, 4, torch::kCPU), lb(config, 1, 4, torch::kCPU);
  EXPECT_EQ(load_checkpoint(a / "checkpoints" / "last.pt", la.model(), la.optimizer()).epoch,
            config.train.epochs);
  EXPECT_EQ(load_checkpoint(b / "checkpoints" / "last.pt", lb.model(), lb.optimizer()).epoch,
            config.train.epochs);
  const auto pa = la.model().named_parameters(), pb = lb.model().named_parameters();
  for (const auto& kv : pa) EXPECT_TRUE(torch::equal(kv.value(), pb[kv.key()])) << kv.key();
  const auto ba = la.model().named_buffers(), bb = lb.model().named_buffers();
  for (const auto& kv : ba) EXPECT_TRUE(torch::equal(kv.value(), bb[kv.key()])) << kv.key();
}

bool has_step_checkpoint(const fsys::path& run_dir) {
  return fsys::exists(run_dir / "checkpoints" / "step.pt");
}

/// Expects no file of a step checkpoint of one process in `run_dir` (removed once its epoch committed).
void expect_no_step_checkpoint(const fsys::path& run_dir) {
  EXPECT_FALSE(has_step_checkpoint(run_dir));
  EXPECT_FALSE(fsys::exists(run_dir / "checkpoints" / "step.rank-0.pt"));
}

class StepCheckpoint : public test::RunDirTest {
 protected:
  StepCheckpoint() : RunDirTest("mapd_step_checkpoint") {}

  /// Trains `config` into `run_dir` until SIGUSR1 after step `step` of epoch `epoch`; the message.
  static std::string stop_at(const config::RunConfig& config, const TrainInputs& inputs,
                             const fsys::path& run_dir, int64_t epoch, int64_t step) {
    Trainer trainer(config, inputs, run_dir);
    test::SignalAtStep signal(epoch, step);
    trainer.add_observer(&signal);
    try {
      trainer.run(false);
    } catch (const InterruptedError& e) {
      EXPECT_EQ(static_cast<int>(e.exit_code()), 128 + SIGUSR1);
      return e.what();
    }
    ADD_FAILURE() << "expected InterruptedError";
    return {};
  }

  /// Resumes `run_dir`; the steps each epoch trained.
  static std::map<int64_t, int64_t> resume(const config::RunConfig& config, const TrainInputs& inputs,
                                           const fsys::path& run_dir) {
    Trainer trainer(config, inputs, run_dir);
    StepCounter counter;
    trainer.add_observer(&counter);
    EXPECT_EQ(trainer.run(true).epochs_completed, config.train.epochs);
    return counter.steps;
  }
};

// (a) One process, standard mode, both views, with a test set: the stopped epoch goes on from the
// step after the signal, and nothing differs from an uninterrupted run.
TEST_F(StepCheckpoint, SigusrOneMidEpochContinuesFromThatStepBitwise) {
  const auto images = test::make_image_set(96);
  const auto test_images = test::make_image_set(32, 4, 12, 99);
  const auto inputs = test::make_inputs(images, &test_images);
  for (const std::string view : {"online", "eval"}) {
    SCOPED_TRACE(view);
    auto config = test::tiny_config(3);  // 6 steps per epoch
    config.data.augment.hflip = true;
    config.record.view = view;
    const auto full = dir_ / (view + "-full"), split = dir_ / (view + "-split");
    train(config, inputs, full, false);
    const auto message = stop_at(config, inputs, split, 1, 2);
    EXPECT_NE(message.find("SIGUSR1"), std::string::npos) << message;
    EXPECT_NE(message.find("stopped after step 3 of 6 of epoch 2/3"), std::string::npos) << message;
    EXPECT_NE(message.find("1 complete epoch(s) are saved"), std::string::npos) << message;
    EXPECT_NE(message.find("`mapd resume " + split.string() + "` continues from that step"),
              std::string::npos)
        << message;
    EXPECT_TRUE(has_step_checkpoint(split));
    EXPECT_TRUE(fsys::exists(split / "checkpoints" / "step.rank-0.pt"));
    EXPECT_EQ(record::DynamicsStore::open_read(split / "dynamics.h5").complete_epochs(), 1);
    EXPECT_EQ(test::metrics_lines(split).size(), 1U);
    const auto info = read_checkpoint_info(split / "checkpoints" / "step.pt");
    EXPECT_EQ(info.epoch, 1);
    EXPECT_EQ(info.steps, 3);
    EXPECT_EQ(info.world_size, 1);

    const auto steps = resume(config, inputs, split);
    EXPECT_EQ(steps, (std::map<int64_t, int64_t>{{1, 3}, {2, 6}}));  // continued, not redone
    expect_no_step_checkpoint(split);
    expect_same_run(config, full, split);
  }
}

/// Raises SIGUSR1 once the training pass of epoch `epoch` is done: the eval pass (record.view=eval)
/// or the test pass after it sees the stop.
class SignalAfterPass final : public TrainingObserver {
 public:
  explicit SignalAfterPass(int64_t epoch) : epoch_(epoch) {}
  void pass_done(int64_t epoch) override {
    if (epoch == epoch_) std::raise(SIGUSR1);
  }

 private:
  int64_t epoch_;
};

// A stop in the pass after training (the eval view's recording pass, the test pass) keeps the
// trained steps; the continued epoch trains nothing more and redoes only that pass.
TEST_F(StepCheckpoint, AStopAfterTheTrainingPassRedoesOnlyThePassAfterIt) {
  const auto images = test::make_image_set(96);
  const auto test_images = test::make_image_set(32, 4, 12, 99);
  const auto inputs = test::make_inputs(images, &test_images);
  for (const std::string view : {"online", "eval"}) {
    SCOPED_TRACE(view);
    auto config = test::tiny_config(3);
    config.record.view = view;
    const auto full = dir_ / (view + "-full"), split = dir_ / (view + "-split");
    train(config, inputs, full, false);
    {
      Trainer trainer(config, inputs, split);
      SignalAfterPass signal(1);
      trainer.add_observer(&signal);
      try {
        trainer.run(false);
        ADD_FAILURE() << "expected InterruptedError";
      } catch (const InterruptedError& e) {
        EXPECT_NE(std::string(e.what()).find("stopped after step 6 of 6 of epoch 2/3"), std::string::npos)
            << e.what();
      }
    }
    EXPECT_EQ(resume(config, inputs, split), (std::map<int64_t, int64_t>{{2, 6}}));
    expect_no_step_checkpoint(split);
    expect_same_run(config, full, split);
  }
}

// A stop in the first epoch leaves no epoch checkpoint, only the step checkpoint: resume goes on
// from it (`mapd train` into that directory is refused: tests/pipeline).
TEST_F(StepCheckpoint, AStopInTheFirstEpochContinuesFromItsStep) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(2);
  train(config, inputs, dir_ / "full", false);
  stop_at(config, inputs, dir_ / "split", 0, 4);
  EXPECT_FALSE(fsys::exists(dir_ / "split" / "checkpoints" / "last.pt"));
  EXPECT_EQ(resume(config, inputs, dir_ / "split"), (std::map<int64_t, int64_t>{{0, 1}, {1, 6}}));
  expect_no_step_checkpoint(dir_ / "split");
  expect_same_run(config, dir_ / "full", dir_ / "split");
}

// (d) A step checkpoint of an epoch that is committed already is ignored and removed, and so are
// parts without their step.pt (a kill while the step checkpoint was written): the epoch is redone
// from its start and the run still ends as an uninterrupted one.
TEST_F(StepCheckpoint, StaleOrIncompleteStepCheckpointsAreIgnoredAndRemoved) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::make_inputs(images);
  const auto config = test::tiny_config(3);
  const auto full = dir_ / "full", run = dir_ / "run", stale = dir_ / "stale";
  train(config, inputs, full, false);
  stop_at(config, inputs, run, 0, 2);
  fsys::create_directories(stale);
  for (const char* name : {"step.pt", "step.rank-0.pt"})
    fsys::copy_file(run / "checkpoints" / name, stale / name);
  // Epoch 0 goes on from step 3; the run stops again after step 2 of epoch 2.
  {
    Trainer trainer(config, inputs, run);
    test::SignalAtStep signal(2, 1);
    trainer.add_observer(&signal);
    EXPECT_THROW(trainer.run(true), InterruptedError);
  }
  EXPECT_EQ(read_checkpoint_info(run / "checkpoints" / "step.pt").epoch, 2);
  // Only parts, as a kill before step.pt was renamed into place leaves them: epoch 2 is redone.
  fsys::remove(run / "checkpoints" / "step.pt");
  EXPECT_EQ(resume(config, inputs, run), (std::map<int64_t, int64_t>{{2, 6}}));
  expect_no_step_checkpoint(run);
  expect_same_run(config, full, run);

  // A finished run given the step checkpoint of its first epoch: nothing to continue, it is removed.
  for (const char* name : {"step.pt", "step.rank-0.pt"})
    fsys::copy_file(stale / name, run / "checkpoints" / name);
  EXPECT_EQ(resume(config, inputs, run), (std::map<int64_t, int64_t>{}));
  expect_no_step_checkpoint(run);
  expect_same_run(config, full, run);
}

// A step checkpoint whose part is missing is a clear error that names it and the way out, and
// leaves the run as it was.
TEST_F(StepCheckpoint, AMissingPartIsAnErrorNamingIt) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::make_inputs(images);
  const auto config = test::tiny_config(2);
  stop_at(config, inputs, dir_, 1, 1);
  fsys::remove(dir_ / "checkpoints" / "step.rank-0.pt");
  try {
    Trainer(config, inputs, dir_).run(true);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("this rank's part " + (dir_ / "checkpoints" / "step.rank-0.pt").string() +
                           " is missing"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("delete " + (dir_ / "checkpoints").string() + "/step*.pt to redo that epoch"),
              std::string::npos)
        << message;
  }
  EXPECT_TRUE(has_step_checkpoint(dir_));
  EXPECT_EQ(record::DynamicsStore::open_read(dir_ / "dynamics.h5").complete_epochs(), 1);
}

config::RunConfig mode_config(const std::string& mode) {
  auto config = test::tiny_config(4);
  config.train.mode = mode;
  config.data.augment.hflip = true;
  config.knn.k = 5;
  config.label_correction.warmup_epochs = 2;
  config.label_correction.mixup_alpha = 4.0;
  config.prioritized.candidates = 24;
  config.prioritized.keep = 6;
  config.prioritized.probes_per_category = 10;
  return config;
}

// (c) label_correction (stopped in a correction epoch) and prioritized (score=mapd, whose per-row
// priority and selection of the epoch so far are part of the step checkpoint) continue mid-epoch.
TEST_F(StepCheckpoint, LabelCorrectionAndPrioritizedContinueMidEpochBitwise) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::noisy_inputs_with_probes(images);
  for (const std::string mode : {"label_correction", "prioritized"}) {
    SCOPED_TRACE(mode);
    const auto config = mode_config(mode);
    const auto full = dir_ / (mode + "-full"), split = dir_ / (mode + "-split");
    train(config, inputs, full, false);
    stop_at(config, inputs, split, 2, 1);
    const auto steps = resume(config, inputs, split);
    const int64_t per_epoch = mode == "prioritized" ? 4 : 6;  // 96 rows: 4 candidate batches of 24
    EXPECT_EQ(steps, (std::map<int64_t, int64_t>{{2, per_epoch - 2}, {3, per_epoch}}));
    expect_same_run(config, full, split);
  }
}

/// Runs the training child as a job of `ranks` processes (Gloo on localhost); their exit codes.
std::vector<int> run_job(int ranks, const std::vector<std::string>& args) {
  const int port = testing::free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < ranks; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(ranks).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      std::vector<char*> argv{const_cast<char*>(MAPD_TRAIN_CHILD)};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(MAPD_TRAIN_CHILD, argv.data());
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (const pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

// (b) Two ranks over Gloo: SIGUSR1 to the last rank stops both after the same step; each writes
// its part, rank 0 step.pt; the job resumed with two ranks ends bitwise as the uninterrupted job.
TEST_F(StepCheckpoint, TwoRanksStopAtTheSameStepAndTheResumedJobIsBitwiseTheSame) {
  const auto full = dir_ / "full", split = dir_ / "split";
  ASSERT_EQ(run_job(2, {full.string(), "2", "0"}), (std::vector<int>{0, 0}));
  ASSERT_EQ(run_job(2, {split.string(), "2", "0", "1", "40"}), (std::vector<int>{138, 138}));
  const auto info = read_checkpoint_info(split / "checkpoints" / "step.pt");
  EXPECT_EQ(info.epoch, 1);
  EXPECT_EQ(info.world_size, 2);
  // Rank 1 raised the signal after step 40; the ranks see it at the agreement before step 42.
  EXPECT_EQ(info.steps, 42);
  EXPECT_TRUE(fsys::exists(split / "checkpoints" / "step.rank-0.pt"));
  EXPECT_TRUE(fsys::exists(split / "checkpoints" / "step.rank-1.pt"));
  ASSERT_EQ(run_job(2, {split.string(), "2", "1"}), (std::vector<int>{0, 0}));
  EXPECT_FALSE(has_step_checkpoint(split));
  EXPECT_FALSE(fsys::exists(split / "checkpoints" / "step.rank-1.pt"));
  auto config = test::tiny_config(2);
  config.train.batch_size = 8;
  for (const char* rank_file : {"dynamics.rank-0.h5", "dynamics.rank-1.h5"}) {
    expect_same_run(config, full, split, rank_file);
  }
}

}  // namespace
}  // namespace mapd::train
