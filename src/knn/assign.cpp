// assign_run: streams committed trajectories out of dynamics.h5, assigns categories with the k-NN,
// and writes assignments.{h5,csv}, the probe self-test and (with injected noise) detection metrics.
// assign_part does one contiguous range of it into a part file, merge_parts joins the parts into
// the same outputs (docs/distributed.md, sharded assignment).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "mapd/config/loader.hpp"
#include "mapd/core/csv.hpp"
#include "mapd/core/csv_field.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/process.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/core/version.hpp"
#include "mapd/knn/classify.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/knn/metrics.hpp"
#include "mapd/record/assignment_store.hpp"
#include "mapd/record/derived_scores.hpp"
#include "mapd/record/dynamics_store.hpp"

namespace mapd::knn {

namespace {

using record::Role;

constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kMaxBlock = 16384;
/// Fewest holdout-pilot models whose out-of-sample probabilities label_issue mixes with AUM, and
/// fewest epochs per model as a share of the run's: with one pair of halves (each example held out
/// once) or with 3 of 20 epochs the mix ranked flipped labels worse than AUM alone, with three pairs
/// of the run's length better (docs/detection.md).
constexpr int64_t kMinHoldoutModels = 6;
constexpr double kMinHoldoutEpochShare = 0.5;

std::string csv_float(float v) { return fmt::format("{:.6g}", v); }

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

/// A ranking of the training examples by a score derived from the same trajectories
/// (record::derive_scores), higher = more likely mislabeled.
struct DerivedRanking {
  const char* name;
  const char* what;
  std::vector<float> score;
};

/// The derived scores over epochs [e0, e1) as label-issue rankings of the examples in `columns`:
/// negative AUM, forgetting events (never learned ranked first, as Toneva et al. do), EL2N, and
/// Dataset Cartography's 1 - confidence and 1 - correctness. AUM and EL2N only when recorded.
std::vector<DerivedRanking> derived_rankings(const record::DynamicsStore& store,
                                             const std::vector<int64_t>& columns, int64_t e0, int64_t e1) {
  record::DerivedOptions options;
  options.epoch_begin = e0;
  options.epoch_end = e1;
  const auto d = record::derive_scores(store, options);
  std::vector<size_t> at(static_cast<size_t>(store.num_examples()), 0);
  for (size_t i = 0; i < d.column.size(); ++i) at[static_cast<size_t>(d.column[i])] = i;
  std::vector<DerivedRanking> out;
  const auto add = [&](const char* name, const char* what, const auto& score_of) {
    DerivedRanking r{name, what, {}};
    r.score.reserve(columns.size());
    for (const auto c : columns) r.score.push_back(score_of(at[static_cast<size_t>(c)]));
    out.push_back(std::move(r));
  };
  if (d.has_margin) {
    add("aum", "peer: AUM (Pleiss et al.), minus the mean margin", [&](size_t i) { return -d.aum[i]; });
  }
  add("forgetting", "peer: forgetting events (Toneva et al.), never learned first", [&](size_t i) {
    return d.first_correct[i] < 0 ? static_cast<float>(d.epochs + 1) : static_cast<float>(d.forgetting[i]);
  });
  if (d.has_el2n) {
    add("el2n", "peer: EL2N (Paul et al.), mean over the first fifth of the epochs used",
        [&](size_t i) { return d.el2n[i]; });
  }
  add("cartography_confidence", "peer: Dataset Cartography, 1 - mean probability of the label",
      [&](size_t i) { return 1.0F - d.confidence[i]; });
  add("cartography_correctness", "peer: Dataset Cartography, 1 - share of epochs predicting the label",
      [&](size_t i) { return 1.0F - d.correctness[i]; });
  return out;
}

/// Per-train-row values kept for the ground-truth evaluation.
struct DetectionColumns {
  std::vector<uint8_t> flipped;
  std::vector<uint8_t> argmax_mislabeled;
  std::vector<float> p_mislabeled, score_mislabeled, label_issue, mean_loss, last_loss;
  std::vector<int64_t> column;  ///< dynamics.h5 column of each entry
  void reserve(size_t n) {
    column.reserve(n);
    for (auto* v : {&flipped, &argmax_mislabeled}) {
      v->reserve(n);
    }
    for (auto* v : {&p_mislabeled, &score_mislabeled, &label_issue, &mean_loss, &last_loss}) {
      v->reserve(n);
    }
  }
};

/// What an assignment reads from the run before any k-NN: the trained set, the epochs, which rows
/// are fitted and which are assigned.
struct RunInputs {
  explicit RunInputs(record::DynamicsStore opened) : store(std::move(opened)) {}

