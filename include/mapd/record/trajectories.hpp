#pragma once

#include <cstdint>
#include <string>
#include <vector>

/// Loss trajectories as their consumers (k-NN assignment, report, modes that act on committed
/// epochs) read them, whether they live in one dynamics.h5, in several files seen as one, or in
/// memory. No torch, no HDF5 here.
namespace mapd::record {

/// Role of one row of the trained set (docs/user-guide.md, "dynamics.h5").
enum class Role : int8_t { kTrain = 0, kProbeFit = 1, kProbeVal = 2 };

/// `/examples`: one entry per column of the `/epochs/*` datasets.
struct ExampleColumns {
  std::vector<int64_t> id;  ///< stable dataset id (for probes: id of the source example, or -1 for synthetic)
  std::vector<int64_t> label;           ///< label trained on
  std::vector<int64_t> original_label;  ///< label before injected noise / probe relabelling
  std::vector<int8_t> role;             ///< Role
  std::vector<int16_t> probe_category;  ///< index into DynamicsMeta::category_names, -1 for role train
  std::vector<int64_t> source_index;    ///< index of the source example in the dataset, -1 for synthetic
  /// Row of the trained set (the example index the loader, the checkpoint and the record use) that
  /// the column holds. Files written by one process hold every row in order (row[i] = i). Empty
  /// when writing means 0..N-1; always filled after a read (format_version 1 files: 0..N-1).
  std::vector<int64_t> row;
  /// Text ids (`/examples/name`): the id each example has in the user's data when it is not an
  /// integer (a manifest's id column with file names or UUIDs), kept verbatim; "" for a synthetic
  /// probe. Empty when the dataset's ids are integers (then `id` is the id).
  std::vector<std::string> name;

  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(id.size()); }
  /// The id of column `i` as the user knows it: its text id when the dataset has text ids (and the
  /// column one), else the integer id.
  [[nodiscard]] std::string id_text(int64_t i) const;
};

/// An extra per-epoch signal a training mode records beside loss, pred and true_prob (label
/// correction's bootstrap weight and target): `/epochs/<name>` `[epochs, N]`, written and
/// committed with the epoch's row. `classes`: class indices, stored as /epochs/pred; else values,
/// stored in the record dtype. Names: letters, digits and '_'.
struct SignalSpec {
  std::string name;
  bool classes = false;
};

/// One epoch's row of an extra signal: N entries in `classes` or in `values`, as its spec says.
struct SignalRow {
  std::vector<float> values;
  std::vector<int32_t> classes;
};

/// Root attributes of dynamics.h5.
struct DynamicsMeta {
  std::string config_json;
  std::string mapd_version;
  std::string torch_version;
  std::string view = "online";  ///< online | eval
  std::string dtype = "fp16";   ///< fp16 | fp32 storage of /epochs/loss and /epochs/true_prob
  int64_t seed = 0;
  int64_t format_version = 2;
  std::vector<std::string> category_names;  ///< probe categories, in index order
  std::vector<std::string> class_names;     ///< dataset classes, in label order
  std::vector<SignalSpec> signals;          ///< extra per-epoch signals (attribute /epochs "signals")
};

/// Read access to committed trajectories: `[epochs, N]` per signal (loss, prediction, probability
/// of the label trained on), of which only the first complete_epochs() rows are committed.
/// Implemented by DynamicsStore (one file) and InMemoryTrajectories; a view over several rank
/// files implements it the same way. One object must not be read from two threads at once.
class TrajectorySource {
 public:
  virtual ~TrajectorySource() = default;

  /// Columns (examples) of every epoch row.
  [[nodiscard]] virtual int64_t num_examples() const = 0;
  /// Committed epochs: readers trust only rows below this.
  [[nodiscard]] virtual int64_t complete_epochs() const = 0;
  [[nodiscard]] virtual const DynamicsMeta& meta() const = 0;
  [[nodiscard]] virtual const ExampleColumns& examples() const = 0;
  /// Where the trajectories come from, for messages ("'runs/x/dynamics.h5'", "the trajectories in memory").
  [[nodiscard]] virtual std::string describe() const = 0;

  /// Reads losses of examples [begin, end) over epochs [epoch_begin, epoch_end) into `out`, laid
  /// out example-major: out[(i - begin) * (epoch_end - epoch_begin) + (e - epoch_begin)].
  /// Throws IoError when the range exceeds the examples or the committed epochs.
  virtual void read_losses(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                           float* out) const = 0;
  /// As read_losses for the probability of the label trained on.
  virtual void read_true_probs(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                               float* out) const = 0;
  /// As read_losses for the predicted class.
  virtual void read_preds(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                          int32_t* out) const = 0;
  /// As read_losses for the extra value signal `name` of meta().signals (margin, el2n, ...).
  /// Throws DataError when the source holds no such signal (the default: a source without extra
  /// signals, such as InMemoryTrajectories).
  virtual void read_signal_values(const std::string& name, int64_t begin, int64_t end, int64_t epoch_begin,
                                  int64_t epoch_end, float* out) const;
};

/// Trajectories held in memory, one appended row per committed epoch: what a training mode keeps
/// to act on its own committed epochs without reading files, and what tests build by hand.
class InMemoryTrajectories final : public TrajectorySource {
 public:
  /// Starts with no epoch. Throws InternalError when the example columns differ in length.
  InMemoryTrajectories(DynamicsMeta meta, ExampleColumns examples);

  /// Appends one epoch: num_examples() values each, indexed by example (column).
  void append_epoch(const float* loss, const int32_t* pred, const float* true_prob);
  /// Drops every epoch at or beyond `epochs`.
  void truncate(int64_t epochs);

  [[nodiscard]] int64_t num_examples() const override { return examples_.size(); }
  [[nodiscard]] int64_t complete_epochs() const override { return epochs_; }
  [[nodiscard]] const DynamicsMeta& meta() const override { return meta_; }
  [[nodiscard]] const ExampleColumns& examples() const override { return examples_; }
  [[nodiscard]] std::string describe() const override { return "the trajectories in memory"; }
  void read_losses(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                   float* out) const override;
  void read_true_probs(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                       float* out) const override;
  void read_preds(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                  int32_t* out) const override;

 private:
  void check_range(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end) const;

  DynamicsMeta meta_;
  ExampleColumns examples_;
  int64_t epochs_ = 0;
  std::vector<float> loss_;       ///< [epochs, N] epoch-major
  std::vector<int32_t> pred_;     ///< [epochs, N]
  std::vector<float> true_prob_;  ///< [epochs, N]
};

/// Fills `examples.row` with 0..N-1 when it is empty; otherwise checks that it holds every row
/// 0..N-1 exactly once (N = examples.size()). Throws DataError naming `where` and the first bad
/// column.
void fill_or_check_rows(ExampleColumns& examples, const std::string& where);

/// Checks that every column of `examples` has one entry per example (`name` may also be empty).
/// Throws InternalError naming `where` otherwise (the caller built them).
void check_column_lengths(const ExampleColumns& examples, const std::string& where);

/// The columns training left out because their image could not be read: their loss at committed
/// epoch `epoch` is NaN (a left-out example is NaN from the epoch its decode failed on), ascending.
/// Reads `block` columns at a time. Throws IoError as read_losses.
std::vector<int64_t> excluded_columns(const TrajectorySource& source, int64_t epoch, int64_t block = 65536);

}  // namespace mapd::record
