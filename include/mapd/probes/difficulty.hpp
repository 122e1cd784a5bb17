#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/dataset.hpp"

/// Difficulty scores for typical/atypical probes (and the `easy` source pool) without C-scores.
/// Every score here is an *easiness*: higher = more typical / learnt earlier.
namespace mapd::probes {

struct DifficultyScores {
  std::vector<double> easiness;  ///< one per example of the training split, higher = easier
  std::string method;            ///< file | holdout | learning_speed
  /// The scores are probabilities of the example's label (the estimators; a score file with values
  /// in [0, 1] and score_typical_end=high, e.g. C-scores), so "below chance" means something.
  bool label_probability = false;
  double seconds = 0.0;  ///< cost of computing them (0 when read from a file or cache)
  bool from_cache = false;
};

/// Holdout consistency (a cheap C-score proxy): trains `models` fresh models of config.model, each
/// for `epochs` epochs on a random half of `train` (models come in complementary pairs, so every
/// example is held out at least once), through train::fit_and_score. Score of an example = mean
/// over the models that held it out of the probability of its label after the last epoch.
/// Returns one value per example of `train`, in [0, 1].
std::vector<double> holdout_scores(const config::RunConfig& config, const data::ImageSet& train,
                                   int64_t models, int64_t epochs, uint64_t seed);

/// Learning speed: one pilot run of `epochs` epochs on all of `train` (train::fit_and_score);
/// score = mean over the epochs of the probability of the label. One value per example, in [0, 1].
std::vector<double> learning_speed_scores(const config::RunConfig& config, const data::ImageSet& train,
                                          int64_t epochs, uint64_t seed);

/// The easiness scores config.probes asks for: the score file (oriented by score_typical_end), or
/// the holdout / learning-speed estimator. Estimated scores are cached in
/// `<run_dir>/difficulty_scores.csv` (id,score; usable as a score file) with a key in
/// difficulty_scores.json, and reused when config and dataset match. Logs the cost.
DifficultyScores compute_difficulty(const config::RunConfig& config, const data::ImageSet& train,
                                    const std::filesystem::path& run_dir);

/// Examples whose score, a probability of their label, is below chance (1 / num_classes): the
/// pilot's doubtful labels, i.e. mislabeled, ambiguous or out-of-distribution examples. With
/// injected symmetric noise the share tracks the noise rate (docs/probes.md).
struct BelowChance {
  double chance = 0.0;            ///< 1 / num_classes
  double share = 0.0;             ///< of all examples
  std::vector<double> per_class;  ///< share within each label (index = label; 0 for empty classes)
};
/// InternalError unless there is one score per label, num_classes >= 1 and every label is in
/// [0, num_classes) (the caller passes data::class_count of the same labels).
BelowChance below_chance(const std::vector<double>& easiness, const std::vector<int64_t>& labels,
                         int64_t num_classes);

/// Spearman rank correlation of two equally long score vectors (ties get average ranks).
/// InternalError for vectors of different lengths or fewer than 2 values.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace mapd::probes
