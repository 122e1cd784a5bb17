#include <CLI/CLI.hpp>

#include "mapd/cli/assign_command.hpp"
#include "mapd/cli/commands.hpp"
#include "mapd/cli/data_command.hpp"
#include "mapd/cli/export_command.hpp"
#include "mapd/cli/inspect_command.hpp"
#include "mapd/cli/probes_command.hpp"
#include "mapd/cli/report_command.hpp"

namespace mapd::cli {

void register_commands(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  register_pipeline(app, options, action);  // audit, train, resume
  register_assign(app, options, action);
  register_report(app, options, action);
  register_probes(app, options, action);
  register_data(app, options, action);
  register_inspect(app, options, action);
  register_export(app, options, action);
}

}  // namespace mapd::cli
