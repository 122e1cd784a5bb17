#include "mapd/train/amp.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include "mapd/core/error.hpp"

namespace mapd::train {

AmpMode parse_amp_mode(const std::string& name) {
  if (name == "off") return AmpMode::kOff;
  if (name == "bf16") return AmpMode::kBf16;
  if (name == "fp16") return AmpMode::kFp16;
  throw ConfigError(fmt::format("train.amp: unknown mode '{}' (expected off, bf16 or fp16)", name));
}

LossScaler::LossScaler(bool enabled, double initial_scale, double growth_factor, double backoff_factor,
                       int64_t growth_interval)
    : enabled_(enabled),
      scale_(enabled ? initial_scale : 1.0),
      growth_factor_(growth_factor),
      backoff_factor_(backoff_factor),
      growth_interval_(growth_interval) {}

torch::Tensor LossScaler::scale_loss(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_ : loss;
}

bool LossScaler::unscale_and_check(const std::vector<torch::Tensor>& params) {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  const double inverse = 1.0 / scale_;
  std::vector<torch::Tensor> finite;
  for (const auto& p : params) {
    const auto& grad = p.grad();
    if (!grad.defined()) continue;
    grad.mul_(inverse);
    finite.push_back(torch::isfinite(grad).all());
  }
  if (finite.empty()) return true;
  return torch::stack(finite).all().item<bool>();
}

void LossScaler::update(bool found_finite) {
  if (!enabled_) return;
  if (!found_finite) {
    scale_ *= backoff_factor_;
    clean_steps_ = 0;
  } else if (++clean_steps_ >= growth_interval_) {
    scale_ *= growth_factor_;
    clean_steps_ = 0;
  }
}

}  // namespace mapd::train
