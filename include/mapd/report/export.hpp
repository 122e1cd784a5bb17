#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

/// `mapd export`: a run's per-example results in the formats its peers read (docs/user-guide.md,
/// "Exports"). Everything here reads the run directory; nothing trains. No torch here.
namespace mapd::report {

/// What the export wrote: the files, and what was left out or assumed (logged as warnings).
struct ExportResult {
  std::vector<std::filesystem::path> files;
  std::vector<std::string> notes;
};

/// The formats: csv, cleanlab, cartography. Throws ConfigError naming `name` and the formats (with
/// the closest one when it looks like a typo).
std::string check_export_format(const std::string& name);

/// `examples.csv` in `out_dir`: one row per training example of the run in `run_dir` (column
/// order of dynamics.h5): id, label, original_label (when labels were flipped), predicted (at the
/// last committed epoch), the k-NN assignment when assignments.h5 is there (category, label_issue,
/// p_<category> per category), then the derived scores (record::DerivedScores): mean_loss,
/// forgetting_events, first_correct_epoch, aum, el2n, confidence, variability, correctness. A value
/// that does not exist (AUM of a run recorded before margins) is an empty field.
ExportResult export_csv(const std::filesystem::path& run_dir, const std::filesystem::path& out_dir);

/// Dataset Cartography's files (github.com/allenai/cartography, which is not on PyPI):
/// `training_dynamics/dynamics_epoch_<e>.jsonl`, one line per example recorded in epoch e with
/// {"guid", "logits_epoch_<e>", "gold"}, and `td_metrics.jsonl` (guid, index, threshold_closeness,
/// confidence, variability, correctness, forgetfulness) as its filtering step writes it.
/// dynamics.h5 keeps the probability of the label and the predicted class, not every logit, so the
/// `logits_epoch_<e>` written are log-probabilities that reproduce exactly what Cartography reads
/// from them: softmax gives the recorded probability of the gold label, and the argmax is the
/// recorded prediction (the remaining mass is spread over the other classes). Forgetfulness
/// follows Cartography: 1000 for an example never classified correctly.
ExportResult export_cartography(const std::filesystem::path& run_dir, const std::filesystem::path& out_dir);

/// Predicted probabilities of every training example (row-major [examples, classes], rows in the
/// column order of dynamics.h5), and what they are, for export_cleanlab.
struct PredictedProbabilities {
  std::vector<float> probs;
  int64_t classes = 0;
  std::string source;  ///< e.g. "the model of the last committed epoch (checkpoint_last.pt), eval mode"
};

/// cleanlab's inputs and outputs: `labels.npy` (int64 [N], the labels trained on), `pred_probs.npy`
/// (float32 [N, K], `predicted`), `ids.csv` (the id of each row) and, when the run was assigned,
/// `label_issues.csv` with the columns of cleanlab's Datalab label issues (id, is_label_issue,
/// label_score, given_label, predicted_label): is_label_issue = assigned `mislabeled`, label_score =
/// 1 - mapd's label_issue (lower = more likely an issue, as in cleanlab). Throws DataError when
/// `predicted` does not have one row per training example.
ExportResult export_cleanlab(const std::filesystem::path& run_dir, const std::filesystem::path& out_dir,
                             const PredictedProbabilities& predicted);

/// `data` as a NumPy .npy file (format 1.0, C order, little-endian): `descr` "<f4" or "<i8",
/// `shape` its dimensions. Written atomically. Throws IoError naming the path.
void write_npy(const std::filesystem::path& path, const std::string& descr, const std::vector<int64_t>& shape,
               const void* data, size_t bytes);

/// Log-probabilities over `classes` classes whose softmax gives `gold` the probability `p` and
/// whose argmax is `pred` (the gold class when pred < 0 and p is the largest share it can be); the
/// rest of the mass is spread evenly within those limits. Classes with no mass get log(1e-30).
std::vector<double> logits_for(double p, int64_t gold, int64_t pred, int64_t classes);

}  // namespace mapd::report
