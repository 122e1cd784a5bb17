#pragma once

#include <functional>
#include <iosfwd>

#include "mapd/cli/cli.hpp"

namespace CLI {
class App;
}

namespace mapd::cli {

/// `mapd probes -c CFG`: loads the dataset, builds the probe suite exactly as `mapd train` would
/// (difficulty scores cached in the run directory), writes one PNG grid per category
/// (`probes_<category>.png`, labels drawn under each image) into the run directory and prints the
/// probes per category and role to `out`. Returns the exit code (0). Throws ConfigError or DataError.
int probes_command(const CommonOptions& options, std::ostream& out);

/// Registers the `probes` subcommand on `app`.
void register_probes(CLI::App& app, CommonOptions& options, std::function<int()>& action);

}  // namespace mapd::cli
