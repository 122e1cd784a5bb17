#include <CLI/CLI.hpp>

#include "mapd/cli/commands.hpp"
#include "mapd/cli/pipeline.hpp"
#include "mapd/config/loader.hpp"
#include "mapd/core/log.hpp"
#include "mapd/dist/collective.hpp"
#include "mapd/pipeline/pipeline.hpp"
#include "mapd/train/data_parallel.hpp"

namespace mapd::cli {

int train_command(const CommonOptions& options) {
  const RunContext context = prepare_run(options, "mapd train");
  (void)pipeline::train_run(context.config, context.run, context.group);
  return 0;
}

int resume_command(const std::filesystem::path& run_dir, const std::string& log_level) {
  log::init(log_level);
  // The job's settings (dist.*) are the run's own, from its config.resolved.json.
  const auto config = config::resolve_run_config(run_dir, "resume", config::RunConfigFile::kRequired);
  if (const auto world = dist::world_from_environment())
    train::check_data_parallel(config, world->world_size);
  const auto group = join_job(config);
  (void)pipeline::resume_run(group ? RunLayout(run_dir, group->rank(), group->size()) : RunLayout(run_dir),
                             group);
  return 0;
}

int audit_command(const CommonOptions& options) {
  const RunContext context = prepare_run(options, "mapd audit");
  (void)pipeline::audit_run(context.config, context.run, context.group);
  return 0;
}

namespace {

void add_mode_option(CLI::App& command, CommonOptions& options) {
  command.add_option(
      "--mode", options.mode,
      "training mode: standard, label-correction or prioritized (sets train.mode; wins over --set)");
}

}  // namespace

void register_pipeline(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* audit = app.add_subcommand(
      "audit",
      "the whole MAP-D audit: probes, training with recording, k-NN assignment and report/index.html");
  add_common_options(*audit, options, true);
  add_mode_option(*audit, options);
  audit->callback([&] { action = [&] { return audit_command(options); }; });

  auto* train =
      app.add_subcommand("train", "train with probes and record per-example dynamics into a run directory");
  add_common_options(*train, options, true);
  add_mode_option(*train, options);
  train->callback([&] { action = [&] { return train_command(options); }; });

  auto* resume = app.add_subcommand("resume", "continue an interrupted run from its last committed epoch");
  resume->add_option("run_dir", options.run_dir, "run directory of the interrupted run")->required();
  resume->add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off");
  resume->callback([&] { action = [&] { return resume_command(options.run_dir, options.log_level); }; });
}

}  // namespace mapd::cli
