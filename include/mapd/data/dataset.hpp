#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"

/// Datasets: readers produce an ImageSet (example table + uint8 pixels). No torch in this header.
namespace mapd::data {

/// Identity of every example of one split.
struct ExampleTable {
  std::vector<int64_t> id;              ///< stable id: IDX/CIFAR: position in the file; folder: position
                                        ///< in the sorted path list; manifest: `id` column, else line index
  std::vector<int64_t> label;           ///< label trained on (after data.label_noise)
  std::vector<int64_t> original_label;  ///< label as read from disk
  std::vector<std::string> source;      ///< where it came from: "file#position" or the image path
  /// Text ids: a manifest's id column, verbatim, when any of its ids is not an integer written as
  /// such (file names, UUIDs, "007"); then `id` is the line index. Empty otherwise.
  std::vector<std::string> name;

  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(id.size()); }
  /// The id of example `i` as the user wrote it: its text id, else the integer id.
  [[nodiscard]] std::string id_text(int64_t i) const {
    return name.empty() ? std::to_string(id[static_cast<size_t>(i)]) : name[static_cast<size_t>(i)];
  }
};

/// An example that could not be read; written to `bad_inputs.csv` in the run directory.
struct BadInput {
  std::string path;
  std::string reason;
  /// -1: left out when the dataset was read; else the 0-based epoch from which training left it out
  /// (its on-demand decode failed then).
  int64_t epoch = -1;
};

/// One split of a dataset. Images are uint8 [N, C, H, W] (row-major). Small datasets hold every
/// image in `pixels`; image folders over data.memory_budget_mb keep only `paths` and are decoded
/// on demand by `read`.
struct ImageSet {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;     ///< N*C*H*W bytes when in memory, else empty
  std::vector<std::string> paths;  ///< image file per example when decoded on demand
  ExampleTable examples;
  std::vector<std::string> class_names;  ///< index = label

  [[nodiscard]] int64_t size() const { return examples.size(); }
  [[nodiscard]] int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  [[nodiscard]] int64_t image_bytes() const { return channels * height * width; }
  [[nodiscard]] bool in_memory() const { return !pixels.empty() || size() == 0; }
  /// Copies image `i` (C*H*W bytes, CHW order) into `out`, decoding from disk when not in memory.
  /// Throws DataError naming the path when an on-demand decode fails.
  void read(int64_t i, uint8_t* out) const;
};

/// A loaded dataset: training split, optional test split.
struct Dataset {
  std::string name;
  ImageSet train;
  std::optional<ImageSet> test;
  std::vector<BadInput> bad_inputs;  ///< examples excluded because they could not be read
};

/// Number of classes of examples labelled `labels` whose dataset names `named` classes: `named`, or
/// max(label) + 1 when a label is beyond the names. Used by the trainer (the model's outputs) and the
/// probe builder alike. Labels are >= 0 (the readers reject others), so a negative one is a bug in
/// mapd: InternalError.
int64_t class_count(const std::vector<int64_t>& labels, int64_t named);

/// Reads the dataset described by `config` (format, path, test_path, channels, image_size), applies
/// data.limit (seeded, class-balanced) and data.label_noise to the training split. Unreadable images
/// are logged with their path and excluded; when `run_dir` is non-empty they are written to
/// `<run_dir>/bad_inputs.csv`. Throws DataError naming the path and what was expected.
Dataset load_dataset(const config::DataConfig& config, const std::filesystem::path& run_dir);

/// Writes `bad` as CSV (path,reason,epoch; epoch empty for -1) to `path` (always writes the header).
void write_bad_inputs(const std::filesystem::path& path, const std::vector<BadInput>& bad);

/// The rows of a bad_inputs.csv written by write_bad_inputs (also the older path,reason files, whose
/// rows get epoch -1); none when `path` does not exist. Throws IoError when it cannot be read.
std::vector<BadInput> read_bad_inputs(const std::filesystem::path& path);

}  // namespace mapd::data
