#include "step_checkpoint.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/train/checkpoint.hpp"

namespace mapd::train::detail {
namespace {

constexpr int64_t kStepPartFormat = 1;

std::string unreadable_json(const std::vector<data::UnreadableRow>& unreadable) {
  auto rows = nlohmann::json::array();
  for (const auto& u : unreadable) {
    rows.push_back(
        {{"row", u.row}, {"path", u.input.path}, {"reason", u.input.reason}, {"epoch", u.input.epoch}});
  }
  return rows.dump();
}

std::vector<data::UnreadableRow> unreadable_from_json(const std::string& text) {
  std::vector<data::UnreadableRow> out;
  for (const auto& u : nlohmann::json::parse(text)) {
    out.push_back({u.at("row").get<int64_t>(),
                   data::BadInput{u.at("path").get<std::string>(), u.at("reason").get<std::string>(),
                                  u.at("epoch").get<int64_t>()}});
  }
  return out;
}

int64_t read_int(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toInt();
}

}  // namespace

void save_step_part(const std::filesystem::path& path, const StepPosition& position, const EpochPass& pass,
                    const EpochRecord* record, const TrainingMode& mode) {
  save_archive_atomic(path, "the epoch's progress", [&](torch::serialize::OutputArchive& root) {
    root.write("format_version", c10::IValue(kStepPartFormat));
    root.write("epoch", c10::IValue(position.epoch));
    root.write("steps", c10::IValue(position.steps));
    root.write("rank", c10::IValue(position.rank));
    root.write("world_size", c10::IValue(position.world_size));
    root.write("batches_done", c10::IValue(pass.batches_done));
    root.write("loss_sum", pass.totals.loss_sum.to(torch::kCPU), /*is_buffer=*/true);
    root.write("correct", pass.totals.correct.to(torch::kCPU), /*is_buffer=*/true);
    root.write("count", c10::IValue(pass.totals.count));
    root.write("lr", c10::IValue(pass.lr));
    root.write("train_seconds", c10::IValue(pass.train_seconds));
    root.write("unreadable", c10::IValue(unreadable_json(pass.unreadable)));
    if (record != nullptr) {
      torch::serialize::OutputArchive kept;
      record->save(kept);
      root.write("record", kept);
    }
    torch::serialize::OutputArchive progress;
    mode.save_epoch_progress(progress);
    root.write("mode", progress);
  });
}

EpochPass load_step_part(const std::filesystem::path& path, const StepPosition& expected, EpochRecord& record,
                         TrainingMode& mode, const torch::Device& device) {
  MAPD_CHECK(std::filesystem::exists(path), IoError,
             fmt::format("step checkpoint part {} is missing: rank {} cannot continue epoch {} from step {}; "
                         "delete the checkpoints/step*.pt files to redo that epoch from its start",
                         path.string(), expected.rank, expected.epoch, expected.steps));
  const std::string bytes = fs::read_file(path);
  EpochPass pass;
  record.reset();
  try {
    torch::serialize::InputArchive root;
    root.load_from(bytes.data(), bytes.size());
    MAPD_CHECK(read_int(root, "format_version") == kStepPartFormat, IoError,
               fmt::format("step checkpoint part {}: format version not supported", path.string()));
    const StepPosition found{read_int(root, "epoch"), read_int(root, "steps"), read_int(root, "rank"),
                             read_int(root, "world_size")};
    MAPD_CHECK(found.epoch == expected.epoch && found.steps == expected.steps &&
                   found.rank == expected.rank && found.world_size == expected.world_size,
               IoError,
               fmt::format(
                   "step checkpoint part {} is rank {} of {} at step {} of epoch {}, but checkpoints/step.pt "
                   "is at step {} of epoch {} for rank {} of {}; delete the checkpoints/step*.pt files to "
                   "redo that epoch from its start",
                   path.string(), found.rank, found.world_size, found.steps, found.epoch, expected.steps,
                   expected.epoch, expected.rank, expected.world_size));
    pass.steps_done = found.steps;
    pass.stopped = true;
    pass.batches_done = read_int(root, "batches_done");
    root.read("loss_sum", pass.totals.loss_sum, /*is_buffer=*/true);
    root.read("correct", pass.totals.correct, /*is_buffer=*/true);
    pass.totals.loss_sum = pass.totals.loss_sum.to(device);
    pass.totals.correct = pass.totals.correct.to(device);
    pass.totals.count = read_int(root, "count");
    c10::IValue value;
    root.read("lr", value);
    pass.lr = value.toDouble();
    root.read("train_seconds", value);
    pass.train_seconds = value.toDouble();
    root.read("unreadable", value);
    pass.unreadable = unreadable_from_json(value.toStringRef());
    torch::serialize::InputArchive kept;
    if (root.try_read("record", kept)) record.load(kept);
    torch::serialize::InputArchive progress;
    root.read("mode", progress);
    mode.load_epoch_progress(progress);
  } catch (const c10::Error& e) {
    throw IoError(
        fmt::format("step checkpoint part {} is unreadable ({}); delete the checkpoints/step*.pt files "
                    "to redo the epoch from its start",
                    path.string(), e.what_without_backtrace()));
  } catch (const nlohmann::json::exception& e) {
    throw IoError(fmt::format("step checkpoint part {}: its unreadable rows do not parse ({})", path.string(),
                              e.what()));
  }
  return pass;
}

}  // namespace mapd::train::detail
