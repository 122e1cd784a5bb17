#include "mapd/cli/inspect_command.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <ostream>

#include "mapd/cli/commands.hpp"
#include "mapd/record/describe.hpp"

namespace mapd::cli {

int inspect_command(const std::string& path, std::ostream& out) {
  record::describe_store(path, out);
  return 0;
}

void register_inspect(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* command = app.add_subcommand("inspect", "summary of a dynamics.h5 or assignments.h5 file");
  add_common_options(*command, options, false);
  auto path = std::make_shared<std::string>();
  command->add_option("file", *path, "dynamics.h5 or assignments.h5 (a live run is fine)")->required();
  command->callback([&action, path] { action = [path] { return inspect_command(*path, std::cout); }; });
}

}  // namespace mapd::cli
