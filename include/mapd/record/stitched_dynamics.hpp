#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "mapd/record/trajectories.hpp"

/// The record of a data-parallel job (docs/distributed.md, "Recording"): each rank writes the
/// columns of one contiguous block of the examples into its own file, and `dynamics.h5` stitches
/// them together with HDF5 virtual datasets. No torch here.
namespace mapd::record {

/// Columns [first, end) of the examples.
struct ColumnBlock {
  int64_t first = 0;
  int64_t end = 0;
  [[nodiscard]] int64_t size() const { return end - first; }
};

/// The columns rank `rank` of `ranks` records: [n * rank / ranks, n * (rank + 1) / ranks).
[[nodiscard]] ColumnBlock rank_columns(int64_t n, int64_t rank, int64_t ranks);

/// The name of rank `rank`'s file, in the directory of dynamics.h5: "dynamics.rank-R.h5".
[[nodiscard]] std::string rank_file_name(int64_t rank);

/// The columns `block` of `examples` (what a rank's file holds; its /examples/row counts from 0 at
/// block.first, the column of dynamics.h5 is block.first + i).
[[nodiscard]] ExampleColumns slice_columns(const ExampleColumns& examples, ColumnBlock block);

/// `dynamics.h5` of a data-parallel job, as rank 0 writes it. Each rank r records its columns
/// (rank_columns) in `dynamics.rank-R.h5`, a complete dynamics file of those columns (the same
/// layout, SWMR writing, crash safety and /epochs/complete as a one-process dynamics.h5). This file
/// holds the root attributes and /examples of all N examples as a one-process dynamics.h5 does,
/// `/ranks/file` (the rank files' names, relative to this file's directory) and
/// `/ranks/first_column` (ranks + 1 block boundaries), and for each of /epochs/{loss, pred,
/// true_prob} and the extra signals an HDF5 virtual dataset `[epochs (unlimited), N]` that maps
/// the same dataset of each rank file onto its columns (h5py and other HDF5 readers see one
/// dataset; rows a rank file lacks read as NaN, pred -1). `/epochs/complete` counts the epochs
/// every rank committed: rank 0 raises it after all ranks committed an epoch to their files.
/// DynamicsStore::open_read reads such a file (from the rank files directly, with their checks).
class StitchedDynamics final {
 public:
  /// Creates (truncating) dynamics.h5 at `path` for `examples.size()` examples recorded by
  /// `ranks` ranks, /epochs/complete = 0, and starts SWMR writing. The rank files are created by
  /// their ranks (DynamicsStore::create with slice_columns). Throws DataError when there are
  /// fewer examples than ranks, ConfigError for a dtype other than fp16/fp32, IoError when the
  /// file cannot be written.
  static StitchedDynamics create(const std::filesystem::path& path, const DynamicsMeta& meta,
                                 const ExampleColumns& examples, int64_t ranks);
  /// Opens a stitched dynamics.h5 to go on (resume): /epochs/complete becomes at most
  /// `keep_epochs`. A file left marked "open for writing" by a killed writer is accepted with a
  /// warning (as DynamicsStore::open_append). Throws IoError when the file cannot be opened or is
  /// not a stitched dynamics file.
  static StitchedDynamics open_append(const std::filesystem::path& path, int64_t keep_epochs);
  /// How many rank files `path` stitches: 0 for a dynamics.h5 that holds its epochs itself (one
  /// process, or a job recorded by mapd before per-rank files). Throws IoError when unreadable.
  [[nodiscard]] static int64_t recorded_ranks(const std::filesystem::path& path);

  StitchedDynamics(StitchedDynamics&&) noexcept;
  StitchedDynamics& operator=(StitchedDynamics&&) noexcept;
  ~StitchedDynamics();

  [[nodiscard]] int64_t ranks() const;
  [[nodiscard]] int64_t complete_epochs() const;
  /// Sets /epochs/complete to `epochs` (every rank committed them to its file), then flushes and
  /// fsyncs. Throws IoError.
  void commit(int64_t epochs);

 private:
  struct Impl;
  explicit StitchedDynamics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mapd::record
