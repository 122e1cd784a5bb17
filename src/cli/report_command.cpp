#include "mapd/cli/report_command.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <memory>

#include "mapd/cli/commands.hpp"
#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/report/report.hpp"

namespace mapd::cli {

int report_command(const std::string& run_dir, const CommonOptions& options) {
  const std::filesystem::path dir(run_dir.empty() ? options.run_dir : run_dir);
  // The run's own report settings, with --set overrides on top.
  const auto config =
      config::resolve_run_config(dir, "report", config::RunConfigFile::kOptional, {}, options.overrides);
  const auto result = report::generate_report(dir, config.report);
  for (const auto& note : result.notes) {
    log::get("report")->warn("{}", note);
  }
  return 0;
}

void register_report(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* command = app.add_subcommand(
      "report", "write RUN_DIR/report/index.html and report/<category>.png (also while training runs)");
  auto run_dir = std::make_shared<std::string>();
  command->add_option("run_dir", *run_dir, "run directory written by `mapd train` or `mapd audit`");
  add_common_options(*command, options, /*with_config=*/false);
  command->add_option("--set", options.overrides,
                      "override a report key, e.g. --set report.top_n=12; repeatable");
  command->callback([&action, &options, run_dir] {
    action = [&options, run_dir] { return report_command(*run_dir, options); };
  });
}

}  // namespace mapd::cli
