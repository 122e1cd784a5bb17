#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "mapd/core/process.hpp"
#include "mapd/train/mode.hpp"

#include "progress.hpp"

/// The trainer's own observers: divergence checks, the adaptive thread count and the progress bar.
namespace mapd::train::detail {

/// Checks batch losses for NaN/inf and throws DivergedError naming the epoch, step and example
/// indices. On the CPU every step is checked at once; on CUDA the losses of 25 steps are checked
/// together (one host sync per window, not per step), and the rest at the end of the pass.
class DivergenceWatch final : public TrainingObserver {
 public:
  DivergenceWatch(const torch::Device& device, std::string context);
  void batch_done(const BatchEvent& event) override;
  void pass_done(int64_t /*epoch*/) override { check(); }
  void check();

 private:
  int64_t check_every_;
  std::string context_;
  int64_t epoch_ = 0;
  std::vector<torch::Tensor> losses_, indices_;
  std::vector<int64_t> steps_;
};

/// train.threads = 0 on the CPU: the compute thread count follows the CPUs other processes leave
/// free (process::CpuShareGovernor), measured from the start of every epoch.
class ThreadGovernor final : public TrainingObserver {
 public:
  explicit ThreadGovernor(int64_t max_threads) : governor_(max_threads) {}
  void epoch_started(int64_t /*epoch*/, int64_t /*steps*/) override { governor_.restart(); }
  void batch_done(const BatchEvent& event) override;

 private:
  process::CpuShareGovernor governor_;
};

/// The adaptive governor for train.threads = 0 on the CPU, else null (a fixed train.threads is
/// never changed).
std::unique_ptr<ThreadGovernor> thread_governor(const config::TrainConfig& train,
                                                const torch::Device& device);

/// The progress bar on a terminal.
class ProgressObserver final : public TrainingObserver {
 public:
  explicit ProgressObserver(int64_t epochs) : epochs_(epochs) {}
  void epoch_started(int64_t epoch, int64_t steps) override { bar_.start(epoch, epochs_, steps); }
  void batch_done(const BatchEvent& event) override { bar_.update(event.step, event.totals.count); }
  void pass_done(int64_t /*epoch*/) override { bar_.clear(); }

 private:
  int64_t epochs_;
  ProgressBar bar_;
};

/// Throws when an epoch's record breaks the mode's promise: a row without a value, or an
/// `excluded` row (ascending: left out because its image could not be read) with one, is an
/// InternalError (a loader or mode bug); a non-finite loss of another row a DivergedError (with
/// `context`). `host` may hold the columns from `first_row` on (a data-parallel rank's block):
/// its row i is example first_row + i (as `excluded` and the messages count).
void check_epoch_rows(const EpochRecord::Host& host, int64_t epoch, const std::string& context,
                      const std::vector<int64_t>& excluded = {}, int64_t first_row = 0);

}  // namespace mapd::train::detail
