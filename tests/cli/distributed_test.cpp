// End-to-end: the real mapd binary as a data-parallel job of two processes on this machine (Gloo
// over TCP on localhost, rendezvous as torchrun sets it up: RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), against one process with the same global batch (issue 15, docs/distributed.md).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "../dist/free_port.hpp"
#include "pipeline_fixtures.hpp"

namespace mapd::cli {
namespace {

using mapd::testing::free_port;
using nlohmann::json;
using testing::read_lines;
using testing::read_text;
using testing::read_trajectories;
using testing::spawn_mapd;
using testing::wait_exit;
namespace fsys = std::filesystem;
using Clock = std::chrono::steady_clock;

class DistributedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    data_ = dir_ / "data";
    fsys::create_directories(data_);
    testing::write_pattern_idx(data_, "train", 600, 1);
    testing::write_pattern_idx(data_, "t10k", 100, 2);
  }
  void TearDown() override {
    if (!HasFailure()) fsys::remove_all(dir_);
  }

  /// A config of `epochs` epochs, global batch 32; `norm` none or batch; `slow` makes epochs long
  /// enough for a signal to land inside one.
  fsys::path config(int epochs, const std::string& norm, bool slow = false) const {
    auto path = dir_ / ("dp-" + norm + (slow ? "-slow" : "") + ".yaml");
    std::ofstream(path)
        << "data: {format: idx, path: " << data_.string()
        << ", name: tiny, workers: 1}\n"
           "model: {arch: small_cnn, width: "
        << (slow ? 32 : 8) << ", norm: " << norm
        << "}\n"
           "optimizer: {lr: 0.05}\n"
           "train: {epochs: "
        << epochs
        << ", batch_size: 32, threads: 1}\n"
           "probes: {fit_per_category: 10, val_per_category: 10, pilot_epochs: 1, "
           "max_fraction: 0.3}\n"
           "knn: {k: 5}\ndist: {timeout_s: 20}\nreport: {enabled: false}\nrecord: {dtype: fp32}\n";
    return path;
  }

  /// Starts `mapd ARGS` as `ranks` processes of one job; returns their pids (rank order).
  std::vector<pid_t> spawn_job(const std::vector<std::string>& args, int ranks,
                               const std::string& tag) const {
    const int port = free_port();
    std::vector<pid_t> pids;
    pids.reserve(static_cast<size_t>(ranks));
    for (int r = 0; r < ranks; ++r) {
      pids.push_back(spawn_mapd(args, dir_ / (tag + ".rank" + std::to_string(r) + ".out"),
                                {"RANK=" + std::to_string(r), "WORLD_SIZE=" + std::to_string(ranks),
                                 "LOCAL_RANK=" + std::to_string(r), "MASTER_ADDR=127.0.0.1",
                                 "MASTER_PORT=" + std::to_string(port), "OMP_WAIT_POLICY=passive"}));
    }
    return pids;
  }

  /// Waits for every pid; their exit codes.
  static std::vector<int> wait_all(const std::vector<pid_t>& pids) {
    std::vector<int> codes;
    codes.reserve(pids.size());
    for (const pid_t pid : pids) codes.push_back(wait_exit(pid));
    return codes;
  }

  std::string output(const std::string& tag, int rank) const {
    return read_text(dir_ / (tag + ".rank" + std::to_string(rank) + ".out"));
  }

  fsys::path dir_;
  fsys::path data_;
};

/// The checksums each "parameters bit-identical" line of `log` names, by epoch (1-based).
std::map<int, std::string> parameter_checksums(const std::string& log) {
  std::map<int, std::string> sums;
  const std::regex line(
      R"(epoch (\d+)/\d+: parameters bit-identical on all 2 ranks \(checksum ([0-9a-f]{16})\))");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
    sums[std::stoi((*it)[1].str())] = (*it)[2].str();
  }
  return sums;
}

/// h5py (Debian's /usr/bin/python3) reads `dynamics`'s committed epochs of /epochs/loss as one
/// [epochs, N] dataset and writes them to `raw` (float32, epoch-major); the script's output.
const char* const kStitchedLossScript = R"PY(
import sys
import h5py
import numpy as np
with h5py.File(sys.argv[1], "r") as f:
    complete = int(f["/epochs/complete"][()])
    loss = f["/epochs/loss"]
    assert loss.is_virtual
    n = f["/examples/id"].shape[0]
    assert loss.shape[1] == n and loss.shape[0] >= complete, (loss.shape, n, complete)
    loss[:complete].astype(np.float32).tofile(sys.argv[2])
    print("ok", complete, n)
)PY";

