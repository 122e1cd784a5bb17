#include "mapd/report/report.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <numeric>
#include <optional>
#include <sstream>

#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/image_grid.hpp"
#include "mapd/record/assignment_store.hpp"
#include "mapd/record/derived_scores.hpp"
#include "mapd/record/dynamics_store.hpp"

#ifndef MAPD_CHART_JS_DIR
#define MAPD_CHART_JS_DIR "/usr/share/javascript/chart.js"
#endif

namespace mapd::report {

namespace detail {
/// The page template (assets/report/template.html), compiled in (generated template.cpp).
extern const char* const kPageTemplate;
}  // namespace detail

namespace {

using nlohmann::json;
namespace stdfs = std::filesystem;

/// File names of Chart.js's UMD build: Debian's libjs-chart.js (3.x) ships chart.min.js, the
/// upstream 4.x tarball dist/chart.umd.min.js.
constexpr std::array<const char*, 3> kChartFiles{"chart.min.js", "chart.umd.min.js", "chart.umd.js"};
constexpr int64_t kThumbnailSide = 64;

std::optional<json> read_json_file(const stdfs::path& path, std::vector<std::string>& notes) {
  if (!stdfs::exists(path)) {
    return std::nullopt;
  }
  try {
    return json::parse(fs::read_file(path));
  } catch (const std::exception& e) {
    notes.push_back(fmt::format("{} could not be parsed ({}); its section is left out.",
                                path.filename().string(), e.what()));
    return std::nullopt;
  }
}

// metrics.jsonl: one object per line; a partial last line (a live run) is skipped.
std::vector<json> read_metrics(const stdfs::path& path, std::vector<std::string>& notes) {
  std::vector<json> lines;
  if (!stdfs::exists(path)) {
    notes.push_back("metrics.jsonl is missing: no per-epoch accuracy, loss or timing.");
    return lines;
  }
  std::istringstream in(fs::read_file(path));
  std::string line;
  int64_t skipped = 0;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    try {
      auto record = json::parse(line);
      if (record.is_object()) {
        lines.push_back(std::move(record));
      }
    } catch (const json::exception&) {
      ++skipped;
    }
  }
  if (skipped > 0) {
    notes.push_back(fmt::format("metrics.jsonl: {} unreadable line(s) skipped.", skipped));
  }
  return lines;
}

BadInputs read_bad_inputs(const stdfs::path& path) {
  BadInputs out;
  if (!stdfs::exists(path)) {
    return out;
  }
  out.present = true;
  std::istringstream in(fs::read_file(path));
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (line.empty()) {
      continue;
    }
    if (out.count < 50) {
      out.rows.push_back(line);
    }
    ++out.count;
  }
  return out;
}

double number_or_nan(const json& object, const char* key) {
  if (object.is_object() && object.contains(key) && object[key].is_number()) {
    return object[key].get<double>();
  }
  return std::nan("");
}

json stats_to_json(const GroupStats& s, const std::string& kind) {
  return {{"name", s.name},
          {"kind", kind},
          {"count", s.count},
          {"exact", s.exact},
          {"q25", s.q25},
          {"median", s.median},
          {"q75", s.q75},
          {"mean", s.mean},
          {"first_learned", s.first_learned},
          {"learned_for_good", s.learned_for_good}};
}

std::string class_name(const std::vector<std::string>& classes, int64_t label) {
  if (label >= 0 && label < static_cast<int64_t>(classes.size())) {
    return classes[static_cast<size_t>(label)];
  }
  return std::to_string(label);
}

// Probe previews written by `mapd probes`: PNGs in the run directory (or its probes/ folder) whose
// name contains a category name.
std::vector<ProbePreview> probe_previews(const stdfs::path& run_dir,
                                         const std::vector<std::string>& categories) {
  std::vector<ProbePreview> out;
  for (const auto& dir : {run_dir, run_dir / "probes"}) {
    if (!stdfs::is_directory(dir)) {
      continue;
    }
    std::vector<stdfs::path> files;
    for (const auto& entry : stdfs::directory_iterator(dir)) {
      if (entry.is_regular_file() && entry.path().extension() == ".png") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      const std::string stem = file.stem().string();
      const bool matches = std::any_of(categories.begin(), categories.end(), [&](const std::string& c) {
        return !c.empty() && stem.find(c) != std::string::npos;
      });
      if (matches) {
        out.push_back({stdfs::relative(file, run_dir).string(), fs::read_file(file)});
      }
    }
  }
  return out;
}

std::string escape_script(std::string text) {
  // Inside <script>, "</" could close the element early.
  size_t pos = 0;
  while ((pos = text.find("</", pos)) != std::string::npos) {
    text.replace(pos, 2, "<\\/");
    pos += 3;
  }
  return text;
}

/// JSON text made safe as the content of a <script> element: '<', '>' and '&' occur only inside
/// JSON strings, where \u003c, \u003e and \u0026 mean the same characters. Escaping only "</" was
/// not enough: "<!--<script>" in a class name or data.name switches the HTML parser into the
/// script's "double escaped" state, where the closing </script> no longer ends the element and
/// the page goes blank.
std::string escape_json_for_script(const std::string& json_text) {
  std::string out;
  out.reserve(json_text.size());
  for (const char c : json_text) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void replace_once(std::string& text, const std::string& token, const std::string& value) {
  const auto pos = text.find(token);
  MAPD_ASSERT(pos != std::string::npos, fmt::format("report: page template lacks {}", token));
  text.replace(pos, token.size(), value);
}

}  // namespace

