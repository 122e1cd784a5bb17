#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <thread>

#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/png.hpp"
#include "mapd/train/learner.hpp"

#include "../common/expect_error.hpp"
#include "synthetic.hpp"
#include "test_dir.hpp"

namespace mapd::train {
namespace {

namespace fsys = std::filesystem;

class TrainerTest : public test::RunDirTest {
 protected:
  TrainerTest() : RunDirTest("mapd_trainer") {}

  static std::vector<nlohmann::json> metrics(const fsys::path& run_dir) {
    return test::metrics_lines(run_dir);
  }
};

TEST_F(TrainerTest, TinyRunLossFallsAndRecordsEveryExampleEveryEpoch) {
  const auto images = test::make_image_set(128);
  const auto test_images = test::make_image_set(32, 4, 12, 99);
  const auto inputs = test::make_inputs(images, &test_images);
  const auto summary = train(test::tiny_config(5), inputs, dir_, false);
  EXPECT_EQ(summary.epochs_completed, 5);
  EXPECT_GT(summary.test_accuracy, 0.5);
  EXPECT_GT(summary.images_per_second, 0.0);

  const auto lines = metrics(dir_);
  ASSERT_EQ(lines.size(), 5U);
  EXPECT_LT(lines[4]["loss"].get<double>(), 0.5 * lines[0]["loss"].get<double>());
  for (const char* key :
       {"epoch", "loss", "acc", "test_acc", "test_loss", "img_s", "seconds", "lr", "probe_acc"}) {
    EXPECT_TRUE(lines[0].contains(key)) << key;
  }

  auto store = record::DynamicsStore::open_read(dir_ / "dynamics.h5");
  ASSERT_EQ(store.complete_epochs(), 5);
  ASSERT_EQ(store.num_examples(), 128);
  EXPECT_EQ(store.meta().view, "online");
  const auto losses = test::read_losses(dir_ / "dynamics.h5");
  std::vector<float> probs(128 * 5);
  std::vector<int32_t> preds(128 * 5);
  store.read_true_probs(0, 128, 0, 5, probs.data());
  store.read_preds(0, 128, 0, 5, preds.data());
  double first = 0, last = 0;
  for (int64_t i = 0; i < 128; ++i) {
    for (int64_t e = 0; e < 5; ++e) {
      const float loss = losses[static_cast<size_t>(e)][static_cast<size_t>(i)];
      ASSERT_TRUE(std::isfinite(loss));
      ASSERT_GE(loss, 0.0F);
      EXPECT_NEAR(probs[static_cast<size_t>(i * 5 + e)], std::exp(-loss), 1e-5);
      ASSERT_GE(preds[static_cast<size_t>(i * 5 + e)], 0);
      ASSERT_LT(preds[static_cast<size_t>(i * 5 + e)], 4);
    }
    first += losses[0][static_cast<size_t>(i)];
    last += losses[4][static_cast<size_t>(i)];
  }
  EXPECT_LT(last, 0.5 * first);
  EXPECT_TRUE(fsys::exists(dir_ / "checkpoints" / "last.pt"));
}

TEST_F(TrainerTest, EvalViewRecordsANoAugmentationEvalPassThatDiffersFromOnline) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::make_inputs(images);
  auto online = test::tiny_config(2);
  auto eval = online;
  eval.record.view = "eval";
  train(online, inputs, dir_ / "online", false);
  train(eval, inputs, dir_ / "eval", false);
  EXPECT_EQ(record::DynamicsStore::open_read(dir_ / "eval" / "dynamics.h5").meta().view, "eval");
  const auto a = test::read_losses(dir_ / "online" / "dynamics.h5");
  const auto b = test::read_losses(dir_ / "eval" / "dynamics.h5");
  ASSERT_EQ(b.size(), 2U);
  for (float v : b[1]) ASSERT_TRUE(std::isfinite(v));
  // Same weights trajectory (same seed, the eval pass changes no state), different view of it.
  EXPECT_NE(a[1], b[1]);
  const auto ma = metrics(dir_ / "online"), mb = metrics(dir_ / "eval");
  EXPECT_DOUBLE_EQ(ma[1]["loss"].get<double>(), mb[1]["loss"].get<double>());
}

TEST_F(TrainerTest, ResumeGivesBitwiseTheSameTrajectories) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(4);
  config.schedule.name = "constant";  // the 2-epoch run has the same schedule as the 4-epoch run
  config.data.augment.hflip = true;
  train(config, inputs, dir_ / "full", false);
  auto first_half = config;
  first_half.train.epochs = 2;
  train(first_half, inputs, dir_ / "split", false);
  EXPECT_EQ(test::read_losses(dir_ / "split" / "dynamics.h5").size(), 2U);
  train(config, inputs, dir_ / "split", true);
  const auto full = test::read_losses(dir_ / "full" / "dynamics.h5");
  const auto split = test::read_losses(dir_ / "split" / "dynamics.h5");
  ASSERT_EQ(full.size(), 4U);
  ASSERT_EQ(split.size(), 4U);
  for (size_t e = 0; e < 4; ++e) EXPECT_EQ(full[e], split[e]) << "epoch " << e;  // bitwise
  EXPECT_EQ(metrics(dir_ / "split").size(), 4U);
  // Resuming a finished run does nothing.
  EXPECT_EQ(train(config, inputs, dir_ / "split", true).epochs_completed, 4);
}

