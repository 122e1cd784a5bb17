#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "mapd/record/trajectories.hpp"

/// The only code that touches HDF5 lives in module `record`. No torch here.
namespace mapd::record {

/// `dynamics.h5` (docs/user-guide.md §6, format_version 2): per-example loss, prediction and probability
/// of the given label, one row `[N]` per epoch in `/epochs/{loss, pred, true_prob}` `[epochs, N]`,
/// with `/epochs/complete` as the commit marker, and optional extra signals (DynamicsMeta::signals)
/// committed with them. Version 2 adds `/examples/row` (the trained-set
/// row of each column); version 1 files are still read (their rows are 0..N-1). Written in SWMR mode so
/// readers can follow a live run. Every HDF5 failure is an IoError naming the file and object.
///
/// Layout details beyond docs/user-guide.md §6: /examples carries the attributes `category_names`,
/// `class_names` and `role_names` (train, probe_fit, probe_val); the root carries `mapd_file` =
/// "dynamics". fp16 is IEEE binary16 (h5py: float16), rounded to nearest even; /epochs/pred is
/// stored int16 when 1..32767 class names are given, else int32 (always read as int32). Rows are
/// chunked [1, <= 2^20]. One object must not be used from two threads at once; separate objects
/// may (the HDF5 build is thread-safe).
class DynamicsStore final : public TrajectorySource {
 public:
  /// Creates (truncating) a store for `examples.size()` examples and starts SWMR writing.
  /// Throws DataError for 0 examples, ConfigError for a dtype other than fp16/fp32,
  /// InternalError for columns of different lengths, IoError when the file cannot be created.
  static DynamicsStore create(const std::filesystem::path& path, const DynamicsMeta& meta,
                              const ExampleColumns& examples);
  /// Opens an existing store to append (resume): rows at or beyond `keep_epochs` (or beyond
  /// /epochs/complete if smaller) are discarded. Throws IoError if the file is unreadable,
  /// DataError if a dataset has the wrong shape or type. A file left "open for writing" by a
  /// killed writer (SWMR or not) is accepted with a warning and the mark cleared (its committed
  /// rows are intact); do not call this while another process still writes the file.
  /// InternalError for a negative `keep_epochs`.
  static DynamicsStore open_append(const std::filesystem::path& path, int64_t keep_epochs);
  /// Opens read-only (SWMR reader when the writer is live). Only committed rows are visible.
  /// A file a killed writer left marked "open for writing" is read with a warning (the mark stays).
  /// Files HDF5 cannot check for truncation (those two cases) have every committed chunk checked
  /// to lie within the file, on open and on each refresh. Throws IoError when the file is
  /// unreadable or truncated, DataError when a dataset has the wrong shape or type.
  static DynamicsStore open_read(const std::filesystem::path& path);

  DynamicsStore(DynamicsStore&&) noexcept;
  DynamicsStore& operator=(DynamicsStore&&) noexcept;
  ~DynamicsStore() override;

  [[nodiscard]] int64_t num_examples() const override;
  /// Committed epochs (the value of /epochs/complete, re-read from disk for readers).
  [[nodiscard]] int64_t complete_epochs() const override;
  [[nodiscard]] const DynamicsMeta& meta() const override;
  [[nodiscard]] const ExampleColumns& examples() const override;
  /// The file's path in quotes.
  [[nodiscard]] std::string describe() const override;
  [[nodiscard]] const std::filesystem::path& path() const;

  /// Appends one epoch: `loss`, `pred`, `true_prob` each hold num_examples() values indexed by
  /// example index; then flushes and increments /epochs/complete (the commit). The row is
  /// flushed and fsynced before the commit marker, the marker is flushed and fsynced after, so a
  /// crash (kill -9 or power loss) at any point leaves every committed epoch readable. Throws
  /// InternalError on a store opened with open_read; DataError, writing nothing, when the dtype is
  /// fp16 and a finite value exceeds 65504 (it would be stored as infinity): use fp32 for such losses.
  /// `signals` holds one row per extra signal of meta().signals, in order (written and committed
  /// with the three rows; for fp16, value signals are checked as loss is).
  void append_epoch(const float* loss, const int32_t* pred, const float* true_prob,
                    const std::vector<SignalRow>& signals = {});

  /// Reads losses of examples [begin, end) over epochs [epoch_begin, epoch_end) into `out`, laid
  /// out example-major: out[(i - begin) * (epoch_end - epoch_begin) + (e - epoch_begin)].
  /// Throws IoError if the range exceeds the committed epochs.
  void read_losses(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                   float* out) const override;
  /// As read_losses for /epochs/true_prob.
  void read_true_probs(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                       float* out) const override;
  /// As read_losses for /epochs/pred.
  void read_preds(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                  int32_t* out) const override;

  /// As read_losses for the extra value signal `name`; as read_preds for the class signal `name`.
  /// Throw DataError naming the file's signals when it has no such signal.
  void read_signal_values(const std::string& name, int64_t begin, int64_t end, int64_t epoch_begin,
                          int64_t epoch_end, float* out) const override;
  void read_signal_classes(const std::string& name, int64_t begin, int64_t end, int64_t epoch_begin,
                           int64_t epoch_end, int32_t* out) const;
  /// Re-reads /epochs/complete (readers following a live run).
  void refresh();

 private:
  struct Impl;
  explicit DynamicsStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Crash tests: points inside DynamicsStore::append_epoch and open_append where a test may kill
/// its process.
namespace fault {
enum class AppendStage {
  kRowsWritten,  ///< the three rows are written, not yet flushed
  kRowsSynced,   ///< the rows are flushed and fsynced, the commit marker is not yet written
  kCommitted,    ///< the commit marker is flushed and fsynced
  kReopened,     ///< open_append: the file is reopened read-write and shrunk, SWMR writing not yet started
};
/// Calls `hook` at each stage of every append in this process (nullptr: none, the default).
void set_append_hook(void (*hook)(AppendStage));
}  // namespace fault

}  // namespace mapd::record