stdfs::path find_chart_library(const std::string& assets_dir) {
  // A place the user named is the only one tried: falling back to another copy would hide a typo.
  std::vector<stdfs::path> places;
  const char* env = std::getenv("MAPD_ASSETS_DIR");
  if (!assets_dir.empty()) {
    places.emplace_back(assets_dir);
  } else if (env != nullptr && *env != '\0') {
    places.emplace_back(env);
  } else {
    places.emplace_back(MAPD_CHART_JS_DIR);
    for (const auto& root : fs::resource_dirs()) {
      places.push_back(root / "javascript" / "chart.js");
    }
  }
  std::string tried;
  for (const auto& place : places) {
    std::error_code ec;
    if (stdfs::is_regular_file(place, ec)) {
      return stdfs::weakly_canonical(place);
    }
    for (const char* name : kChartFiles) {
      const auto candidate = place / name;
      if (stdfs::is_regular_file(candidate, ec)) {
        return stdfs::weakly_canonical(candidate);
      }
    }
    tried += "\n  " + place.lexically_normal().string() + "/{chart.min.js,chart.umd.min.js,chart.umd.js}";
  }
  throw IoError(fmt::format(
      "report: the chart library (Chart.js) is not installed; looked for:{}\n"
      "Install Debian's libjs-chart.js (`apt-get install libjs-chart.js`; scripts/setup does this), or "
      "point report.assets_dir (or the MAPD_ASSETS_DIR environment variable) at Chart.js's UMD build "
      "(the file, or a folder holding it).",
      tried));
}

namespace {

/// The label-correction view of a run whose dynamics.h5 records bootstrap_weight and target (else
/// nothing), with corrected_labels.csv from `run_dir` when it is there.
std::optional<LabelCorrectionView> label_correction_view(const record::DynamicsStore& store,
                                                         const stdfs::path& run_dir, const json& resolved,
                                                         std::vector<std::string>& notes) {
  const auto& signals = store.meta().signals;
  const auto has = [&](const char* name) {
    return std::any_of(signals.begin(), signals.end(), [&](const auto& s) { return s.name == name; });
  };
  if (!has("bootstrap_weight") || !has("target")) return std::nullopt;
  LabelCorrectionView view;
  if (resolved.contains("label_correction") && resolved["label_correction"].contains("method")) {
    view.method = resolved["label_correction"].value("method", std::string());
  }
  const auto& ex = store.examples();
  const int64_t n = store.num_examples();
  const int64_t epochs = store.complete_epochs();
  std::vector<float> weight(static_cast<size_t>(n * epochs));
  std::vector<int32_t> target(weight.size());
  store.read_signal_values("bootstrap_weight", 0, n, 0, epochs, weight.data());
  store.read_signal_classes("target", 0, n, 0, epochs, target.data());
  bool noisy = false;
  for (int64_t i = 0; i < n; ++i)
    noisy = noisy || ex.label[static_cast<size_t>(i)] != ex.original_label[static_cast<size_t>(i)];
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<int64_t> histogram(LabelCorrectionView::kBins, 0);
    double sum = 0.0;
    int64_t count = 0, relabelled = 0, flipped = 0, restored = 0, clean = 0, clean_changed = 0;
    for (int64_t i = 0; i < n; ++i) {
      const auto r = static_cast<size_t>(i);
      const auto at = static_cast<size_t>(i * epochs + e);
      if (ex.role[r] != static_cast<int8_t>(record::Role::kTrain) || !std::isfinite(weight[at])) continue;
      const float b = std::clamp(weight[at], 0.0F, 1.0F);
      ++histogram[static_cast<size_t>(std::min<int64_t>(
          LabelCorrectionView::kBins - 1, static_cast<int64_t>(b * LabelCorrectionView::kBins)))];
      sum += b;
      ++count;
      const bool changed = target[at] != ex.label[r];
      relabelled += changed ? 1 : 0;
      if (ex.label[r] != ex.original_label[r]) {
        ++flipped;
        restored += target[at] == ex.original_label[r] ? 1 : 0;
      } else {
        ++clean;
        clean_changed += changed ? 1 : 0;
      }
    }
    const auto share = [](int64_t part, int64_t whole) {
      return whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : std::nan("");
    };
    view.weight_histogram.push_back(std::move(histogram));
    view.mean_weight.push_back(count > 0 ? sum / static_cast<double>(count) : std::nan(""));
    view.relabelled.push_back(share(relabelled, count));
    if (noisy) {
      view.restored.push_back(share(restored, flipped));
      view.clean_changed.push_back(share(clean_changed, clean));
    }
  }

  const auto path = run_dir / "corrected_labels.csv";
  if (!stdfs::exists(path)) {
    if (view.method != "none") {
      notes.push_back("corrected_labels.csv is missing: it is written when a label-correction run finishes.");
    }
    return view;
  }
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  const auto split = [](const std::string& text) {
    std::vector<std::string> cells;
    std::stringstream ss(text);
    for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
    return cells;
  };
  const auto header = split(line);
  const auto column = [&](const char* name) {
    const auto at = std::find(header.begin(), header.end(), name);
    return at == header.end() ? -1 : static_cast<int64_t>(at - header.begin());
  };
  const int64_t given = column("given_label"), corrected = column("corrected_label"),
                original = column("original_label");
  if (given < 0 || corrected < 0) {
    notes.push_back(
        fmt::format("{} has no given_label and corrected_label columns; it is left out.", path.string()));
    return view;
  }
  view.corrected_file = true;
  while (std::getline(in, line)) {
    const auto cells = split(line);
    if (static_cast<int64_t>(cells.size()) <= std::max({given, corrected, original})) continue;
    ++view.corrected_rows;
    const bool changed = cells[static_cast<size_t>(given)] != cells[static_cast<size_t>(corrected)];
    view.corrected_changed += changed ? 1 : 0;
    if (original < 0) continue;
    if (cells[static_cast<size_t>(given)] != cells[static_cast<size_t>(original)]) {
      view.corrected_restored +=
          cells[static_cast<size_t>(corrected)] == cells[static_cast<size_t>(original)] ? 1 : 0;
    } else {
      view.corrected_clean_changed += changed ? 1 : 0;
    }
  }
  return view;
}

std::optional<std::string> config_string(const json& resolved, const char* section, const char* key) {
  if (resolved.contains(section) && resolved[section].contains(key) && resolved[section][key].is_string()) {
    return resolved[section][key].get<std::string>();
  }
  return std::nullopt;
}

int64_t original_label_at(const data::ExampleTable& examples, int64_t i) {
  const auto k = static_cast<size_t>(i);
  return examples.original_label.empty() ? examples.label[k] : examples.original_label[k];
}

