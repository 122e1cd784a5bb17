#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include "mapd/cli/cli.hpp"

namespace CLI {
class App;
}

/// `mapd inspect FILE.h5`: summary of a dynamics.h5 or assignments.h5 (README.md, Commands).
namespace mapd::cli {

/// Prints the summary of the dynamics or assignment file `path` to `out` (record::describe_store:
/// shape, committed epochs, view, dtype, categories and loss statistics per role and probe
/// category; or counts and mean max_prob per assigned category). Works on a live run (committed
/// epochs only). Returns the exit code (0). Throws IoError naming the file when it is missing,
/// damaged, or not a mapd file.
int inspect_command(const std::string& path, std::ostream& out);

/// Adds the `inspect` subcommand to `app`.
void register_inspect(CLI::App& app, CommonOptions& options, std::function<int()>& action);

}  // namespace mapd::cli