  record::DynamicsStore store;
  std::string file;                ///< dynamics.h5, for messages
  EpochRange range;                ///< epochs used
  std::vector<int64_t> excluded;   ///< rows training left out, ascending
  RowRoles roles;                  ///< without the excluded rows
  std::vector<std::string> names;  ///< probe categories
  int64_t mislabeled = -1;         ///< index of the 'mislabeled' category, or -1
  /// The label-issue evidence: minus the AUM (mean margin over the epochs used) when the run
  /// recorded margins, which ranks flipped labels better than the mean loss (docs/detection.md);
  /// else the mean loss.
  bool by_aum = false;
  /// The holdout difficulty pilot's out-of-sample probability of the given label, per column (NaN
  /// for columns it did not score): with margins, label_issue ranks the mean of the AUM and 1 - this
  /// percentiles. Empty when the run has no such pilot or it held each example out too rarely.
  std::vector<float> holdout_prob;
  std::string holdout_note;       ///< why holdout_prob is empty (for the log), or what it holds
  bool holdout_unusable = false;  ///< the pilot's files exist but do not fit the run (a warning)
  /// The k-NN options in effect: knn.signals reduced to the signals the run recorded, values
  /// standardised when a trajectory holds more than the losses.
  config::KnnConfig knn;
  Features features;  ///< what a trajectory is to the k-NN (knn.signals)
  [[nodiscard]] bool by_holdout() const { return by_aum && !holdout_prob.empty(); }
  [[nodiscard]] std::string evidence_name() const {
    if (by_holdout()) {
      return "mean of the percentiles of -AUM over the epochs used and of the holdout pilot's 1 - p(label)";
    }
    return by_aum ? "AUM (minus the mean margin) over the epochs used" : "mean loss over the epochs used";
  }
  /// What label_issue ranks, as assignments.h5 (label_issue_ranks), detection.json and the report
  /// say it: the formula and, with the holdout pilot, the pilot's size.
  [[nodiscard]] std::string label_issue_ranks() const {
    std::string out =
        mislabeled < 0 ? fmt::format("percentile of the {}", evidence_name())
                       : fmt::format("0.99 * percentile of the {} + 0.01 * P(mislabeled)", evidence_name());
    if (by_holdout()) {
      out += "; out-of-sample evidence: " + holdout_note;
    }
    return out;
  }
};

/// The holdout pilot's probability of the given label for each column of `ex` whose role is train
/// (NaN elsewhere), read from the run's difficulty_scores.csv when difficulty_scores.json says the
/// holdout pilot wrote it with at least kMinHoldoutModels models; `note` says what was read or why
/// nothing was. The CSV lists the pilot's examples in the order of the trained split, which a train
/// column's source_index is; every id is checked against the column's. `unusable` is set when the
/// files exist but do not fit the run (other ids, a bad value, cut short).
std::vector<float> read_holdout_prob(const RunLayout& run, const record::DynamicsStore& store,
                                     std::string* note, bool* unusable) {
  const auto& ex = store.examples();
  const auto meta_path = run.difficulty_scores_json();
  const auto csv_path = run.difficulty_scores_csv();
  std::error_code ec;
  if (!std::filesystem::exists(meta_path, ec) || !std::filesystem::exists(csv_path, ec)) {
    *note = "the run has no difficulty pilot scores";
    return {};
  }
  const auto meta = nlohmann::json::parse(fs::read_file(meta_path), nullptr, /*allow_exceptions=*/false);
  const auto key = meta.is_object() ? meta.value("key", nlohmann::json::object()) : nlohmann::json::object();
  if (!key.is_object() || key.value("method", std::string()) != "holdout") {
    *note = "its difficulty pilot is not probes.difficulty=holdout (in-sample scores add nothing to AUM)";
    return {};
  }
  const int64_t models = key.value("holdout_models", int64_t{0});
  if (models < kMinHoldoutModels) {
    *note = fmt::format(
        "its holdout pilot held each example out of {} model(s); {} or more (probes.holdout_models >= {}) "
        "are "
        "needed to add to AUM (docs/detection.md)",
        models / 2, kMinHoldoutModels / 2, kMinHoldoutModels);
    return {};
  }
  const int64_t epochs = key.value("holdout_epochs", int64_t{0});
  const auto config = nlohmann::json::parse(store.meta().config_json, nullptr, /*allow_exceptions=*/false);
  const int64_t run_epochs = config.is_object() && config.contains("train") && config["train"].is_object()
                                 ? config["train"].value("epochs", int64_t{0})
                                 : int64_t{0};
  if (static_cast<double>(epochs) < kMinHoldoutEpochShare * static_cast<double>(run_epochs)) {
    *note = fmt::format(
        "its holdout pilot trained {} epochs per model, under half the run's {} (set probes.holdout_epochs "
        ">= {}; docs/detection.md)",
        epochs, run_epochs,
        static_cast<int64_t>(std::ceil(kMinHoldoutEpochShare * static_cast<double>(run_epochs))));
    return {};
  }
  // Which column each CSV line (0-based, after the header) scores.
  const auto n = ex.size();
  int64_t lines = 0;
  for (int64_t c = 0; c < n; ++c) {
    if (ex.role[static_cast<size_t>(c)] == static_cast<int8_t>(Role::kTrain)) {
      lines = std::max(lines, ex.source_index[static_cast<size_t>(c)] + 1);
    }
  }
  std::vector<int64_t> column_of(static_cast<size_t>(lines), -1);
  for (int64_t c = 0; c < n; ++c) {
    if (ex.role[static_cast<size_t>(c)] == static_cast<int8_t>(Role::kTrain) &&
        ex.source_index[static_cast<size_t>(c)] >= 0) {
      column_of[static_cast<size_t>(ex.source_index[static_cast<size_t>(c)])] = c;
    }
  }
  std::vector<float> prob(static_cast<size_t>(n), std::numeric_limits<float>::quiet_NaN());
  std::ifstream in(csv_path, std::ios::binary);
  std::string line;
  const bool header = static_cast<bool>(std::getline(in, line));
  if (!header || split_csv_line(line, csv_path.string() + ":1") != std::vector<std::string>{"id", "score"}) {
    *unusable = true;
    *note = fmt::format("'{}' does not start with the header id,score", csv_path.string());
    return {};
  }
  int64_t at = 0;
  int64_t matched = 0;
  for (; std::getline(in, line) && at < lines; ++at) {
    const int64_t c = column_of[static_cast<size_t>(at)];
    if (c < 0) continue;
    const auto cells = split_csv_line(line, fmt::format("{}:{}", csv_path.string(), at + 2));
    if (cells.size() != 2 || cells[0] != ex.id_text(c)) {
      *unusable = true;
      *note =
          fmt::format("'{}' line {} is not example {} of the trained set (the data changed since the pilot?)",
                      csv_path.string(), at + 2, ex.id_text(c));
      return {};
    }
    float p = NAN;
    const auto& text = cells[1];
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), p);
    if (error != std::errc() || end != text.data() + text.size() || !(p >= 0.0F && p <= 1.0F)) {
      *unusable = true;
      *note = fmt::format("'{}' line {}: {} is not a probability", csv_path.string(), at + 2, cells[1]);
      return {};
    }
    prob[static_cast<size_t>(c)] = p;
    ++matched;
  }
  const auto wanted = std::count_if(column_of.begin(), column_of.end(), [](int64_t c) { return c >= 0; });
  if (matched != wanted) {
    *unusable = true;
    *note = fmt::format("'{}' ends at line {}, before the line of every training example ({} lines)",
                        csv_path.string(), at + 1, lines + 1);
    return {};
  }
  *note = fmt::format("the holdout pilot of {} models x {} epochs ({} training examples)", models, epochs,
                      matched);
  return prob;
}