// Why the reloaded training split no longer holds the example recorded with id `recorded` and
// original label `original` at position `source`, or nothing when it still does.
std::optional<std::string> changed_since_training(const data::ImageSet& train, const std::string& recorded,
                                                  int64_t source, int64_t original) {
  if (source < 0 || source >= train.size()) {
    return fmt::format(
        "the dataset changed since training: id {} was at position {}, the training split has "
        "{} examples now",
        recorded, source, train.size());
  }
  const std::string id = train.examples.id_text(source);
  const int64_t label = original_label_at(train.examples, source);
  if (id != recorded || label != original) {
    return fmt::format(
        "the dataset changed since training: position {} holds id {} (label {}) now, "
        "not id {} (label {})",
        source, id, label, recorded, original);
  }
  return std::nullopt;
}

// As above for the example recorded at `row` of dynamics.h5.
std::optional<std::string> changed_since_training(const data::ImageSet& train,
                                                  const record::ExampleColumns& ex, int64_t row) {
  const auto ur = static_cast<size_t>(row);
  return changed_since_training(train, ex.id_text(row), ex.source_index[ur], ex.original_label[ur]);
}

/// The browsing table of the training rows of `a` (BrowsingTable): at most `limit` rows, the
/// highest label_issue first.
BrowsingTable browsing_table(const record::DynamicsStore& store, const record::AssignmentStore::Columns& a,
                             int64_t categories, int64_t limit) {
  const auto& ex = store.examples();
  const int64_t n = store.num_examples();
  const int64_t epochs = store.complete_epochs();
  const bool has_issue = a.label_issue.size() == a.row.size();
  const auto before = [&](int64_t x, int64_t y) {
    if (has_issue) {
      const float ix = a.label_issue[static_cast<size_t>(x)];
      const float iy = a.label_issue[static_cast<size_t>(y)];
      if (std::isnan(ix) != std::isnan(iy)) return std::isnan(iy);  // NaN last
      if (!std::isnan(ix) && ix != iy) return ix > iy;
    }
    return x < y;
  };
  BrowsingTable table;
  table.limit = limit;
  // The first `limit` training entries (indices into `a`) in table order, in O(limit) memory: a heap
  // whose top is the last of those kept so far.
  std::vector<int64_t> entries;
  for (int64_t i = 0; i < static_cast<int64_t>(a.row.size()); ++i) {
    const int64_t row = a.row[static_cast<size_t>(i)];
    if (row < 0 || row >= n ||
        ex.role[static_cast<size_t>(row)] != static_cast<int8_t>(record::Role::kTrain)) {
      continue;
    }
    ++table.total;
    if (static_cast<int64_t>(entries.size()) < limit) {
      entries.push_back(i);
      std::push_heap(entries.begin(), entries.end(), before);
    } else if (before(i, entries.front())) {
      std::pop_heap(entries.begin(), entries.end(), before);
      entries.back() = i;
      std::push_heap(entries.begin(), entries.end(), before);
    }
  }
  std::sort_heap(entries.begin(), entries.end(), before);
  table.integer_ids = ex.name.empty();
  const auto c = static_cast<size_t>(categories);
  for (const int64_t i : entries) {
    const auto ui = static_cast<size_t>(i);
    const int64_t row = a.row[ui];
    const auto ur = static_cast<size_t>(row);
    table.row.push_back(row);
    table.id.push_back(ex.id_text(row));
    table.label.push_back(ex.label[ur]);
    table.original_label.push_back(ex.original_label[ur]);
    table.source_index.push_back(ex.source_index[ur]);
    table.assigned.push_back(a.assigned[ui]);
    if (has_issue) table.label_issue.push_back(a.label_issue[ui]);
    for (size_t j = 0; j < c; ++j) table.prob.push_back(a.prob[ui * c + j]);
  }
  // Predictions at the last committed epoch, read in blocks of columns that hold table rows.
  table.pred.assign(table.row.size(), -1);
  if (epochs >= 1 && !table.row.empty()) {
    std::vector<int64_t> order(table.row.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
      return table.row[static_cast<size_t>(x)] < table.row[static_cast<size_t>(y)];
    });
    constexpr int64_t kBlock = int64_t{1} << 20;
    std::vector<int32_t> block;
    for (size_t k = 0; k < order.size();) {
      const int64_t begin = table.row[static_cast<size_t>(order[k])];
      // Up to the last table row within a block from `begin`.
      size_t last = k;
      while (last + 1 < order.size() && table.row[static_cast<size_t>(order[last + 1])] < begin + kBlock)
        ++last;
      const int64_t end = table.row[static_cast<size_t>(order[last])] + 1;
      block.resize(static_cast<size_t>(end - begin));
      store.read_preds(begin, end, epochs - 1, epochs, block.data());
      for (; k < order.size() && table.row[static_cast<size_t>(order[k])] < end; ++k) {
        const auto at = static_cast<size_t>(order[k]);
        table.pred[at] = block[static_cast<size_t>(table.row[at] - begin)];
      }
    }
  }
  return table;
}

}  // namespace

namespace {

/// The data map of `store`'s training examples (DataMap).
DataMap data_map(const record::DynamicsStore& store) {
  const auto scores = record::derive_scores(store);
  const auto& ex = store.examples();
  DataMap map;
  map.epochs = scores.epochs;
  std::vector<int64_t> recorded;
  std::vector<float> forgetting, aum, el2n;
  for (int64_t i = 0; i < scores.size(); ++i) {
    const auto s = static_cast<size_t>(i);
    if (!std::isfinite(scores.confidence[s])) continue;
    recorded.push_back(i);
    forgetting.push_back(static_cast<float>(scores.forgetting[s]));
    if (std::isfinite(scores.aum[s])) aum.push_back(scores.aum[s]);
    if (std::isfinite(scores.el2n[s])) el2n.push_back(scores.el2n[s]);
  }
  map.examples = static_cast<int64_t>(recorded.size());
  map.median_forgetting = quantile_linear(forgetting, 0.5);
  map.median_aum = quantile_linear(aum, 0.5);
  map.median_el2n = quantile_linear(el2n, 0.5);
  const int64_t stride = std::max<int64_t>(1, (map.examples + kDataMapPoints - 1) / kDataMapPoints);
  for (int64_t j = 0; j < map.examples; j += stride) {
    const auto s = static_cast<size_t>(recorded[static_cast<size_t>(j)]);
    const auto column = static_cast<size_t>(scores.column[s]);
    map.points.push_back(DataMap::Point{scores.variability[s], scores.confidence[s], scores.correctness[s],
                                        ex.label[column] != ex.original_label[column],
                                        ex.id_text(scores.column[s])});
  }
  return map;
}

}  // namespace

