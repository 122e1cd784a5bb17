#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "mapd/knn/knn.hpp"
#include "mapd/record/trajectories.hpp"

/// The steps that turn trajectories into P(category), as functions over a TrajectorySource (a
/// dynamics.h5, or the committed epochs a training mode holds in memory): which rows are fit and
/// query rows, the fit set, a category looked up by name, the mean-loss ranking, and the scores of
/// one block of queries. `assign_run` composes them; a mode calls them after each commit without
/// files. No torch in this header.
namespace mapd::knn {

/// Index of category `name` in `names`, or -1 when absent.
int64_t find_category(const std::vector<std::string>& names, const std::string& name);

/// Index of category `name` in `names`. Throws ConfigError naming `what` (e.g. the config key that
/// asked for it), the known categories and, when one is close, "did you mean".
int64_t category_index(const std::vector<std::string>& names, const std::string& name,
                       const std::string& what);

/// Rows of a trained set by role.
struct RowRoles {
  std::vector<int64_t> fit;     ///< probe_fit rows, ascending: the k-NN's reference set
  std::vector<int64_t> train;   ///< train rows, ascending
  std::vector<int64_t> val;     ///< probe_val rows, ascending: the self-test
  bool injected_noise = false;  ///< some train row's label differs from its original label
  [[nodiscard]] int64_t queries() const { return static_cast<int64_t>(train.size() + val.size()); }
};

/// Splits the rows of `examples` by role. Throws DataError naming `where` for an unknown role.
RowRoles split_by_role(const record::ExampleColumns& examples, const std::string& where);

/// Epochs [begin, end) of committed trajectories, as knn.epoch_begin/epoch_end ask (end 0 = all
/// committed). Throws DataError with the numbers when nothing is committed or the range is empty
/// or beyond the committed epochs.
struct EpochRange {
  int64_t begin = 0;
  int64_t end = 0;
  [[nodiscard]] int64_t size() const { return end - begin; }
};
EpochRange epoch_range(const record::TrajectorySource& source, const config::KnnConfig& options);

/// A recorded per-epoch signal besides the loss (an `/epochs/<name>` of dynamics.h5): fills `out`
/// with the values of columns [begin, end) over `range`, example-major as read_losses lays them out.
using SignalReader = std::function<void(int64_t begin, int64_t end, EpochRange range, float* out)>;

/// What a trajectory is to the k-NN (knn.signals): the losses over the epochs, followed by each
/// extra signal over the same epochs, so a row is (1 + extra.size()) * epochs wide. Without extra
/// signals it is the loss trajectory of the paper.
struct Features {
  std::vector<std::string> names;   ///< of the extra signals, in order (for messages)
  std::vector<SignalReader> extra;  ///< one reader per extra signal
  /// Values per row over `range`.
  [[nodiscard]] int64_t width(EpochRange range) const {
    return range.size() * (1 + static_cast<int64_t>(extra.size()));
  }
};

/// Whether `source` recorded the per-epoch values `name` (margin, el2n, ...; meta().signals).
bool records_signal(const record::TrajectorySource& source, const std::string& name);

/// The extra signals of knn.signals ("loss+el2n+margin") that `source` recorded, as readers of
/// `source` (which must outlive them); the others are left out with a log line (runs recorded
/// before margin and EL2N were, synthetic or in-memory ones), and `signals` becomes what is used.
Features features_of(const record::TrajectorySource& source, std::string* signals);

/// The fit set over epochs `range` of the probe_fit rows in `roles.fit`, with the `features` of
/// each row (default: the losses). With `categories` non-empty, only fit rows of those categories
/// (indices into meta().category_names) are kept and renumbered 0..categories.size()-1 in that
/// order (e.g. {clean, mislabeled} for label correction). Throws DataError for a fit row whose
/// category is out of range, or when no fit row is left.
FitSet make_fit_set(const record::TrajectorySource& source, const std::vector<int64_t>& fit_rows,
                    EpochRange range, const std::vector<int64_t>& categories = {},
                    const Features& features = {});

/// One value per column of [begin, end) of a trajectory source into `out` (end - begin values):
/// the label-issue evidence ranked instead of the mean loss (higher = more likely a wrong label).
using ColumnValues = std::function<void(int64_t begin, int64_t end, float* out)>;

/// Ranks values by percentile among those of a reference sample of the train rows: their mean
/// losses, or other label-issue evidence (ColumnValues).
class PercentileRanking {
 public:
  /// At most `max_sample` mean losses of `rows` (every s-th row, s = ceil(|rows| / max_sample)),
  /// read from `source` over `range` in blocks of `block_rows` rows.
  static PercentileRanking of_rows(const record::TrajectorySource& source, const std::vector<int64_t>& rows,
                                   EpochRange range, int64_t block_rows,
                                   int64_t max_sample = int64_t{1} << 20);
  /// As of_rows, with the values `values` gives for the columns instead of the mean losses (`rows`
  /// ascending; read in column blocks of `block_rows`).
  static PercentileRanking of_values(const ColumnValues& values, const std::vector<int64_t>& rows,
                                     int64_t block_rows, int64_t max_sample = int64_t{1} << 20);
  /// Fraction of the sample strictly below `value` plus half of its ties (mid-rank, in [0, 1];
  /// 0.5 for an empty sample).
  [[nodiscard]] float percentile(float value) const;
  /// Bytes the sample holds.
  [[nodiscard]] int64_t bytes() const { return static_cast<int64_t>(sorted_.size() * sizeof(float)); }
  /// Bytes a sample of `rows` rows will hold.
  static int64_t bytes_for(int64_t rows, int64_t max_sample = int64_t{1} << 20);

