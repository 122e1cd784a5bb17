#include "mapd/core/run_layout.hpp"

#include <fmt/format.h>

#include "mapd/core/error.hpp"

namespace mapd {

RunLayout::RunLayout(std::filesystem::path dir) : dir_(std::move(dir)) {}

RunLayout::RunLayout(std::filesystem::path dir, int64_t rank, int64_t world_size)
    : dir_(std::move(dir)), rank_(rank), world_size_(world_size) {
  MAPD_ASSERT(world_size_ >= 1 && rank_ >= 0 && rank_ < world_size_,
              fmt::format("RunLayout: rank {} of world size {}", rank_, world_size_));
}

std::filesystem::path RunLayout::config() const { return dir_ / "config.resolved.json"; }
std::filesystem::path RunLayout::dynamics() const { return dir_ / "dynamics.h5"; }
std::filesystem::path RunLayout::rank_dynamics() const {
  return world_size_ == 1 ? dynamics() : dir_ / fmt::format("dynamics.rank-{}.h5", rank_);
}
std::filesystem::path RunLayout::metrics() const { return dir_ / "metrics.jsonl"; }
std::filesystem::path RunLayout::log() const {
  return rank_ == 0 ? dir_ / "train.log" : dir_ / fmt::format("train.rank-{}.log", rank_);
}
std::filesystem::path RunLayout::checkpoints() const { return dir_ / "checkpoints"; }
std::filesystem::path RunLayout::last_checkpoint() const { return checkpoints() / "last.pt"; }
std::filesystem::path RunLayout::step_checkpoint() const { return checkpoints() / "step.pt"; }
std::filesystem::path RunLayout::step_checkpoint_part(int64_t rank) const {
  return checkpoints() / fmt::format("step.rank-{}.pt", rank);
}
std::filesystem::path RunLayout::bad_inputs() const { return dir_ / "bad_inputs.csv"; }
std::filesystem::path RunLayout::difficulty_scores_csv() const { return dir_ / "difficulty_scores.csv"; }
std::filesystem::path RunLayout::difficulty_scores_json() const { return dir_ / "difficulty_scores.json"; }
std::filesystem::path RunLayout::assignments_h5() const { return dir_ / "assignments.h5"; }
std::filesystem::path RunLayout::assignments_csv() const { return dir_ / "assignments.csv"; }
std::filesystem::path RunLayout::selftest() const { return dir_ / "selftest.json"; }
std::filesystem::path RunLayout::detection() const { return dir_ / "detection.json"; }
std::filesystem::path RunLayout::assign_parts() const { return dir_ / "assign_parts"; }
std::filesystem::path RunLayout::assign_part(int64_t index, int64_t count) const {
  return assign_parts() / fmt::format("part-{:04d}-of-{:04d}.h5", index, count);
}
std::filesystem::path RunLayout::lock() const { return dir_ / ".mapd.lock"; }
std::filesystem::path RunLayout::report_dir() const { return dir_ / "report"; }
std::filesystem::path RunLayout::report_index() const { return report_dir() / "index.html"; }

std::filesystem::path RunLayout::temporary(const std::filesystem::path& path) {
  auto tmp = path;
  tmp += ".tmp";
  return tmp;
}

}  // namespace mapd