ReportData collect_report_data(const stdfs::path& run_dir, const config::ReportConfig& options) {
  auto logger = log::get("report");
  ReportData page;
  auto& notes = page.notes;
  page.run_dir = stdfs::absolute(run_dir).lexically_normal().string();
  page.generated = fs::timestamp();

  const RunLayout run(run_dir);
  const auto dynamics_path = run.dynamics();
  MAPD_CHECK(stdfs::exists(dynamics_path), IoError,
             fmt::format("{}: no dynamics.h5 in this run directory; `mapd report` needs a run written by "
                         "`mapd train` or `mapd audit` (check the path)",
                         run_dir.string()));
  auto store = record::DynamicsStore::open_read(dynamics_path);
  const auto& meta = store.meta();
  const auto& ex = store.examples();
  const int64_t n = store.num_examples();
  const int64_t epochs = store.complete_epochs();
  const auto& categories = meta.category_names;
  const auto num_categories = static_cast<int64_t>(categories.size());
  std::vector<std::string> classes = meta.class_names;
  if (classes.empty() && n > 0) {
    const int64_t max_label = *std::max_element(ex.label.begin(), ex.label.end());
    for (int64_t c = 0; c <= max_label; ++c) {
      classes.push_back(std::to_string(c));
    }
  }
  page.categories = categories;
  page.classes = classes;

  // Config: config.resolved.json, else the copy embedded in dynamics.h5.
  json resolved;
  if (auto file = read_json_file(run.config(), notes)) {
    resolved = *file;
  } else {
    try {
      resolved = json::parse(meta.config_json);
      notes.push_back("config.resolved.json is missing; the config shown is the copy inside dynamics.h5.");
    } catch (const json::exception&) {
      notes.push_back(
          "No resolved config found (config.resolved.json missing, none embedded in dynamics.h5).");
      resolved = json::object();
    }
  }
  page.config = resolved;

  // Summary and metrics.
  page.metrics = read_metrics(run.metrics(), notes);
  const auto& metrics = page.metrics;
  auto& summary = page.summary;
  for (int64_t r = 0; r < n; ++r) {
    const auto ur = static_cast<size_t>(r);
    if (ex.role[ur] == static_cast<int8_t>(record::Role::kTrain)) {
      ++summary.train_examples;
      summary.injected_noise += ex.label[ur] != ex.original_label[ur] ? 1 : 0;
    } else {
      ++summary.probe_examples;
    }
  }
  const int64_t noisy_rows = summary.injected_noise;
  for (const auto& m : metrics) {
    const double s = number_or_nan(m, "seconds");
    summary.wall_seconds += std::isnan(s) ? 0.0 : s;
  }
  const json last = metrics.empty() ? json::object() : metrics.back();
  if (resolved.contains("train") && resolved["train"].contains("epochs") &&
      resolved["train"]["epochs"].is_number()) {
    summary.epochs_configured = resolved["train"]["epochs"].get<int64_t>();
  }
  summary.complete = summary.epochs_configured && epochs >= *summary.epochs_configured;
  summary.dataset = config_string(resolved, "data", "name");
  summary.data_format = config_string(resolved, "data", "format");
  summary.data_path = config_string(resolved, "data", "path");
  summary.model = config_string(resolved, "model", "arch");
  summary.train_mode = config_string(resolved, "train", "mode");
  summary.epochs_committed = epochs;
  summary.test_acc = number_or_nan(last, "test_acc");
  summary.test_loss = number_or_nan(last, "test_loss");
  summary.train_acc = number_or_nan(last, "acc");
  summary.img_per_s = number_or_nan(last, "img_s");
  summary.examples = n;
  summary.label_noise_rate = resolved.contains("data") && resolved["data"].contains("label_noise")
                                 ? resolved["data"]["label_noise"].value("rate", 0.0)
                                 : 0.0;
  summary.view = meta.view;
  summary.dtype = meta.dtype;
  summary.seed = meta.seed;
  summary.mapd_version = meta.mapd_version;
  summary.torch_version = meta.torch_version;
  if (!summary.complete) {
    notes.push_back(
        fmt::format("Training is not finished (or was interrupted): {} of {} epochs are committed; "
                    "this report shows the committed epochs only.",
                    epochs, summary.epochs_configured ? std::to_string(*summary.epochs_configured) : "?"));
  }
  // The difficulty pilot's doubtful labels (probes::below_chance), when the pilot ran in this run.
  if (auto pilot = read_json_file(run.difficulty_scores_json(), notes);
      pilot && pilot->contains("below_chance") && (*pilot)["below_chance"].is_object()) {
    json doubt = (*pilot)["below_chance"];
    doubt["method"] = pilot->value("key", json::object()).value("method", std::string("?"));
    summary.pilot_below_chance = doubt;
  }
  page.bad_inputs = read_bad_inputs(run.bad_inputs());
  page.label_correction = label_correction_view(store, run_dir, resolved, notes);

  // Probe self-test and detection, as the assigner wrote them.
  page.selftest = read_json_file(run.selftest(), notes);
  if (!page.selftest) {
    notes.push_back("selftest.json is missing: run `mapd assign RUN_DIR` for the probe self-test.");
  }
  page.detection = read_json_file(run.detection(), notes);
  if (!page.detection && noisy_rows > 0) {
    notes.push_back(
        fmt::format("{} training labels were changed by injected noise, but detection.json is "
                    "missing: run `mapd assign RUN_DIR` for the detection metrics.",
                    noisy_rows));
  }

  // Assignments (row -> assigned category for training rows).
  std::optional<record::AssignmentStore::Columns> assignments;
  record::AssignmentMeta assignment_meta;
  if (stdfs::exists(run.assignments_h5())) {
    try {
      assignments = record::AssignmentStore::read(run.assignments_h5(), &assignment_meta);
    } catch (const Error& e) {
      notes.push_back(fmt::format("assignments.h5 could not be read ({}).", e.what()));
    }
  } else {
    notes.push_back(
        "assignments.h5 is missing (not assigned yet): no per-category counts or surfaced "
        "examples. Run `mapd assign RUN_DIR`, then `mapd report RUN_DIR`.");
  }
  std::vector<int16_t> assigned_by_row(static_cast<size_t>(n), -1);
  auto& assigned_summary = page.assignments;
  assigned_summary.available = assignments.has_value();
  if (assignments) {
    const auto& a = *assignments;
    const int64_t m = static_cast<int64_t>(a.row.size());
    const auto c = static_cast<int64_t>(assignment_meta.category_names.size());
    if (assignment_meta.category_names != categories) {
      notes.push_back("assignments.h5 lists other categories than dynamics.h5; it is from another run.");
    }
    for (int64_t i = 0; i < m; ++i) {
      const int64_t row = a.row[static_cast<size_t>(i)];
      if (row >= 0 && row < n) {
        assigned_by_row[static_cast<size_t>(row)] = a.assigned[static_cast<size_t>(i)];
      }
    }
    assigned_summary.overall.assign(static_cast<size_t>(c), 0);
    assigned_summary.per_class.assign(classes.size(), std::vector<int64_t>(static_cast<size_t>(c), 0));
    for (int64_t row = 0; row < n; ++row) {
      const auto ur = static_cast<size_t>(row);
      const int16_t cat = assigned_by_row[ur];
      if (ex.role[ur] != static_cast<int8_t>(record::Role::kTrain) || cat < 0 || cat >= c) {
        continue;
      }
      ++assigned_summary.train_assigned;
      ++assigned_summary.overall[static_cast<size_t>(cat)];
      const int64_t label = ex.label[ur];
      if (label >= 0 && label < static_cast<int64_t>(classes.size())) {
        ++assigned_summary.per_class[static_cast<size_t>(label)][static_cast<size_t>(cat)];
      }
    }
    assigned_summary.categories = assignment_meta.category_names;
    assigned_summary.k = assignment_meta.k;
    assigned_summary.epoch_begin = assignment_meta.epoch_begin;
    assigned_summary.epoch_end = assignment_meta.epoch_end;
    assigned_summary.label_issue_ranks = assignment_meta.label_issue_ranks;
    if (assignment_meta.epoch_end < epochs) {
      notes.push_back(
          fmt::format("assignments.h5 used epochs [{}, {}) but {} epochs are committed now; run "
                      "`mapd assign RUN_DIR` again for assignments on the longer trajectories.",
                      assignment_meta.epoch_begin, assignment_meta.epoch_end, epochs));
    }
  }

  // Loss trajectories and learning curves per group, streamed from dynamics.h5.
  page.trajectories.epochs = epochs;
  if (epochs >= 1) {
    std::vector<std::string> names;
    std::vector<std::string> kinds;
    for (const auto& cat : categories) {
      names.push_back("probe: " + cat);
      kinds.push_back("probe");
    }
    const auto train_group = static_cast<int32_t>(names.size());
    names.emplace_back("train (all)");
    kinds.emplace_back("train");
    int32_t noisy_group = -1;
    if (noisy_rows > 0) {
      noisy_group = static_cast<int32_t>(names.size());
      names.emplace_back("train: injected wrong label");
      names.emplace_back("train: clean label");
      kinds.emplace_back("noise");
      kinds.emplace_back("noise");
    }
    int32_t assigned_base = -1;
    if (assignments) {
      assigned_base = static_cast<int32_t>(names.size());
      for (const auto& cat : categories) {
        names.push_back("assigned: " + cat);
        kinds.emplace_back("assigned");
      }
    }
    const auto groups_of_row = [&](int64_t row, std::vector<int32_t>& groups) {
      const auto ur = static_cast<size_t>(row);
      if (ex.role[ur] != static_cast<int8_t>(record::Role::kTrain)) {
        const int16_t cat = ex.probe_category[ur];
        if (cat >= 0 && cat < num_categories) {
          groups.push_back(cat);
        }
        return;
      }
      groups.push_back(train_group);
      if (noisy_group >= 0) {
        groups.push_back(ex.label[ur] != ex.original_label[ur] ? noisy_group : noisy_group + 1);
      }
      const int16_t cat = assigned_by_row[ur];
      if (assigned_base >= 0 && cat >= 0 && cat < num_categories) {
        groups.push_back(assigned_base + cat);
      }
    };
    auto stats = trajectory_stats(store, epochs, names, groups_of_row);
    for (size_t g = 0; g < stats.size(); ++g) {
      page.trajectories.groups.push_back({kinds[g], std::move(stats[g])});
    }
    if (const auto excluded = record::excluded_columns(store, epochs - 1); !excluded.empty()) {
      notes.push_back(fmt::format(
          "{} example(s) were excluded during training because their image could not be read (see "
          "bad_inputs.csv): their trajectories end in NaN from that epoch, which the statistics skip, and "
          "they are not assigned.",
          excluded.size()));
    }
  } else {
    notes.push_back("No epoch is committed yet: no trajectories to show.");
  }

  if (epochs >= 1) page.data_map = data_map(store);

  // Surfaced examples: top-N training rows per category by probability, then score.
  if (assignments && epochs >= 1) {
    const auto& a = *assignments;
    const auto c = static_cast<int64_t>(assignment_meta.category_names.size());
    std::optional<data::Dataset> dataset;
    try {
      const auto cfg = config::from_json(resolved);
      dataset = data::load_dataset(cfg.data, stdfs::path());
    } catch (const std::exception& e) {
      notes.push_back(
          fmt::format("The dataset could not be reloaded to draw surfaced examples ({}); the grids "
                      "list ids only.",
                      e.what()));
    }
    std::vector<int64_t> train_entries;
    for (int64_t i = 0; i < static_cast<int64_t>(a.row.size()); ++i) {
      const int64_t row = a.row[static_cast<size_t>(i)];
      if (row >= 0 && row < n &&
          ex.role[static_cast<size_t>(row)] == static_cast<int8_t>(record::Role::kTrain)) {
        train_entries.push_back(i);
      }
    }
    const bool has_score = a.score.size() == a.prob.size();
    int64_t shown = 0;
    int64_t changed = 0;
    const bool has_issue = a.label_issue.size() == a.row.size();
    // Each category by P(category), then the likely label errors by label_issue (cat == c).
    for (int64_t cat = 0; cat < c + (has_issue ? 1 : 0); ++cat) {
      const bool by_issue = cat == c;
      auto key = [&](int64_t i) {
        if (by_issue) return std::make_pair(a.label_issue[static_cast<size_t>(i)], 0.0F);
        const auto offset = static_cast<size_t>(i * c + cat);
        return std::make_pair(a.prob[offset], has_score ? a.score[offset] : 0.0F);
      };
      std::vector<int64_t> order = train_entries;
      const auto top = std::min<size_t>(order.size(), static_cast<size_t>(options.top_n));
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                        [&](int64_t x, int64_t y) {
                          const auto kx = key(x);
                          const auto ky = key(y);
                          return kx != ky ? kx > ky : x < y;
                        });
      SurfacedCategory group;
      group.category =
          by_issue ? std::string("label_issue") : assignment_meta.category_names[static_cast<size_t>(cat)];
      group.ranking = by_issue ? "label_issue" : "";
      for (size_t t = 0; t < top; ++t) {
        const int64_t i = order[t];
        const auto ui = static_cast<size_t>(i);
        const auto offset = static_cast<size_t>(i * c + (by_issue ? 0 : cat));
        const int64_t row = a.row[ui];
        const auto ur = static_cast<size_t>(row);
        SurfacedExample item;
        item.row = row;
        item.id = ex.id_text(row);
        item.label = ex.label[ur];
        item.label_name = class_name(classes, ex.label[ur]);
        item.original_label = ex.original_label[ur];
        store.read_preds(row, row + 1, epochs - 1, epochs, &item.pred);
        item.pred_name = class_name(classes, item.pred);
        item.assigned = a.assigned[ui];
        item.prob = by_issue ? a.label_issue[ui] : a.prob[offset];
        if (has_score && !by_issue) {
          item.score = a.score[offset];
        }
        item.losses.resize(static_cast<size_t>(epochs));
        store.read_losses(row, row + 1, 0, epochs, item.losses.data());
        if (dataset) {
          ++shown;
          const auto& images = dataset->train;
          if (auto reason = changed_since_training(images, ex, row)) {
            item.image_error = *reason;
            ++changed;
          } else {
            ExampleImage image{std::vector<uint8_t>(static_cast<size_t>(images.image_bytes())),
                               images.channels, images.height, images.width};
            try {
              images.read(ex.source_index[ur], image.pixels.data());
              item.image = std::move(image);
            } catch (const Error& e) {
              item.image_error = e.what();
            }
          }
        }
        group.examples.push_back(std::move(item));
      }
      page.surfaced.push_back(std::move(group));
    }
    if (changed > 0) {
      notes.push_back(fmt::format(
          "The dataset changed since training: {} of {} surfaced examples are no longer at the position "
          "dynamics.h5 recorded (/examples/id and source_index; id or label differs), so their images are "
          "left out. Where ids are positions (IDX, CIFAR, image folders, a manifest without an id column) a "
          "shift shows only where the label differs too, so the images still shown may be wrong as well: "
          "report against the dataset as it was trained.",
          changed, shown));
    }
  }
  if (assignments && options.table_limit > 0) {
    page.table =
        browsing_table(store, *assignments, static_cast<int64_t>(assignment_meta.category_names.size()),
                       options.table_limit);
    if (page.table->left_out() > 0) {
      notes.push_back(fmt::format(
          "The browsing table lists the {} training examples with the highest label_issue of {} "
          "(report.table_limit = {}); {} are left out of it. `mapd export RUN_DIR --format csv` lists "
          "every example.",
          page.table->size(), page.table->total, options.table_limit, page.table->left_out()));
    }
  }
  page.probe_previews = probe_previews(run_dir, categories);
  logger->debug("collected report data for {} ({} epochs, {} examples)", run_dir.string(), epochs, n);
  return page;
}

