#include "mapd/cli/assign_command.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <ostream>

#include "mapd/cli/commands.hpp"
#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/knn/knn.hpp"

namespace mapd::cli {

int assign_command(const CommonOptions& options, const std::string& run_dir, std::optional<int64_t> k,
                   std::ostream& out) {
  const std::string dir_text = run_dir.empty() ? options.run_dir : run_dir;
  MAPD_CHECK(!dir_text.empty(), ConfigError,
             "mapd assign: give the run directory: mapd assign RUN_DIR [-k K]");
  const std::filesystem::path dir(dir_text);
  MAPD_CHECK(std::filesystem::is_directory(dir), ConfigError,
             fmt::format("mapd assign: run directory '{}' does not exist", dir.string()));
  nlohmann::json tree = config::to_json(config::RunConfig{});
  const auto resolved = dir / "config.resolved.json";
  if (std::filesystem::exists(resolved)) {
    config::merge_into(tree, config::read_config_file(resolved));
  }
  for (const auto& file : options.config_files) {
    config::merge_into(tree, config::read_config_file(file));
  }
  for (const auto& assignment : options.overrides) {
    config::apply_override(tree, assignment);
  }
  if (k) {
    config::apply_override(tree, "knn.k=" + std::to_string(*k));
  }
  const auto cfg = config::from_json(tree);
  const auto problems = config::validate(cfg);
  if (!problems.empty()) {
    std::string message = "invalid configuration for mapd assign:";
    for (const auto& p : problems) {
      message += "\n  " + p;
    }
    throw ConfigError(message);
  }
  log::attach_run_dir(dir);
  const auto summary = knn::assign_run(dir, cfg.knn);
  log::detach_run_dir();
  out << summary.self_test_table;
  if (!summary.detection_table.empty()) {
    out << "\n" << summary.detection_table;
  }
  out << fmt::format("\nassigned {} examples over {} epochs in {:.2f} s -> {}\n", summary.queries,
                     summary.epochs_used, summary.seconds, (dir / knn::kAssignmentsCsv).string());
  return 0;
}

void register_assign(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* command = app.add_subcommand("assign", "k-NN assignment of every example from recorded trajectories");
  add_common_options(*command, options, true);
  auto run_dir = std::make_shared<std::string>();
  auto k = std::make_shared<int64_t>(0);
  command->add_option("run_dir", *run_dir, "run directory holding dynamics.h5");
  auto* k_option =
      command->add_option("-k,--k", *k, "neighbours per query (knn.k; default from the run's config)");
  command->callback([&options, &action, run_dir, k, k_option] {
    const bool given = k_option->count() > 0;
    action = [&options, run_dir, k, given] {
      MAPD_CHECK(!given || *k >= 1, ConfigError,
                 fmt::format("mapd assign -k {}: the number of neighbours must be >= 1", *k));
      return assign_command(options, *run_dir, given ? std::optional<int64_t>(*k) : std::nullopt, std::cout);
    };
  });
}

}  // namespace mapd::cli