 private:
  std::vector<float> sorted_;
};

/// Weight of P(mislabeled) in the label-issue score (the rest is the percentile of the evidence).
inline constexpr float kIssueVoteWeight = 0.01F;

/// The k-NN's output for one block of queries, with the label-issue score.
struct BlockScores {
  Prediction prediction;
  int64_t categories = 0;        ///< columns of prediction.prob and prediction.score
  std::vector<float> mean_loss;  ///< [n] mean over the epochs of the block's trajectories
  std::vector<float>
      label_issue;  ///< [n] (1 - kIssueVoteWeight) * percentile + kIssueVoteWeight * P(mislabeled)
  [[nodiscard]] float prob(int64_t query, int64_t category) const;
  [[nodiscard]] float score(int64_t query, int64_t category) const;
};

/// Scores `n` trajectories `x` [n, dim] (finite; row-major; the losses in the first `loss_dim`
/// values of a row, all `dim` when 0): the k-NN's P(category) and continuous scores, the mean loss
/// and the label-issue score, which ranks `evidence` [n] when given, else the mean loss.
/// `mislabeled` is the mislabeled category's index, or -1 (label_issue is then the percentile
/// alone).
BlockScores score_block(const TrajectoryKnn& knn, const PercentileRanking& ranking, int64_t mislabeled,
                        const float* x, int64_t n, int64_t dim, const float* evidence = nullptr,
                        int64_t loss_dim = 0);

/// One block of query rows (every role but probe_fit), in column order, with their scores.
struct QueryBlock {
  std::vector<int64_t> columns;  ///< columns of the source (ascending)
  std::vector<float> x;          ///< [columns.size(), dim] the features scored (Features)
  int64_t dim = 0;               ///< values per row: Features::width
  int64_t loss_dim = 0;          ///< the first loss_dim values of a row are its losses
  BlockScores scores;
  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(columns.size()); }
};

/// What assign_blocks saw.
struct BlockTotals {
  int64_t queries = 0;
  int64_t boundary_ties = 0;  ///< queries with an exact distance tie at the k-th neighbour
  int64_t rescanned = 0;      ///< queries the fp32 shortlist could not prove exact
};

/// Columns [begin, end) of a TrajectorySource.
struct ColumnRange {
  int64_t begin = 0;
  int64_t end = 0;
};

/// The assignment loop: reads the `features` (those the k-NN was fitted on) of `columns` of
/// `source` over `range` in blocks of `block_columns`, keeps the query rows (not probe_fit, not in
/// `excluded`, ascending: rows training left out), checks them finite (check_finite), scores them
/// (score_block, with `evidence` for the label-issue score when given) and hands each non-empty
/// block to `sink`, in column order. Memory: two blocks of features plus the block's scores.
BlockTotals assign_blocks(const record::TrajectorySource& source, const TrajectoryKnn& knn,
                          const PercentileRanking& ranking, int64_t mislabeled, EpochRange range,
                          ColumnRange columns, int64_t block_columns, const std::vector<int64_t>& excluded,
                          const std::function<void(const QueryBlock&)>& sink,
                          const ColumnValues& evidence = {}, const Features& features = {});

/// Whether column `r` of `examples` is a query row: not probe_fit and not in `excluded` (ascending).
bool is_query(const record::ExampleColumns& examples, int64_t r, const std::vector<int64_t>& excluded);

/// Reads the losses of `rows` (ascending) over `range` from `source`, grouping consecutive rows
/// into one read: [rows.size(), range.size()] row-major.
std::vector<float> read_loss_rows(const record::TrajectorySource& source, const std::vector<int64_t>& rows,
                                  EpochRange range);

/// As read_loss_rows for the `features` of `rows`: [rows.size(), features.width(range)] row-major.
std::vector<float> read_feature_rows(const record::TrajectorySource& source, const std::vector<int64_t>& rows,
                                     EpochRange range, const Features& features);

/// `roles` without `excluded` (ascending): what is fitted, ranked and assigned.
RowRoles without_rows(const RowRoles& roles, const std::vector<int64_t>& excluded);

/// Throws DataError naming `source`, the row, its id, the signal and the epoch when `x` [n, dim]
/// (the features of `rows` from epoch `epoch_begin` on: losses, then `features`' signals, each
/// `epochs` long; `epochs` 0 = dim, the losses alone) holds a non-finite value (rows excluded
/// during training, NaN from an epoch on, must be left out before).
void check_finite(const record::TrajectorySource& source, const float* x, const int64_t* rows, int64_t n,
                  int64_t dim, int64_t epoch_begin, const Features& features = {}, int64_t epochs = 0);

}  // namespace mapd::knn