RunInputs open_inputs(const RunLayout& run, const config::KnnConfig& options) {
  auto logger = log::get("knn");
  RunInputs in(record::DynamicsStore::open_read(run.dynamics()));
  const auto& store = in.store;
  in.file = store.path().string();
  // Epoch range: committed epochs only (a live run keeps appending beyond them).
  in.range = epoch_range(store, options);
  in.names = store.meta().category_names;
  // Rows training left out (unreadable images, NaN from then on) are neither fitted nor assigned.
  in.excluded = record::excluded_columns(store, in.range.end - 1);
  in.roles = without_rows(split_by_role(store.examples(), store.describe()), in.excluded);
  if (!in.excluded.empty()) {
    logger->warn(
        "{} examples were excluded during training (unreadable; see bad_inputs.csv) and are not assigned",
        in.excluded.size());
  }
  const auto categories = static_cast<int64_t>(in.names.size());
  MAPD_CHECK(
      !in.roles.fit.empty() && categories > 0, DataError,
      fmt::format("'{}' has no fit-half probes ({} examples: {} train, {} probe_val, {} categories): the run "
                  "was trained without probes. Train with a probe suite (probes.suite) to assign categories",
                  in.file, store.num_examples(), in.roles.train.size(), in.roles.val.size(), categories));
  const auto n_fit = static_cast<int64_t>(in.roles.fit.size());
  MAPD_CHECK(options.k <= n_fit, ConfigError,
             fmt::format("knn.k = {} but '{}' has only {} fit-half probes; use --set knn.k=N with N <= {}",
                         options.k, in.file, n_fit, n_fit));
  in.mislabeled = find_category(in.names, "mislabeled");
  in.knn = options;
  in.features = features_of(store, &in.knn.signals);
  if (!in.features.extra.empty()) {
    in.knn.standardize = true;  // losses, EL2N and margins live on different scales
  }
  in.by_aum = records_signal(store, "margin");
  in.holdout_prob = read_holdout_prob(run, store, &in.holdout_note, &in.holdout_unusable);
  if (!in.holdout_prob.empty() && !in.by_aum) {
    in.holdout_note = "this run records no margin to pair it with";
    in.holdout_prob.clear();
  }
  logger->info("label_issue ranks the {}{}", in.evidence_name(),
               in.by_aum ? "" : " (this run records no margin)");
  if (in.holdout_unusable) {
    logger->warn(
        "label_issue: the holdout pilot's scores are not used, label_issue ranks the {} instead: {}. A new "
        "run (`mapd audit` into a new --run-dir) runs the pilot again",
        in.evidence_name(), in.holdout_note);
  } else {
    logger->info(in.by_holdout() ? "label_issue: out-of-sample evidence from {}"
                                 : "label_issue: no out-of-sample evidence: {}",
                 in.holdout_note);
  }
  if (in.mislabeled < 0) {
    logger->warn("no 'mislabeled' probe category: label_issue is the percentile of the {} alone",
                 in.evidence_name());
  }
  return in;
}

/// The fitted k-NN, the label-issue evidence (empty: the mean loss) and its ranking over every
/// train row, and the query block size that keeps the process within knn.memory_budget_mb.
struct Assigner {
  TrajectoryKnn knn;
  ColumnValues evidence;
  PercentileRanking ranking;
  int64_t block = 0;
};

/// Minus the mean margin over `range` of columns [begin, end) of `store`: the evidence AUM gives.
ColumnValues minus_aum(const record::DynamicsStore& store, EpochRange range) {
  return [&store, range, margins = std::vector<float>()](int64_t begin, int64_t end, float* out) mutable {
    const int64_t dim = range.size();
    margins.resize(static_cast<size_t>((end - begin) * dim));
    store.read_signal_values("margin", begin, end, range.begin, range.end, margins.data());
    for (int64_t c = 0; c < end - begin; ++c) {
      double sum = 0.0;
      for (int64_t t = 0; t < dim; ++t) sum += margins[static_cast<size_t>(c * dim + t)];
      out[c] = static_cast<float>(-sum / static_cast<double>(dim));
    }
  };
}

/// The mean of the percentiles, among the train rows `train`, of `in_sample` and of 1 - `holdout`
/// (the out-of-sample probability of the label, per column): the two err on different examples, and
/// their mean ranked flipped labels better than either (docs/detection.md).
/// `holdout` must outlive the result (it is RunInputs::holdout_prob, the Assigner's companion).
ColumnValues with_holdout(ColumnValues in_sample, const std::vector<float>& holdout,
                          const std::vector<int64_t>& train, int64_t block) {
  const ColumnValues out_of_sample = [&holdout](int64_t begin, int64_t end, float* out) {
    for (int64_t c = begin; c < end; ++c) out[c - begin] = 1.0F - holdout[static_cast<size_t>(c)];
  };
  auto in_rank = PercentileRanking::of_values(in_sample, train, block);
  auto out_rank = PercentileRanking::of_values(out_of_sample, train, block);
  return [in_sample = std::move(in_sample), out_of_sample, in_rank = std::move(in_rank),
          out_rank = std::move(out_rank),
          other = std::vector<float>()](int64_t begin, int64_t end, float* out) mutable {
    other.resize(static_cast<size_t>(end - begin));
    in_sample(begin, end, out);
    out_of_sample(begin, end, other.data());
    for (int64_t i = 0; i < end - begin; ++i) {
      const float theirs = other[static_cast<size_t>(i)];
      // A column the pilot did not score (a probe) keeps the in-sample percentile alone.
      out[i] = std::isnan(theirs) ? in_rank.percentile(out[i])
                                  : 0.5F * (in_rank.percentile(out[i]) + out_rank.percentile(theirs));
    }
  };
}