/// The largest |a - b| over two runs' losses, and whether they have the same shape.
double max_loss_difference(const testing::Trajectories& a, const testing::Trajectories& b) {
  EXPECT_EQ(a.epochs, b.epochs);
  EXPECT_EQ(a.examples, b.examples);
  double worst = 0.0;
  for (size_t i = 0; i < a.loss.size() && i < b.loss.size(); ++i) {
    worst = std::max(worst, static_cast<double>(std::fabs(a.loss[i] - b.loss[i])));
  }
  return worst;
}

// Two ranks of a model without BatchNorm train exactly as one process with the same global batch:
// every step's gradient is the mean over the same 32 examples. Only the order of float sums
// differs (each rank's conv backward sums 16 examples), so the recorded losses agree to float
// tolerance, not bitwise: after 3 epochs within 1e-3 nats (record.dtype fp32; measured on 2,000
// Fashion-MNIST images: at most 1.6e-4).
TEST_F(DistributedTest, TwoRanksWithoutBatchNormMatchOneProcessWithTheSameGlobalBatch) {
  const auto cfg = config(3, "none");
  const auto one = dir_ / "one";
  const auto single = testing::run_mapd("train -c '" + cfg.string() + "' --run-dir '" + one.string() + "'");
  ASSERT_EQ(single.exit_code, 0) << single.output;

  const auto two = dir_ / "two";
  const auto codes = wait_all(spawn_job({"train", "-c", cfg.string(), "--run-dir", two.string()}, 2, "two"));
  ASSERT_EQ(codes, (std::vector<int>{0, 0})) << output("two", 0) << output("two", 1);

  const auto a = read_trajectories(one / "dynamics.h5");
  const auto b = read_trajectories(two / "dynamics.h5");
  ASSERT_EQ(a.epochs, 3);
  for (const float v : b.loss) ASSERT_TRUE(std::isfinite(v));  // every row recorded every epoch
  EXPECT_LT(max_loss_difference(a, b), 1e-3);
  size_t same_pred = 0;
  for (size_t i = 0; i < a.pred.size(); ++i) same_pred += a.pred[i] == b.pred[i] ? 1 : 0;
  EXPECT_GE(static_cast<double>(same_pred), 0.99 * static_cast<double>(a.pred.size()));
  // Rank 0 writes the run's files; rank 1 its own log.
  const auto metrics_one = read_lines(one / "metrics.jsonl");
  const auto metrics_two = read_lines(two / "metrics.jsonl");
  ASSERT_EQ(metrics_two.size(), 3U);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_NEAR(json::parse(metrics_one[e])["loss"].get<double>(),
                json::parse(metrics_two[e])["loss"].get<double>(), 1e-4)
        << e;
  }
  EXPECT_TRUE(fsys::exists(two / "train.rank-1.log"));
  EXPECT_NE(read_text(two / "train.rank-1.log").find("rank 1 of 2"), std::string::npos);
  // Each rank recorded its half of the columns; dynamics.h5 stitches them (read above as one).
  EXPECT_EQ(read_trajectories(two / "dynamics.rank-0.h5").examples, a.examples / 2);
  EXPECT_EQ(read_trajectories(two / "dynamics.rank-1.h5").examples, a.examples - a.examples / 2);

  // h5py sees the same [epochs, N] losses through the virtual dataset.
  const auto script = dir_ / "stitched_loss.py";
  std::ofstream(script) << kStitchedLossScript;
  const auto raw = dir_ / "loss.f32";
  const auto log = dir_ / "python.log";
  const int status =
      std::system(("/usr/bin/python3 '" + script.string() + "' '" + (two / "dynamics.h5").string() + "' '" +
                   raw.string() + "' > '" + log.string() + "' 2>&1")
                      .c_str());
  ASSERT_EQ(status, 0) << read_text(log);
  std::ifstream in(raw, std::ios::binary);
  std::vector<float> seen(b.loss.size());
  in.read(reinterpret_cast<char*>(seen.data()), static_cast<std::streamsize>(seen.size() * sizeof(float)));
  ASSERT_EQ(in.gcount(), static_cast<std::streamsize>(seen.size() * sizeof(float))) << read_text(log);
  for (int64_t e = 0; e < b.epochs; ++e) {
    for (int64_t i = 0; i < b.examples; ++i) {
      ASSERT_EQ(seen[static_cast<size_t>(e * b.examples + i)], b.loss[static_cast<size_t>(i * b.epochs + e)])
          << "epoch " << e << " example " << i;
    }
  }
}

