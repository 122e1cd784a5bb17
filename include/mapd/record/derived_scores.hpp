#pragma once

#include <cstdint>
#include <vector>

/// Scores the literature derives from training dynamics, computed from a run's dynamics.h5 without
/// training again (docs/user-guide.md, "Derived scores"). No torch, no HDF5 here.
namespace mapd::record {

class DynamicsStore;

/// One entry per training example (role train), in column order of dynamics.h5. An epoch in which
/// an example was not recorded (left out as unreadable) counts for none of its scores; an example
/// recorded in no epoch gets NaN scores, 0 forgetting events and first_correct -1.
struct DerivedScores {
  std::vector<int64_t> column;  ///< dynamics.h5 column of each entry
  /// Forgetting events (Toneva et al. 2019): recorded epochs at which the example was misclassified
  /// after being classified correctly at the previous recorded epoch. An example never classified
  /// correctly has 0 here and first_correct -1; Toneva et al. rank such examples as the most
  /// forgettable.
  std::vector<int32_t> forgetting;
  std::vector<int32_t> first_correct;  ///< first epoch whose prediction was the label, -1 never
  /// AUM (Pleiss et al. 2020): the mean over epochs of the margin (logit of the label minus the
  /// largest other logit). Negative: the network kept preferring another class, the mark of a
  /// mislabeled example. NaN when the file records no margin.
  std::vector<float> aum;
  /// EL2N-style early error (Paul et al. 2021): the mean over the first `early_epochs` epochs of
  /// || softmax - onehot(label) ||_2 (the paper scores one early epoch of several seeds; a mean over
  /// early epochs of one run stands in for the seeds). NaN when the file records no el2n.
  std::vector<float> el2n;
  /// Dataset Cartography (Swayamdipta et al. 2020): mean (confidence) and population standard
  /// deviation (variability) over epochs of the probability of the label, and the share of epochs
  /// whose prediction was the label (correctness).
  std::vector<float> confidence;
  std::vector<float> variability;
  std::vector<float> correctness;
  std::vector<float> mean_loss;    ///< mean cross-entropy over the epochs
  std::vector<int32_t> last_pred;  ///< prediction at the last recorded epoch, -1 when none

  int64_t epoch_begin = 0;   ///< first epoch the scores use
  int64_t epochs = 0;        ///< epochs the scores use, from epoch_begin
  int64_t early_epochs = 0;  ///< epochs EL2N averages
  bool has_margin = false;   ///< the file records `margin` (runs of mapd before it did not)
  bool has_el2n = false;

  [[nodiscard]] int64_t size() const { return static_cast<int64_t>(column.size()); }
};

struct DerivedOptions {
  /// Epochs EL2N averages from the first: 0 means the first fifth of the committed epochs (at
  /// least one). Larger than the committed epochs: all of them.
  int64_t early_epochs = 0;
  /// Examples read per block (memory: block * epochs * 4 bytes per signal).
  int64_t block = 16384;
  /// Epochs [epoch_begin, epoch_end) the scores use; epoch_end -1: every committed epoch.
  int64_t epoch_begin = 0;
  int64_t epoch_end = -1;
};

/// The derived scores of every training example over the committed epochs of `store` (or the
/// range `options` names; epochs are then counted from its first). Throws DataError when the file
/// has no committed epoch (there is nothing to derive from), IoError for a range beyond them.
DerivedScores derive_scores(const DynamicsStore& store, const DerivedOptions& options = {});

}  // namespace mapd::record
