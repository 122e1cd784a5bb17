#include <CLI/CLI.hpp>

#include "mapd/cli/commands.hpp"

namespace mapd::cli {

void register_commands([[maybe_unused]] CLI::App& app, [[maybe_unused]] CommonOptions& options,
                       [[maybe_unused]] std::function<int()>& action) {
#ifdef MAPD_HAVE_PIPELINE
  register_pipeline(app, options, action);
#endif
  // One line per implemented subcommand (no placeholders), below.
}

}  // namespace mapd::cli
