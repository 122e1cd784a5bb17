#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

/// Device selection and process-wide seeding (the torch-dependent part of core).
namespace mapd {

/// Resolves `train.device`: "auto" (this process's CUDA device when one is visible, else CPU),
/// "cpu", "cuda" (this process's CUDA device) or "cuda:N". This process's device is 0, or in a
/// data-parallel job the rank's index on its node modulo the visible devices
/// (set_local_device_index). Throws ConfigError for an unknown spelling, and when CUDA is asked for
/// but this build or machine has none (the message says which).
torch::Device resolve_device(const std::string& spec);

/// Makes "auto" and "cuda" mean CUDA device `local_rank` modulo the visible devices in this
/// process (a data-parallel rank's LOCAL_RANK / SLURM_LOCALID; one GPU per rank on a node).
void set_local_device_index(int64_t local_rank);

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
