#include <CLI/CLI.hpp>

#include "mapd/cli/commands.hpp"

namespace mapd::cli {

void register_commands(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  // One line per implemented subcommand (no placeholders): e.g. register_train(app, options, action);
  (void)app;
  (void)options;
  (void)action;
}

}  // namespace mapd::cli