Assigner make_assigner(const RunInputs& in, const config::KnnConfig& options) {
  auto logger = log::get("knn");
  const auto& store = in.store;
  const int64_t n_rows = store.num_examples();
  const int64_t dim = in.range.size();
  const int64_t width = in.features.width(in.range);
  const auto categories = static_cast<int64_t>(in.names.size());
  const auto n_fit = static_cast<int64_t>(in.roles.fit.size());
  const auto n_train = static_cast<int64_t>(in.roles.train.size());
  TrajectoryKnn knn(make_fit_set(store, in.roles.fit, in.range, {}, in.features), options);

  // Memory plan against the whole process: what it holds now (libraries, the /examples table, the
  // fit index), what it will still allocate whatever the block size, and per query row the rest.
  const int64_t budget = options.memory_budget_mb * kMiB;
  const int64_t example_table = n_rows * 35;  // /examples columns held by the store
  const int64_t held = process::resident_bytes();
  const int64_t resident = held > 0 ? held : example_table + 192 * kMiB;
  const int64_t detection = in.roles.injected_noise ? n_train * 22 : 0;
  // The evidence's ranking sample; with the holdout pilot also its probabilities (held) and the two
  // rankings it is the mean of.
  const int64_t sample = PercentileRanking::bytes_for(n_train) * (in.by_holdout() ? 3 : 1);
  // Still to come whatever the block size: the k-NN's per-thread scratch (index_bytes() also counts the
  // fit copies already held: a few MB of margin), the detection columns, the mean-loss sample, and
  // 64 MiB + 4 B per row for HDF5 caches and chunk indexes of both files, conversion and output
  // buffers and allocator slack (the 4 B per row is measured: docs/benchmarks.md, assign, 10M
  // trajectories).
  const int64_t fixed = resident + knn.index_bytes() + detection + sample + 64 * kMiB + 4 * n_rows;
  const int64_t per_row = (width + (width > dim ? dim : 0)) * 4 + knn.bytes_per_query() + categories * 8 +
                          64 + 60 * (categories + 2);
  MAPD_CHECK(
      fixed + per_row <= budget, ConfigError,
      fmt::format("knn.memory_budget_mb = {} is too small for '{}' ({} examples, {} fit probes, {} epochs): "
                  "the process already holds {} MB (libraries, the /examples table, the fit index) and needs "
                  "{} MB more before any query block; raise it with --set knn.memory_budget_mb=N (N >= {})",
                  options.memory_budget_mb, in.file, n_rows, n_fit, dim, resident / kMiB,
                  (fixed - resident) / kMiB + 1, (fixed + per_row) / kMiB + 1));
  int64_t block = options.block_size > 0 ? options.block_size
                                         : std::clamp<int64_t>((budget - fixed) / per_row, 1, kMaxBlock);
  if (options.block_size > 0 && fixed + block * per_row > budget) {
    logger->warn("knn.block_size = {} exceeds knn.memory_budget_mb = {} (needs about {} MB)", block,
                 options.memory_budget_mb, (fixed + block * per_row) / kMiB + 1);
  }
  logger->info(
      "assigning {} queries ({} train, {} val probes) against {} fit probes, {} categories, epochs [{}, {}) "
      "of {}, k = {}, backend {}, blocks of {}",
      in.roles.queries(), n_train, in.roles.val.size(), n_fit, categories, in.range.begin, in.range.end,
      options.signals, options.k, knn.backend_name(), block);
  logger->debug("memory plan: held {} MB, fixed {} MB, {} B per query row, budget {} MB", resident / kMiB,
                fixed / kMiB, per_row, options.memory_budget_mb);

  // Pass 1: the evidence of the train rows (a subsample of them, sorted, to rank by percentile).
  ColumnValues evidence = in.by_aum ? minus_aum(store, in.range) : ColumnValues();
  if (in.by_holdout()) {
    evidence = with_holdout(std::move(evidence), in.holdout_prob, in.roles.train, block);
  }
  auto ranking = in.by_aum ? PercentileRanking::of_values(evidence, in.roles.train, block)
                           : PercentileRanking::of_rows(store, in.roles.train, in.range, block);
  return Assigner{std::move(knn), std::move(evidence), std::move(ranking), block};
}

/// The metadata of assignments.h5: the run's config with the k-NN options used.
record::AssignmentMeta assignment_meta(const RunInputs& in, const config::KnnConfig& options) {
  const auto& meta = in.store.meta();
  record::AssignmentMeta out;
  out.category_names = in.names;
  nlohmann::json cfg = nlohmann::json::object();
  if (!meta.config_json.empty()) {
    cfg = nlohmann::json::parse(meta.config_json, nullptr, /*allow_exceptions=*/false);
    if (cfg.is_discarded()) {
      cfg = nlohmann::json::object();
    }
  }
  config::RunConfig with_knn;
  with_knn.knn = options;
  cfg["knn"] = config::to_json(with_knn)["knn"];
  cfg["knn"]["epoch_end"] = in.range.end;
  out.config_json = cfg.dump();
  out.mapd_version = kVersion;
  out.k = options.k;
  out.epoch_begin = in.range.begin;
  out.epoch_end = in.range.end;
  out.label_issue_ranks = in.label_issue_ranks();
  return out;
}

/// Scored query rows, in column order: what the outputs are made of.
struct ScoredRows {
  int64_t count = 0;
  const int64_t* columns = nullptr;  ///< [count] columns of dynamics.h5
  const int16_t* assigned = nullptr;
  const float* max_prob = nullptr;
  const float* prob = nullptr;   ///< [count, C]
  const float* score = nullptr;  ///< [count, C]
  const float* label_issue = nullptr;
  const float* mean_loss = nullptr;  ///< [count]; read for train rows of a run with injected noise only
  const float* last_loss = nullptr;  ///< [count]; as mean_loss
};

/// assignments.h5 and assignments.csv (written as temporary files, renamed by finish()), the probe
/// self-test and the detection columns, fed with every query row in column order.
class AssignmentOutputs {
 public:
  AssignmentOutputs(const RunInputs& in, const RunLayout& run, const config::KnnConfig& options)
      : in_(in),
        run_(run),
        options_(options),
        h5_path_(run.assignments_h5()),
        h5_tmp_(RunLayout::temporary(h5_path_)),
        csv_path_(run.assignments_csv()),
        csv_tmp_(RunLayout::temporary(csv_path_)),
        store_(record::AssignmentStore::create(h5_tmp_, assignment_meta(in, options), in.roles.queries())),
        csv_(csv_tmp_, std::ios::binary | std::ios::trunc),
        self_test_(static_cast<int64_t>(in.names.size())) {
    MAPD_CHECK(csv_.good(), IoError, fmt::format("cannot write '{}'", csv_tmp_.string()));
    csv_ << "id,label,assigned,max_prob";
    for (const auto& n : in.names) {
      csv_ << ",p_" << n;
    }
    for (const auto& n : in.names) {
      csv_ << ",score_" << n;
    }
    csv_ << ",label_issue\n";
    if (in.roles.injected_noise) {
      det_.reserve(in.roles.train.size());
    }
  }

