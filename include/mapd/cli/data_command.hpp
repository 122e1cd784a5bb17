#pragma once

#include <functional>
#include <iosfwd>

#include "mapd/cli/cli.hpp"

namespace CLI {
class App;
}

namespace mapd::cli {

/// `mapd data -c CFG`: loads the configured dataset (readers, data.limit, label noise) into a run
/// directory and prints examples per class, the image shape, the number of classes and the bad
/// inputs to `out`; writes `data_preview.png` (8 samples per class) and `bad_inputs.csv` there.
/// Returns the exit code (0). Throws ConfigError or DataError.
int data_command(const CommonOptions& options, std::ostream& out);

/// Registers the `data` subcommand on `app`.
void register_data(CLI::App& app, CommonOptions& options, std::function<int()>& action);

}  // namespace mapd::cli
