#pragma once

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace mapd::train {

/// What a checkpoint holds besides the model and optimizer tensors.
struct CheckpointInfo {
  int64_t epoch = 0;                   ///< epochs completed (= committed dynamics rows)
  std::string config_json;             ///< the resolved config of the run
  double loss_scale = 1.0;             ///< fp16 loss scaler state: the scale
  int64_t loss_scale_clean_steps = 0;  ///< and its finite steps towards the next growth
  /// A step checkpoint (checkpoints/step.pt): steps of epoch `epoch` (the next one to commit)
  /// trained when a stop signal ended it, and the ranks of the job that trained them. 0 and 1 in
  /// an epoch checkpoint.
  int64_t steps = 0;
  int64_t world_size = 1;
};

/// Writes the archive `fill` builds to `path` atomically (temporary file, fsync, rename), as every
/// checkpoint file is written. Throws IoError naming the path and `what` when it cannot be
/// serialised or written.
void save_archive_atomic(const std::filesystem::path& path, const std::string& what,
                         const std::function<void(torch::serialize::OutputArchive&)>& fill);

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

/// The info of a checkpoint written by save_checkpoint, without loading its tensors anywhere.
/// Throws IoError naming the path when it is missing or unreadable.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

}  // namespace mapd::train
