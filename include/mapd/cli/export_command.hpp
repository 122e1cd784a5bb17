#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include "mapd/cli/cli.hpp"

namespace CLI {
class App;
}

/// `mapd export RUN_DIR --format csv|cleanlab|cartography [--out DIR]`: the run's per-example
/// results in the files its peers read (report/export.hpp).
namespace mapd::cli {

/// Writes the export of `run_dir` in `format` into `out_dir` (empty: RUN_DIR/export/<format>),
/// logs what was left out, and lists the files written on `out`. Returns 0. Throws ConfigError (an
/// unknown format, with a suggestion), IoError or DataError.
int export_command(const CommonOptions& options, const std::string& run_dir, const std::string& format,
                   const std::string& out_dir, std::ostream& out);

/// Adds the `export` subcommand to `app`.
void register_export(CLI::App& app, CommonOptions& options, std::function<int()>& action);

}  // namespace mapd::cli
