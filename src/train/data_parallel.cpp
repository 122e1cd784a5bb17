#include "mapd/train/data_parallel.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
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

namespace {

/// A record row as exchanged: its row within the receiver's block, then loss, pred, true_prob,
/// margin and el2n (floats as their bits).
constexpr int64_t kExchangeWords = 6;

/// The bits of `from` as a `To` of the same size (std::bit_cast before C++20).
template <typename To, typename From>
To same_bits(From from) {
  static_assert(sizeof(To) == sizeof(From), "same_bits: sizes differ");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

int32_t float_bits(float value) { return same_bits<int32_t>(value); }
float bits_float(int32_t bits) { return same_bits<float>(bits); }

}  // namespace

EpochRecord::Host DataParallel::exchange_record(const EpochRecord::Host& host,
                                                const std::vector<int64_t>& first_columns,
                                                bool exactly_once) {
  const int64_t ranks = size();
  const int64_t n = static_cast<int64_t>(host.loss.size());
  MAPD_ASSERT(host.pred.size() == host.loss.size() && host.true_prob.size() == host.loss.size() &&
                  host.margin.size() == host.loss.size() && host.el2n.size() == host.loss.size(),
              "DataParallel::exchange_record: ragged record");
  MAPD_ASSERT(static_cast<int64_t>(first_columns.size()) == ranks + 1 && first_columns.front() == 0 &&
                  first_columns.back() == n,
              fmt::format("DataParallel::exchange_record: {} block boundaries for {} ranks and {} rows",
                          first_columns.size(), ranks, n));
  // What goes to rank q: the rows of q's block recorded here, in column order.
  std::vector<int64_t> send_counts(static_cast<size_t>(ranks), 0);
  int64_t total = 0;
  for (int64_t q = 0; q < ranks; ++q) {
    const int64_t first = first_columns[static_cast<size_t>(q)];
    const int64_t end = first_columns[static_cast<size_t>(q + 1)];
    MAPD_ASSERT(end >= first && end - first <= std::numeric_limits<int32_t>::max(),
                fmt::format("DataParallel::exchange_record: block [{}, {}) of rank {}", first, end, q));
    int64_t count = 0;
    for (int64_t i = first; i < end; ++i) count += host.pred[static_cast<size_t>(i)] >= 0 ? 1 : 0;
    send_counts[static_cast<size_t>(q)] = count * kExchangeWords;
    total += count;
  }
  auto send = torch::empty({total * kExchangeWords}, torch::kInt32);
  auto* out = send.data_ptr<int32_t>();
  for (int64_t q = 0; q < ranks; ++q) {
    const int64_t first = first_columns[static_cast<size_t>(q)];
    for (int64_t i = first; i < first_columns[static_cast<size_t>(q + 1)]; ++i) {
      const auto k = static_cast<size_t>(i);
      if (host.pred[k] < 0) continue;  // not recorded here
      *out++ = static_cast<int32_t>(i - first);
      *out++ = float_bits(host.loss[k]);
      *out++ = host.pred[k];
      *out++ = float_bits(host.true_prob[k]);
      *out++ = float_bits(host.margin[k]);
      *out++ = float_bits(host.el2n[k]);
    }
  }
  // How much each rank sends here: one all-to-all of the counts, then the rows.
  auto counts_out = torch::tensor(send_counts, torch::kInt64);
  auto counts_in = torch::empty({ranks}, torch::kInt64);
  const std::vector<int64_t> ones(static_cast<size_t>(ranks), 1);
  group_->all_to_all(counts_out, ones, counts_in, ones);
  std::vector<int64_t> receive_counts(static_cast<size_t>(ranks));
  std::memcpy(receive_counts.data(), counts_in.data_ptr<int64_t>(), sizeof(int64_t) * receive_counts.size());
  int64_t received_words = 0;
  for (const int64_t c : receive_counts) received_words += c;
  auto received = torch::empty({received_words}, torch::kInt32);
  group_->all_to_all(send, send_counts, received, receive_counts);

  const int64_t first = first_columns[static_cast<size_t>(rank())];
  const int64_t rows = first_columns[static_cast<size_t>(rank() + 1)] - first;
  const auto width = static_cast<size_t>(rows);
  EpochRecord::Host block;
  block.loss.assign(width, std::numeric_limits<float>::quiet_NaN());
  block.pred.assign(width, -1);
  block.true_prob.assign(width, std::numeric_limits<float>::quiet_NaN());
  block.margin.assign(width, std::numeric_limits<float>::quiet_NaN());
  block.el2n.assign(width, std::numeric_limits<float>::quiet_NaN());
  // [count, loss, pred + 1, true_prob, margin, el2n] summed in float64, as merge_record does, for
  // rows that more than one rank recorded (record.view=eval: every rank evaluates every row).
  std::vector<double> sums;
  std::vector<int32_t> count(width, 0);
  const auto* in = received.data_ptr<int32_t>();
  for (int64_t e = 0; e < received_words / kExchangeWords; ++e, in += kExchangeWords) {
    const int64_t row = in[0];
    MAPD_ASSERT(row >= 0 && row < rows,
                fmt::format("DataParallel::exchange_record: row {} outside the block of {} rows", row, rows));
    const auto k = static_cast<size_t>(row);
    if (count[k] == 0) {
      block.loss[k] = bits_float(in[1]);
      block.pred[k] = in[2];
      block.true_prob[k] = bits_float(in[3]);
      block.margin[k] = bits_float(in[4]);
      block.el2n[k] = bits_float(in[5]);
    } else {
      MAPD_ASSERT(
          !exactly_once,
          fmt::format("DataParallel: row {} was recorded by {} ranks in one epoch; the shards must be "
                      "disjoint",
                      first + row, count[k] + 1));
      if (sums.empty()) sums.assign(width * 6, 0.0);
      double* sum = sums.data() + k * 6;
      if (count[k] == 1) {  // the first value, kept as is until now
        sum[0] = 1.0;
        sum[1] = block.loss[k];
        sum[2] = static_cast<double>(block.pred[k]) + 1.0;
        sum[3] = block.true_prob[k];
        sum[4] = block.margin[k];
        sum[5] = block.el2n[k];
      }
      sum[0] += 1.0;
      sum[1] += bits_float(in[1]);
      sum[2] += static_cast<double>(in[2]) + 1.0;
      sum[3] += bits_float(in[3]);
      sum[4] += bits_float(in[4]);
      sum[5] += bits_float(in[5]);
      block.loss[k] = static_cast<float>(sum[1] / sum[0]);
      block.pred[k] = static_cast<int32_t>(std::lround(sum[2] / sum[0] - 1.0));
      block.true_prob[k] = static_cast<float>(sum[3] / sum[0]);
      block.margin[k] = static_cast<float>(sum[4] / sum[0]);
      block.el2n[k] = static_cast<float>(sum[5] / sum[0]);
    }
    ++count[k];
  }
  return block;
}

std::vector<int64_t> DataParallel::gather_rows(const std::vector<int64_t>& rows) {
  const int64_t longest = max(static_cast<int64_t>(rows.size()));
  // Row r of the table: rank r's count, then its rows; zeros elsewhere.
  auto table = torch::zeros({size(), longest + 1}, torch::kInt64);
  auto* own = table[rank()].data_ptr<int64_t>();
  own[0] = static_cast<int64_t>(rows.size());
  std::copy(rows.begin(), rows.end(), own + 1);
  group_->all_reduce_sum(table);
  std::vector<int64_t> all;
  for (int64_t r = 0; r < size(); ++r) {
    const auto* line = table[r].data_ptr<int64_t>();
    all.insert(all.end(), line + 1, line + 1 + line[0]);
  }
  return all;
}

void DataParallel::sum(std::vector<double>& values) {
  if (values.empty()) return;
  auto sums = torch::tensor(values, torch::kFloat64);
  group_->all_reduce_sum(sums);
  std::memcpy(values.data(), sums.data_ptr<double>(), sizeof(double) * values.size());
}

uint64_t DataParallel::check_identical(const std::vector<torch::Tensor>& parameters, int64_t epoch) {
  torch::NoGradGuard no_grad;
  // FNV-1a over 8-byte words of every parameter's bytes, in order (the tail bytes one by one).
  uint64_t checksum = 14695981039346656037ULL;
  constexpr uint64_t kPrime = 1099511628211ULL;
  for (const auto& p : parameters) {
    const auto cpu = p.detach().to(torch::kCPU).contiguous();
    const auto* bytes = static_cast<const unsigned char*>(cpu.data_ptr());
    const auto count = static_cast<size_t>(cpu.numel()) * cpu.element_size();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
      uint64_t word = 0;
      std::memcpy(&word, bytes + i, 8);
      checksum = (checksum ^ word) * kPrime;
    }
    for (; i < count; ++i) checksum = (checksum ^ bytes[i]) * kPrime;
  }
  // The largest checksum and the largest complement (the complement of the smallest checksum).
  const auto value = same_bits<int64_t>(checksum);
  auto extremes = torch::tensor({value, ~value}, torch::kInt64);
  group_->all_reduce_max(extremes);
  const auto largest = same_bits<uint64_t>(extremes[0].item<int64_t>());
  const auto smallest = same_bits<uint64_t>(~extremes[1].item<int64_t>());
  MAPD_CHECK(
      largest == smallest && largest == checksum, DistributedError,
      fmt::format("the {} data-parallel ranks' parameters differ after epoch {} (checksum {:016x} here, "
                  "{:016x} to {:016x} over the ranks): the ranks must stay bit-identical (they apply the "
                  "same summed gradients). Nothing of epoch {} was written; run every rank with the same "
                  "mapd and LibTorch build, and report it if they are",
                  size(), epoch, checksum, std::min(largest, smallest), std::max(largest, smallest), epoch));
  return checksum;
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
