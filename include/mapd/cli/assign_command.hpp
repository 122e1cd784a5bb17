#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "mapd/cli/cli.hpp"

namespace CLI {
class App;
}

/// `mapd assign RUN_DIR [-k K] [--set knn.x=y]`: k-NN assignment of a (finished or live) run.
namespace mapd::cli {

/// Resolves the k-NN options (defaults < RUN_DIR/config.resolved.json < -c files < --set < -k),
/// runs knn::assign_run on `run_dir` (committed epochs only) and prints the probe self-test (and,
/// with injected label noise, the detection table) to `out`. Returns the exit code (0). Throws
/// ConfigError (bad option, no run directory), DataError or IoError.
int assign_command(const CommonOptions& options, const std::string& run_dir, std::optional<int64_t> k,
                   std::ostream& out);

/// Adds the `assign` subcommand to `app`.
void register_assign(CLI::App& app, CommonOptions& options, std::function<int()>& action);

}  // namespace mapd::cli
