#include "mapd/data/augment.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cmath>

#include "mapd/core/error.hpp"
#include "mapd/data/rng.hpp"

namespace mapd::data {

bool augmentation_enabled(const config::AugmentConfig& config) {
  return config.crop_padding > 0 || config.hflip || config.random_resized_crop;
}

uint64_t augment_seed(int64_t seed, int64_t epoch, int64_t batch, int64_t rank) {
  uint64_t stream = mix_seed(static_cast<uint64_t>(seed), 0xa06e47);
  if (rank != 0) stream = mix_seed(stream, 0x5a4d, static_cast<uint64_t>(rank));
  return mix_seed(stream, static_cast<uint64_t>(epoch), static_cast<uint64_t>(batch));
}

AugmentPlan draw_augmentation(const config::AugmentConfig& config, int64_t batch, int64_t height,
                              int64_t width, uint64_t seed, const std::vector<uint8_t>& apply) {
  AugmentPlan plan;
  plan.apply = apply;
  plan.apply.resize(static_cast<size_t>(batch), 1);
  plan.crop_y.assign(batch, config.crop_padding);
  plan.crop_x.assign(batch, config.crop_padding);
  plan.flip.assign(batch, 0);
  plan.box.resize(static_cast<size_t>(batch * 4));
  SplitMix64 rng(seed);
  const auto span = static_cast<uint64_t>(2 * config.crop_padding + 1);
  const double area = static_cast<double>(height * width);
  const double log_lo = std::log(3.0 / 4.0);
  const double log_hi = std::log(4.0 / 3.0);
  for (int64_t i = 0; i < batch; ++i) {
    double* box = plan.box.data() + i * 4;
    box[0] = 0.0;
    box[1] = 0.0;
    box[2] = static_cast<double>(height);
    box[3] = static_cast<double>(width);
    if (plan.apply[i] == 0) {
      continue;
    }
    if (config.crop_padding > 0) {
      plan.crop_y[i] = static_cast<int64_t>(rng.uniform(span));
      plan.crop_x[i] = static_cast<int64_t>(rng.uniform(span));
    }
    if (config.hflip) {
      plan.flip[i] = static_cast<uint8_t>(rng.next() >> 63U);
    }
    if (config.random_resized_crop) {
      // torchvision's RandomResizedCrop: 10 tries of (scale, log-uniform ratio), else the whole image.
      for (int attempt = 0; attempt < 10; ++attempt) {
        const double target =
            area * (config.rrc_scale_min + (1.0 - config.rrc_scale_min) * rng.uniform_double());
        const double ratio = std::exp(log_lo + (log_hi - log_lo) * rng.uniform_double());
        const auto w = static_cast<int64_t>(std::lround(std::sqrt(target * ratio)));
        const auto h = static_cast<int64_t>(std::lround(std::sqrt(target / ratio)));
        if (w > 0 && h > 0 && w <= width && h <= height) {
          box[0] = static_cast<double>(rng.uniform(static_cast<uint64_t>(height - h + 1)));
          box[1] = static_cast<double>(rng.uniform(static_cast<uint64_t>(width - w + 1)));
          box[2] = static_cast<double>(h);
          box[3] = static_cast<double>(w);
          break;
        }
      }
    }
  }
  return plan;
}

namespace {

/// CPU fast path of crop-with-padding + flip: one pass over the pixels, no padded copy.
torch::Tensor crop_flip_cpu(const torch::Tensor& images, const AugmentPlan& plan,
                            const config::AugmentConfig& config, bool flip_done) {
  const auto x = images.contiguous();
  const int64_t b = x.size(0);
  const int64_t c = x.size(1);
  const int64_t h = x.size(2);
  const int64_t w = x.size(3);
  const int64_t p = config.crop_padding;
  const bool reflect = config.padding_mode == "reflect";
  auto out = torch::empty_like(x);
  const float* src = x.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  // Source coordinate of padded coordinate q (-1 = zero padding).
  auto source = [&](int64_t q, int64_t n) -> int64_t {
    int64_t s = q - p;
    if (s >= 0 && s < n) {
      return s;
    }
    if (!reflect) {
      return -1;
    }
    s = s < 0 ? -s : 2 * (n - 1) - s;
    return std::min<int64_t>(std::max<int64_t>(s, 0), n - 1);
  };
  std::vector<int64_t> cols(static_cast<size_t>(w));
  for (int64_t i = 0; i < b; ++i) {
    const bool flip = !flip_done && plan.flip[i] != 0;
    for (int64_t j = 0; j < w; ++j) {
      cols[j] = source(plan.crop_x[i] + (flip ? w - 1 - j : j), w);
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* plane = src + (i * c + ch) * h * w;
      float* target = dst + (i * c + ch) * h * w;
      for (int64_t y = 0; y < h; ++y) {
        const int64_t sy = source(plan.crop_y[i] + y, h);
        float* row = target + y * w;
        if (sy < 0) {
          std::fill(row, row + w, 0.0F);
          continue;
        }
        const float* srow = plane + sy * w;
        for (int64_t j = 0; j < w; ++j) {
          row[j] = cols[j] < 0 ? 0.0F : srow[cols[j]];
        }
      }
    }
  }
  return out;
}

}  // namespace

torch::Tensor apply_augmentation(const torch::Tensor& images, const AugmentPlan& plan,
                                 const config::AugmentConfig& config) {
  return apply_augmentation(images, plan, config, !images.is_cuda() && images.scalar_type() == torch::kFloat);
}

torch::Tensor apply_augmentation(const torch::Tensor& images, const AugmentPlan& plan,
                                 const config::AugmentConfig& config, bool cpu_fast_path) {
  namespace F = torch::nn::functional;
  MAPD_ASSERT(images.dim() == 4, "apply_augmentation: images must be [B, C, H, W]");
  const int64_t b = images.size(0);
  const int64_t c = images.size(1);
  const int64_t h = images.size(2);
  const int64_t w = images.size(3);
  const auto device = images.device();
  const auto cpu_long = torch::TensorOptions().dtype(torch::kLong);
  torch::Tensor x = images;
  bool flip_done = false;
  if (config.random_resized_crop) {
    auto theta = torch::zeros({b, 2, 3}, torch::kFloat);
    auto t = theta.accessor<float, 3>();
    for (int64_t i = 0; i < b; ++i) {
      const double* box = plan.box.data() + i * 4;
      const double sx = box[3] / static_cast<double>(w);
      const double sy = box[2] / static_cast<double>(h);
      t[i][0][0] = static_cast<float>(plan.flip[i] != 0 ? -sx : sx);
      t[i][0][2] = static_cast<float>((2.0 * box[1] + box[3]) / static_cast<double>(w) - 1.0);
      t[i][1][1] = static_cast<float>(sy);
      t[i][1][2] = static_cast<float>((2.0 * box[0] + box[2]) / static_cast<double>(h) - 1.0);
    }
    const auto grid = F::affine_grid(theta.to(device, x.scalar_type()), {b, c, h, w}, false);
    x = F::grid_sample(
        x, grid,
        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
    flip_done = true;
  }
  const int64_t p = config.crop_padding;
  const bool any_flip =
      !flip_done && std::any_of(plan.flip.begin(), plan.flip.end(), [](uint8_t f) { return f != 0; });
  if ((p > 0 || any_flip) && cpu_fast_path && !x.is_cuda() && x.scalar_type() == torch::kFloat) {
    x = crop_flip_cpu(x, plan, config, flip_done);
  } else if (p > 0 || any_flip) {
    torch::Tensor padded = x;
    if (p > 0) {
      auto options = F::PadFuncOptions({p, p, p, p});
      if (config.padding_mode == "reflect") {
        options.mode(torch::kReflect);
      }
      padded = F::pad(x, options);
    }
    const int64_t wp = w + 2 * p;
    auto cy = torch::from_blob(const_cast<int64_t*>(plan.crop_y.data()), {b}, cpu_long).clone();
    auto cx = torch::from_blob(const_cast<int64_t*>(plan.crop_x.data()), {b}, cpu_long).clone();
    std::vector<int64_t> flips(plan.flip.begin(), plan.flip.end());
    if (flip_done) {
      std::fill(flips.begin(), flips.end(), 0);
    }
    auto fl = torch::from_blob(flips.data(), {b}, cpu_long).clone();
    cy = cy.to(device);
    cx = cx.to(device);
    fl = fl.to(device);
    const auto ar_h = torch::arange(h, torch::TensorOptions().dtype(torch::kLong).device(device));
    const auto ar_w = torch::arange(w, torch::TensorOptions().dtype(torch::kLong).device(device));
    const auto ys = cy.unsqueeze(1) + ar_h.unsqueeze(0);     // [B, H]
    const auto xs_plain = ar_w.unsqueeze(0).expand({b, w});  // [B, W]
    const auto xs = cx.unsqueeze(1) + torch::where(fl.unsqueeze(1) != 0, (w - 1) - xs_plain, xs_plain);
    const auto lin = (ys.unsqueeze(2) * wp + xs.unsqueeze(1)).reshape({b, 1, h * w}).expand({b, c, h * w});
    x = padded.reshape({b, c, -1}).gather(2, lin).reshape({b, c, h, w});
  }
  return x;
}

torch::Tensor convert_channels(const torch::Tensor& images, int64_t channels) {
  MAPD_ASSERT(images.defined() && images.dim() == 4 && images.is_floating_point(),
              "convert_channels: images must be a floating-point [N, C, H, W] tensor");
  const int64_t c = images.size(1);
  if (channels == 0 || c == channels) {
    return images;
  }
  MAPD_CHECK(channels == 1 || channels == 3, ConfigError,
             fmt::format("data.channels = {}: expected 0 (as stored), 1 or 3", channels));
  MAPD_CHECK(c == 1 || c == 3, DataError,
             fmt::format("data.channels = {}: cannot convert images with {} channels (supported: 1 <-> 3)",
                         channels, c));
  if (channels == 3) {
    return images.repeat({1, 3, 1, 1});
  }
  // One weighted sum over the channel dimension: on the CPU the same bits as R*0.299 + G*0.587 + B*0.114
  // term by term in float (tests/data/loader_test.cpp checks it).
  const auto weights = torch::tensor({0.299F, 0.587F, 0.114F}, images.options()).view({1, 3, 1, 1});
  return (images * weights).sum(1, true);
}

torch::Tensor normalize(const torch::Tensor& images, const std::vector<double>& mean,
                        const std::vector<double>& std_dev) {
  const int64_t c = images.size(1);
  MAPD_CHECK(static_cast<int64_t>(mean.size()) == c && static_cast<int64_t>(std_dev.size()) == c, ConfigError,
             fmt::format("data.augment.mean/std: need {} values (one per channel), got {} and {}", c,
                         mean.size(), std_dev.size()));
  std::vector<float> m(mean.begin(), mean.end());
  std::vector<float> s(std_dev.begin(), std_dev.end());
  const auto mt = torch::tensor(m).to(images.device(), images.scalar_type()).view({1, c, 1, 1});
  const auto st = torch::tensor(s).to(images.device(), images.scalar_type()).view({1, c, 1, 1});
  return (images - mt) / st;
}

}  // namespace mapd::data
