#include <sys/resource.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/metrics.hpp"
#include "mapd/core/process.hpp"

#include "../common/expect_error.hpp"

namespace mapd {
namespace {

namespace fsys = std::filesystem;

fsys::path fresh_dir(const std::string& name) {
  auto dir = fsys::temp_directory_path() / ("mapd_core_test_" + name + "_" + std::to_string(::getpid()));
  fsys::remove_all(dir);
  fsys::create_directories(dir);
  return dir;
}

TEST(Errors, MapToTheDocumentedExitCodes) {
  EXPECT_EQ(ConfigError("x").exit_code(), ExitCode::kBadConfig);
  EXPECT_EQ(DataError("x").exit_code(), ExitCode::kDataError);
  EXPECT_EQ(IoError("x").exit_code(), ExitCode::kIoError);
  EXPECT_EQ(DivergedError("x").exit_code(), ExitCode::kDiverged);
  EXPECT_EQ(static_cast<int>(InterruptedError("x", 15).exit_code()), 143);
  EXPECT_EQ(static_cast<int>(ExitCode::kBadConfig), 2);
  EXPECT_EQ(static_cast<int>(ExitCode::kDataError), 3);
  EXPECT_EQ(static_cast<int>(ExitCode::kIoError), 4);
  EXPECT_EQ(static_cast<int>(ExitCode::kDiverged), 5);
}

TEST(Errors, CheckThrowsTheNamedTypeWithTheMessage) {
  EXPECT_NO_THROW(MAPD_CHECK(1 + 1 == 2, DataError, "unused"));
  try {
    MAPD_CHECK(false, DataError, std::string("file ") + "x.idx" + " is short");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "file x.idx is short");
  }
}

TEST(Metrics, WritesOneJsonObjectPerLineAndAppends) {
  const auto dir = fresh_dir("metrics");
  {
    MetricsWriter writer(dir / "metrics.jsonl");
    writer.write({{"epoch", 0}, {"loss", 1.5}});
  }
  {
    MetricsWriter writer(dir / "metrics.jsonl");
    writer.write({{"epoch", 1}, {"loss", 0.5}});
  }
  std::ifstream in(dir / "metrics.jsonl");
  std::string line;
  int count = 0;
  while (std::getline(in, line)) {
    const auto record = nlohmann::json::parse(line);
    EXPECT_EQ(record["epoch"].get<int>(), count);
    ++count;
  }
  EXPECT_EQ(count, 2);
  fsys::remove_all(dir);
}

TEST(Metrics, ResumeKeepsTheLinesOfEarlierEpochsAndDropsACutLine) {
  const auto dir = fresh_dir("metrics_resume");
  const auto path = dir / "metrics.jsonl";
  std::ofstream(path) << "{\"epoch\":0,\"loss\":2}\n{\"epoch\":1,\"loss\":1}\nnot json\n"
                         "{\"epoch\":2,\"loss\":0.5}\n{\"epoch\":3,\"lo";
  MetricsWriter::keep_epochs_before(path, 2);  // epoch 2 will be trained again
  {
    MetricsWriter writer(path);
    writer.write({{"epoch", 2}, {"loss", 0.4}});
  }
  std::ifstream in(path);
  std::vector<int> epochs;
  for (std::string line; std::getline(in, line);)
    epochs.push_back(nlohmann::json::parse(line)["epoch"].get<int>());
  EXPECT_EQ(epochs, (std::vector<int>{0, 1, 2}));
  MetricsWriter::keep_epochs_before(dir / "missing.jsonl", 3);
  EXPECT_FALSE(fsys::exists(dir / "missing.jsonl"));
  fsys::remove_all(dir);
}

TEST(Metrics, UnwritablePathIsAnIoError) {
  MAPD_EXPECT_THROW_WITH(MetricsWriter("/nonexistent-dir/metrics.jsonl"), IoError,
                         "cannot open metrics file /nonexistent-dir/metrics.jsonl");
}

TEST(Fs, AtomicWriteReplacesTheFileAndLeavesNoTemporary) {
  const auto dir = fresh_dir("atomic");
  fs::write_file_atomic(dir / "a.txt", "first");
  fs::write_file_atomic(dir / "a.txt", "second");
  EXPECT_EQ(fs::read_file(dir / "a.txt"), "second");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fsys::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1);
  fsys::remove_all(dir);
}

// Issue 13 item 13: a checkpoint write that failed on a full disk left checkpoints/.last.pt.tmp
// behind. RLIMIT_FSIZE makes the write fail for real (EFBIG, as ENOSPC would on a full disk).
TEST(Fs, FailedAtomicWriteLeavesTheOldFileAndNoTemporary) {
  const auto dir = fresh_dir("atomic_full");
  fs::write_file_atomic(dir / "last.pt", "epoch 3");
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  const auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::string big(1 << 20, 'x');
  const auto failed =
      ::mapd::test::throws_with<IoError>([&] { fs::write_file_atomic(dir / "last.pt", big); },
                                         {"cannot write ", ".last.pt.tmp", "last.pt is unchanged"});
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous_handler);
  EXPECT_TRUE(failed);
  EXPECT_EQ(fs::read_file(dir / "last.pt"), "epoch 3");
  EXPECT_FALSE(fsys::exists(dir / ".last.pt.tmp"));
  fsys::remove_all(dir);
}

