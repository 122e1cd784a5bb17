#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <ostream>

#include "mapd/cli/cli.hpp"
#include "mapd/config/loader.hpp"
#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/dist/collective.hpp"
#include "mapd/pipeline/pipeline.hpp"
#include "mapd/train/data_parallel.hpp"

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

std::shared_ptr<dist::Collective> join_job(const config::RunConfig& config) {
  const auto world = dist::world_from_environment();
  if (!world) return nullptr;
  // This rank's GPU is the one of its index on the node (LOCAL_RANK, SLURM_LOCALID), as in a
  // torchrun script's torch.cuda.set_device(local_rank).
  set_local_device_index(world->local_rank);
  const torch::Device device = resolve_device(config.train.device);
  std::string backend = config.dist.backend;
  if (backend == "auto") backend = device.is_cuda() && dist::Collective::nccl_built() ? "nccl" : "gloo";
  return dist::Collective::connect(
      *world, backend,
      std::chrono::milliseconds(static_cast<int64_t>(std::ceil(config.dist.timeout_s * 1000.0))),
      device.is_cuda() ? device.index() : -1);
}

RunContext prepare_run(const CommonOptions& options, const std::string& command) {
  RunContext context;
  context.config = config::resolve(options.config_files, with_mode(options));
  context.resolved = config::to_json(context.config);
  context.run_dir = options.run_dir.empty() ? default_run_dir(options, context.config)
                                            : std::filesystem::path(options.run_dir);
  // A job refuses what it cannot train before joining, so that every rank fails alike and nothing is written.
  if (const auto world = dist::world_from_environment())
    train::check_data_parallel(context.config, world->world_size);
  context.group = join_job(context.config);
  if (context.group) {
    // One run directory, chosen once: rank 0's (a default name holds a timestamp).
    context.run_dir = context.group->share("run_dir", context.run_dir.string());
    context.run = RunLayout(context.run_dir, context.group->rank(), context.group->size());
  } else {
    context.run = RunLayout(context.run_dir);
  }
  if (context.run.writes_shared_files()) {
    context.lock.emplace(pipeline::create_run(context.config, context.run, command));
  } else {
    pipeline::join_run(context.run, command);
  }
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