/// `images` written as PNG files under `dir` and decoded on demand (as a folder dataset larger
/// than data.memory_budget_mb is).
data::ImageSet on_demand(const data::ImageSet& images, const fsys::path& dir) {
  fsys::create_directories(dir);
  data::ImageSet out = images;
  out.pixels.clear();
  for (int64_t i = 0; i < images.size(); ++i) {
    const auto path = dir / ("img" + std::to_string(i) + ".png");
    const uint8_t* pixels = images.pixels.data() + i * images.image_bytes();
    data::write_png(path, data::PixelView{pixels, images.height, images.width, 1, images.width});
    out.paths.push_back(path.string());
    out.examples.source[static_cast<size_t>(i)] = path.string();
  }
  return out;
}

/// Replaces an image file by garbage once epoch `after` is committed.
class CorruptAfterEpoch final : public TrainingObserver {
 public:
  CorruptAfterEpoch(fsys::path path, int64_t after) : path_(std::move(path)), after_(after) {}
  void epoch_committed(const CommitEvent& event) override {
    if (event.epoch == after_) std::ofstream(path_, std::ios::trunc) << "garbage, not a PNG";
  }

 private:
  fsys::path path_;
  int64_t after_;
};

TEST_F(TrainerTest, AnImageThatFailsToDecodeMidRunIsLeftOutFromThatEpochAndResumeKeepsItOut) {
  const auto images = on_demand(test::make_image_set(48), dir_ / "images");
  ASSERT_FALSE(images.in_memory());
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(3);
  config.schedule.name = "constant";
  config.data.workers = 2;
  const auto bad = images.paths[5];
  const auto good = dir_ / "img5.good";
  fsys::copy_file(bad, good);
  {
    Trainer trainer(config, inputs, dir_ / "full");
    CorruptAfterEpoch corrupt(bad, 0);
    trainer.add_observer(&corrupt);
    EXPECT_EQ(trainer.run(false).epochs_completed, 3);
  }
  const auto full = test::read_losses(dir_ / "full" / "dynamics.h5");
  ASSERT_EQ(full.size(), 3U);
  EXPECT_TRUE(std::isfinite(full[0][5]));
  for (size_t e = 1; e < 3; ++e) {
    EXPECT_TRUE(std::isnan(full[e][5])) << "epoch " << e;
    for (size_t i = 0; i < full[e].size(); ++i) {
      if (i != 5) {
        EXPECT_TRUE(std::isfinite(full[e][i])) << "epoch " << e << " row " << i;
      }
    }
  }
  auto listed = data::read_bad_inputs(dir_ / "full" / "bad_inputs.csv");
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].path, bad);
  EXPECT_EQ(listed[0].epoch, 1);
  EXPECT_NE(listed[0].reason.find("img5.png"), std::string::npos) << listed[0].reason;

  // Killed after epoch 1; the file is readable again before the resume, yet the row stays out.
  fsys::copy_file(good, bad, fsys::copy_options::overwrite_existing);
  auto first = config;
  first.train.epochs = 2;
  {
    Trainer trainer(first, inputs, dir_ / "split");
    CorruptAfterEpoch corrupt(bad, 0);
    trainer.add_observer(&corrupt);
    trainer.run(false);
  }
  fsys::copy_file(good, bad, fsys::copy_options::overwrite_existing);
  train(config, inputs, dir_ / "split", true);
  const auto split = test::read_losses(dir_ / "split" / "dynamics.h5");
  ASSERT_EQ(split.size(), 3U);
  for (size_t e = 0; e < 3; ++e) {
    for (size_t i = 0; i < full[e].size(); ++i) {
      // Bitwise, NaN included.
      uint32_t a = 0, b = 0;
      std::memcpy(&a, &full[e][i], sizeof a);
      std::memcpy(&b, &split[e][i], sizeof b);
      EXPECT_EQ(a, b) << "epoch " << e << " row " << i;
    }
  }
  listed = data::read_bad_inputs(dir_ / "split" / "bad_inputs.csv");
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].epoch, 1);
}