json to_json(const ReportData& data) {
  const auto& s = data.summary;
  const auto optional_json = [](const auto& value) { return value ? json(*value) : json(nullptr); };
  json page;
  page["run_dir"] = data.run_dir;
  page["generated"] = data.generated;
  page["categories"] = data.categories;
  page["classes"] = data.classes;
  page["config"] = data.config;
  page["metrics"] = data.metrics;
  page["summary"] = {{"dataset", optional_json(s.dataset)},
                     {"data_format", optional_json(s.data_format)},
                     {"data_path", optional_json(s.data_path)},
                     {"model", optional_json(s.model)},
                     {"train_mode", optional_json(s.train_mode)},
                     {"epochs_committed", s.epochs_committed},
                     {"epochs_configured", optional_json(s.epochs_configured)},
                     {"complete", s.complete},
                     {"test_acc", s.test_acc},
                     {"test_loss", s.test_loss},
                     {"train_acc", s.train_acc},
                     {"img_per_s", s.img_per_s},
                     {"wall_seconds", s.wall_seconds},
                     {"examples", s.examples},
                     {"train_examples", s.train_examples},
                     {"probe_examples", s.probe_examples},
                     {"injected_noise", s.injected_noise},
                     {"label_noise_rate", s.label_noise_rate},
                     {"view", s.view},
                     {"dtype", s.dtype},
                     {"seed", s.seed},
                     {"mapd_version", s.mapd_version},
                     {"torch_version", s.torch_version}};
  if (s.pilot_below_chance) {
    page["summary"]["pilot_below_chance"] = *s.pilot_below_chance;
  }
  page["bad_inputs"] = {
      {"present", data.bad_inputs.present}, {"count", data.bad_inputs.count}, {"rows", data.bad_inputs.rows}};
  if (const auto& lc = data.label_correction) {
    page["label_correction"] = {{"method", lc->method},
                                {"weight_histogram", lc->weight_histogram},
                                {"mean_weight", lc->mean_weight},
                                {"relabelled", lc->relabelled},
                                {"restored", lc->restored},
                                {"clean_changed", lc->clean_changed},
                                {"corrected_file", lc->corrected_file},
                                {"corrected_rows", lc->corrected_rows},
                                {"corrected_changed", lc->corrected_changed},
                                {"corrected_restored", lc->corrected_restored},
                                {"corrected_clean_changed", lc->corrected_clean_changed}};
  } else {
    page["label_correction"] = nullptr;
  }
  page["selftest"] = optional_json(data.selftest);
  page["detection"] = optional_json(data.detection);

  const auto& a = data.assignments;
  json assignments = {{"available", a.available}};
  if (a.available) {
    assignments["categories"] = a.categories;
    assignments["k"] = a.k;
    assignments["epoch_begin"] = a.epoch_begin;
    assignments["epoch_end"] = a.epoch_end;
    assignments["label_issue_ranks"] = a.label_issue_ranks;
    assignments["train_assigned"] = a.train_assigned;
    assignments["overall"] = a.overall;
    assignments["per_class"] = a.per_class;
  }
  page["assignments"] = std::move(assignments);

  json groups = json::array();
  for (const auto& g : data.trajectories.groups) {
    groups.push_back(stats_to_json(g.stats, g.kind));
  }
  page["trajectories"] = {{"epochs", data.trajectories.epochs}, {"groups", std::move(groups)}};

  json surfaced = json::array();
  for (const auto& group : data.surfaced) {
    json items = json::array();
    for (const auto& e : group.examples) {
      json item = {{"row", e.row},
                   {"id", e.id},
                   {"label", e.label},
                   {"label_name", e.label_name},
                   {"original_label", e.original_label},
                   {"pred", e.pred},
                   {"pred_name", e.pred_name},
                   {"assigned", e.assigned},
                   {"prob", e.prob},
                   {"score", optional_json(e.score)},
                   {"losses", e.losses}};
      if (e.image) {
        const auto& image = *e.image;
        item["png"] =
            base64(encode_png(image.pixels, image.channels, image.height, image.width, kThumbnailSide));
        item["image"] = {{"channels", image.channels}, {"height", image.height}, {"width", image.width}};
      }
      if (!e.image_error.empty()) {
        item["image_error"] = e.image_error;
      }
      items.push_back(std::move(item));
    }
    json entry = {{"category", group.category}, {"ranking", group.ranking}, {"examples", std::move(items)}};
    if (!group.grid_file.empty()) {
      entry["grid_file"] = group.grid_file;
    }
    surfaced.push_back(std::move(entry));
  }
  page["surfaced"] = std::move(surfaced);

  json previews = json::array();
  for (const auto& p : data.probe_previews) {
    previews.push_back({{"name", p.name}, {"png", base64(std::vector<uint8_t>(p.png.begin(), p.png.end()))}});
  }
  page["probe_previews"] = std::move(previews);
  page["notes"] = data.notes;
  if (data.table) {
    const auto& t = *data.table;
    page["table"] = {{"total", t.total}, {"shown", t.size()},       {"left_out", t.left_out()},
                     {"limit", t.limit}, {"file", "table/rows.js"}, {"thumbnails", !t.sheets.empty()}};
  } else {
    page["table"] = nullptr;
  }
  if (data.data_map) {
    const auto& m = *data.data_map;
    json points = json::array();
    for (const auto& p : m.points) {
      points.push_back(json::array({p.variability, p.confidence, p.correctness, p.flipped ? 1 : 0, p.id}));
    }
    const auto finite = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
    page["data_map"] = {{"examples", m.examples},
                        {"epochs", m.epochs},
                        {"points", std::move(points)},
                        {"median_forgetting", finite(m.median_forgetting)},
                        {"median_aum", finite(m.median_aum)},
                        {"median_el2n", finite(m.median_el2n)}};
  } else {
    page["data_map"] = nullptr;
  }
  return page;
}

