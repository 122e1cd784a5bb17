#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace mapd {

/// Where every artefact of a run directory lives (docs/user-guide.md, "The run directory"); the
/// only place that knows these names. Rank-aware: with several processes training one run
/// (world_size > 1), shared files (config, metrics, checkpoints, assignments, report) are written
/// by rank 0 only, and each rank has its own log and its own trajectory file, which dynamics()
/// views as one. One process is rank 0 of 1, and then every path is the single-process one.
class RunLayout {
 public:
  /// One process (rank 0 of 1): a run directory's path converts to its layout.
  RunLayout(std::filesystem::path dir);  // NOLINT(google-explicit-constructor)
  /// Rank `rank` of `world_size` processes. Throws InternalError unless 0 <= rank < world_size.
  RunLayout(std::filesystem::path dir, int64_t rank, int64_t world_size);

  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  [[nodiscard]] int64_t rank() const { return rank_; }
  [[nodiscard]] int64_t world_size() const { return world_size_; }
  /// Whether this process writes the files all ranks share (rank 0).
  [[nodiscard]] bool writes_shared_files() const { return rank_ == 0; }

  /// config.resolved.json: the exact config of the run.
  [[nodiscard]] std::filesystem::path config() const;
  /// dynamics.h5: every example's trajectories, as consumers read them.
  [[nodiscard]] std::filesystem::path dynamics() const;
  /// The trajectory file this rank writes: dynamics.h5 in one process, dynamics.rank-R.h5 otherwise.
  [[nodiscard]] std::filesystem::path rank_dynamics() const;
  /// metrics.jsonl: one JSON line per committed epoch.
  [[nodiscard]] std::filesystem::path metrics() const;
  /// This rank's human log: train.log (rank 0), train.rank-R.log (other ranks).
  [[nodiscard]] std::filesystem::path log() const;
  /// checkpoints/ and checkpoints/last.pt (model, optimizer, schedule, RNG states, epoch).
  [[nodiscard]] std::filesystem::path checkpoints() const;
  [[nodiscard]] std::filesystem::path last_checkpoint() const;
  /// checkpoints/step.pt: the model and optimizer of an epoch stopped mid-way by a signal (a step
  /// checkpoint), written by rank 0 after every rank's part; `mapd resume` continues from it.
  [[nodiscard]] std::filesystem::path step_checkpoint() const;
  /// checkpoints/step.rank-R.pt: rank `rank`'s part of the step checkpoint (its loader position,
  /// running totals and the recorded values of the rows it trained so far).
  [[nodiscard]] std::filesystem::path step_checkpoint_part(int64_t rank) const;
  /// bad_inputs.csv: examples that could not be read, with the reason.
  [[nodiscard]] std::filesystem::path bad_inputs() const;
  /// difficulty_scores.csv / .json: the difficulty pilot's scores and summary (reused on resume).
  [[nodiscard]] std::filesystem::path difficulty_scores_csv() const;
  [[nodiscard]] std::filesystem::path difficulty_scores_json() const;
  /// assignments.h5 / assignments.csv, selftest.json, detection.json: the k-NN assignment.
  [[nodiscard]] std::filesystem::path assignments_h5() const;
  [[nodiscard]] std::filesystem::path assignments_csv() const;
  [[nodiscard]] std::filesystem::path selftest() const;
  [[nodiscard]] std::filesystem::path detection() const;
  /// assign_parts/ and assign_parts/part-IIII-of-NNNN.h5: part `index` (0-based) of a sharded
  /// assignment in `count` parts (`mapd assign --shard`), joined by `mapd assign --merge`.
  [[nodiscard]] std::filesystem::path assign_parts() const;
  [[nodiscard]] std::filesystem::path assign_part(int64_t index, int64_t count) const;
  /// .mapd.lock: the writer's lock (RunLock).
  [[nodiscard]] std::filesystem::path lock() const;
  /// report/ and report/index.html.
  [[nodiscard]] std::filesystem::path report_dir() const;
  [[nodiscard]] std::filesystem::path report_index() const;

  /// `path` + ".tmp": where a file is written before its atomic rename.
  static std::filesystem::path temporary(const std::filesystem::path& path);

 private:
  std::filesystem::path dir_;
  int64_t rank_ = 0;
  int64_t world_size_ = 1;
};

}  // namespace mapd