  void add(const ScoredRows& part) {
    const auto& ex = in_.store.examples();
    const auto categories = static_cast<int64_t>(in_.names.size());
    const int64_t mislabeled = in_.mislabeled;
    const auto& names = in_.names;
    q_rows_.clear();
    q_id_.clear();
    q_label_.clear();
    lines_.clear();
    for (int64_t i = 0; i < part.count; ++i) {
      const auto r = static_cast<size_t>(part.columns[i]);
      q_rows_.push_back(ex.row[r]);
      q_id_.push_back(ex.id[r]);
      q_label_.push_back(ex.label[r]);
      if (!ex.name.empty()) {
        q_names_.push_back(ex.name[r]);
      }
      const float* prob = part.prob + i * categories;
      const float* score = part.score + i * categories;
      const float issue = part.label_issue[i];
      const auto role = static_cast<Role>(ex.role[r]);
      const int16_t assigned = part.assigned[i];
      if (role == Role::kProbeVal) {
        const int16_t truth = ex.probe_category[r];
        MAPD_CHECK(truth >= 0 && truth < categories, DataError,
                   fmt::format("'{}' row {} (id {}): probe_val row with category {} outside [0, {})",
                               in_.file, r, ex.id_text(static_cast<int64_t>(r)), truth, categories));
        self_test_.add(truth, assigned);
      } else if (in_.roles.injected_noise) {
        det_.flipped.push_back(ex.label[r] != ex.original_label[r] ? 1 : 0);
        det_.argmax_mislabeled.push_back(assigned == mislabeled ? 1 : 0);
        det_.p_mislabeled.push_back(mislabeled >= 0 ? prob[mislabeled] : 0.0F);
        det_.score_mislabeled.push_back(mislabeled >= 0 ? score[mislabeled] : 0.0F);
        det_.label_issue.push_back(issue);
        det_.mean_loss.push_back(part.mean_loss[i]);
        det_.last_loss.push_back(part.last_loss[i]);
        det_.column.push_back(static_cast<int64_t>(r));
      }
      lines_ += fmt::format("{},{},{},{}", csv_field(ex.id_text(static_cast<int64_t>(r))), ex.label[r],
                            csv_field(names[static_cast<size_t>(assigned)]), csv_float(part.max_prob[i]));
      for (int64_t c = 0; c < categories; ++c) {
        lines_ += ',';
        lines_ += csv_float(prob[c]);
      }
      for (int64_t c = 0; c < categories; ++c) {
        lines_ += ',';
        lines_ += csv_float(score[c]);
      }
      lines_ += ',';
      lines_ += csv_float(issue);
      lines_ += '\n';
    }
    record::AssignmentStore::Block out;
    out.count = part.count;
    out.id = q_id_.data();
    out.row = q_rows_.data();
    out.label = q_label_.data();
    out.assigned = part.assigned;
    out.max_prob = part.max_prob;
    out.prob = part.prob;
    out.score = part.score;
    out.label_issue = part.label_issue;
    store_.write(written_, out);
    csv_ << lines_;
    MAPD_CHECK(csv_.good(), IoError, fmt::format("writing '{}' failed (disk full?)", csv_tmp_.string()));
    written_ += part.count;
    log::get("knn")->debug("assigned {} / {} queries", written_, in_.roles.queries());
  }

  /// Renames the files into place and writes selftest.json and (with injected noise)
  /// detection.json; fills the summary but for seconds, block size and backend.
  AssignSummary finish(int64_t boundary_ties) {
    const int64_t n_queries = in_.roles.queries();
    MAPD_ASSERT(written_ == n_queries, "assign_run: the blocks did not cover every query row");
    if (!in_.store.examples().name.empty()) {
      store_.write_names(q_names_);
    }
    store_.close();
    csv_.close();
    MAPD_CHECK(!csv_.fail(), IoError, fmt::format("closing '{}' failed (disk full?)", csv_tmp_.string()));
    fs::sync_file(h5_tmp_);
    fs::sync_file(csv_tmp_);
    std::filesystem::rename(h5_tmp_, h5_path_);
    std::filesystem::rename(csv_tmp_, csv_path_);

    const auto& names = in_.names;
    const int64_t e0 = in_.range.begin;
    const int64_t e1 = in_.range.end;
    AssignSummary summary;
    summary.queries = n_queries;
    summary.excluded = static_cast<int64_t>(in_.excluded.size());
    summary.epochs_used = in_.range.size();
    summary.boundary_ties = boundary_ties;
    summary.self_test_accuracy = self_test_.accuracy();
    summary.self_test_table = self_test_.to_table(names);

    nlohmann::json st = self_test_.to_json(names);
    st["k"] = options_.k;
    st["epoch_begin"] = e0;
    st["epoch_end"] = e1;
    st["fit_probes"] = in_.roles.fit.size();
    st["val_probes"] = in_.roles.val.size();
    st["boundary_ties"] = boundary_ties;
    fs::write_file_atomic(run_.selftest(), st.dump(2) + "\n");
    if (in_.roles.injected_noise) {
      summary.detection_table = write_detection();
    }
    return summary;
  }

