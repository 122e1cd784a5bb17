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
#include "mapd/data/dataset.hpp"
#include "mapd/record/assignment_store.hpp"
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
json read_metrics(const stdfs::path& path, std::vector<std::string>& notes) {
  json lines = json::array();
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

json read_bad_inputs(const stdfs::path& path) {
  json out = {{"present", false}, {"count", 0}, {"rows", json::array()}};
  if (!stdfs::exists(path)) {
    return out;
  }
  out["present"] = true;
  std::istringstream in(fs::read_file(path));
  std::string line;
  bool header = true;
  int64_t count = 0;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (line.empty()) {
      continue;
    }
    if (count < 50) {
      out["rows"].push_back(line);
    }
    ++count;
  }
  out["count"] = count;
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
json probe_previews(const stdfs::path& run_dir, const std::vector<std::string>& categories) {
  json out = json::array();
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
      if (!matches) {
        continue;
      }
      const std::string bytes = fs::read_file(file);
      out.push_back({{"name", stdfs::relative(file, run_dir).string()},
                     {"png", base64(std::vector<uint8_t>(bytes.begin(), bytes.end()))}});
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

json collect_report_data(const stdfs::path& run_dir, const config::ReportConfig& options) {
  auto logger = log::get("report");
  std::vector<std::string> notes;
  json page;
  page["run_dir"] = stdfs::absolute(run_dir).lexically_normal().string();
  page["generated"] = fs::timestamp();

  const auto dynamics_path = run_dir / "dynamics.h5";
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
  page["categories"] = categories;
  page["classes"] = classes;

  // Config: config.resolved.json, else the copy embedded in dynamics.h5.
  json resolved;
  if (auto file = read_json_file(run_dir / "config.resolved.json", notes)) {
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
  page["config"] = resolved;

  // Summary and metrics.
  const json metrics = read_metrics(run_dir / "metrics.jsonl", notes);
  page["metrics"] = metrics;
  int64_t train_rows = 0;
  int64_t probe_rows = 0;
  int64_t noisy_rows = 0;
  for (int64_t r = 0; r < n; ++r) {
    const auto ur = static_cast<size_t>(r);
    if (ex.role[ur] == static_cast<int8_t>(record::Role::kTrain)) {
      ++train_rows;
      noisy_rows += ex.label[ur] != ex.original_label[ur] ? 1 : 0;
    } else {
      ++probe_rows;
    }
  }
  const auto at = [&](const char* section, const char* key) -> json {
    if (resolved.contains(section) && resolved[section].contains(key)) {
      return resolved[section][key];
    }
    return nullptr;
  };
  double wall = 0.0;
  for (const auto& m : metrics) {
    const double s = number_or_nan(m, "seconds");
    wall += std::isnan(s) ? 0.0 : s;
  }
  const json last = metrics.empty() ? json::object() : metrics.back();
  const json configured_epochs = at("train", "epochs");
  const bool complete = configured_epochs.is_number() && epochs >= configured_epochs.get<int64_t>();
  page["summary"] = {
      {"dataset", at("data", "name")},
      {"data_format", at("data", "format")},
      {"data_path", at("data", "path")},
      {"model", at("model", "arch")},
      {"train_mode", at("train", "mode")},
      {"epochs_committed", epochs},
      {"epochs_configured", configured_epochs},
      {"complete", complete},
      {"test_acc", number_or_nan(last, "test_acc")},
      {"test_loss", number_or_nan(last, "test_loss")},
      {"train_acc", number_or_nan(last, "acc")},
      {"img_per_s", number_or_nan(last, "img_s")},
      {"wall_seconds", wall},
      {"examples", n},
      {"train_examples", train_rows},
      {"probe_examples", probe_rows},
      {"injected_noise", noisy_rows},
      {"label_noise_rate", resolved.contains("data") && resolved["data"].contains("label_noise")
                               ? resolved["data"]["label_noise"].value("rate", 0.0)
                               : 0.0},
      {"view", meta.view},
      {"dtype", meta.dtype},
      {"seed", meta.seed},
      {"mapd_version", meta.mapd_version},
      {"torch_version", meta.torch_version}};
  if (!complete) {
    notes.push_back(
        fmt::format("Training is not finished (or was interrupted): {} of {} epochs are committed; "
                    "this report shows the committed epochs only.",
                    epochs, configured_epochs.is_number() ? configured_epochs.dump() : "?"));
  }
  // The difficulty pilot's doubtful labels (probes::below_chance), when the pilot ran in this run.
  if (auto pilot = read_json_file(run_dir / "difficulty_scores.json", notes);
      pilot && pilot->contains("below_chance") && (*pilot)["below_chance"].is_object()) {
    json doubt = (*pilot)["below_chance"];
    doubt["method"] = pilot->value("key", json::object()).value("method", std::string("?"));
    page["summary"]["pilot_below_chance"] = doubt;
  }
  page["bad_inputs"] = read_bad_inputs(run_dir / "bad_inputs.csv");

  // Probe self-test and detection, as the assigner wrote them.
  if (auto selftest = read_json_file(run_dir / "selftest.json", notes)) {
    page["selftest"] = *selftest;
  } else {
    page["selftest"] = nullptr;
    notes.push_back("selftest.json is missing: run `mapd assign RUN_DIR` for the probe self-test.");
  }
  if (auto detection = read_json_file(run_dir / "detection.json", notes)) {
    page["detection"] = *detection;
  } else {
    page["detection"] = nullptr;
    if (noisy_rows > 0) {
      notes.push_back(
          fmt::format("{} training labels were changed by injected noise, but detection.json is "
                      "missing: run `mapd assign RUN_DIR` for the detection metrics.",
                      noisy_rows));
    }
  }

  // Assignments (row -> assigned category for training rows).
  std::optional<record::AssignmentStore::Columns> assignments;
  record::AssignmentMeta assignment_meta;
  if (stdfs::exists(run_dir / "assignments.h5")) {
    try {
      assignments = record::AssignmentStore::read(run_dir / "assignments.h5", &assignment_meta);
    } catch (const Error& e) {
      notes.push_back(fmt::format("assignments.h5 could not be read ({}).", e.what()));
    }
  } else {
    notes.push_back(
        "assignments.h5 is missing (not assigned yet): no per-category counts or surfaced "
        "examples. Run `mapd assign RUN_DIR`, then `mapd report RUN_DIR`.");
  }
  std::vector<int16_t> assigned_by_row(static_cast<size_t>(n), -1);
  std::vector<int64_t> assignment_of_row(static_cast<size_t>(n), -1);
  json assign_json = {{"available", assignments.has_value()}};
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
        assignment_of_row[static_cast<size_t>(row)] = i;
      }
    }
    std::vector<int64_t> overall(static_cast<size_t>(c), 0);
    std::vector<std::vector<int64_t>> per_class(classes.size(),
                                                std::vector<int64_t>(static_cast<size_t>(c), 0));
    int64_t assigned_train = 0;
    for (int64_t row = 0; row < n; ++row) {
      const auto ur = static_cast<size_t>(row);
      const int16_t cat = assigned_by_row[ur];
      if (ex.role[ur] != static_cast<int8_t>(record::Role::kTrain) || cat < 0 || cat >= c) {
        continue;
      }
      ++assigned_train;
      ++overall[static_cast<size_t>(cat)];
      const int64_t label = ex.label[ur];
      if (label >= 0 && label < static_cast<int64_t>(classes.size())) {
        ++per_class[static_cast<size_t>(label)][static_cast<size_t>(cat)];
      }
    }
    assign_json["categories"] = assignment_meta.category_names;
    assign_json["k"] = assignment_meta.k;
    assign_json["epoch_begin"] = assignment_meta.epoch_begin;
    assign_json["epoch_end"] = assignment_meta.epoch_end;
    assign_json["train_assigned"] = assigned_train;
    assign_json["overall"] = overall;
    assign_json["per_class"] = per_class;
    if (assignment_meta.epoch_end < epochs) {
      notes.push_back(
          fmt::format("assignments.h5 used epochs [{}, {}) but {} epochs are committed now; run "
                      "`mapd assign RUN_DIR` again for assignments on the longer trajectories.",
                      assignment_meta.epoch_begin, assignment_meta.epoch_end, epochs));
    }
  }
  page["assignments"] = assign_json;

  // Loss trajectories and learning curves per group, streamed from dynamics.h5.
  json trajectories = {{"epochs", epochs}, {"groups", json::array()}};
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
    const auto stats = trajectory_stats(store, epochs, names, groups_of_row);
    for (size_t g = 0; g < stats.size(); ++g) {
      trajectories["groups"].push_back(stats_to_json(stats[g], kinds[g]));
    }
  } else {
    notes.push_back("No epoch is committed yet: no trajectories to show.");
  }
  page["trajectories"] = trajectories;

  // Surfaced examples: top-N training rows per category by probability, then score.
  json surfaced = json::array();
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
    std::vector<float> losses(static_cast<size_t>(epochs));
    for (int64_t cat = 0; cat < c; ++cat) {
      auto key = [&](int64_t i) {
        const auto at_ = static_cast<size_t>(i * c + cat);
        return std::make_pair(a.prob[at_], has_score ? a.score[at_] : 0.0F);
      };
      std::vector<int64_t> order = train_entries;
      const auto top = std::min<size_t>(order.size(), static_cast<size_t>(options.top_n));
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                        [&](int64_t x, int64_t y) {
                          const auto kx = key(x);
                          const auto ky = key(y);
                          return kx != ky ? kx > ky : x < y;
                        });
      json items = json::array();
      for (size_t t = 0; t < top; ++t) {
        const int64_t i = order[t];
        const auto ui = static_cast<size_t>(i);
        const int64_t row = a.row[ui];
        const auto ur = static_cast<size_t>(row);
        int32_t pred = -1;
        store.read_preds(row, row + 1, epochs - 1, epochs, &pred);
        store.read_losses(row, row + 1, 0, epochs, losses.data());
        json item = {{"row", row},
                     {"id", ex.id[ur]},
                     {"label", ex.label[ur]},
                     {"label_name", class_name(classes, ex.label[ur])},
                     {"original_label", ex.original_label[ur]},
                     {"pred", pred},
                     {"pred_name", class_name(classes, pred)},
                     {"assigned", a.assigned[ui]},
                     {"prob", a.prob[static_cast<size_t>(i * c + cat)]},
                     {"score", has_score ? json(a.score[static_cast<size_t>(i * c + cat)]) : json(nullptr)},
                     {"losses", losses}};
        const int64_t source = ex.source_index[ur];
        if (dataset && source >= 0 && source < dataset->train.size()) {
          const auto& images = dataset->train;
          std::vector<uint8_t> pixels(static_cast<size_t>(images.image_bytes()));
          try {
            images.read(source, pixels.data());
            item["png"] =
                base64(encode_png(pixels, images.channels, images.height, images.width, kThumbnailSide));
            item["image"] = {
                {"channels", images.channels}, {"height", images.height}, {"width", images.width}};
            item["pixels_b64"] = base64(pixels);
          } catch (const Error& e) {
            item["image_error"] = e.what();
          }
        }
        items.push_back(std::move(item));
      }
      surfaced.push_back({{"category", assignment_meta.category_names[static_cast<size_t>(cat)]},
                          {"examples", std::move(items)}});
    }
  }
  page["surfaced"] = surfaced;
  page["probe_previews"] = probe_previews(run_dir, categories);
  page["notes"] = notes;
  logger->debug("collected report data for {} ({} epochs, {} examples)", run_dir.string(), epochs, n);
  return page;
}

