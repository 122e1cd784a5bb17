#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace mapd::train {

/// What a checkpoint holds besides the model and optimizer tensors.
struct CheckpointInfo {
  int64_t epoch = 0;        ///< epochs completed (= committed dynamics rows)
  std::string config_json;  ///< the resolved config of the run
  double loss_scale = 1.0;  ///< fp16 loss scaler state
};

/// Writes model (parameters and buffers), optimizer state, info, and the CPU (and, when present,
/// CUDA) generator states to `path` atomically (temporary file, fsync, rename). The data loader
/// order and augmentation are pure functions of (seed, epoch), so the epoch stands for its state.
/// Throws IoError naming the path.
void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer, const CheckpointInfo& info);

/// Loads a checkpoint written by save_checkpoint into `model` and `optimizer` (which must have
/// the same architecture and optimizer type) and restores the generator states. Throws IoError
/// naming the path when it is missing, truncated or does not match the model.
CheckpointInfo load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                               torch::optim::Optimizer& optimizer);

}  // namespace mapd::train
