#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "mapd/config/config.hpp"

/// Batched, seeded augmentation. The random parameters are drawn on the CPU with SplitMix64, so a
/// batch is augmented identically on any device and with any worker count; the pixels are then
/// transformed with a few tensor operations on the batch's device.
namespace mapd::data {

/// Per-example random parameters of one batch.
struct AugmentPlan {
  std::vector<uint8_t> apply;   ///< [B] 0 = leave the example unchanged
  std::vector<int64_t> crop_y;  ///< [B] random crop: top offset into the padded image, in [0, 2*pad]
  std::vector<int64_t> crop_x;  ///< [B]
  std::vector<uint8_t> flip;    ///< [B] horizontal flip
  std::vector<double> box;      ///< [B*4] RandomResizedCrop box (y0, x0, h, w) in source pixels
};

/// Draws the parameters for a batch of `batch` images of height x width from `seed`.
/// `apply[i]` = 0 makes example i the identity (fixed probe rows).
AugmentPlan draw_augmentation(const config::AugmentConfig& config, int64_t batch, int64_t height,
                              int64_t width, uint64_t seed, const std::vector<uint8_t>& apply);

/// Applies `plan` to `images` [B, C, H, W] float on any device; returns [B, C, H, W] on the same
/// device (RandomResizedCrop resizes back to H x W, bilinear).
torch::Tensor apply_augmentation(const torch::Tensor& images, const AugmentPlan& plan,
                                 const config::AugmentConfig& config);

/// As above; `cpu_fast_path` = false forces the device-generic tensor-op path (what CUDA batches use)
/// on CPU float tensors too, so tests can check that both paths agree.
torch::Tensor apply_augmentation(const torch::Tensor& images, const AugmentPlan& plan,
                                 const config::AugmentConfig& config, bool cpu_fast_path);

/// True when `config` changes pixels at all (crop, flip or RandomResizedCrop).
bool augmentation_enabled(const config::AugmentConfig& config);

/// The augmentation seed of batch `batch` of epoch `epoch` on rank `rank` of a data-parallel job
/// (rank 0 draws what a single process draws; other ranks draw independent streams).
uint64_t augment_seed(int64_t seed, int64_t epoch, int64_t batch, int64_t rank = 0);

/// Converts floating-point images [N, C, H, W] (any device) to `channels` channels, for the
/// loader and the probe builder alike: 3 -> 1 is the ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B
/// (OpenCV's RGB->GRAY weights) in the images' dtype; 1 -> 3 repeats the grey plane. Returns
/// `images` itself when `channels` is 0 (as stored) or already C. Throws ConfigError when
/// `channels` is not 0, 1 or 3, DataError when C is not 1 or 3 (images it cannot convert), and
/// InternalError when `images` is not a floating-point 4-D tensor (a bug in the caller).
torch::Tensor convert_channels(const torch::Tensor& images, int64_t channels);

/// (images - mean[c]) / std[c] per channel. Throws ConfigError when the lengths do not match C.
torch::Tensor normalize(const torch::Tensor& images, const std::vector<double>& mean,
                        const std::vector<double>& std_dev);

}  // namespace mapd::data
