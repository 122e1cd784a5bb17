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
#include "mapd/core/run_layout.hpp"
#include "mapd/knn/knn.hpp"

namespace mapd::cli {

int assign_command(const CommonOptions& options, const std::string& run_dir, std::optional<int64_t> k,
                   std::ostream& out) {
  const std::filesystem::path dir(run_dir.empty() ? options.run_dir : run_dir);
  auto overrides = options.overrides;
  if (k) overrides.push_back("knn.k=" + std::to_string(*k));
  const auto cfg = config::resolve_run_config(dir, "assign", config::RunConfigFile::kOptional,
                                              options.config_files, overrides);
  log::attach_run_dir(dir);
  const auto summary = knn::assign_run(dir, cfg.knn);
  log::detach_run_dir();
  out << summary.self_test_table;
  if (!summary.detection_table.empty()) {
    out << "\n" << summary.detection_table;
  }
  out << fmt::format("\nassigned {} examples over {} epochs in {:.2f} s -> {}\n", summary.queries,
                     summary.epochs_used, summary.seconds, RunLayout(dir).assignments_csv().string());
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
