#include "observers.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"

namespace mapd::train::detail {
namespace {

std::string first_indices(const torch::Tensor& indices, int64_t limit = 8) {
  auto cpu = indices.to(torch::kCPU).to(torch::kInt64).contiguous();
  std::string out;
  const int64_t n = std::min<int64_t>(cpu.numel(), limit);
  for (int64_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(cpu.data_ptr<int64_t>()[i]);
  if (cpu.numel() > n) out += fmt::format(", ... ({} in the batch)", cpu.numel());
  return out;
}

std::string first_rows(const std::vector<int64_t>& rows) {
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(rows.size(), 8); ++i)
    out += (i ? ", " : "") + std::to_string(rows[i]);
  return rows.size() > 8 ? out + fmt::format(", ... ({} in all)", rows.size()) : out;
}

}  // namespace

DivergenceWatch::DivergenceWatch(const torch::Device& device, std::string context)
    : check_every_(device.is_cuda() ? 25 : 1), context_(std::move(context)) {}

void DivergenceWatch::batch_done(const BatchEvent& event) {
  epoch_ = event.epoch;
  losses_.push_back(event.loss);
  indices_.push_back(event.batch.indices);
  steps_.push_back(event.step);
  if (static_cast<int64_t>(losses_.size()) >= check_every_) check();
}

void DivergenceWatch::check() {
  if (losses_.empty()) return;
  auto values = torch::stack(losses_).to(torch::kCPU);
  const auto finite = torch::isfinite(values);
  if (!finite.all().item<bool>()) {
    const auto bad = finite.logical_not().nonzero()[0][0].item<int64_t>();
    throw DivergedError(
        fmt::format("training diverged: the loss at epoch {} (0-based), step {} is {}; example indices of "
                    "that batch: {}. {} Lower optimizer.lr, add schedule.warmup_epochs, or inspect these "
                    "examples.",
                    epoch_, steps_[static_cast<size_t>(bad)], values[bad].item<float>(),
                    first_indices(indices_[static_cast<size_t>(bad)]), context_));
  }
  losses_.clear();
  indices_.clear();
  steps_.clear();
}

void ThreadGovernor::batch_done(const BatchEvent& /*event*/) {
  const auto before = static_cast<int64_t>(torch::get_num_threads());
  if (const int64_t threads = governor_.after_step(); threads != before) {
    torch::set_num_threads(static_cast<int>(threads));
    log::get("train")->info(
        "compute threads {} -> {}: {}", before, threads,
        threads < before ? "other processes keep the CPUs busy" : "CPUs became free again");
  }
}

std::unique_ptr<ThreadGovernor> thread_governor(const config::TrainConfig& train,
                                                const torch::Device& device) {
  if (train.threads > 0 || !device.is_cpu()) return nullptr;
  return std::make_unique<ThreadGovernor>(torch::get_num_threads());
}

void check_epoch_rows(const EpochRecord::Host& host, int64_t epoch, const std::string& context,
                      const std::vector<int64_t>& excluded, int64_t first_row) {
  std::vector<int64_t> unvisited, non_finite, recorded_excluded;
  for (size_t i = 0; i < host.loss.size(); ++i) {
    const int64_t row = first_row + static_cast<int64_t>(i);
    if (std::binary_search(excluded.begin(), excluded.end(), row)) {
      if (host.pred[i] >= 0 || !std::isnan(host.loss[i])) recorded_excluded.push_back(row);
    } else if (host.pred[i] < 0) {
      unvisited.push_back(row);
    } else if (!std::isfinite(host.loss[i])) {
      non_finite.push_back(row);
    }
  }
  MAPD_ASSERT(
      unvisited.empty(),
      fmt::format("epoch {} left {} example(s) without a recorded loss (indices {}); the training mode "
                  "must record every row once per epoch",
                  epoch, unvisited.size(), first_rows(unvisited)));
  MAPD_ASSERT(recorded_excluded.empty(),
              fmt::format("epoch {} recorded {} example(s) that are excluded as unreadable (indices {})",
                          epoch, recorded_excluded.size(), first_rows(recorded_excluded)));
  MAPD_CHECK(
      non_finite.empty(), DivergedError,
      fmt::format("training diverged: epoch {} (0-based) gave a NaN/inf loss for {} example(s) (indices "
                  "{}). {} Lower optimizer.lr or add schedule.warmup_epochs.",
                  epoch, non_finite.size(), first_rows(non_finite), context));
}

}  // namespace mapd::train::detail