 private:
  /// detection.json from the detection columns; returns its table.
  std::string write_detection() const {
    const auto& det = det_;
    const int64_t mislabeled = in_.mislabeled;
    const auto n_train = static_cast<int64_t>(in_.roles.train.size());
    nlohmann::json d;
    const auto flipped_count = std::count(det.flipped.begin(), det.flipped.end(), uint8_t{1});
    d["train_examples"] = n_train;
    d["flipped"] = flipped_count;
    d["rate"] = static_cast<double>(flipped_count) / static_cast<double>(n_train);
    d["epoch_begin"] = in_.range.begin;
    d["epoch_end"] = in_.range.end;
    d["k"] = options_.k;
    struct Ranking {
      const char* name;
      const char* what;
      const std::vector<float>* score;
    };
    const auto derived = derived_rankings(in_.store, det.column, in_.range.begin, in_.range.end);
    const std::string issue_what = "mapd label-issue score: " + in_.label_issue_ranks();
    std::vector<Ranking> rankings = {
        {"p_mislabeled", "the paper's P(mislabeled): share of the k neighbours", &det.p_mislabeled},
        {"score_mislabeled", "mapd continuous score: softmax of -nearest distance per category",
         &det.score_mislabeled},
        {"label_issue", issue_what.c_str(), &det.label_issue},
        {"mean_loss", "baseline: mean loss over the epochs used", &det.mean_loss},
        {"last_loss", "baseline: loss at the last epoch used", &det.last_loss},
    };
    for (const auto& one : derived) rankings.push_back({one.name, one.what, &one.score});
    std::vector<float> holdout;
    if (in_.by_holdout()) {
      for (const auto c : det.column) holdout.push_back(1.0F - in_.holdout_prob[static_cast<size_t>(c)]);
      rankings.push_back({"holdout", "the holdout difficulty pilot's out-of-sample 1 - p(label)", &holdout});
    }
    std::string table =
        fmt::format("label-noise detection: {} flipped of {} train examples ({:.1f}%)\n{:<24}{:>9}{:>9}\n",
                    flipped_count, n_train, 100.0 * d["rate"].get<double>(), "ranking", "AUROC", "AP");
    d["rankings"] = nlohmann::json::object();
    for (const auto& r : rankings) {
      if (mislabeled < 0 && std::string(r.name).find("mislabeled") != std::string::npos) {
        continue;
      }
      const double a = auroc(*r.score, det.flipped);
      const double ap = average_precision(*r.score, det.flipped);
      d["rankings"][r.name] = {
          {"auroc", number(a)}, {"average_precision", number(ap)}, {"description", r.what}};
      table += fmt::format("{:<24}{:>9.4f}{:>9.4f}\n", r.name, a, ap);
    }
    if (mislabeled >= 0) {
      int64_t tp = 0;
      int64_t predicted = 0;
      for (size_t i = 0; i < det.flipped.size(); ++i) {
        predicted += det.argmax_mislabeled[i];
        tp += det.argmax_mislabeled[i] != 0 && det.flipped[i] != 0 ? 1 : 0;
      }
      const double precision = predicted > 0 ? static_cast<double>(tp) / static_cast<double>(predicted) : NAN;
      const double recall =
          flipped_count > 0 ? static_cast<double>(tp) / static_cast<double>(flipped_count) : NAN;
      d["argmax_mislabeled"] = {{"predicted", predicted},
                                {"true_positives", tp},
                                {"precision", number(precision)},
                                {"recall", number(recall)}};
      table += fmt::format("argmax == mislabeled: {} predicted, precision {:.4f}, recall {:.4f}\n", predicted,
                           precision, recall);
    }
    fs::write_file_atomic(run_.detection(), d.dump(2) + "\n");
    return table;
  }

  const RunInputs& in_;
  const RunLayout& run_;
  const config::KnnConfig& options_;
  std::filesystem::path h5_path_, h5_tmp_, csv_path_, csv_tmp_;
  record::AssignmentStore store_;
  std::ofstream csv_;
  ConfusionMatrix self_test_;
  DetectionColumns det_;
  int64_t written_ = 0;
  std::vector<int64_t> q_rows_, q_id_, q_label_;  // per block: trained-set row (/examples/row), id, label
  std::vector<std::string> q_names_;              // every query's text id (text-id datasets only)
  std::string lines_;
};

/// The last loss of each of the query rows of `block` (a detection baseline) into `last`.
void last_losses(const QueryBlock& block, std::vector<float>* last) {
  last->resize(static_cast<size_t>(block.size()));
  for (int64_t i = 0; i < block.size(); ++i) {
    (*last)[static_cast<size_t>(i)] = block.x[static_cast<size_t>(i * block.dim + block.loss_dim - 1)];
  }
}

/// Columns [begin, end) of task `shard` of a run of `n_rows` examples.
ColumnRange shard_columns(int64_t n_rows, Shard shard) {
  return {n_rows * shard.index / shard.count, n_rows * (shard.index + 1) / shard.count};
}

/// FNV-1a over `bytes` bytes, continuing from `h`.
uint64_t fnv1a(const void* data, size_t bytes, uint64_t h = 1469598103934665603ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) {
    h = (h ^ p[i]) * 1099511628211ULL;
  }
  return h;
}

/// What a part's values depend on: the trained set (its config and every example's id, label,
/// role and probe category), the epochs used (all committed ones unless knn.epoch_end pins the
/// range: a live run that commits another epoch changes the key then, and only then), the rows
/// training left out, the k-NN options that change values (not the memory budget or block size),
/// and the shard. Equal keys, equal parts.
nlohmann::json part_key(const RunInputs& in, const config::KnnConfig& options, Shard shard) {
  const auto& store = in.store;
  const auto& ex = store.examples();
  uint64_t h = fnv1a(store.meta().config_json.data(), store.meta().config_json.size());
  h = fnv1a(ex.id.data(), ex.id.size() * sizeof(ex.id[0]), h);
  h = fnv1a(ex.label.data(), ex.label.size() * sizeof(ex.label[0]), h);
  h = fnv1a(ex.role.data(), ex.role.size() * sizeof(ex.role[0]), h);
  h = fnv1a(ex.probe_category.data(), ex.probe_category.size() * sizeof(ex.probe_category[0]), h);
  for (const auto& name : ex.name) {
    h = fnv1a(name.data(), name.size() + 1, h);  // with its terminating zero: "ab","c" != "a","bc"
  }
  // The label-issue evidence beyond the store: the holdout pilot's probabilities, when used.
  h = fnv1a(in.holdout_prob.data(), in.holdout_prob.size() * sizeof(float), h);
  const auto columns = shard_columns(store.num_examples(), shard);
  config::RunConfig with_knn;
  with_knn.knn = options;
  auto knn = config::to_json(with_knn)["knn"];
  knn.erase("memory_budget_mb");
  knn.erase("block_size");
  return {{"shard", shard.index},
          {"shards", shard.count},
          {"columns", {columns.begin, columns.end}},
          {"examples", store.num_examples()},
          {"trained_set", fmt::format("{:016x}", h)},
          {"epochs", {in.range.begin, in.range.end}},
          {"excluded", in.excluded.size()},
          {"knn", knn}};
}

/// The key and totals a part file holds (its config_json), or a null key when it cannot be read.
nlohmann::json read_part(const std::filesystem::path& path) {
  try {
    const auto meta = record::AssignmentStore::read_meta(path);
    auto j = nlohmann::json::parse(meta.config_json, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object() && j.contains("key") && j.contains("totals")) {
      return j;
    }
  } catch (const Error& e) {
    log::get("knn")->warn("{}", e.what());
  }
  return nlohmann::json::object({{"key", nullptr}});
}

/// The top-level fields where two keys differ, for messages ("epochs, knn").
std::string key_difference(const nlohmann::json& found, const nlohmann::json& expected) {
  if (!found.is_object()) {
    return "unreadable key";
  }
  std::vector<std::string> fields;
  for (const auto& [name, value] : expected.items()) {
    if (!found.contains(name) || found[name] != value) {
      fields.push_back(name);
    }
  }
  return fields.empty() ? "other fields" : fmt::format("{}", fmt::join(fields, ", "));
}

