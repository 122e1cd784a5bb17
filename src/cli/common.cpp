#include <algorithm>
#include <fstream>
#include <ostream>

#include "mapd/cli/cli.hpp"
#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/pipeline/pipeline.hpp"

namespace mapd::cli {

std::filesystem::path default_run_dir(const CommonOptions& options, const config::RunConfig& config) {
  std::string name = config.output.name;
  if (name.empty()) {
    name = options.config_files.empty() ? "default"
                                        : std::filesystem::path(options.config_files.back()).stem().string();
  }
  return std::filesystem::path(config.output.root) / (name + "-" + fs::timestamp());
}

namespace {

/// The --set overrides, then train.mode from --mode when given.
std::vector<std::string> with_mode(const CommonOptions& options) {
  auto overrides = options.overrides;
  if (!options.mode.empty()) {
    auto mode = options.mode;
    std::replace(mode.begin(), mode.end(), '-', '_');
    overrides.push_back("train.mode=" + mode);
  }
  return overrides;
}

}  // namespace

RunContext prepare_run(const CommonOptions& options, const std::string& command) {
  RunContext context;
  context.config = config::resolve(options.config_files, with_mode(options));
  context.resolved = config::to_json(context.config);
  context.run_dir = options.run_dir.empty() ? default_run_dir(options, context.config)
                                            : std::filesystem::path(options.run_dir);
  context.lock.emplace(pipeline::create_run(context.config, context.run_dir, command));
  return context;
}

int config_command(const CommonOptions& options, bool reference, std::ostream& out) {
  if (reference) {
    out << config::reference_yaml();
    return 0;
  }
  const auto config = config::resolve(options.config_files, options.overrides);
  out << config::to_json(config).dump(2) << "\n";
  return 0;
}

}  // namespace mapd::cli
