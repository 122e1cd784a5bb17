#include "mapd/report/export.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <unordered_map>

#include "mapd/config/loader.hpp"
#include "mapd/core/csv_field.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/record/assignment_store.hpp"
#include "mapd/record/derived_scores.hpp"
#include "mapd/record/dynamics_store.hpp"

namespace mapd::report {

namespace stdfs = std::filesystem;

namespace {

const std::vector<std::string> kFormats = {"csv", "cleanlab", "cartography"};

/// Log-probability floor: a class with no mass.
constexpr double kLogFloor = 1e-30;

record::DynamicsStore open_dynamics(const stdfs::path& run_dir) {
  const auto path = run_dir / "dynamics.h5";
  MAPD_CHECK(stdfs::exists(path), IoError,
             fmt::format("{} has no dynamics.h5: is it a run directory of mapd train or mapd audit?",
                         run_dir.string()));
  return record::DynamicsStore::open_read(path);
}

/// The run's assignment, indexed by dynamics.h5 column, when assignments.h5 is there.
struct Assignment {
  record::AssignmentMeta meta;
  record::AssignmentStore::Columns columns;
  std::unordered_map<int64_t, size_t> at_column;  ///< dynamics column -> row of `columns`
};

std::optional<Assignment> read_assignment(const stdfs::path& run_dir, const record::DynamicsStore& store,
                                          ExportResult& result) {
  const auto path = run_dir / "assignments.h5";
  if (!stdfs::exists(path)) {
    result.notes.push_back(fmt::format(
        "{} has no assignments.h5: the export holds no k-NN categories or label_issue; run `mapd assign {}` "
        "first to include them",
        run_dir.string(), run_dir.string()));
    return std::nullopt;
  }
  Assignment a;
  a.columns = record::AssignmentStore::read(path, &a.meta);
  for (size_t i = 0; i < a.columns.row.size(); ++i) a.at_column.emplace(a.columns.row[i], i);
  if (a.meta.epoch_end != store.complete_epochs()) {
    result.notes.push_back(fmt::format(
        "assignments.h5 used epochs [{}, {}) but dynamics.h5 has {} committed epochs: the assignment "
        "columns are from an earlier state of the run (rerun `mapd assign {}`)",
        a.meta.epoch_begin, a.meta.epoch_end, store.complete_epochs(), run_dir.string()));
  }
  return a;
}

/// A float as a CSV / JSON number, or "" for NaN.
std::string number(float value) {
  return std::isfinite(value) ? fmt::format("{:.6g}", value) : std::string();
}

/// The id of column `i` as a JSON value: the integer id, or the text id.
nlohmann::json json_id(const record::ExampleColumns& ex, int64_t i) {
  if (!ex.name.empty()) return ex.name[static_cast<size_t>(i)];
  return ex.id[static_cast<size_t>(i)];
}

bool labels_flipped(const record::ExampleColumns& ex, const std::vector<int64_t>& columns) {
  return std::any_of(columns.begin(), columns.end(), [&](int64_t c) {
    return ex.label[static_cast<size_t>(c)] != ex.original_label[static_cast<size_t>(c)];
  });
}

void finish(ExportResult& result, const stdfs::path& path, const std::string& contents) {
  fs::write_file_atomic(path, contents);
  result.files.push_back(path);
}

}  // namespace

std::string check_export_format(const std::string& name) {
  if (std::find(kFormats.begin(), kFormats.end(), name) != kFormats.end()) return name;
  const auto near = config::closest_match(name, kFormats);
  throw ConfigError(fmt::format("--format: unknown format '{}'{} (expected csv, cleanlab or cartography)",
                                name,
                                near.empty() ? std::string() : fmt::format("; did you mean '{}'?", near)));
}

std::vector<double> logits_for(double p, int64_t gold, int64_t pred, int64_t classes) {
  MAPD_ASSERT(classes >= 1 && gold >= 0 && gold < classes && pred < classes,
              fmt::format("logits_for: gold {} pred {} of {} classes", gold, pred, classes));
  p = std::clamp(std::isfinite(p) ? p : 0.0, 0.0, 1.0);
  std::vector<double> mass(static_cast<size_t>(classes), 0.0);
  mass[static_cast<size_t>(gold)] = p;
  const double rest = 1.0 - p;
  const auto others = static_cast<double>(classes - 1);
  if (classes > 1) {
    if (pred < 0 || pred == gold) {
      for (int64_t k = 0; k < classes; ++k) {
        if (k != gold) mass[static_cast<size_t>(k)] = rest / others;
      }
    } else {
      // The predicted class gets q >= p and >= every other share s: s = min(p, (rest - p) / (K - 2)),
      // a little less, so that q is strictly the largest (no tie for argmax to break by index).
      double s = 0.0;
      if (classes > 2 && rest > p) s = std::min(p, (rest - p) / (others - 1.0)) * (1.0 - 1e-6);
      for (int64_t k = 0; k < classes; ++k) {
        if (k != gold && k != pred) mass[static_cast<size_t>(k)] = s;
      }
      mass[static_cast<size_t>(pred)] = rest - s * (others - 1.0);
    }
  }
  std::vector<double> out(mass.size());
  std::transform(mass.begin(), mass.end(), out.begin(),
                 [](double m) { return std::log(std::max(m, kLogFloor)); });
  return out;
}

void write_npy(const stdfs::path& path, const std::string& descr, const std::vector<int64_t>& shape,
               const void* data, size_t bytes) {
  std::string dims;
  for (const auto d : shape) dims += fmt::format("{}, ", d);
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // "(3, 4)"; one dimension keeps "(3, )"
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", descr, dims);
  // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in '\n'.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string contents("\x93NUMPY\x01\x00", 8);
  contents += static_cast<char>(header.size() & 0xff);
  contents += static_cast<char>((header.size() >> 8) & 0xff);
  contents += header;
  contents.append(static_cast<const char*>(data), bytes);
  fs::write_file_atomic(path, contents);
}

ExportResult export_csv(const stdfs::path& run_dir, const stdfs::path& out_dir) {
  ExportResult result;
  const auto store = open_dynamics(run_dir);
  const auto scores = record::derive_scores(store);
  const auto assignment = read_assignment(run_dir, store, result);
  if (!scores.has_margin) {
    result.notes.push_back(
        "dynamics.h5 records no margin or el2n (a run of an older mapd): aum and el2n are empty");
  }
  const auto& ex = store.examples();
  const bool flipped = labels_flipped(ex, scores.column);
  std::string csv = "id,label";
  if (flipped) csv += ",original_label";
  csv += ",predicted";
  if (assignment) {
    csv += ",category,label_issue";
    for (const auto& name : assignment->meta.category_names) csv += ",p_" + name;
  }
  csv += ",mean_loss,forgetting_events,first_correct_epoch,aum,el2n,confidence,variability,correctness\n";
  const auto categories = assignment ? assignment->meta.category_names.size() : size_t{0};
  for (int64_t k = 0; k < scores.size(); ++k) {
    const auto i = static_cast<size_t>(k);
    const int64_t column = scores.column[i];
    const auto c = static_cast<size_t>(column);
    csv += csv_field(ex.id_text(column)) + fmt::format(",{}", ex.label[c]);
    if (flipped) csv += fmt::format(",{}", ex.original_label[c]);
    csv += scores.last_pred[i] >= 0 ? fmt::format(",{}", scores.last_pred[i]) : std::string(",");
    if (assignment) {
      const auto found = assignment->at_column.find(column);
      if (found == assignment->at_column.end()) {
        csv += std::string(categories + 2, ',');
      } else {
        const auto r = found->second;
        const auto& cols = assignment->columns;
        const auto assigned = cols.assigned[r];
        csv +=
            "," + (assigned >= 0 ? csv_field(assignment->meta.category_names[static_cast<size_t>(assigned)])
                                 : std::string());
        csv += "," + number(cols.label_issue[r]);
        for (size_t j = 0; j < categories; ++j) csv += "," + number(cols.prob[r * categories + j]);
      }
    }
    csv += "," + number(scores.mean_loss[i]) +
           fmt::format(",{},{}", scores.forgetting[i], scores.first_correct[i]) + "," +
           number(scores.aum[i]) + "," + number(scores.el2n[i]) + "," + number(scores.confidence[i]) + "," +
           number(scores.variability[i]) + "," + number(scores.correctness[i]) + "\n";
  }
  fs::create_directories(out_dir);
  finish(result, out_dir / "examples.csv", csv);
  return result;
}

ExportResult export_cartography(const stdfs::path& run_dir, const stdfs::path& out_dir) {
  ExportResult result;
  const auto store = open_dynamics(run_dir);
  const auto scores = record::derive_scores(store);
  const auto& ex = store.examples();
  const auto classes = static_cast<int64_t>(store.meta().class_names.size());
  int64_t max_label = 0;
  for (const auto c : scores.column) max_label = std::max(max_label, ex.label[static_cast<size_t>(c)]);
  const int64_t k = std::max(classes, max_label + 1);
  const int64_t n = store.num_examples();
  const auto dynamics_dir = out_dir / "training_dynamics";
  fs::create_directories(dynamics_dir);
  std::vector<float> prob(static_cast<size_t>(n));
  std::vector<int32_t> pred(static_cast<size_t>(n));
  for (int64_t e = 0; e < scores.epochs; ++e) {
    // One epoch of every column: example-major with one epoch is one value per column.
    store.read_true_probs(0, n, e, e + 1, prob.data());
    store.read_preds(0, n, e, e + 1, pred.data());
    const auto key = fmt::format("logits_epoch_{}", e);
    std::string lines;
    for (const auto column : scores.column) {
      const auto c = static_cast<size_t>(column);
      if (pred[c] < 0 || !std::isfinite(prob[c])) continue;  // not recorded in this epoch
      nlohmann::json line;
      line["guid"] = json_id(ex, column);
      line[key] = logits_for(prob[c], ex.label[c], pred[c], k);
      line["gold"] = ex.label[c];
      lines += line.dump() + "\n";
    }
    finish(result, dynamics_dir / fmt::format("dynamics_epoch_{}.jsonl", e), lines);
  }
  std::string metrics;
  for (int64_t i = 0; i < scores.size(); ++i) {
    const auto s = static_cast<size_t>(i);
    if (!std::isfinite(scores.confidence[s])) continue;  // never recorded
    const double confidence = scores.confidence[s];
    nlohmann::json line;
    line["guid"] = json_id(ex, scores.column[s]);
    line["index"] = i;
    line["threshold_closeness"] = confidence * (1.0 - confidence);
    line["confidence"] = confidence;
    line["variability"] = scores.variability[s];
    line["correctness"] = scores.correctness[s];
    line["forgetfulness"] = scores.first_correct[s] < 0 ? 1000 : scores.forgetting[s];
    metrics += line.dump() + "\n";
  }
  finish(result, out_dir / "td_metrics.jsonl", metrics);
  return result;
}

ExportResult export_cleanlab(const stdfs::path& run_dir, const stdfs::path& out_dir,
                             const PredictedProbabilities& predicted) {
  ExportResult result;
  const auto store = open_dynamics(run_dir);
  const auto& ex = store.examples();
  std::vector<int64_t> columns;
  for (int64_t i = 0; i < ex.size(); ++i) {
    if (ex.role[static_cast<size_t>(i)] == static_cast<int8_t>(record::Role::kTrain)) columns.push_back(i);
  }
  const auto n = static_cast<int64_t>(columns.size());
  const int64_t k = predicted.classes;
  MAPD_CHECK(k > 0 && static_cast<int64_t>(predicted.probs.size()) == n * k, DataError,
             fmt::format("cleanlab export: {} predicted probabilities for {} training examples of {} classes",
                         predicted.probs.size(), n, k));
  std::vector<int64_t> labels;
  labels.reserve(columns.size());
  std::string ids = "id\n";
  for (const auto c : columns) {
    labels.push_back(ex.label[static_cast<size_t>(c)]);
    ids += csv_field(ex.id_text(c)) + "\n";
    MAPD_CHECK(labels.back() < k, DataError,
               fmt::format("cleanlab export: example {} has label {} but the model predicts {} classes",
                           ex.id_text(c), labels.back(), k));
  }
  fs::create_directories(out_dir);
  write_npy(out_dir / "labels.npy", "<i8", {n}, labels.data(), labels.size() * sizeof(int64_t));
  result.files.push_back(out_dir / "labels.npy");
  write_npy(out_dir / "pred_probs.npy", "<f4", {n, k}, predicted.probs.data(),
            predicted.probs.size() * sizeof(float));
  result.files.push_back(out_dir / "pred_probs.npy");
  finish(result, out_dir / "ids.csv", ids);
  result.notes.push_back("pred_probs.npy: " + predicted.source);

  const auto assignment = read_assignment(run_dir, store, result);
  if (!assignment) return result;
  const auto& names = assignment->meta.category_names;
  const auto mislabeled = std::find(names.begin(), names.end(), "mislabeled");
  if (mislabeled == names.end()) {
    result.notes.push_back(
        "the probe suite has no 'mislabeled' category: is_label_issue is false everywhere");
  }
  const auto mislabeled_index = static_cast<int16_t>(mislabeled - names.begin());
  std::string issues = "id,is_label_issue,label_score,given_label,predicted_label\n";
  for (int64_t r = 0; r < n; ++r) {
    const auto column = columns[static_cast<size_t>(r)];
    const float* row = predicted.probs.data() + r * k;
    const auto best = std::max_element(row, row + k) - row;
    const auto found = assignment->at_column.find(column);
    bool issue = false;
    float score = std::numeric_limits<float>::quiet_NaN();
    if (found != assignment->at_column.end()) {
      issue = assignment->columns.assigned[found->second] == mislabeled_index;
      score = 1.0F - assignment->columns.label_issue[found->second];
    }
    issues += csv_field(ex.id_text(column)) + (issue ? ",True," : ",False,") + number(score) +
              fmt::format(",{},{}\n", ex.label[static_cast<size_t>(column)], best);
  }
  finish(result, out_dir / "label_issues.csv", issues);
  return result;
}

}  // namespace mapd::report
