#include "mapd/cli/assign_command.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <ostream>
#include <regex>

#include "mapd/cli/commands.hpp"
#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/knn/knn.hpp"

namespace mapd::cli {

namespace {

/// Prints what assign_run or merge_parts did, as `mapd assign` always has.
void print_summary(const knn::AssignSummary& summary, const std::filesystem::path& dir, std::ostream& out) {
  out << summary.self_test_table;
  if (!summary.detection_table.empty()) {
    out << "\n" << summary.detection_table;
  }
  out << fmt::format("\nassigned {} examples over {} epochs in {:.2f} s -> {}\n", summary.queries,
                     summary.epochs_used, summary.seconds, RunLayout(dir).assignments_csv().string());
}

}  // namespace

knn::Shard parse_shard(const std::string& text) {
  const std::regex pattern(R"(^(\d{1,9})/(\d{1,9})$)");
  std::smatch match;
  MAPD_CHECK(std::regex_match(text, match, pattern), ConfigError,
             fmt::format("--shard '{}': expected I/N, task I (0-based) of N, e.g. --shard 3/8 (in a SLURM "
                         "array: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)",
                         text));
  const knn::Shard shard{std::stoll(match[1].str()), std::stoll(match[2].str())};
  MAPD_CHECK(shard.count >= 1 && shard.index < shard.count, ConfigError,
             fmt::format("--shard '{}': task {} of {} does not exist; tasks are numbered 0 to N-1 (N >= 1)",
                         text, shard.index, shard.count));
  return shard;
}

int assign_command(const CommonOptions& options, const std::string& run_dir, std::optional<int64_t> k,
                   std::ostream& out, const AssignTask& task) {
  const std::filesystem::path dir(run_dir.empty() ? options.run_dir : run_dir);
  auto overrides = options.overrides;
  if (k) overrides.push_back("knn.k=" + std::to_string(*k));
  const auto cfg = config::resolve_run_config(dir, "assign", config::RunConfigFile::kOptional,
                                              options.config_files, overrides);
  log::attach_run_dir(dir);
  if (task.shard) {
    const auto part = knn::assign_part(dir, cfg.knn, *task.shard);
    log::detach_run_dir();
    if (part.skipped) {
      out << fmt::format("part {}/{} already done -> {}\n", task.shard->index, task.shard->count,
                         part.path.string());
    } else {
      out << fmt::format("part {}/{}: assigned {} examples (columns [{}, {})) in {:.2f} s -> {}\n",
                         task.shard->index, task.shard->count, part.queries, part.column_begin,
                         part.column_end, part.seconds, part.path.string());
    }
    return 0;
  }
  const auto summary =
      task.merge ? knn::merge_parts(dir, cfg.knn, *task.merge) : knn::assign_run(dir, cfg.knn);
  log::detach_run_dir();
  print_summary(summary, dir, out);
  return 0;
}

void register_assign(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* command = app.add_subcommand("assign", "k-NN assignment of every example from recorded trajectories");
  add_common_options(*command, options, true);
  auto run_dir = std::make_shared<std::string>();
  auto k = std::make_shared<int64_t>(0);
  auto shard = std::make_shared<std::string>();
  auto merge = std::make_shared<int64_t>(0);
  command->add_option("run_dir", *run_dir, "run directory holding dynamics.h5");
  auto* k_option =
      command->add_option("-k,--k", *k, "neighbours per query (knn.k; default from the run's config)");
  auto* shard_option = command->add_option(
      "--shard", *shard,
      "I/N: assign the I-th (0-based) of N contiguous ranges of examples into "
      "RUN_DIR/assign_parts/part-IIII-of-NNNN.h5; a part done for the same epochs and options is skipped");
  auto* merge_option = command->add_option(
      "--merge", *merge,
      "N: join the N parts of --shard I/N into assignments.h5, assignments.csv and selftest.json");
  shard_option->excludes(merge_option);
  command->callback([&options, &action, run_dir, k, k_option, shard, shard_option, merge, merge_option] {
    const bool given = k_option->count() > 0;
    const bool sharded = shard_option->count() > 0;
    const bool merging = merge_option->count() > 0;
    action = [&options, run_dir, k, given, shard, sharded, merge, merging] {
      MAPD_CHECK(!given || *k >= 1, ConfigError,
                 fmt::format("mapd assign -k {}: the number of neighbours must be >= 1", *k));
      MAPD_CHECK(!merging || *merge >= 1, ConfigError,
                 fmt::format("mapd assign --merge {}: the number of parts must be >= 1", *merge));
      AssignTask task;
      if (sharded) task.shard = parse_shard(*shard);
      if (merging) task.merge = *merge;
      return assign_command(options, *run_dir, given ? std::optional<int64_t>(*k) : std::nullopt, std::cout,
                            task);
    };
  });
}

}  // namespace mapd::cli
