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

/// Seeds torch's CPU (and CUDA, when present) generators.
void seed_torch(uint64_t seed);

}  // namespace mapd