TEST(Fs, ErrorsNameThePath) {
  try {
    fs::read_file("/nonexistent-dir/x.txt");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir/x.txt"), std::string::npos);
  }
  // Names the missing folder (through the temporary file it could not create there).
  MAPD_EXPECT_THROW_WITH(fs::write_file_atomic("/nonexistent-dir/x.txt", "x"), IoError,
                         "cannot create /nonexistent-dir/");
}

TEST(Fs, TimestampHasTheRunDirectoryShape) {
  const std::string t = fs::timestamp();
  ASSERT_EQ(t.size(), 15u);
  EXPECT_EQ(t[8], '-');
}

TEST(Log, UnknownLevelIsAConfigError) {
  MAPD_EXPECT_THROW_WITH(log::init("loud"), ConfigError, "unknown log level 'loud'", "trace, debug, info");
  EXPECT_NO_THROW(log::init("off"));
  EXPECT_NO_THROW(log::init("info"));
}

TEST(Log, RunDirectoryGetsTrainLogWithModulePrefix) {
  const auto dir = fresh_dir("log");
  log::init("info");
  log::attach_run_dir(dir);
  log::get("data")->info("hello {}", 42);
  log::detach_run_dir();
  const std::string text = fs::read_file(dir / "train.log");
  EXPECT_NE(text.find("[data] hello 42"), std::string::npos) << text;
  fsys::remove_all(dir);
}

TEST(Process, CgroupQuotaFromCpuMaxAndCfsFiles) {
  const auto dir = fresh_dir("cgroup");
  EXPECT_EQ(process::cgroup_cpu_quota(dir.string()), 0.0);  // no files: no quota
  std::ofstream(dir / "cpu.max") << "150000 100000\n";
  EXPECT_DOUBLE_EQ(process::cgroup_cpu_quota(dir.string()), 1.5);
  std::ofstream(dir / "cpu.max") << "max 100000\n";
  EXPECT_EQ(process::cgroup_cpu_quota(dir.string()), 0.0);
  fsys::remove(dir / "cpu.max");
  fsys::create_directories(dir / "cpu");
  std::ofstream(dir / "cpu" / "cpu.cfs_quota_us") << "300000\n";
  std::ofstream(dir / "cpu" / "cpu.cfs_period_us") << "100000\n";
  EXPECT_DOUBLE_EQ(process::cgroup_cpu_quota(dir.string()), 3.0);
  std::ofstream(dir / "cpu" / "cpu.cfs_quota_us") << "-1\n";
  EXPECT_EQ(process::cgroup_cpu_quota(dir.string()), 0.0);
  fsys::remove_all(dir);
}

TEST(Process, UsableCpusCountsTheAffinityMask) {
  const auto cpus = process::usable_cpus();
  EXPECT_GE(cpus, 1);
  EXPECT_LE(cpus, static_cast<int64_t>(std::thread::hardware_concurrency()));
}

TEST(CpuShareGovernor, KeepsItsThreadsWhileItGetsItsCpus) {
  process::CpuShareGovernor governor(2, 3600.0);
  for (int w = 0; w < 10; ++w) EXPECT_EQ(governor.decide(2.0, 3.9, 0.0), 2);  // spinning workers count
}

TEST(CpuShareGovernor, DropsToTheCpusItGotAndRisesWhenCpusAreIdle) {
  process::CpuShareGovernor governor(4, 3600.0);
  // 4 threads got 2.2 CPUs on average: two of the cores belong to someone else.
  EXPECT_EQ(governor.decide(1.0, 2.2, 0.0), 2);
  EXPECT_EQ(governor.decide(1.0, 2.0, 0.0), 2);  // it has its 2 CPUs: stays
  // The neighbours stopped: one idle CPU in the machine, a raise after the hold of 2 windows.
  EXPECT_EQ(governor.decide(1.0, 2.0, 1.5), 3);
  EXPECT_EQ(governor.decide(1.0, 3.0, 1.0), 3);  // held
  EXPECT_EQ(governor.decide(1.0, 3.0, 1.0), 4);
  EXPECT_EQ(governor.decide(1.0, 4.0, 0.0), 4);
  EXPECT_EQ(governor.threads(), 4);
}

TEST(CpuShareGovernor, ARaiseThatIsTakenBackDoublesTheHold) {
  process::CpuShareGovernor governor(2, 3600.0);
  EXPECT_EQ(governor.decide(1.0, 1.2, 0.0), 1);
  EXPECT_EQ(governor.decide(1.0, 1.0, 0.9), 1);
  EXPECT_EQ(governor.decide(1.0, 1.0, 0.9), 2);  // raised after 2 windows
  EXPECT_EQ(governor.decide(1.0, 1.2, 0.0), 1);  // the CPU was not free after all
  for (int w = 0; w < 3; ++w) EXPECT_EQ(governor.decide(1.0, 1.0, 0.9), 1) << "window " << w;
  EXPECT_EQ(governor.decide(1.0, 1.0, 0.9), 2);  // now after 4 windows
  EXPECT_EQ(governor.decide(1.0, 1.0, 0.0), 1);  // one thread's worth again: taken back
}

TEST(CpuShareGovernor, NeverGoesBelowOneOrAboveTheMaximum) {
  process::CpuShareGovernor governor(3, 3600.0);
  EXPECT_EQ(governor.decide(1.0, 0.0, 0.0), 1);
  EXPECT_EQ(governor.decide(1.0, 0.0, 0.0), 1);
  process::CpuShareGovernor single(1, 3600.0);
  for (int w = 0; w < 5; ++w) EXPECT_EQ(single.decide(1.0, 0.1, 8.0), 1);
}

}  // namespace
}  // namespace mapd