// With BatchNorm (each rank normalises with its own batch's statistics) the job is not one
// process's run, but it records every example once per epoch, and the ranks stay in step.
TEST_F(DistributedTest, TwoRanksWithBatchNormRecordEveryExampleEveryEpoch) {
  const auto cfg = config(2, "batch");
  const auto run = dir_ / "bn";
  const auto codes = wait_all(spawn_job({"audit", "-c", cfg.string(), "--run-dir", run.string()}, 2, "bn"));
  ASSERT_EQ(codes, (std::vector<int>{0, 0})) << output("bn", 0) << output("bn", 1);
  const auto t = read_trajectories(run / "dynamics.h5");
  EXPECT_EQ(t.epochs, 2);
  for (const float v : t.loss) ASSERT_TRUE(std::isfinite(v));
  for (const int32_t p : t.pred) ASSERT_GE(p, 0);
  EXPECT_TRUE(fsys::exists(run / "assignments.csv"));  // rank 0 assigned after training
  EXPECT_NE(read_text(run / "train.rank-1.log").find("rank 0 assigns and reports"), std::string::npos);
  // Issue 15 item 5: the parameters stay bit-identical (BatchNorm's running statistics are per
  // rank, its weights are not); every rank checked and logged the same checksum every epoch.
  const auto sums0 = parameter_checksums(read_text(run / "train.log"));
  const auto sums1 = parameter_checksums(read_text(run / "train.rank-1.log"));
  EXPECT_EQ(sums0.size(), 2U) << read_text(run / "train.log");
  EXPECT_EQ(sums0, sums1);
  EXPECT_NE(sums0.at(1), sums0.at(2));

  // A job recorded per rank goes on only as a job of as many ranks.
  const auto alone = testing::run_mapd("resume '" + run.string() + "'");
  EXPECT_EQ(alone.exit_code, 2) << alone.output;
  EXPECT_NE(alone.output.find("stitches the files of a data-parallel job of 2 ranks"), std::string::npos)
      << alone.output;
}

// A run whose dynamics.h5 holds every row itself (one process, or a job of an older mapd) goes on
// as a data-parallel job that way: rank 0 merges the ranks' records and writes dynamics.h5.
TEST_F(DistributedTest, ARunRecordedInOneFileResumesAsAJobThatWay) {
  const auto cfg = config(3, "none", /*slow=*/true);
  const auto run = dir_ / "one-file";
  const pid_t pid = spawn_mapd({"train", "-c", cfg.string(), "--run-dir", run.string()},
                               dir_ / "one-file.out", {"OMP_WAIT_POLICY=passive"});
  ASSERT_TRUE(testing::wait_for_epochs(run / "dynamics.h5", 1, pid, std::chrono::seconds(300)))
      << read_text(dir_ / "one-file.out");
  ::kill(pid, SIGTERM);
  ASSERT_EQ(wait_exit(pid), 143) << read_text(dir_ / "one-file.out");
  const auto kept = testing::committed_epochs(run / "dynamics.h5");
  ASSERT_GE(kept, 1);
  ASSERT_LT(kept, 3);
  // A stop mid-epoch saved the epoch's progress for one process: a job of 2 ranks refuses to
  // continue it and says how to redo the epoch instead.
  if (fsys::exists(run / "checkpoints" / "step.pt")) {
    const auto refused = wait_all(spawn_job({"resume", run.string()}, 2, "one-file-refused"));
    EXPECT_EQ(refused, (std::vector<int>{2, 2})) << output("one-file-refused", 0);
    EXPECT_NE(output("one-file-refused", 0).find("of a job of 1 ranks, and this job has 2"),
              std::string::npos)
        << output("one-file-refused", 0);
    EXPECT_EQ(testing::committed_epochs(run / "dynamics.h5"), kept);
    for (const auto& entry : fsys::directory_iterator(run / "checkpoints")) {
      if (entry.path().filename().string().rfind("step", 0) == 0) fsys::remove(entry.path());
    }
  }

  ASSERT_EQ(wait_all(spawn_job({"resume", run.string()}, 2, "one-file-resumed")), (std::vector<int>{0, 0}))
      << output("one-file-resumed", 0) << output("one-file-resumed", 1);
  const auto t = read_trajectories(run / "dynamics.h5");
  EXPECT_EQ(t.epochs, 3);
  for (const float v : t.loss) ASSERT_TRUE(std::isfinite(v));
  EXPECT_FALSE(fsys::exists(run / "dynamics.rank-0.h5"));
  EXPECT_FALSE(fsys::exists(run / "dynamics.rank-1.h5"));
}