int run_child(const fsys::path& run_dir, int epochs, bool resume, int term_after_lines = -1) {
  const pid_t pid = fork();
  if (pid == 0) {
    execl(MAPD_TRAIN_CHILD, MAPD_TRAIN_CHILD, run_dir.c_str(), std::to_string(epochs).c_str(),
          resume ? "1" : "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  if (term_after_lines >= 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(run_dir / "metrics.jsonl");
      int lines = 0;
      for (std::string line; std::getline(in, line);) ++lines;
      if (lines >= term_after_lines) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // mid-epoch
    kill(pid, SIGTERM);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(TrainerTest, SigtermKeepsTheLastCompleteEpochAndResumeMatchesAnUninterruptedRun) {
  ASSERT_EQ(run_child(dir_ / "full", 5, false), 0);
  const int code = run_child(dir_ / "killed", 5, false, 1);
  ASSERT_EQ(code, 128 + SIGTERM) << "the child should stop with 128+SIGTERM after a clean checkpoint";
  const auto partial = test::read_losses(dir_ / "killed" / "dynamics.h5");
  ASSERT_GE(partial.size(), 1U);
  ASSERT_LT(partial.size(), 5U);
  EXPECT_EQ(metrics(dir_ / "killed").size(), partial.size());
  ASSERT_EQ(run_child(dir_ / "killed", 5, true), 0);
  const auto full = test::read_losses(dir_ / "full" / "dynamics.h5");
  const auto resumed = test::read_losses(dir_ / "killed" / "dynamics.h5");
  ASSERT_EQ(resumed.size(), 5U);
  for (size_t e = 0; e < 5; ++e) EXPECT_EQ(full[e], resumed[e]) << "epoch " << e;  // bitwise
}

TEST_F(TrainerTest, SigusrOneStopsInProcessWithItsOwnMessageAndExitCode) {
  const auto images = test::make_image_set(256);
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(200);
  config.train.batch_size = 8;
  // The signal comes once the first epoch's metrics line is written, so at least that epoch is kept
  // (its checkpoint follows the line before a stop is honoured).
  const auto first_line_written = [&] {
    std::error_code ignored;
    return fsys::file_size(dir_ / "metrics.jsonl", ignored) > 0 && !ignored;
  };
  std::thread sender([&] {
    for (int i = 0; i < 6000 && !first_line_written(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill(getpid(), SIGUSR1);
  });
  std::string message;
  try {
    train(config, inputs, dir_, false);
    sender.join();
    FAIL() << "expected InterruptedError";
  } catch (const InterruptedError& e) {
    sender.join();
    message = e.what();
    EXPECT_EQ(e.signal_number(), SIGUSR1);
    EXPECT_EQ(static_cast<int>(e.exit_code()), 128 + SIGUSR1);
    EXPECT_NE(message.find("SIGUSR1"), std::string::npos) << message;
    EXPECT_NE(message.find("mapd resume " + dir_.string()), std::string::npos) << message;
  }
  // The message, the dynamics rows, the metrics lines and the checkpoint agree on what was saved.
  const auto committed = record::DynamicsStore::open_read(dir_ / "dynamics.h5").complete_epochs();
  ASSERT_GE(committed, 1);
  ASSERT_LT(committed, 200);
  EXPECT_NE(message.find(std::to_string(committed) + " complete epoch(s) are saved"), std::string::npos)
      << message;
  EXPECT_EQ(metrics(dir_).size(), static_cast<size_t>(committed));
  // The stop was handled, not left pending: the same process resumes the run for one more epoch.
  config.train.epochs = committed + 1;
  EXPECT_EQ(train(config, inputs, dir_, true).epochs_completed, committed + 1);
  EXPECT_EQ(metrics(dir_).size(), static_cast<size_t>(committed + 1));
}

TEST_F(TrainerTest, HugeLearningRateDivergesNamingEpochStepAndExamplesAndKeepsEarlierEpochs) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(1);
  config.schedule.name = "constant";
  train(config, inputs, dir_, false);
  config.train.epochs = 3;
  config.optimizer.lr = 1e12;
  config.optimizer.momentum = 0.0;
  try {
    train(config, inputs, dir_, true);
    FAIL() << "expected DivergedError";
  } catch (const DivergedError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("epoch 1"), std::string::npos) << message;
    EXPECT_NE(message.find("step"), std::string::npos) << message;
    EXPECT_NE(message.find("example indices"), std::string::npos) << message;
    EXPECT_EQ(static_cast<int>(e.exit_code()), 5);
  }
  EXPECT_EQ(test::read_losses(dir_ / "dynamics.h5").size(), 1U);  // epoch 0 is kept
}

TEST_F(TrainerTest, RejectsOnlineViewWithDropLastUnknownAmpAndMissingCuda) {
  const auto images = test::make_image_set(32);
  const auto inputs = test::make_inputs(images);
  auto config = test::tiny_config(1);
  config.data.drop_last = true;
  MAPD_EXPECT_THROW_WITH(train(config, inputs, dir_ / "a", false), ConfigError, "record.view=online",
                         "data.drop_last=false");
  config = test::tiny_config(1);
  config.train.amp = "fp8";
  MAPD_EXPECT_THROW_WITH(train(config, inputs, dir_ / "b", false), ConfigError, "train.amp", "'fp8'");
  if (!torch::cuda::is_available()) {
    config = test::tiny_config(1);
    config.train.device = "cuda";
    MAPD_EXPECT_THROW_WITH(train(config, inputs, dir_ / "c", false), ConfigError,
                           "train.device: 'cuda' was asked for");
  }
  config = test::tiny_config(1);
  MAPD_EXPECT_THROW_WITH(train(config, inputs, dir_ / "never_trained", true), IoError,  // nothing to resume
                         "never_trained/checkpoints/last.pt does not exist", "mapd train");
}

TEST_F(TrainerTest, ExamplesThatDoNotMatchTheTrainingSetAreAnInternalError) {
  // TrainInputs are composed by mapd (dataset + probe suite): a row count mismatch is a bug in mapd.
  const auto images = test::make_image_set(32);
  auto inputs = test::make_inputs(images);
  inputs.examples.id.pop_back();
  try {
    train(test::tiny_config(1), inputs, dir_ / "a", false);
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("/examples has 31 rows but the training set has 32"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(TrainerTest, FitAndScoreReturnsDeterministicLabelProbabilitiesPerEpoch) {
  const auto images = test::make_image_set(96);
  const auto score_images = test::make_image_set(40, 4, 12, 5);
  const auto fit = data::TrainingSet::from_image_set(images);
  const auto score = data::TrainingSet::from_image_set(score_images);
  const auto config = test::tiny_config(1);
  const auto a = fit_and_score(config, fit, score, 3, 11);
  const auto b = fit_and_score(config, fit, score, 3, 11);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{3, 40}));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(((a >= 0) & (a <= 1)).all().item<bool>());
  EXPECT_GT(a[2].mean().item<float>(), a[0].mean().item<float>() - 0.05F);
  // The callers (difficulty estimators) validate epochs and subset sizes first: a bug otherwise.
  try {
    (void)fit_and_score(config, fit, score, 0, 11);
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("fit_and_score: epochs must be positive, got 0"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)fit_and_score(config, data::TrainingSet{}, score, 1, 11), InternalError);
}

TEST(EpochRecord, WritesByExampleIndexAndCopiesToHostOnce) {
  EpochRecord record(5, torch::kCPU);
  // Row 3: label 1 with the largest logit; row 0: label 0, beaten by class 2.
  const auto logits = torch::tensor({{0.0F, 2.0F, 1.0F}, {1.0F, -1.0F, 3.0F}});
  const auto labels = torch::tensor({1, 0}, torch::kInt64);
  record.write(torch::tensor({3, 0}, torch::kInt64), torch::tensor({0.5F, 2.0F}),
               torch::tensor({1, 2}, torch::kInt64), logits, labels);
  EXPECT_EQ(record.rows_written(), 2);
  const auto host = record.to_host();
  EXPECT_FLOAT_EQ(host.loss[3], 0.5F);
  EXPECT_FLOAT_EQ(host.loss[0], 2.0F);
  EXPECT_TRUE(std::isnan(host.loss[1]));
  EXPECT_EQ(host.pred[3], 1);
  EXPECT_EQ(host.pred[1], -1);
  EXPECT_NEAR(host.true_prob[3], std::exp(-0.5F), 1e-7);
  // Margin: logit of the label minus the largest other logit.
  EXPECT_FLOAT_EQ(host.margin[3], 1.0F);
  EXPECT_FLOAT_EQ(host.margin[0], -2.0F);
  EXPECT_TRUE(std::isnan(host.margin[1]));
  // EL2N: || softmax - onehot(label) ||_2, by hand.
  const auto el2n = [](std::vector<double> z, size_t label) {
    double total = 0.0;
    for (const double v : z) total += std::exp(v);
    double sum = 0.0;
    for (size_t k = 0; k < z.size(); ++k) {
      const double d = std::exp(z[k]) / total - (k == label ? 1.0 : 0.0);
      sum += d * d;
    }
    return std::sqrt(sum);
  };
  EXPECT_NEAR(host.el2n[3], el2n({0.0, 2.0, 1.0}, 1), 1e-6);
  EXPECT_NEAR(host.el2n[0], el2n({1.0, -1.0, 3.0}, 0), 1e-6);
  EXPECT_TRUE(std::isnan(host.el2n[4]));
  record.reset();
  EXPECT_EQ(record.rows_written(), 0);
  EXPECT_TRUE(std::isnan(record.to_host().loss[3]));
}

}  // namespace
}  // namespace mapd::train

namespace mapd::train {
namespace {

/// Back-propagates a constant (zero gradients) so that what is recorded can be told apart from
/// what is optimised.
class ConstantObjective final : public Objective {
 public:
  torch::Tensor loss(const ObjectiveInput& input) override {
    return (input.cross_entropy * 0.0).sum() + 42.0;
  }
};

/// Refuses every step and remembers what it was asked.
class RefusingSync final : public GradientSync {
 public:
  bool synchronize(const std::vector<torch::Tensor>& parameters, bool finite, int64_t examples) override {
    saw_examples = examples;
    ++calls;
    saw_finite = finite;
    saw_gradients = std::all_of(parameters.begin(), parameters.end(),
                                [](const torch::Tensor& p) { return p.grad().defined(); });
    return false;
  }
  int calls = 0;
  bool saw_finite = false;
  bool saw_gradients = false;
  int64_t saw_examples = -1;
};

data::Batch first_batch(const data::TrainingSet& set) {
  data::LoaderOptions options;
  options.batch_size = 8;
  options.workers = 0;
  options.augment = false;
  data::Loader loader(set, options);
  loader.start_epoch(0);
  return *loader.next();
}

TEST(Learner, RecordsThePlainCrossEntropyWhateverTheObjective) {
  const auto images = test::make_image_set(16);
  const auto set = data::TrainingSet::from_image_set(images);
  const auto config = test::tiny_config(1);
  const auto batch = first_batch(set);
  seed_torch(5);
  Learner reference(config, images.channels, 4, torch::kCPU);
  const auto expected = reference.score(batch, ScoreMode::kTrain);  // same forward as a training step
  seed_torch(5);
  Learner learner(config, images.channels, 4, torch::kCPU);
  learner.set_objective(std::make_shared<ConstantObjective>());
  EpochRecord record(set.size(), torch::kCPU);
  auto totals = EpochTotals::zeros(torch::kCPU);
  const auto loss = learner.train_step(batch, 0.1, totals, &record);
  EXPECT_FLOAT_EQ(loss.item<float>(), 42.0F);
  const auto host = record.to_host();
  for (int64_t k = 0; k < batch.indices.size(0); ++k) {
    const auto row = static_cast<size_t>(batch.indices[k].item<int64_t>());
    EXPECT_EQ(host.loss[row], expected.cross_entropy[k].item<float>()) << "row " << row;
    EXPECT_EQ(host.pred[row], expected.pred[k].item<int64_t>()) << "row " << row;
  }
}

TEST(Learner, TheGradientSyncDecidesWhetherTheOptimizerSteps) {
  const auto images = test::make_image_set(16);
  const auto set = data::TrainingSet::from_image_set(images);
  const auto batch = first_batch(set);
  seed_torch(5);
  Learner learner(test::tiny_config(1), images.channels, 4, torch::kCPU);
  auto sync = std::make_shared<RefusingSync>();
  learner.set_gradient_sync(sync);
  std::vector<torch::Tensor> before;
  for (const auto& p : learner.parameters()) before.push_back(p.detach().clone());
  auto totals = EpochTotals::zeros(torch::kCPU);
  learner.train_step(batch, 0.1, totals, nullptr);
  EXPECT_EQ(sync->calls, 1);
  EXPECT_TRUE(sync->saw_finite);
  EXPECT_TRUE(sync->saw_gradients);
  EXPECT_EQ(sync->saw_examples, 8);  // the batch's examples, for weighting across ranks
  for (size_t i = 0; i < before.size(); ++i)
    EXPECT_TRUE(torch::equal(before[i], learner.parameters()[i])) << i;
  // The default (one process) steps: the parameters move.
  learner.set_gradient_sync(std::make_shared<LocalGradientSync>());
  learner.train_step(batch, 0.1, totals, nullptr);
  bool moved = false;
  for (size_t i = 0; i < before.size(); ++i)
    moved = moved || !torch::equal(before[i], learner.parameters()[i]);
  EXPECT_TRUE(moved);
}

}  // namespace
}  // namespace mapd::train
