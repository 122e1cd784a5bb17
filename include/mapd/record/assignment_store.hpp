#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

/// `assignments.h5`: per-example k-NN assignment (docs/user-guide.md §6). No torch here.
namespace mapd::record {

struct AssignmentMeta {
  std::vector<std::string> category_names;
  std::string config_json;
  std::string mapd_version;
  int64_t format_version = 1;
  int64_t k = 20;
  int64_t epoch_begin = 0;
  int64_t epoch_end = 0;  ///< one past the last epoch used
  /// What /label_issue ranks (the evidence and the formula; the root attribute label_issue_ranks).
  /// Empty when read from a file written before mapd recorded it.
  std::string label_issue_ranks;
};

/// Written in blocks while the assigner streams; readable by h5py without mapd.
/// Datasets: /id [N] int64, /row [N] int64 (example index in dynamics.h5), /label [N] int64,
/// /assigned [N] int16, /max_prob [N] f32, /prob [N, C] f32 (the paper's vote shares),
/// /score [N, C] f32 (continuous per-category score for sorting), /label_issue [N] f32; when the
/// dataset has text ids (dynamics.h5 /examples/name), /name [N] strings: each row's text id.
class AssignmentStore {
 public:
  struct Block {
    int64_t count = 0;
    const int64_t* id = nullptr;
    const int64_t* row = nullptr;
    const int64_t* label = nullptr;
    const int16_t* assigned = nullptr;
    const float* max_prob = nullptr;
    const float* prob = nullptr;         ///< [count, C]
    const float* score = nullptr;        ///< [count, C]
    const float* label_issue = nullptr;  ///< [count]
  };
  struct Columns {
    std::vector<std::string> name;  ///< text ids; empty when the file has none
    std::vector<int64_t> id, row, label;
    std::vector<int16_t> assigned;
    std::vector<float> max_prob, prob, score, label_issue;  ///< prob/score row-major [N, C]
  };

  /// Creates the file for `n` queries. Throws IoError when it cannot be created, InternalError for
  /// n < 0.
  static AssignmentStore create(const std::filesystem::path& path, const AssignmentMeta& meta, int64_t n);
  /// Reads a whole assignment file (metadata into `meta`). Throws IoError naming the file when it
  /// cannot be read, DataError naming the file and dataset when a dataset has the wrong shape or type.
  static Columns read(const std::filesystem::path& path, AssignmentMeta* meta);
  /// Reads the metadata of an assignment file only. Throws as read().
  static AssignmentMeta read_meta(const std::filesystem::path& path);

  AssignmentStore(AssignmentStore&&) noexcept;
  AssignmentStore& operator=(AssignmentStore&&) noexcept;
  ~AssignmentStore();

  /// Writes rows [offset, offset + block.count). Throws IoError when HDF5 fails, InternalError for
  /// rows outside [0, n) or a closed store.
  void write(int64_t offset, const Block& block);
  /// Writes /name: the text id of every row (n of them). Throws IoError when HDF5 fails,
  /// InternalError for another count or a closed store.
  void write_names(const std::vector<std::string>& names);
  /// Replaces the root attribute config_json (with what is known only after the last block).
  /// Throws IoError when HDF5 fails, InternalError for a closed store.
  void set_config_json(const std::string& config_json);
  /// Flushes and closes.
  void close();

 private:
  struct Impl;
  explicit AssignmentStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mapd::record