namespace {

/// `value` to 5 significant digits (the table shows 3 decimals; the order of the rows is the exact
/// one), NaN as null: a short number in rows.js whatever the scale of label_issue.
json rounded(float value) {
  if (!std::isfinite(value)) return nullptr;
  return std::stod(fmt::format("{:.5g}", value));
}

}  // namespace

std::string table_script(const ReportData& data) {
  MAPD_ASSERT(data.table.has_value(), "table_script: the report data has no browsing table");
  const auto& t = *data.table;
  json out = {{"format", 1},
              {"generated", data.generated},
              {"total", t.total},
              {"left_out", t.left_out()},
              {"limit", t.limit},
              {"categories", data.assignments.categories},
              {"classes", data.classes},
              {"row", t.row},
              {"label", t.label},
              {"pred", t.pred},
              {"assigned", t.assigned}};
  if (t.integer_ids) {
    json ids = json::array();
    for (const auto& id : t.id) ids.push_back(std::stoll(id));
    out["id"] = std::move(ids);
  } else {
    out["id"] = t.id;
  }
  if (t.original_label != t.label) out["original"] = t.original_label;
  if (!t.label_issue.empty()) {
    json issue = json::array();
    for (const float v : t.label_issue) issue.push_back(rounded(v));
    out["label_issue"] = std::move(issue);
  } else {
    out["label_issue"] = nullptr;
  }
  json p = json::array();
  const auto c = data.assignments.categories.size();
  for (size_t j = 0; j < c; ++j) {
    json column = json::array();
    for (size_t i = 0; i < t.row.size(); ++i) column.push_back(rounded(t.prob[i * c + j]));
    p.push_back(std::move(column));
  }
  out["p"] = std::move(p);
  if (!t.sheets.empty()) {
    out["thumbs"] = {{"sheets", t.sheets},
                     {"sheet_rows", BrowsingTable::kSheetRows},
                     {"columns", BrowsingTable::kSheetColumns},
                     {"side", t.thumbnail_side},
                     {"image", t.image}};
  } else {
    out["thumbs"] = nullptr;
  }
  return "window.MAPD_TABLE = " +
         escape_json_for_script(out.dump(-1, ' ', false, json::error_handler_t::replace)) + ";\n";
}