/// The part counts N other than `count` of the part files in assign_parts/ ("part-IIII-of-NNNN.h5"),
/// ascending: what a merge with a wrong N may have meant.
std::vector<int64_t> other_part_counts(const RunLayout& run, int64_t count) {
  std::vector<int64_t> counts;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(run.assign_parts(), error)) {
    const std::string name = entry.path().filename().string();
    const auto of = name.find("-of-");
    if (name.rfind("part-", 0) != 0 || of == std::string::npos || name.size() < of + 7 ||
        name.compare(name.size() - 3, 3, ".h5") != 0) {
      continue;
    }
    const std::string digits = name.substr(of + 4, name.size() - 3 - (of + 4));
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) {
      continue;
    }
    const int64_t n = std::stoll(digits);
    if (n != count && std::find(counts.begin(), counts.end(), n) == counts.end()) {
      counts.push_back(n);
    }
  }
  std::sort(counts.begin(), counts.end());
  return counts;
}

}  // namespace

AssignSummary assign_run(const std::filesystem::path& run_dir, const config::KnnConfig& options) {
  const auto started = std::chrono::steady_clock::now();
  auto logger = log::get("knn");
  const RunLayout run(run_dir);
  const RunInputs in = open_inputs(run, options);
  const Assigner assigner = make_assigner(in, in.knn);

  // Pass 2: k-NN in blocks, written as they come.
  AssignmentOutputs outputs(in, run, in.knn);
  std::vector<float> last_loss;
  const auto write_block = [&](const QueryBlock& part) {
    const auto& p = part.scores.prediction;
    last_losses(part, &last_loss);
    ScoredRows rows;
    rows.count = part.size();
    rows.columns = part.columns.data();
    rows.assigned = p.assigned.data();
    rows.max_prob = p.max_prob.data();
    rows.prob = p.prob.data();
    rows.score = p.score.data();
    rows.label_issue = part.scores.label_issue.data();
    rows.mean_loss = part.scores.mean_loss.data();
    rows.last_loss = last_loss.data();
    outputs.add(rows);
  };
  const auto totals = assign_blocks(in.store, assigner.knn, assigner.ranking, in.mislabeled, in.range,
                                    {0, in.store.num_examples()}, assigner.block, in.excluded, write_block,
                                    assigner.evidence, in.features);
  AssignSummary summary = outputs.finish(totals.boundary_ties);
  summary.block_size = assigner.block;
  summary.backend = assigner.knn.backend_name();
  logger->debug("resident at the end: {} MB", process::resident_bytes() / kMiB);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  logger->info(
      "assigned {} queries in {:.2f} s ({} exact distance ties at the k-th neighbour, {} re-scanned); "
      "self-test accuracy {:.4f}; wrote {}",
      summary.queries, summary.seconds, summary.boundary_ties, totals.rescanned, summary.self_test_accuracy,
      run.assignments_h5().string());
  return summary;
}

PartSummary assign_part(const std::filesystem::path& run_dir, const config::KnnConfig& options, Shard shard) {
  MAPD_CHECK(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count, ConfigError,
             fmt::format("shard {}/{}: expected I/N with 0 <= I < N", shard.index, shard.count));
  const auto started = std::chrono::steady_clock::now();
  auto logger = log::get("knn");
  const RunLayout run(run_dir);
  const RunInputs in = open_inputs(run, options);
  const auto& ex = in.store.examples();
  const auto key = part_key(in, in.knn, shard);
  PartSummary summary;
  summary.path = run.assign_part(shard.index, shard.count);
  const auto columns = shard_columns(in.store.num_examples(), shard);
  summary.column_begin = columns.begin;
  summary.column_end = columns.end;
  for (int64_t r = columns.begin; r < columns.end; ++r) {
    summary.queries += is_query(ex, r, in.excluded) ? 1 : 0;
  }
  if (std::filesystem::exists(summary.path)) {
    const auto found = read_part(summary.path);
    if (found["key"] == key) {
      summary.skipped = true;
      logger->info("part {}/{} already done: {}", shard.index, shard.count, summary.path.string());
      return summary;
    }
    logger->info("part {}/{}: '{}' was written for another run state or options ({}); redoing it",
                 shard.index, shard.count, summary.path.string(), key_difference(found["key"], key));
  }
  const Assigner assigner = make_assigner(in, in.knn);
  logger->info("part {}/{}: columns [{}, {}) of {}, {} queries", shard.index, shard.count, columns.begin,
               columns.end, in.store.num_examples(), summary.queries);

  std::filesystem::create_directories(run.assign_parts());
  const auto tmp = RunLayout::temporary(summary.path);
  auto part = record::AssignmentStore::create(tmp, assignment_meta(in, in.knn), summary.queries);
  int64_t written = 0;
  std::vector<int64_t> q_rows;
  std::vector<int64_t> q_id;
  std::vector<int64_t> q_label;
  const auto write_block = [&](const QueryBlock& block) {
    const auto& p = block.scores.prediction;
    q_rows.clear();
    q_id.clear();
    q_label.clear();
    for (const int64_t r : block.columns) {
      q_rows.push_back(ex.row[static_cast<size_t>(r)]);
      q_id.push_back(ex.id[static_cast<size_t>(r)]);
      q_label.push_back(ex.label[static_cast<size_t>(r)]);
    }
    record::AssignmentStore::Block out;
    out.count = block.size();
    out.id = q_id.data();
    out.row = q_rows.data();
    out.label = q_label.data();
    out.assigned = p.assigned.data();
    out.max_prob = p.max_prob.data();
    out.prob = p.prob.data();
    out.score = p.score.data();
    out.label_issue = block.scores.label_issue.data();
    part.write(written, out);
    written += block.size();
  };
  const auto totals =
      assign_blocks(in.store, assigner.knn, assigner.ranking, in.mislabeled, in.range, columns,
                    assigner.block, in.excluded, write_block, assigner.evidence, in.features);
  MAPD_ASSERT(written == summary.queries, "assign_part: the blocks did not cover the part's query rows");
  // The key and the totals (known only now) are the part's config_json; it is renamed into place
  // only once complete, so a part there is a finished part.
  part.set_config_json(nlohmann::json{{"key", key},
                                      {"totals",
                                       {{"queries", written},
                                        {"boundary_ties", totals.boundary_ties},
                                        {"rescanned", totals.rescanned},
                                        {"backend", assigner.knn.backend_name()}}}}
                           .dump());
  part.close();
  fs::sync_file(tmp);
  std::filesystem::rename(tmp, summary.path);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  logger->info("part {}/{}: assigned {} queries in {:.2f} s; wrote {}", shard.index, shard.count, written,
               summary.seconds, summary.path.string());
  return summary;
}

