// The pipeline as library calls, without the command line: create → train → resume → audit on a
// tiny dataset the test writes.
#include "mapd/pipeline/pipeline.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "../cli/pipeline_fixtures.hpp"

namespace mapd::pipeline {
namespace {

namespace stdfs = std::filesystem;

class PipelineLibrary : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = cli::testing::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ / "data";
    stdfs::create_directories(data_);
    cli::testing::write_pattern_idx(data_, "train", 300, 1);
    cli::testing::write_pattern_idx(data_, "t10k", 50, 2);
    const auto yaml = dir_ / "tiny.yaml";
    std::ofstream(yaml)
        << "data: {format: idx, path: " << data_.string()
        << ", name: tiny, workers: 1}\n"
           "model: {arch: small_cnn, width: 8}\n"
           "train: {epochs: 2, batch_size: 32, threads: 1}\n"
           "probes: {fit_per_category: 6, val_per_category: 6, pilot_epochs: 1, max_fraction: 0.3}\n"
           "knn: {k: 5}\n"
           "report: {enabled: false}\n";
    config_ = config::resolve({yaml.string()}, {});
    run_ = dir_ / "run";
  }
  void TearDown() override {
    log::detach_run_dir();
    if (!HasFailure()) stdfs::remove_all(dir_);
  }

  stdfs::path dir_, data_, run_;
  config::RunConfig config_;
};

TEST_F(PipelineLibrary, TrainsResumesAndAuditsWithoutTheCommandLine) {
  auto lock = create_run(config_, run_, "mapd train");
  const RunLayout layout(run_);
  ASSERT_TRUE(stdfs::exists(layout.config()));
  ASSERT_TRUE(stdfs::exists(layout.log()));
  const auto trained = train_run(config_, layout);
  EXPECT_EQ(trained.epochs_completed, 2);
  EXPECT_GE(trained.test_accuracy, 0.0);
  EXPECT_EQ(record::DynamicsStore::open_read(layout.dynamics()).complete_epochs(), 2);

  // The run is complete: resuming it trains nothing and keeps what is recorded.
  { const RunLock released = std::move(lock); }
  const auto resumed = resume_run(layout);
  EXPECT_EQ(resumed.epochs_completed, 2);
  EXPECT_EQ(record::DynamicsStore::open_read(layout.dynamics()).complete_epochs(), 2);

  const RunLayout audit(dir_ / "audit");
  const auto audit_lock = create_run(config_, audit, "mapd audit");
  const auto summary = audit_run(config_, audit);
  EXPECT_EQ(summary.train.epochs_completed, 2);
  EXPECT_EQ(summary.assign.epochs_used, 2);
  EXPECT_GT(summary.assign.queries, 0);
  EXPECT_FALSE(summary.report.has_value());  // report.enabled: false
  EXPECT_TRUE(stdfs::exists(audit.assignments_csv()));
  EXPECT_FALSE(stdfs::exists(audit.report_index()));
}

TEST_F(PipelineLibrary, ResumeNamesWhatIsMissing) {
  try {
    (void)resume_run(RunLayout(dir_ / "nope"));
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("mapd resume: run directory '" + (dir_ / "nope").string() +
                                         "' does not exist"),
              std::string::npos)
        << e.what();
  }
  // A directory that is not a run: no config.
  stdfs::create_directories(run_);
  try {
    (void)resume_run(RunLayout(run_));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no config.resolved.json in"), std::string::npos) << e.what();
  }
}

// A run stopped before its first commit (config written, maybe a dynamics.h5 with no committed
// epoch, no checkpoint) was told "continue with `mapd resume`": resume starts it from epoch 0.
TEST_F(PipelineLibrary, ResumeBeforeTheFirstCommitStartsTheRunOver) {
  { const auto lock = create_run(config_, run_, "mapd train"); }
  std::ofstream(RunLayout(run_).metrics()) << "{\"epoch\": 0, \"partial\": true}\n";
  const auto summary = resume_run(RunLayout(run_));
  EXPECT_EQ(summary.epochs_completed, 2);
  EXPECT_EQ(record::DynamicsStore::open_read(RunLayout(run_).dynamics()).complete_epochs(), 2);
  // metrics.jsonl holds this run's two epochs, not the earlier attempt's line.
  std::ifstream in(RunLayout(run_).metrics());
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    EXPECT_EQ(line.find("partial"), std::string::npos) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 2);
}

// One writer per run directory (issue 13 item 3): a second writer is refused while the first holds
// the lock, a finished run is not trained over, and the lock goes with its holder.
TEST_F(PipelineLibrary, OneWriterPerRunDirectoryAndNoTrainingOverARun) {
  auto config = config_;
  config.train.epochs = 1;
  {
    const auto lock = create_run(config, run_, "mapd train");
    try {
      (void)create_run(config, run_, "mapd audit");
      FAIL() << "expected IoError";
    } catch (const IoError& e) {
      EXPECT_NE(std::string(e.what()).find("mapd audit: run directory '" + run_.string() +
                                           "' is in use by another live mapd process (pid " +
                                           std::to_string(::getpid()) + ", mapd train, since"),
                std::string::npos)
          << e.what();
    }
    EXPECT_THROW((void)resume_run(RunLayout(run_)), IoError);
    (void)train_run(config, run_);
  }
  const auto before = record::DynamicsStore::open_read(RunLayout(run_).dynamics()).complete_epochs();
  try {
    (void)create_run(config, run_, "mapd train");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("already holds a run"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("continue it with `mapd resume " + run_.string() + "`"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(record::DynamicsStore::open_read(RunLayout(run_).dynamics()).complete_epochs(), before);
  EXPECT_EQ(resume_run(RunLayout(run_)).epochs_completed, 1);  // the lock went with its holder
}

// A run stopped in its first epoch holds only its step checkpoint: it is a run all the same, and a
// new training into its directory is refused before anything is changed.
TEST_F(PipelineLibrary, AStepCheckpointAloneMakesTheDirectoryARun) {
  const RunLayout run(run_);
  stdfs::create_directories(run.checkpoints());
  std::ofstream(run.step_checkpoint()) << "the epoch stopped mid-way";
  try {
    (void)create_run(config_, run, "mapd train");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("its checkpoint " + run.step_checkpoint().string() + " exists"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(stdfs::exists(run.config()));
  EXPECT_EQ(cli::testing::read_text(run.step_checkpoint()), "the epoch stopped mid-way");
}

TEST_F(PipelineLibrary, KLargerThanTheFitProbesFailsBeforeTraining) {
  auto config = config_;
  config.knn.k = 1000;
  const auto lock = create_run(config, run_, "mapd train");
  try {
    (void)train_run(config, run_);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("knn.k = 1000 but the probe suite has only"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(stdfs::exists(RunLayout(run_).dynamics()));
}

TEST_F(PipelineLibrary, ResumeOnChangedDataIsADataError) {
  auto config = config_;
  config.train.epochs = 1;
  {
    const auto lock = create_run(config, run_, "mapd train");
    (void)train_run(config, run_);
  }
  cli::testing::write_pattern_idx(data_, "train", 320, 1);  // 20 more images
  try {
    (void)resume_run(RunLayout(run_));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("differs from the one recorded in dynamics.h5"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mapd::pipeline