void write_table_thumbnails(ReportData& data, const stdfs::path& report_dir) {
  if (!data.table || data.table->size() == 0) return;
  auto& t = *data.table;
  std::optional<data::Dataset> dataset;
  try {
    dataset = data::load_dataset(config::from_json(data.config).data, stdfs::path());
  } catch (const std::exception& e) {
    data.notes.push_back(fmt::format(
        "The dataset could not be reloaded to draw the browsing table's thumbnails ({}); the table has none.",
        e.what()));
    return;
  }
  const auto& images = dataset->train;
  fs::create_directories(report_dir / "table");
  t.image.assign(static_cast<size_t>(t.size()), 0);
  t.sheets.clear();
  // Images smaller than a tile keep their size: enlarged, they would only compress worse.
  t.thumbnail_side = std::min(BrowsingTable::kThumbnailSide, std::max(images.height, images.width));
  int64_t missing = 0;
  std::string first_reason;
  for (int64_t begin = 0; begin < t.size(); begin += BrowsingTable::kSheetRows) {
    const int64_t end = std::min(t.size(), begin + BrowsingTable::kSheetRows);
    std::vector<data::GridTile> tiles(static_cast<size_t>(end - begin));
    for (int64_t i = begin; i < end; ++i) {
      const auto ui = static_cast<size_t>(i);
      auto& tile = tiles[static_cast<size_t>(i - begin)];
      auto reason = changed_since_training(images, t.id[ui], t.source_index[ui], t.original_label[ui]);
      if (!reason) {
        tile.pixels.resize(static_cast<size_t>(images.image_bytes()));
        tile.channels = images.channels;
        tile.height = images.height;
        tile.width = images.width;
        try {
          images.read(t.source_index[ui], tile.pixels.data());
          t.image[ui] = 1;
        } catch (const Error& e) {
          tile.pixels.clear();
          reason = e.what();
        }
      }
      if (reason) {
        if (missing == 0) first_reason = *reason;
        ++missing;
      }
    }
    const auto name = fmt::format("table/thumbs-{:05d}.png", begin / BrowsingTable::kSheetRows);
    fs::write_file_atomic(report_dir / name,
                          data::encode_sprite_sheet(tiles, BrowsingTable::kSheetColumns, t.thumbnail_side));
    t.sheets.push_back(name);
  }
  if (missing > 0) {
    data.notes.push_back(fmt::format("{} of {} rows of the browsing table have no thumbnail; the first: {}.",
                                     missing, t.size(), first_reason));
  }
}

