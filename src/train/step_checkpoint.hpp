#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>

#include "mapd/train/learner.hpp"
#include "mapd/train/mode.hpp"

/// One rank's part of a step checkpoint (docs/user-guide.md, "Stopping and resuming"): what the
/// rank needs beyond the model and optimizer (checkpoints/step.pt) to continue an epoch a stop
/// signal ended, bitwise as if it had not stopped.
namespace mapd::train::detail {

/// Which stopped epoch a part belongs to; a part is used only with a step.pt that says the same.
struct StepPosition {
  int64_t epoch = 0;       ///< the epoch in progress (the next one to commit)
  int64_t steps = 0;       ///< its steps trained
  int64_t rank = 0;        ///< the rank that wrote the part
  int64_t world_size = 1;  ///< the ranks of the job
};

/// Writes `path` atomically (temporary file, fsync, rename): `position`, the pass so far (loader
/// position, running totals, learning rate, unreadable rows), `record` (the rows recorded so far;
/// null: none kept, an eval view records its rows in a pass after training that is redone) and
/// the mode's progress. Throws IoError naming the path.
void save_step_part(const std::filesystem::path& path, const StepPosition& position, const EpochPass& pass,
                    const EpochRecord* record, const TrainingMode& mode);

/// Reads a part written by save_step_part for `expected`: restores `record` (reset first; left
/// reset when the part kept none) and the mode's progress, and returns the pass to continue, its
/// totals on `device`. Throws IoError naming the path when it is missing, unreadable or written
/// for another position (epoch, steps, rank or world size).
EpochPass load_step_part(const std::filesystem::path& path, const StepPosition& expected, EpochRecord& record,
                         TrainingMode& mode, const torch::Device& device);

}  // namespace mapd::train::detail
