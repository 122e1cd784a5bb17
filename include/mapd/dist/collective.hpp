#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mapd/dist/world.hpp"

/// The process group of a data-parallel job: PyTorch's c10d (a TCPStore rendezvous at rank 0,
/// ProcessGroupGloo for CPU tensors, and ProcessGroupNCCL for CUDA tensors with backend nccl). The
/// collectives the trainer needs, each blocking until done and failing with DistributedError after
/// the group's timeout (a rank that died or hangs must not hang the others).
namespace mapd::dist {

class Collective {
 public:
  /// Joins the job `world` (every rank calls it; it returns when all have joined or throws
  /// DistributedError naming the master address after `timeout`). `backend`: "gloo" (every tensor;
  /// CUDA tensors through a CPU copy) or "nccl" (CUDA tensors on `cuda_device`, this rank's GPU,
  /// through NCCL; CPU tensors and the barrier through Gloo, as PyTorch jobs do). Throws
  /// ConfigError for nccl without a CUDA device or in a build without it.
  static std::shared_ptr<Collective> connect(const World& world, const std::string& backend,
                                             std::chrono::milliseconds timeout, int64_t cuda_device = -1);
  /// Whether this build has c10d's NCCL backend (LibTorch with CUDA).
  static bool nccl_built();
  ~Collective();
  Collective(const Collective&) = delete;
  Collective& operator=(const Collective&) = delete;

  [[nodiscard]] int64_t rank() const;
  [[nodiscard]] int64_t size() const;
  [[nodiscard]] const World& world() const;
  /// "nccl" when CUDA tensors go through NCCL, else "gloo".
  [[nodiscard]] std::string backend_name() const;

  /// In place: every rank's `tensor` (contiguous, the same shape and dtype everywhere) becomes the
  /// element-wise sum (max) over the ranks.
  void all_reduce_sum(torch::Tensor& tensor);
  void all_reduce_max(torch::Tensor& tensor);
  /// Personalised exchange: this rank sends `input`'s first `send_counts[0]` elements to rank 0,
  /// the next `send_counts[1]` to rank 1, and so on, and receives into `output` what every rank
  /// sent it, in rank order (`receive_counts[q]` elements from rank q). 1-D contiguous tensors of
  /// one dtype; the counts (one per rank) must agree with what the peers send.
  void all_to_all(const torch::Tensor& input, const std::vector<int64_t>& send_counts, torch::Tensor& output,
                  const std::vector<int64_t>& receive_counts);
  /// In place: every rank's `tensor` becomes rank `root`'s.
  void broadcast(torch::Tensor& tensor, int64_t root = 0);
  /// Returns when every rank has called it.
  void barrier();
  /// Rank 0's `value` on every rank (passed through the rendezvous store under `key`; a key is
  /// shared once per job).
  std::string share(const std::string& key, const std::string& value);

 private:
  struct Impl;
  explicit Collective(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mapd::dist
