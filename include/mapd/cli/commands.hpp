#pragma once

#include <functional>

#include "mapd/cli/cli.hpp"

namespace CLI {
class App;
}

/// Registration of the subcommands beyond `config`. Each module's command lives in
/// src/cli/<name>_command.cpp with a plain handler function declared in its own header; the
/// registration function adds its CLI11 subcommand and sets `action` when it is chosen.
namespace mapd::cli {

/// Adds the common options (-c, --set, --run-dir, --log-level) to a subcommand.
void add_common_options(CLI::App& command, CommonOptions& options, bool with_config);

/// Registers `train`, `resume` and `audit` (src/cli/pipeline_command.cpp).
void register_pipeline(CLI::App& app, CommonOptions& options, std::function<int()>& action);

/// Registers every implemented subcommand on `app`.
void register_commands(CLI::App& app, CommonOptions& options, std::function<int()>& action);

}  // namespace mapd::cli
