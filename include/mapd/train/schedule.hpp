#pragma once

#include <cstdint>

#include "mapd/config/config.hpp"

namespace mapd::train {

/// Learning rate at step `step` (0-based, within the epoch) of epoch `epoch` (0-based), a pure
/// function of its arguments so a resumed run needs no scheduler state.
///   warm-up: for the first schedule.warmup_epochs epochs the rate rises linearly from base_lr /
///            (warmup_epochs * steps_per_epoch) at the first step to base_lr at the last;
///   cosine:  then base_lr -> schedule.min_lr along half a cosine over the remaining steps;
///   multistep: base_lr * gamma^(number of milestones <= epoch);
///   constant: base_lr.
/// Throws ConfigError for an unknown schedule name or non-positive steps_per_epoch/total_epochs.
double learning_rate(const config::ScheduleConfig& schedule, double base_lr, int64_t epoch, int64_t step,
                     int64_t steps_per_epoch, int64_t total_epochs);

}  // namespace mapd::train
