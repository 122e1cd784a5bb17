#pragma once

#include <functional>
#include <string>

#include "mapd/cli/cli.hpp"

namespace CLI {
class App;
}

/// `mapd report RUN_DIR`: (re)writes RUN_DIR/report/index.html and the image grids from what the run
/// directory holds (committed epochs only, so it also works while training runs).
namespace mapd::cli {

/// Runs `mapd report` on `run_dir` (or, when empty, options.run_dir). The report section of the
/// run's config.resolved.json is used, with options.overrides (`--set report.top_n=12`) applied.
/// Returns 0; throws ConfigError (no run directory given, bad override), IoError (no dynamics.h5,
/// chart library not installed).
int report_command(const std::string& run_dir, const CommonOptions& options);

/// Registers the `report` subcommand.
void register_report(CLI::App& app, CommonOptions& options, std::function<int()>& action);

}  // namespace mapd::cli
