#pragma once

#include <filesystem>
#include <string>

#include "mapd/cli/cli.hpp"

/// The commands that run the MAP-D pipeline: `mapd train`, `mapd resume`, `mapd audit`.
/// Each is a plain function (tests call them in-process); errors propagate as mapd::Error.
namespace mapd::cli {

/// `mapd train -c CFG`: loads the dataset, builds the probe suite, trains with recording into a new
/// run directory. Returns 0.
int train_command(const CommonOptions& options);

/// `mapd resume RUN_DIR`: continues an interrupted run from its last checkpoint with the config it
/// was started with (RUN_DIR/config.resolved.json). Returns 0.
int resume_command(const std::filesystem::path& run_dir, const std::string& log_level);

/// `mapd audit -c CFG` (no -c: the default Fashion-MNIST audit): probes → train → assign → report
/// in one run directory. Returns 0.
int audit_command(const CommonOptions& options);

}  // namespace mapd::cli
