#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "mapd/cli/cli.hpp"
#include "mapd/knn/knn.hpp"

namespace CLI {
class App;
}

/// `mapd assign RUN_DIR [-k K] [--set knn.x=y] [--shard I/N | --merge N]`: k-NN assignment of a
/// (finished or live) run, whole or as N parts joined afterwards (docs/distributed.md, cluster jobs).
namespace mapd::cli {

/// What one `mapd assign` does: the whole assignment (neither set), one part, or the merge.
struct AssignTask {
  std::optional<knn::Shard> shard;  ///< --shard I/N
  std::optional<int64_t> merge;     ///< --merge N
};

/// Parses `--shard`'s "I/N" (0 <= I < N). Throws ConfigError naming the text and the expected form.
knn::Shard parse_shard(const std::string& text);

/// Resolves the k-NN options (defaults < RUN_DIR/config.resolved.json < -c files < --set < -k),
/// runs knn::assign_run (or assign_part / merge_parts, as `task` says) on `run_dir` (committed
/// epochs only) and prints the probe self-test (and, with injected label noise, the detection
/// table) to `out`, or for a part one line: what it assigned, or that it was done already.
/// Returns the exit code (0). Throws ConfigError (bad option, no run directory), DataError or IoError.
int assign_command(const CommonOptions& options, const std::string& run_dir, std::optional<int64_t> k,
                   std::ostream& out, const AssignTask& task = {});

/// Adds the `assign` subcommand to `app`.
void register_assign(CLI::App& app, CommonOptions& options, std::function<int()>& action);

}  // namespace mapd::cli
