#include "mapd/train/data_parallel.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "mapd/core/error.hpp"

namespace mapd::train {

void check_data_parallel(const config::RunConfig& config, int64_t world_size) {
  if (world_size <= 1) return;
  MAPD_CHECK(config.train.mode == "standard", ConfigError,
             fmt::format("train.mode={} runs in one process; a data-parallel job ({} ranks) trains "
                         "train.mode=standard (the other modes' data-parallel versions are not built yet): "
                         "run it without torchrun/srun, or as one task",
                         config.train.mode, world_size));
  MAPD_CHECK(config.train.batch_size % world_size == 0, ConfigError,
             fmt::format("train.batch_size = {} is the global batch of the data-parallel job and must be a "
                         "multiple of its {} ranks (each rank trains batch_size / ranks examples a step)",
                         config.train.batch_size, world_size));
}

DataParallel::DataParallel(std::shared_ptr<dist::Collective> group, int64_t bucket_bytes)
    : group_(std::move(group)), bucket_bytes_(std::max<int64_t>(bucket_bytes, 1)) {
  MAPD_ASSERT(group_ != nullptr, "DataParallel: null process group");
}

bool DataParallel::synchronize(const std::vector<torch::Tensor>& parameters, bool finite, int64_t examples) {
  torch::NoGradGuard no_grad;
  // The first bucket carries [examples, finite] ahead of the gradients: one all-reduce tells every
  // rank the total count and whether all gradients are finite.
  const auto weight = static_cast<double>(examples);
  // Buckets live where the gradients do: on a CUDA device they go through NCCL (dist.backend nccl).
  const auto on = torch::TensorOptions()
                      .dtype(torch::kFloat64)
                      .device(parameters.empty() ? torch::Device(torch::kCPU) : parameters.front().device());
  double total = 0.0;
  bool all_finite = true;
  size_t begin = 0;
  bool first = true;
  while (begin < parameters.size() || first) {
    std::vector<torch::Tensor> parts;
    if (first) {
      parts.push_back(torch::tensor({weight, finite ? 1.0 : 0.0}, on));
    }
    int64_t bytes = 0;
    size_t end = begin;
    while (end < parameters.size() && (bytes == 0 || bytes + parameters[end].numel() * 8 <= bucket_bytes_)) {
      const auto& p = parameters[end];
      const auto& grad = p.grad();
      // Gradients in float64 while summed: the sum of the ranks' weighted gradients is then as
      // exact as the one process's mean over the same examples.
      parts.push_back(grad.defined() ? grad.detach().to(torch::kFloat64).reshape({-1}).mul(weight)
                                     : torch::zeros({p.numel()}, on));
      bytes += p.numel() * 8;
      ++end;
    }
    auto flat = torch::cat(parts);
    group_->all_reduce_sum(flat);
    int64_t offset = 0;
    if (first) {
      total = flat[0].item<double>();
      all_finite = flat[1].item<double>() == static_cast<double>(size());
      offset = 2;
      first = false;
      MAPD_ASSERT(total > 0, "DataParallel: a step in which no rank had an example");
    }
    for (size_t i = begin; i < end; ++i) {
      auto& p = parameters[i];
      const auto n = p.numel();
      auto mean = flat.narrow(0, offset, n).div(total).view(p.sizes()).to(p.scalar_type());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = mean;
      }
      offset += n;
    }
    begin = end;
  }
  return all_finite;
}

void DataParallel::broadcast_module(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    auto cpu = p.detach().to(torch::kCPU).contiguous();
    group_->broadcast(cpu, 0);
    p.copy_(cpu);
  }
  for (auto& b : module.buffers()) {
    auto cpu = b.to(torch::kCPU).contiguous();
    group_->broadcast(cpu, 0);
    b.copy_(cpu);
  }
}

int64_t DataParallel::max(int64_t local) {
  auto value = torch::tensor({local}, torch::kInt64);
  group_->all_reduce_max(value);
  return value.item<int64_t>();
}

StepAgreement DataParallel::agree(bool has_batch, int stop_signal, bool diverged) {
  auto flags = torch::tensor({has_batch ? int64_t{1} : int64_t{0}, static_cast<int64_t>(stop_signal),
                              diverged ? rank() + 1 : int64_t{0}},
                             torch::kInt64);
  group_->all_reduce_max(flags);
  return StepAgreement{flags[0].item<int64_t>() != 0, static_cast<int>(flags[1].item<int64_t>()),
                       flags[2].item<int64_t>() - 1};
}

void DataParallel::merge_record(EpochRecord::Host& host, bool exactly_once) {
  const auto n = static_cast<int64_t>(host.loss.size());
  MAPD_ASSERT(host.pred.size() == host.loss.size() && host.true_prob.size() == host.loss.size() &&
                  host.margin.size() == host.loss.size() && host.el2n.size() == host.loss.size(),
              "DataParallel::merge_record: ragged record");
  // [written, loss, pred + 1, true_prob, margin, el2n] per row, summed over the ranks in float64
  // (exact for one value, and for the mean of equal values).
  auto sums = torch::zeros({6, n}, torch::kFloat64);
  auto* written = sums[0].data_ptr<double>();
  auto* loss = sums[1].data_ptr<double>();
  auto* pred = sums[2].data_ptr<double>();
  auto* prob = sums[3].data_ptr<double>();
  auto* margin = sums[4].data_ptr<double>();
  auto* el2n = sums[5].data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    if (host.pred[k] < 0) continue;  // not recorded here
    written[i] = 1.0;
    loss[i] = host.loss[k];
    pred[i] = static_cast<double>(host.pred[k]) + 1.0;
    prob[i] = host.true_prob[k];
    margin[i] = host.margin[k];
    el2n[i] = host.el2n[k];
  }
  group_->all_reduce_sum(sums);
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    const double count = written[i];
    MAPD_ASSERT(!exactly_once || count <= 1.0,
                fmt::format("DataParallel: row {} was recorded by {} ranks in one epoch; the shards must be "
                            "disjoint",
                            i, count));
    if (count == 0.0) {
      host.loss[k] = std::numeric_limits<float>::quiet_NaN();
      host.pred[k] = -1;
      host.true_prob[k] = std::numeric_limits<float>::quiet_NaN();
      host.margin[k] = std::numeric_limits<float>::quiet_NaN();
      host.el2n[k] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    host.loss[k] = static_cast<float>(loss[i] / count);
    host.pred[k] = static_cast<int32_t>(std::lround(pred[i] / count - 1.0));
    host.true_prob[k] = static_cast<float>(prob[i] / count);
    host.margin[k] = static_cast<float>(margin[i] / count);
    host.el2n[k] = static_cast<float>(el2n[i] / count);
  }
}

void DataParallel::merge_totals(EpochTotals& totals) {
  auto sums = torch::tensor({totals.loss_sum.to(torch::kCPU).item<double>(),
                             static_cast<double>(totals.correct.to(torch::kCPU).item<int64_t>()),
                             static_cast<double>(totals.count)},
                            torch::kFloat64);
  group_->all_reduce_sum(sums);
  const auto device = totals.loss_sum.device();
  totals.loss_sum = torch::tensor(sums[0].item<double>(), torch::kFloat64).to(device);
  totals.correct =
      torch::tensor(static_cast<int64_t>(std::llround(sums[1].item<double>())), torch::kInt64).to(device);
  totals.count = static_cast<int64_t>(std::llround(sums[2].item<double>()));
}

void DataParallel::barrier() { group_->barrier(); }

}  // namespace mapd::train