namespace {

std::string safe_file_name(const std::string& name) {
  std::string out;
  for (char ch : name) {
    out += (std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_') ? ch : '_';
  }
  return out.empty() ? "category" : out;
}

// The surfaced examples of one category that have an image, as a grid row with two caption lines.
data::GridRow grid_row(const SurfacedCategory& group) {
  data::GridRow row;
  for (const auto& e : group.examples) {
    if (!e.image) {
      continue;
    }
    data::GridTile tile;
    tile.pixels = e.image->pixels;
    tile.channels = e.image->channels;
    tile.height = e.image->height;
    tile.width = e.image->width;
    tile.captions = {
        {fmt::format("#{} p={:.2f}", e.id, e.prob), data::Rgb{0, 0, 0}},
        {fmt::format("{}>{}", e.label_name.substr(0, 7), e.pred_name.substr(0, 7)), data::Rgb{160, 60, 60}}};
    row.tiles.push_back(std::move(tile));
  }
  return row;
}

}  // namespace

ReportResult generate_report(const stdfs::path& run_dir, const config::ReportConfig& options) {
  auto logger = log::get("report");
  const auto chart_path = find_chart_library(options.assets_dir);
  ReportData collected = collect_report_data(run_dir, options);

  ReportResult result;
  const RunLayout run(run_dir);
  const auto report_dir = run.report_dir();
  fs::create_directories(report_dir);

  // Image grids as PNG files, drawn from the collected pixels.
  for (auto& group : collected.surfaced) {
    data::ImageGrid grid;
    grid.rows.push_back(grid_row(group));
    const auto shown = grid.rows.front().tiles.size();
    if (shown == 0) {
      continue;
    }
    grid.columns = 8;
    grid.image_side = 96;
    grid.title = fmt::format("{}: top {} training examples by P({})  (id, P; given>predicted)",
                             group.category, shown, group.category);
    const auto path = report_dir / (safe_file_name(group.category) + ".png");
    data::write_image_grid(path, grid);
    group.grid_file = path.filename().string();
    result.grids.push_back(path);
  }

  // The browsing table: rows.js and the thumbnail sheets in report/table/, rewritten as a whole.
  const auto table_dir = report_dir / "table";
  stdfs::remove_all(table_dir);
  if (collected.table) {
    fs::create_directories(table_dir);
    if (options.table_thumbnails) write_table_thumbnails(collected, report_dir);
    fs::write_file_atomic(table_dir / "rows.js", table_script(collected));
    result.table_dir = table_dir;
  }

  const json page = to_json(collected);
  std::string html = detail::kPageTemplate;
  replace_once(html, "/*@MAPD_CHART_LIBRARY@*/", escape_script(fs::read_file(chart_path)));
  replace_once(html, "@MAPD_DATA@",
               escape_json_for_script(page.dump(-1, ' ', false, json::error_handler_t::replace)));
  result.index_html = run.report_index();
  fs::write_file_atomic(result.index_html, html);
  result.epochs = collected.trajectories.epochs;
  result.notes = collected.notes;
  logger->info("report written to {} ({} epochs, {} image grids{})", result.index_html.string(),
               result.epochs, result.grids.size(),
               result.notes.empty() ? "" : fmt::format(", {} notes", result.notes.size()));
  return result;
}

}  // namespace mapd::report
