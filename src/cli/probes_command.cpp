#include "mapd/cli/probes_command.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "mapd/cli/commands.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/probes/preview.hpp"
#include "mapd/probes/probe_suite.hpp"

namespace mapd::cli {

int probes_command(const CommonOptions& options, std::ostream& out) {
  const auto context = prepare_run(options, "mapd probes");
  const auto dataset = data::load_dataset(context.config.data, context.run_dir);
  const auto suite = probes::build_probe_suite(context.config, dataset, context.run_dir);
  const auto grids = probes::write_probe_grids(suite, dataset.train.class_names, context.run_dir);
  out << fmt::format("probe suite '{}' on {} ({} training examples, {} removed, {} probes)\n",
                     context.config.probes.suite, dataset.name, dataset.train.size(), suite.removed.size(),
                     suite.size());
  out << probes::describe_suite(suite);
  for (const auto& g : grids) out << "wrote " << g.string() << "\n";
  return 0;
}

void register_probes(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* command = app.add_subcommand(
      "probes",
      "build the probe suite and preview it: probes per category and role, a PNG grid per category");
  add_common_options(*command, options, true);
  command->callback([&] { action = [&] { return probes_command(options, std::cout); }; });
}

}  // namespace mapd::cli