AssignSummary merge_parts(const std::filesystem::path& run_dir, const config::KnnConfig& options,
                          int64_t count) {
  MAPD_CHECK(count >= 1, ConfigError, fmt::format("--merge {}: the number of parts must be >= 1", count));
  const auto started = std::chrono::steady_clock::now();
  auto logger = log::get("knn");
  const RunLayout run(run_dir);
  const RunInputs in = open_inputs(run, options);
  const auto& ex = in.store.examples();
  const int64_t dim = in.range.size();

  // Every part must be there and hold the key this run and these options give now.
  std::vector<std::string> missing;
  std::vector<int64_t> missing_index;
  std::vector<std::string> stale;
  std::vector<nlohmann::json> totals;
  for (int64_t i = 0; i < count; ++i) {
    const auto path = run.assign_part(i, count);
    if (!std::filesystem::exists(path)) {
      missing.push_back(fmt::format("part {}/{} ('{}')", i, count, path.string()));
      missing_index.push_back(i);
      continue;
    }
    const auto found = read_part(path);
    const auto key = part_key(in, in.knn, Shard{i, count});
    if (found["key"] != key) {
      stale.push_back(fmt::format("part {}/{} ('{}': {} differ)", i, count, path.string(),
                                  key_difference(found["key"], key)));
      continue;
    }
    totals.push_back(found["totals"]);
  }
  if (!missing.empty()) {
    std::string message = fmt::format("cannot merge {} parts of '{}': {} missing: {}; ", count,
                                      run_dir.string(), missing.size(), fmt::join(missing, ", "));
    message += missing.size() == 1
                   ? fmt::format("make it with `mapd assign {} --shard {}/{}`", run_dir.string(),
                                 missing_index.front(), count)
                   : fmt::format(
                         "run `mapd assign {} --shard I/{}` for each missing part I first (the array "
                         "tasks of scripts/slurm/assign.sbatch)",
                         run_dir.string(), count);
    const auto others = other_part_counts(run, count);
    if (!others.empty()) {
      message += fmt::format("; {} holds parts of a split in {}: did you mean --merge {}?",
                             run.assign_parts().string(), fmt::join(others, " or "), others.front());
    }
    throw DataError(message);
  }
  MAPD_CHECK(
      stale.empty(), DataError,
      fmt::format("cannot merge {} parts of '{}': {} written for other epochs, options or shards than "
                  "the run gives now: {}; rerun `mapd assign {} --shard I/{}` for each (with the same "
                  "-c/--set options as the merge)",
                  count, run_dir.string(), stale.size(), fmt::join(stale, ", "), run_dir.string(), count));

  AssignmentOutputs outputs(in, run, in.knn);
  int64_t ties = 0;
  int64_t rescanned = 0;
  std::string backend;
  std::vector<int64_t> columns;
  std::vector<float> mean_loss;
  std::vector<float> last_loss;
  for (int64_t i = 0; i < count; ++i) {
    const auto path = run.assign_part(i, count);
    const auto range = shard_columns(in.store.num_examples(), Shard{i, count});
    columns.clear();
    for (int64_t r = range.begin; r < range.end; ++r) {
      if (is_query(ex, r, in.excluded)) {
        columns.push_back(r);
      }
    }
    const auto part = record::AssignmentStore::read(path, nullptr);
    MAPD_CHECK(part.id.size() == columns.size(), DataError,
               fmt::format("'{}' holds {} rows but its columns [{}, {}) of '{}' hold {} query rows; rerun "
                           "`mapd assign {} --shard {}/{}`",
                           path.string(), part.id.size(), range.begin, range.end, in.file, columns.size(),
                           run_dir.string(), i, count));
    for (size_t j = 0; j < columns.size(); ++j) {
      MAPD_CHECK(
          part.row[j] == ex.row[static_cast<size_t>(columns[j])], DataError,
          fmt::format("'{}' row {} is example row {}, expected {}; rerun `mapd assign {} --shard {}/{}`",
                      path.string(), j, part.row[j], ex.row[static_cast<size_t>(columns[j])],
                      run_dir.string(), i, count));
    }
    // The detection baselines are not in the part: read them back (runs with injected noise only).
    const auto n = static_cast<int64_t>(columns.size());
    mean_loss.assign(static_cast<size_t>(n), 0.0F);
    last_loss.assign(static_cast<size_t>(n), 0.0F);
    if (in.roles.injected_noise && n > 0) {
      const auto x = read_loss_rows(in.store, columns, in.range);
      for (int64_t q = 0; q < n; ++q) {
        double sum = 0.0;
        for (int64_t t = 0; t < dim; ++t) {
          sum += x[static_cast<size_t>(q * dim + t)];
        }
        mean_loss[static_cast<size_t>(q)] = static_cast<float>(sum / static_cast<double>(dim));
        last_loss[static_cast<size_t>(q)] = x[static_cast<size_t>(q * dim + dim - 1)];
      }
    }
    ScoredRows rows;
    rows.count = n;
    rows.columns = columns.data();
    rows.assigned = part.assigned.data();
    rows.max_prob = part.max_prob.data();
    rows.prob = part.prob.data();
    rows.score = part.score.data();
    rows.label_issue = part.label_issue.data();
    rows.mean_loss = mean_loss.data();
    rows.last_loss = last_loss.data();
    outputs.add(rows);
    const auto& t = totals[static_cast<size_t>(i)];
    ties += t.value("boundary_ties", int64_t{0});
    rescanned += t.value("rescanned", int64_t{0});
    backend = t.value("backend", std::string());
  }
  AssignSummary summary = outputs.finish(ties);
  summary.backend = backend;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  logger->info(
      "merged {} parts: {} queries in {:.2f} s ({} exact distance ties at the k-th neighbour, {} "
      "re-scanned); "
      "self-test accuracy {:.4f}; wrote {}",
      count, summary.queries, summary.seconds, ties, rescanned, summary.self_test_accuracy,
      run.assignments_h5().string());
  return summary;
}

}  // namespace mapd::knn
