// assign_run: streams committed trajectories out of dynamics.h5, assigns categories with the k-NN,
// and writes assignments.{h5,csv}, the probe self-test and (with injected noise) detection metrics.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>

#include "mapd/config/loader.hpp"
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

std::string csv_float(float v) { return fmt::format("{:.6g}", v); }

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

bool records_margin(const record::DynamicsStore& store) {
  const auto& signals = store.meta().signals;
  return std::any_of(signals.begin(), signals.end(),
                     [](const record::SignalSpec& s) { return s.name == "margin" && !s.classes; });
}

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

}  // namespace

AssignSummary assign_run(const std::filesystem::path& run_dir, const config::KnnConfig& options) {
  const auto started = std::chrono::steady_clock::now();
  auto logger = log::get("knn");
  const RunLayout run(run_dir);
  const auto store = record::DynamicsStore::open_read(run.dynamics());
  const auto& meta = store.meta();
  const auto& ex = store.examples();
  const int64_t n_rows = store.num_examples();
  const std::string file = store.path().string();

  // Epoch range: committed epochs only (a live run keeps appending beyond them).
  const EpochRange range = epoch_range(store, options);
  const int64_t e0 = range.begin;
  const int64_t e1 = range.end;
  const int64_t dim = range.size();

  const auto& names = meta.category_names;
  const auto categories = static_cast<int64_t>(names.size());
  // Rows training left out (unreadable images, NaN from then on) are neither fitted nor assigned.
  const auto excluded = record::excluded_columns(store, range.end - 1);
  const RowRoles roles = without_rows(split_by_role(ex, store.describe()), excluded);
  if (!excluded.empty()) {
    logger->warn(
        "{} examples were excluded during training (unreadable; see bad_inputs.csv) and are not assigned",
        excluded.size());
  }
  const int64_t n_queries = roles.queries();
  const auto n_train = static_cast<int64_t>(roles.train.size());
  const auto n_val = static_cast<int64_t>(roles.val.size());
  const bool noisy = roles.injected_noise;
  MAPD_CHECK(
      !roles.fit.empty() && categories > 0, DataError,
      fmt::format("'{}' has no fit-half probes ({} examples: {} train, {} probe_val, {} categories): the run "
                  "was trained without probes. Train with a probe suite (probes.suite) to assign categories",
                  file, n_rows, n_train, n_val, categories));
  const auto n_fit = static_cast<int64_t>(roles.fit.size());
  MAPD_CHECK(options.k <= n_fit, ConfigError,
             fmt::format("knn.k = {} but '{}' has only {} fit-half probes; use --set knn.k=N with N <= {}",
                         options.k, file, n_fit, n_fit));
  TrajectoryKnn knn(make_fit_set(store, roles.fit, range), options);

  // Memory plan against the whole process: what it holds now (libraries, the /examples table, the
  // fit index), what it will still allocate whatever the block size, and per query row the rest.
  const int64_t budget = options.memory_budget_mb * kMiB;
  const int64_t example_table = n_rows * 35;  // /examples columns held by the store
  const int64_t held = process::resident_bytes();
  const int64_t resident = held > 0 ? held : example_table + 192 * kMiB;
  const int64_t detection = noisy ? n_train * 22 : 0;
  const int64_t sample = PercentileRanking::bytes_for(n_train);
  // Still to come whatever the block size: the k-NN's per-thread scratch (index_bytes() also counts the
  // fit copies already held: a few MB of margin), the detection columns, the mean-loss sample, and
  // 64 MiB + 4 B per row for HDF5 caches and chunk indexes of both files, conversion and output
  // buffers and allocator slack (the 4 B per row is measured: docs/benchmarks.md, assign, 10M
  // trajectories).
  const int64_t fixed = resident + knn.index_bytes() + detection + sample + 64 * kMiB + 4 * n_rows;
  const int64_t per_row = dim * 4 + knn.bytes_per_query() + categories * 8 + 64 + 60 * (categories + 2);
  MAPD_CHECK(
      fixed + per_row <= budget, ConfigError,
      fmt::format("knn.memory_budget_mb = {} is too small for '{}' ({} examples, {} fit probes, {} epochs): "
                  "the process already holds {} MB (libraries, the /examples table, the fit index) and needs "
                  "{} MB more before any query block; raise it with --set knn.memory_budget_mb=N (N >= {})",
                  options.memory_budget_mb, file, n_rows, n_fit, dim, resident / kMiB,
                  (fixed - resident) / kMiB + 1, (fixed + per_row) / kMiB + 1));
  int64_t block = options.block_size > 0 ? options.block_size
                                         : std::clamp<int64_t>((budget - fixed) / per_row, 1, kMaxBlock);
  if (options.block_size > 0 && fixed + block * per_row > budget) {
    logger->warn("knn.block_size = {} exceeds knn.memory_budget_mb = {} (needs about {} MB)", block,
                 options.memory_budget_mb, (fixed + block * per_row) / kMiB + 1);
  }
  logger->info(
      "assigning {} queries ({} train, {} val probes) against {} fit probes, {} categories, epochs [{}, {}), "
      "k = {}, backend {}, blocks of {}",
      n_queries, n_train, n_val, n_fit, categories, e0, e1, options.k, knn.backend_name(), block);
  logger->debug("memory plan: held {} MB, fixed {} MB, {} B per query row, budget {} MB", resident / kMiB,
                fixed / kMiB, per_row, options.memory_budget_mb);

  // The label-issue evidence: minus the AUM (mean margin over the epochs used) when the run
  // recorded margins, which ranks flipped labels better than the mean loss (docs/detection.md);
  // else the mean loss.
  const bool by_aum = records_margin(store);
  std::vector<float> margins;
  const ColumnValues minus_aum = [&](int64_t begin, int64_t end, float* out) {
    margins.resize(static_cast<size_t>((end - begin) * dim));
    store.read_signal_values("margin", begin, end, e0, e1, margins.data());
    for (int64_t c = 0; c < end - begin; ++c) {
      double sum = 0.0;
      for (int64_t t = 0; t < dim; ++t) sum += margins[static_cast<size_t>(c * dim + t)];
      out[c] = static_cast<float>(-sum / static_cast<double>(dim));
    }
  };
  const ColumnValues evidence = by_aum ? minus_aum : ColumnValues();
  // Pass 1: the evidence of the train rows (a subsample of them, sorted, to rank by percentile).
  const auto ranking = by_aum ? PercentileRanking::of_values(minus_aum, roles.train, block)
                              : PercentileRanking::of_rows(store, roles.train, range, block);
  const std::string evidence_name = by_aum ? "AUM (minus the mean margin)" : "mean loss";
  logger->info("label_issue ranks the {} of the epochs used{}", evidence_name,
               by_aum ? "" : " (this run records no margin)");

  // Outputs.
  record::AssignmentMeta out_meta;
  out_meta.category_names = names;
  {
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
    cfg["knn"]["epoch_end"] = e1;
    out_meta.config_json = cfg.dump();
  }
  out_meta.mapd_version = kVersion;
  out_meta.k = options.k;
  out_meta.epoch_begin = e0;
  out_meta.epoch_end = e1;
  const auto h5_path = run.assignments_h5();
  const auto h5_tmp = RunLayout::temporary(h5_path);
  const auto csv_path = run.assignments_csv();
  const auto csv_tmp = RunLayout::temporary(csv_path);
  auto assignments = record::AssignmentStore::create(h5_tmp, out_meta, n_queries);
  std::ofstream csv(csv_tmp, std::ios::binary | std::ios::trunc);
  MAPD_CHECK(csv.good(), IoError, fmt::format("cannot write '{}'", csv_tmp.string()));
  csv << "id,label,assigned,max_prob";
  for (const auto& n : names) {
    csv << ",p_" << n;
  }
  for (const auto& n : names) {
    csv << ",score_" << n;
  }
  csv << ",label_issue\n";

  const int64_t mislabeled = find_category(names, "mislabeled");
  if (mislabeled < 0) {
    logger->warn("no 'mislabeled' probe category: label_issue is the percentile of the {} alone",
                 evidence_name);
  }
  ConfusionMatrix self_test(categories);
  DetectionColumns det;
  if (noisy) {
    det.reserve(static_cast<size_t>(n_train));
  }

  // Pass 2: k-NN in blocks, written as they come.
  int64_t written = 0;
  std::vector<int64_t> q_rows;  // trained-set row (/examples/row)
  std::vector<int64_t> q_id;
  std::vector<int64_t> q_label;
  std::vector<std::string> q_names;  // every query's text id, in file order (text-id datasets only)
  std::string lines;
  const auto write_block = [&](const QueryBlock& part) {
    const auto count = part.size();
    const auto& scores = part.scores;
    const auto& p = scores.prediction;
    q_rows.clear();
    q_id.clear();
    q_label.clear();
    lines.clear();
    for (int64_t i = 0; i < count; ++i) {
      const auto r = static_cast<size_t>(part.columns[static_cast<size_t>(i)]);
      q_rows.push_back(ex.row[r]);
      q_id.push_back(ex.id[r]);
      q_label.push_back(ex.label[r]);
      if (!ex.name.empty()) {
        q_names.push_back(ex.name[r]);
      }
      const float* traj = part.x.data() + i * dim;
      const float issue = scores.label_issue[static_cast<size_t>(i)];
      const auto role = static_cast<Role>(ex.role[r]);
      const int16_t assigned = p.assigned[static_cast<size_t>(i)];
      if (role == Role::kProbeVal) {
        const int16_t truth = ex.probe_category[r];
        MAPD_CHECK(truth >= 0 && truth < categories, DataError,
                   fmt::format("'{}' row {} (id {}): probe_val row with category {} outside [0, {})", file, r,
                               ex.id_text(static_cast<int64_t>(r)), truth, categories));
        self_test.add(truth, assigned);
      } else if (noisy) {
        det.flipped.push_back(ex.label[r] != ex.original_label[r] ? 1 : 0);
        det.argmax_mislabeled.push_back(assigned == mislabeled ? 1 : 0);
        det.p_mislabeled.push_back(mislabeled >= 0 ? scores.prob(i, mislabeled) : 0.0F);
        det.score_mislabeled.push_back(mislabeled >= 0 ? scores.score(i, mislabeled) : 0.0F);
        det.label_issue.push_back(issue);
        det.mean_loss.push_back(scores.mean_loss[static_cast<size_t>(i)]);
        det.last_loss.push_back(traj[dim - 1]);
        det.column.push_back(static_cast<int64_t>(r));
      }
      lines += fmt::format("{},{},{},{}", csv_field(ex.id_text(static_cast<int64_t>(r))), ex.label[r],
                           csv_field(names[static_cast<size_t>(assigned)]),
                           csv_float(p.max_prob[static_cast<size_t>(i)]));
      for (int64_t c = 0; c < categories; ++c) {
        lines += ',';
        lines += csv_float(scores.prob(i, c));
      }
      for (int64_t c = 0; c < categories; ++c) {
        lines += ',';
        lines += csv_float(scores.score(i, c));
      }
      lines += ',';
      lines += csv_float(issue);
      lines += '\n';
    }
    record::AssignmentStore::Block out;
    out.count = count;
    out.id = q_id.data();
    out.row = q_rows.data();
    out.label = q_label.data();
    out.assigned = p.assigned.data();
    out.max_prob = p.max_prob.data();
    out.prob = p.prob.data();
    out.score = p.score.data();
    out.label_issue = scores.label_issue.data();
    assignments.write(written, out);
    csv << lines;
    MAPD_CHECK(csv.good(), IoError, fmt::format("writing '{}' failed (disk full?)", csv_tmp.string()));
    written += count;
    logger->debug("assigned {} / {} queries", written, n_queries);
  };
  const auto totals =
      assign_blocks(store, knn, ranking, mislabeled, range, block, excluded, write_block, evidence);
  const int64_t ties = totals.boundary_ties;
  const int64_t rescanned = totals.rescanned;
  MAPD_ASSERT(written == n_queries, "assign_run: the blocks did not cover every query row");
  if (!ex.name.empty()) {
    assignments.write_names(q_names);
  }
  assignments.close();
  csv.close();
  MAPD_CHECK(!csv.fail(), IoError, fmt::format("closing '{}' failed (disk full?)", csv_tmp.string()));
  fs::sync_file(h5_tmp);
  fs::sync_file(csv_tmp);
  std::filesystem::rename(h5_tmp, h5_path);
  std::filesystem::rename(csv_tmp, csv_path);

  AssignSummary summary;
  summary.queries = n_queries;
  summary.excluded = static_cast<int64_t>(excluded.size());
  summary.epochs_used = dim;
  summary.block_size = block;
  summary.boundary_ties = ties;
  summary.backend = knn.backend_name();
  summary.self_test_accuracy = self_test.accuracy();
  summary.self_test_table = self_test.to_table(names);

  nlohmann::json st = self_test.to_json(names);
  st["k"] = options.k;
  st["epoch_begin"] = e0;
  st["epoch_end"] = e1;
  st["fit_probes"] = n_fit;
  st["val_probes"] = n_val;
  st["boundary_ties"] = ties;
  fs::write_file_atomic(run.selftest(), st.dump(2) + "\n");

  if (noisy) {
    nlohmann::json d;
    const auto flipped_count = std::count(det.flipped.begin(), det.flipped.end(), uint8_t{1});
    d["train_examples"] = n_train;
    d["flipped"] = flipped_count;
    d["rate"] = static_cast<double>(flipped_count) / static_cast<double>(n_train);
    d["epoch_begin"] = e0;
    d["epoch_end"] = e1;
    d["k"] = options.k;
    struct Ranking {
      const char* name;
      const char* what;
      const std::vector<float>* score;
    };
    const auto derived = derived_rankings(store, det.column, e0, e1);
    std::vector<Ranking> rankings = {
        {"p_mislabeled", "the paper's P(mislabeled): share of the k neighbours", &det.p_mislabeled},
        {"score_mislabeled", "mapd continuous score: softmax of -nearest distance per category",
         &det.score_mislabeled},
        {"label_issue",
         by_aum ? "mapd label-issue score: 0.99 * percentile of -AUM + 0.01 * P(mislabeled)"
                : "mapd label-issue score: 0.99 * mean-loss percentile + 0.01 * P(mislabeled)",
         &det.label_issue},
        {"mean_loss", "baseline: mean loss over the epochs used", &det.mean_loss},
        {"last_loss", "baseline: loss at the last epoch used", &det.last_loss},
    };
    for (const auto& one : derived) rankings.push_back({one.name, one.what, &one.score});
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
    fs::write_file_atomic(run.detection(), d.dump(2) + "\n");
    summary.detection_table = table;
  }
  logger->debug("resident at the end: {} MB", process::resident_bytes() / kMiB);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  logger->info(
      "assigned {} queries in {:.2f} s ({} exact distance ties at the k-th neighbour, {} re-scanned); "
      "self-test accuracy {:.4f}; wrote {}",
      n_queries, summary.seconds, ties, rescanned, summary.self_test_accuracy, h5_path.string());
  return summary;
}

}  // namespace mapd::knn