// A rank that dies makes the others fail within dist.timeout_s instead of waiting forever; the job
// then resumes from the last epoch every rank committed and ends as an uninterrupted job does.
TEST_F(DistributedTest, AKilledRankFailsTheJobWithinTheTimeoutAndTheJobResumes) {
  const auto cfg = config(3, "none", /*slow=*/true);
  const auto whole = dir_ / "whole";
  ASSERT_EQ(wait_all(spawn_job({"train", "-c", cfg.string(), "--run-dir", whole.string()}, 2, "whole")),
            (std::vector<int>{0, 0}))
      << output("whole", 0) << output("whole", 1);

  const auto run = dir_ / "killed";
  const auto pids = spawn_job({"train", "-c", cfg.string(), "--run-dir", run.string()}, 2, "killed");
  ASSERT_TRUE(testing::wait_for_epochs(run / "dynamics.h5", 1, pids[0], std::chrono::seconds(300)))
      << output("killed", 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // inside epoch 2
  ::kill(pids[1], SIGKILL);
  const auto killed_at = Clock::now();
  const int survivor = wait_exit(pids[0]);
  const double seconds = std::chrono::duration<double>(Clock::now() - killed_at).count();
  EXPECT_EQ(wait_exit(pids[1]), 128 + SIGKILL);
  EXPECT_EQ(survivor, 6) << output("killed", 0);  // DistributedError
  EXPECT_LT(seconds, 20.0 + 30.0) << "dist.timeout_s = 20";
  EXPECT_NE(output("killed", 0).find("did not answer within dist.timeout_s"), std::string::npos)
      << output("killed", 0);

  ASSERT_EQ(wait_all(spawn_job({"resume", run.string()}, 2, "resumed")), (std::vector<int>{0, 0}))
      << output("resumed", 0) << output("resumed", 1);
  const auto a = read_trajectories(whole / "dynamics.h5");
  const auto b = read_trajectories(run / "dynamics.h5");
  ASSERT_EQ(b.epochs, 3);
  EXPECT_EQ(a.loss, b.loss) << "a resumed job continues bitwise as the uninterrupted one";
  EXPECT_EQ(a.pred, b.pred);
}

// SIGTERM to every rank (what torchrun and srun forward): all stop after the same step, exit 143
// and keep the last committed epoch; a signal to one rank alone stops them all the same way.
TEST_F(DistributedTest, SigtermToOneRankStopsEveryRankAfterTheSameStep) {
  const auto cfg = config(3, "none", /*slow=*/true);
  const auto run = dir_ / "term";
  const auto pids = spawn_job({"train", "-c", cfg.string(), "--run-dir", run.string()}, 2, "term");
  ASSERT_TRUE(testing::wait_for_epochs(run / "dynamics.h5", 1, pids[0], std::chrono::seconds(300)))
      << output("term", 0);
  ::kill(pids[1], SIGTERM);
  EXPECT_EQ(wait_all(pids), (std::vector<int>{143, 143})) << output("term", 0) << output("term", 1);
  const auto committed = testing::committed_epochs(run / "dynamics.h5");
  EXPECT_GE(committed, 1);
  EXPECT_LT(committed, 3);
  ASSERT_EQ(wait_all(spawn_job({"resume", run.string()}, 2, "term-resumed")), (std::vector<int>{0, 0}))
      << output("term-resumed", 0);
  EXPECT_EQ(testing::committed_epochs(run / "dynamics.h5"), 3);
}

// A loss that diverges on a rank fails every rank the same way (exit 5) after the same step,
// instead of one rank failing and the others timing out.
TEST_F(DistributedTest, ADivergedLossFailsEveryRankAlike) {
  const auto cfg = config(3, "batch");
  const auto run = dir_ / "nan";
  const auto codes = wait_all(spawn_job({"train", "-c", cfg.string(), "--run-dir", run.string(), "--set",
                                         "optimizer.lr=1e6", "--set", "probes.suite=none"},
                                        2, "nan"));
  EXPECT_EQ(codes, (std::vector<int>{5, 5})) << output("nan", 0) << output("nan", 1);
  for (int r = 0; r < 2; ++r) {
    EXPECT_NE(output("nan", r).find("mapd: error: training diverged"), std::string::npos) << output("nan", r);
  }
}

// What a job cannot train is refused by every rank before anything is written (exit 2).
TEST_F(DistributedTest, AModeWithoutADataParallelVersionIsRefusedBeforeAnythingIsWritten) {
  const auto cfg = config(3, "batch");
  const auto run = dir_ / "lc";
  const auto codes = wait_all(spawn_job(
      {"train", "-c", cfg.string(), "--run-dir", run.string(), "--mode", "label-correction"}, 2, "lc"));
  EXPECT_EQ(codes, (std::vector<int>{2, 2})) << output("lc", 0);
  EXPECT_NE(output("lc", 1).find("train.mode=label_correction runs in one process"), std::string::npos)
      << output("lc", 1);
  EXPECT_FALSE(fsys::exists(run));
  const auto odd = wait_all(spawn_job(
      {"train", "-c", cfg.string(), "--run-dir", run.string(), "--set", "train.batch_size=33"}, 2, "odd"));
  EXPECT_EQ(odd, (std::vector<int>{2, 2})) << output("odd", 0);
  EXPECT_NE(output("odd", 0).find("must be a multiple of its 2 ranks"), std::string::npos)
      << output("odd", 0);
}

}  // namespace
}  // namespace mapd::cli
