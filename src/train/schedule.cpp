#include "mapd/train/schedule.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "mapd/core/error.hpp"

namespace mapd::train {

double learning_rate(const config::ScheduleConfig& schedule, double base_lr, int64_t epoch, int64_t step,
                     int64_t steps_per_epoch, int64_t total_epochs) {
  MAPD_CHECK(steps_per_epoch > 0 && total_epochs > 0, ConfigError,
             fmt::format("learning rate schedule: steps per epoch ({}) and epochs ({}) must be positive",
                         steps_per_epoch, total_epochs));
  const double global_step = static_cast<double>(epoch * steps_per_epoch + step);
  const double warmup_steps =
      static_cast<double>(std::max<int64_t>(schedule.warmup_epochs, 0) * steps_per_epoch);
  if (global_step < warmup_steps) return base_lr * (global_step + 1.0) / warmup_steps;

  if (schedule.name == "constant") return base_lr;
  if (schedule.name == "multistep") {
    const auto passed = std::count_if(schedule.milestones.begin(), schedule.milestones.end(),
                                      [epoch](int64_t milestone) { return milestone <= epoch; });
    return base_lr * std::pow(schedule.gamma, static_cast<double>(passed));
  }
  if (schedule.name == "cosine") {
    const double total_steps = static_cast<double>(total_epochs * steps_per_epoch);
    const double span = std::max(total_steps - warmup_steps, 1.0);
    const double progress = std::clamp((global_step - warmup_steps) / span, 0.0, 1.0);
    return schedule.min_lr + (base_lr - schedule.min_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
  }
  throw ConfigError(fmt::format(
      "schedule.name: unknown schedule '{}' (expected cosine, multistep or constant)", schedule.name));
}

}  // namespace mapd::train
