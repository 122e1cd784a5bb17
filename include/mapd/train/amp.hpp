#pragma once

/// Mixed precision: the ONE place that touches LibTorch's autocast API, which changed between
/// LibTorch 1.13 (at::autocast::set_enabled / set_autocast_gpu_dtype) and 2.4+ (per-device
/// set_autocast_enabled(kCUDA, ...) / set_autocast_dtype(kCUDA, ...)). Autocast runs on CUDA only;
/// on the CPU every class here is a no-op, but the code path is compiled and tested.

#include <ATen/autocast_mode.h>
#include <torch/types.h>
#include <torch/version.h>

#include <cstdint>
#include <string>
#include <vector>

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define MAPD_AUTOCAST_PER_DEVICE_API 1
#else
#define MAPD_AUTOCAST_PER_DEVICE_API 0
#endif

namespace mapd::train {

/// train.amp.
enum class AmpMode { kOff, kBf16, kFp16 };

/// Parses train.amp ("off", "bf16", "fp16"). Throws ConfigError for any other value.
AmpMode parse_amp_mode(const std::string& name);

namespace detail {

inline bool cuda_autocast_enabled() {
#if MAPD_AUTOCAST_PER_DEVICE_API
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}

inline void set_cuda_autocast_enabled(bool enabled) {
#if MAPD_AUTOCAST_PER_DEVICE_API
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  at::autocast::set_enabled(enabled);
#endif
}

inline at::ScalarType cuda_autocast_dtype() {
#if MAPD_AUTOCAST_PER_DEVICE_API
  return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  return at::autocast::get_autocast_gpu_dtype();
#endif
}

inline void set_cuda_autocast_dtype(at::ScalarType dtype) {
#if MAPD_AUTOCAST_PER_DEVICE_API
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
#else
  at::autocast::set_autocast_gpu_dtype(dtype);
#endif
}

}  // namespace detail

/// RAII autocast region for the forward pass: on CUDA with bf16/fp16, enables autocast with that
/// dtype and restores the previous state on destruction; otherwise does nothing.
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, AmpMode mode)
      : active_(device.is_cuda() && mode != AmpMode::kOff) {
    if (!active_) return;
    previous_enabled_ = detail::cuda_autocast_enabled();
    previous_dtype_ = detail::cuda_autocast_dtype();
    detail::set_cuda_autocast_dtype(mode == AmpMode::kBf16 ? at::kBFloat16 : at::kHalf);
    detail::set_cuda_autocast_enabled(true);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!active_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    detail::set_cuda_autocast_enabled(previous_enabled_);
    detail::set_cuda_autocast_dtype(previous_dtype_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;
  /// Whether autocast is on inside this guard.
  [[nodiscard]] bool active() const { return active_; }

 private:
  bool active_;
  bool previous_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kHalf;
};

/// Dynamic loss scaling for fp16 (as torch.cuda.amp.GradScaler): the loss is multiplied by
/// `scale()` before backward; `unscale_and_check` divides the gradients back and reports whether
/// any is non-finite, in which case the step must be skipped and the scale backs off; after
/// `growth_interval` clean steps the scale grows. Disabled (scale 1, never skips) unless enabled.
class LossScaler {
 public:
  /// `enabled` = fp16 on CUDA. Scale starts at `initial_scale`.
  explicit LossScaler(bool enabled, double initial_scale = 65536.0, double growth_factor = 2.0,
                      double backoff_factor = 0.5, int64_t growth_interval = 2000);

  /// loss * scale (the loss unchanged when disabled).
  [[nodiscard]] torch::Tensor scale_loss(const torch::Tensor& loss) const;
  /// Divides every defined gradient of `params` by the scale; returns true when all are finite
  /// (the optimizer step may run). Always true when disabled. One host sync when enabled.
  bool unscale_and_check(const std::vector<torch::Tensor>& params);
  /// Updates the scale after a step: backoff when `found_finite` is false, growth after
  /// growth_interval finite steps in a row.
  void update(bool found_finite);

  [[nodiscard]] bool enabled() const { return enabled_; }
  [[nodiscard]] double scale() const { return scale_; }
  /// Finite steps in a row since the scale last changed (towards the next growth).
  [[nodiscard]] int64_t clean_steps() const { return clean_steps_; }
  /// Restores the scale and the finite steps counted towards its next growth (from a checkpoint).
  void set_scale(double scale, int64_t clean_steps = 0) {
    scale_ = scale;
    clean_steps_ = clean_steps;
  }

 private:
  bool enabled_;
  double scale_;
  double growth_factor_;
  double backoff_factor_;
  int64_t growth_interval_;
  int64_t clean_steps_ = 0;
};

}  // namespace mapd::train
