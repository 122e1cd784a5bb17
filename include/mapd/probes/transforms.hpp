#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

/// The probe transforms (docs/probes.md; the reference code's: docs/method.md §3). All images are float [N,
/// C, H, W] in [0, 1] on the CPU. Randomness comes from a seeded data::MersenneTwister64 (mapd/data/rng.hpp;
/// not torch's generator), so a seed gives the same probes with every LibTorch version.
namespace mapd::probes {

/// `corrupted`: clip(x + sigma * n, 0, 1) with n ~ N(0, 1) i.i.d. per pixel and channel.
/// `images` [N, C, H, W] float; returns a new tensor of the same shape. Throws ConfigError if
/// sigma <= 0.
torch::Tensor add_gaussian_noise(const torch::Tensor& images, double sigma, uint64_t seed);

/// `mislabeled`: for each label a label drawn uniformly from the `num_classes - 1` other classes
/// (never the given one). Throws ConfigError if num_classes < 2, InternalError if a label is
/// outside [0, C) (num_classes comes from data::class_count of the same labels).
std::vector<int64_t> draw_wrong_labels(const std::vector<int64_t>& labels, int64_t num_classes,
                                       uint64_t seed);

/// `n` labels drawn uniformly from [0, num_classes) (random_input and dataset-ood probes).
std::vector<int64_t> draw_labels(int64_t n, int64_t num_classes, uint64_t seed);

/// `ood` (sketch): the pencil-sketch transform of the MAP-D reference code, per image: grey
/// (OpenCV's RGB->GRAY weights for 3 channels), inverted, Gaussian-blurred (7x7 kernel for images
/// up to 64 px, 21x21 above, sigma derived by OpenCV), colour dodge gray * 256 / (255 - blur)
/// saturated to uint8 (0 where the divisor is 0), replicated to `out_channels` (1 or 3).
/// `images` [N, C, H, W] float in [0, 1] with C = 1 or 3; returns [N, out_channels, H, W].
torch::Tensor pencil_sketch(const torch::Tensor& images, int64_t out_channels);

/// `random_input`: clip(randn, 0, 1) images [n, c, h, w] (about half the pixels exactly 0).
torch::Tensor random_inputs(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed);

/// `ood` (glyphs): `n` images [n, c, h, w] of one or two characters (letters, digits, symbols)
/// in a random Hershey font, size, stroke width, position and rotation (+-25 degrees), drawn
/// anti-aliased at 4x and shrunk, light strokes (grey level 0.55-1, per channel when c = 3) on
/// black. Needs no source images, so it works for any dataset. Throws ConfigError for c not 1
/// or 3 or images smaller than 8x8.
torch::Tensor render_glyphs(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed);

/// Resizes [N, C, H, W] images to [N, C, height, width] (area interpolation when shrinking,
/// bilinear when enlarging). Returns the input when the size already matches.
torch::Tensor resize_images(const torch::Tensor& images, int64_t height, int64_t width);

}  // namespace mapd::probes
