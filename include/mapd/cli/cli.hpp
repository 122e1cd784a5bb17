#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/core/run_lock.hpp"

namespace mapd::dist {
class Collective;
}

/// The `mapd` command line. Each subcommand is a plain function taking its options, so tests call
/// it in-process; `run` wires them into a CLI11 app. Errors propagate as mapd::Error; only `main`
/// turns them into exit codes.
namespace mapd::cli {

/// Options every command takes (README.md, Commands).
struct CommonOptions {
  std::vector<std::string> config_files;  ///< -c, repeatable, later files win
  std::vector<std::string> overrides;     ///< --set key=value, repeatable
  std::string run_dir;                    ///< --run-dir (empty = runs/<name>-<timestamp>)
  std::string log_level = "info";         ///< --log-level
  std::string mode;                       ///< --mode (train, audit): train.mode, '-' read as '_'
};

/// A new run directory: the resolved config, written as config.resolved.json, train.log attached
/// to the loggers, and the run's writer's lock, held while the context lives.
struct RunContext {
  config::RunConfig config;
  nlohmann::json resolved;  ///< the config as JSON (what config.resolved.json holds)
  std::filesystem::path run_dir;
  RunLayout run{std::filesystem::path()};   ///< run_dir as this process (rank) writes it
  std::shared_ptr<dist::Collective> group;  ///< the data-parallel job, or null (one process)
  std::optional<RunLock> lock;              ///< held by rank 0
};

/// Resolves the config (defaults < files < overrides) and starts a new run directory with
/// pipeline::create_run (refused for a directory that holds a run, or one a live process writes).
/// Under torchrun or srun with more than one task, first joins the data-parallel job
/// (dist::world_from_environment): every rank uses rank 0's run directory.
/// `command` names the caller in messages ("mapd train"). Throws ConfigError or IoError.
RunContext prepare_run(const CommonOptions& options, const std::string& command);

/// Joins the data-parallel job the environment describes (torchrun's or srun's), or returns null
/// for one process. Binds the process to its node-local GPU (set_local_device_index) and picks
/// dist.backend auto: nccl when it trains on CUDA, else gloo. Throws ConfigError for a malformed
/// environment, DistributedError when the rendezvous fails within dist.timeout_s.
std::shared_ptr<dist::Collective> join_job(const config::RunConfig& config);

/// The run directory `prepare_run` would use when --run-dir is not given.
std::filesystem::path default_run_dir(const CommonOptions& options, const config::RunConfig& config);

/// `mapd config`: prints the resolved config as JSON to `out` (or, with `reference`, the commented
/// reference YAML). Returns the exit code (0).
int config_command(const CommonOptions& options, bool reference, std::ostream& out);

/// The `--version` text: mapd version, LibTorch version, CUDA availability.
std::string version_text();

/// Parses `argv`, sets up logging and runs the chosen subcommand. Returns its exit code; throws
/// mapd::Error for failures (ConfigError for bad arguments).
int run(int argc, char** argv);

}  // namespace mapd::cli
