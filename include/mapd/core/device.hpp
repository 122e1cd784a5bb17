#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

/// Device selection and process-wide seeding (the torch-dependent part of core).
namespace mapd {

/// Resolves `train.device`: "auto" (CUDA device 0 when available, else CPU), "cpu", "cuda" or
/// "cuda:N". Throws ConfigError for an unknown spelling, and when CUDA is asked for but this
/// build or machine has none (the message says which).
torch::Device resolve_device(const std::string& spec);

/// Whether this LibTorch build can use a CUDA device right now.
bool cuda_available();

/// LibTorch version as "MAJOR.MINOR.PATCH".
std::string torch_version();

/// What this binary was built with and what it sees, for `mapd --version` and run metadata.
struct BuildInfo {
  std::string torch_version;  ///< "2.11.0"
  bool cuda_built = false;    ///< linked against LibTorch's CUDA library (libtorch_cuda)
  std::string cuda_version;   ///< CUDA runtime LibTorch was built with ("13.0"), empty without CUDA
  std::string cudnn_version;  ///< cuDNN LibTorch was built with ("9.19.0"), empty when none
  int64_t gpus = 0;           ///< CUDA devices visible now
};

/// Reads BuildInfo from the linked LibTorch. Never throws: what cannot be queried stays empty.
BuildInfo build_info();

/// Sets torch's intra-op CPU threads: `requested` when > 0, else every CPU this process may use
/// (process::usable_cpus(): affinity mask and cgroup quota, not the machine's CPU count).
/// Returns the number set.
int64_t set_compute_threads(int64_t requested);

/// Seeds torch's CPU (and CUDA, when present) generators.
void seed_torch(uint64_t seed);

}  // namespace mapd