namespace {

std::vector<uint8_t> decode_base64(const std::string& text) {
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  uint32_t buffer = 0;
  int bits = 0;
  for (char ch : text) {
    int v = -1;
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '+')
      v = 62;
    else if (ch == '/')
      v = 63;
    if (v < 0) {
      continue;
    }
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((buffer >> bits) & 0xFF));
    }
  }
  return out;
}

std::string safe_file_name(const std::string& name) {
  std::string out;
  for (char ch : name) {
    out += (std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_') ? ch : '_';
  }
  return out.empty() ? "category" : out;
}

}  // namespace

ReportResult generate_report(const stdfs::path& run_dir, const config::ReportConfig& options) {
  auto logger = log::get("report");
  const auto chart_path = find_chart_library(options.assets_dir);
  json page = collect_report_data(run_dir, options);

  ReportResult result;
  const auto report_dir = run_dir / "report";
  fs::create_directories(report_dir);

  // Image grids as PNG files; the raw pixels are dropped from the page afterwards.
  for (auto& group : page["surfaced"]) {
    std::vector<GridTile> tiles;
    for (auto& item : group["examples"]) {
      if (item.contains("pixels_b64")) {
        GridTile tile;
        tile.pixels = decode_base64(item["pixels_b64"].get<std::string>());
        tile.channels = item["image"]["channels"].get<int64_t>();
        tile.height = item["image"]["height"].get<int64_t>();
        tile.width = item["image"]["width"].get<int64_t>();
        tile.line1 = fmt::format("#{} p={:.2f}", item["id"].get<int64_t>(), item["prob"].get<double>());
        tile.line2 = fmt::format("{}>{}", item["label_name"].get<std::string>().substr(0, 7),
                                 item["pred_name"].get<std::string>().substr(0, 7));
        tiles.push_back(std::move(tile));
        item.erase("pixels_b64");
      }
    }
    if (tiles.empty()) {
      continue;
    }
    const std::string category = group["category"].get<std::string>();
    const auto path = report_dir / (safe_file_name(category) + ".png");
    write_image_grid(path, tiles, 8,
                     fmt::format("{}: top {} training examples by P({})  (id, P; given>predicted)", category,
                                 tiles.size(), category));
    group["grid_file"] = path.filename().string();
    result.grids.push_back(path);
  }

  std::string html = detail::kPageTemplate;
  replace_once(html, "/*@MAPD_CHART_LIBRARY@*/", escape_script(fs::read_file(chart_path)));
  replace_once(html, "@MAPD_DATA@", escape_script(page.dump(-1, ' ', false, json::error_handler_t::replace)));
  result.index_html = report_dir / "index.html";
  fs::write_file_atomic(result.index_html, html);
  result.epochs = page["trajectories"]["epochs"].get<int64_t>();
  for (const auto& note : page["notes"]) {
    result.notes.push_back(note.get<std::string>());
  }
  logger->info("report written to {} ({} epochs, {} image grids{})", result.index_html.string(),
               result.epochs, result.grids.size(),
               result.notes.empty() ? "" : fmt::format(", {} notes", result.notes.size()));
  return result;
}

}  // namespace mapd::report
