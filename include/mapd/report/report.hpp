#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/record/dynamics_store.hpp"

/// The audit report (docs/user-guide.md §3, issue 7): report/index.html with the run summary, probe
/// self-test, loss trajectories per category, assignments per class, surfaced examples, learning
/// curves and detection metrics, plus report/<category>.png image grids. The report reads what the
/// run directory holds and recomputes nothing the stores hold. No torch in this header.
namespace mapd::report {

/// Per-epoch statistics of one group of examples (a probe category, the training set, the
/// training examples assigned to one category, ...). Every vector has one entry per epoch.
struct GroupStats {
  std::string name;
  int64_t count = 0;                     ///< examples in the group
  bool exact = true;                     ///< quantiles exact (false: from a 4096-bin log histogram)
  std::vector<double> q25, median, q75;  ///< loss quantiles (numpy's default linear interpolation)
  std::vector<double> mean;              ///< mean loss
  std::vector<double> first_learned;     ///< fraction with pred == label at some epoch <= e
  std::vector<double> learned_for_good;  ///< fraction with pred == label at every epoch >= e
};

/// Tuning of `trajectory_stats` (memory bounds; the defaults suit any N).
struct StatsOptions {
  int64_t block_values = int64_t{1} << 20;  ///< trajectory values read per block (x 8 bytes)
  int64_t exact_limit = int64_t{8} << 20;   ///< groups with count * epochs above this use histograms
};

/// Appends the indices of the groups row `row` belongs to (a row may be in several or none).
using GroupsOfRow = std::function<void(int64_t row, std::vector<int32_t>& groups)>;

/// Streams /epochs/loss and /epochs/pred of `store` over epochs [0, epochs) in blocks of examples
/// and computes, for each group in `group_names`, the per-epoch loss quartiles, mean and learned
/// fractions ("learned" = pred equals the label trained on). Memory is bounded by
/// options.block_values and options.exact_limit whatever N is. Throws IoError from the store when
/// `epochs` exceeds the committed epochs, ConfigError when epochs < 1, InternalError when
/// `groups_of_row` names a group outside `group_names`.
std::vector<GroupStats> trajectory_stats(const record::DynamicsStore& store, int64_t epochs,
                                         const std::vector<std::string>& group_names,
                                         const GroupsOfRow& groups_of_row, const StatsOptions& options = {});

/// Quantile `q` in [0, 1] of `values` with linear interpolation between order statistics
/// (numpy.quantile's default). Reorders `values`. NaN for an empty vector.
double quantile_linear(std::vector<float>& values, double q);

/// Encodes a uint8 [C, H, W] image as PNG, scaled so the longer side is `target` pixels (nearest
/// neighbour when enlarging): the page's thumbnails. Throws DataError for an unsupported channel
/// count.
std::vector<uint8_t> encode_png(const std::vector<uint8_t>& pixels, int64_t channels, int64_t height,
                                int64_t width, int64_t target);

/// Base64 (RFC 4648, with padding) of `bytes`.
std::string base64(const std::vector<uint8_t>& bytes);

/// The UMD build of the chart library (Chart.js; Debian's libjs-chart.js): `assets_dir` when
/// non-empty (the file itself, or a folder holding chart.min.js / chart.umd.min.js), then
/// $MAPD_ASSETS_DIR, then the system folder found at build time (/usr/share/javascript/chart.js),
/// then <share>/javascript/chart.js of each resource folder. Throws IoError naming every place
/// tried and the package that installs it.
std::filesystem::path find_chart_library(const std::string& assets_dir);

/// The run summary at the top of the page. Strings from the resolved config are empty optionals
/// where the config lacks them; numbers from the last metrics line are NaN where it lacks them.
struct RunSummary {
  std::optional<std::string> dataset, data_format, data_path, model, train_mode;
  int64_t epochs_committed = 0;
  std::optional<int64_t> epochs_configured;
  bool complete = false;  ///< every configured epoch is committed
  double test_acc = std::numeric_limits<double>::quiet_NaN();
  double test_loss = std::numeric_limits<double>::quiet_NaN();
  double train_acc = std::numeric_limits<double>::quiet_NaN();
  double img_per_s = std::numeric_limits<double>::quiet_NaN();
  double wall_seconds = 0.0;  ///< summed over the metrics lines
  int64_t examples = 0;
  int64_t train_examples = 0;
  int64_t probe_examples = 0;
  int64_t injected_noise = 0;  ///< training rows whose label differs from the original
  double label_noise_rate = 0.0;
  std::string view, dtype;
  int64_t seed = 0;
  std::string mapd_version, torch_version;
  /// The difficulty pilot's `below_chance` object (difficulty_scores.json) plus its `method`.
  std::optional<nlohmann::json> pilot_below_chance;
};

/// bad_inputs.csv: whether it exists, its row count and its first 50 rows.
struct BadInputs {
  bool present = false;
  int64_t count = 0;
  std::vector<std::string> rows;
};

/// Counts of assignments.h5 over the training rows.
struct AssignmentSummary {
  bool available = false;  ///< assignments.h5 was read; the other members are empty otherwise
  std::vector<std::string> categories;
  int64_t k = 0;
  int64_t epoch_begin = 0;
  int64_t epoch_end = 0;
  std::string label_issue_ranks;  ///< what label_issue ranks; empty for files from older mapd
  int64_t train_assigned = 0;
  std::vector<int64_t> overall;                 ///< [category]
  std::vector<std::vector<int64_t>> per_class;  ///< [given label][category]
};

/// One curve group of the trajectory and learning-curve charts.
struct TrajectoryGroup {
  std::string kind;  ///< probe | train | noise | assigned
  GroupStats stats;
};

/// The loss trajectories and learning curves over the committed epochs.
struct Trajectories {
  int64_t epochs = 0;
  std::vector<TrajectoryGroup> groups;
};

/// The image of a surfaced example as read from the reloaded dataset: uint8 [C, H, W].
struct ExampleImage {
  std::vector<uint8_t> pixels;
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
};

/// One training example surfaced for a category.
struct SurfacedExample {
  int64_t row = 0;  ///< row in dynamics.h5
  std::string id;   ///< dataset id recorded in dynamics.h5 (its text id when the dataset has them)
  int64_t label = 0;
  std::string label_name;
  int64_t original_label = 0;
  int32_t pred = -1;  ///< prediction at the last committed epoch
  std::string pred_name;
  int16_t assigned = -1;
  float prob = 0.0F;           ///< P(category)
  std::optional<float> score;  ///< continuous score, when assignments.h5 has one
  std::vector<float> losses;   ///< [epochs]
  /// The image, only when the reloaded dataset still holds this example at its recorded position.
  std::optional<ExampleImage> image;
  std::string image_error;  ///< why there is no image although the dataset was reloaded ("" otherwise)
};

/// The top examples of one category, by P(category) then score; or, with `ranking` =
/// "label_issue", the top training examples by assignments.h5's label_issue (the likely label
/// errors; `prob` then holds the label_issue value).
struct SurfacedCategory {
  std::string category;
  std::string ranking;  ///< "" (by P(category)) or "label_issue"
  std::vector<SurfacedExample> examples;
  std::string grid_file;  ///< report/<file>.png once generate_report drew it ("" before)
};

/// A probe preview PNG written by `mapd probes` (file bytes).
struct ProbePreview {
  std::string name;  ///< path relative to the run directory
  std::string png;
};

/// What a label-correction run (train.mode=label_correction) did: per committed epoch, from the
/// bootstrap_weight and target dynamics.h5 records for the training rows trained on; and what it
/// handed over, from corrected_labels.csv.
struct LabelCorrectionView {
  static constexpr int64_t kBins = 10;  ///< histogram bins: tenths of [0, 1]
  std::string method;
  std::vector<std::vector<int64_t>> weight_histogram;  ///< [epoch][bin] training rows by B
  std::vector<double> mean_weight;                     ///< [epoch] mean B
  std::vector<double> relabelled;                      ///< [epoch] share whose target is not the given label
  std::vector<double>
      restored;  ///< [epoch] injected noise: share of flipped rows targeted at the original label
  std::vector<double> clean_changed;    ///< [epoch] injected noise: share of clean rows targeted elsewhere
  bool corrected_file = false;          ///< corrected_labels.csv was read
  int64_t corrected_rows = 0;           ///< training rows it lists
  int64_t corrected_changed = 0;        ///< rows whose corrected label is not the given one
  int64_t corrected_restored = 0;       ///< injected noise: flipped rows given back their original label
  int64_t corrected_clean_changed = 0;  ///< injected noise: clean rows given another label
};

/// Everything the page shows, collected from a run directory. JSON documents that mapd writes
/// elsewhere and the page shows as they are (the resolved config, metrics lines, selftest.json,
/// detection.json) stay JSON; everything the report computes is a plain member.
// clang-tidy sees an exception escape in the implicit special members (through nlohmann::json's
// destructor, which does not throw).
/// Dataset Cartography's data map (Swayamdipta et al. 2020) of the training examples, from
/// record::derive_scores: variability (x) against confidence (y), coloured by correctness.
struct DataMap {
  int64_t examples = 0;  ///< training examples recorded in at least one epoch
  int64_t epochs = 0;
  /// At most kDataMapPoints examples, evenly spaced over the recorded ones.
  struct Point {
    float variability = 0;
    float confidence = 0;
    float correctness = 0;
    bool flipped = false;  ///< the label was flipped by data.label_noise
    std::string id;
  };
  std::vector<Point> points;
  /// Medians over all `examples` of the forgetting events, AUM and EL2N (NaN when not recorded).
  double median_forgetting = 0;
  double median_aum = 0;
  double median_el2n = 0;
};
inline constexpr int64_t kDataMapPoints = 4000;

/// The browsing table (docs/user-guide.md §3): the assigned training examples, at most
/// ReportConfig::table_limit of them (the highest label_issue; the rest are counted in left_out),
/// in table order: label_issue descending (NaN last), then assignments.h5 order. Columns have one
/// entry per table row.
struct BrowsingTable {
  static constexpr int64_t kSheetRows = 128;     ///< table rows per thumbnail sheet
  static constexpr int64_t kSheetColumns = 16;   ///< tiles per line of a sheet
  static constexpr int64_t kThumbnailSide = 32;  ///< most pixels of a tile (smaller images keep their size)
  int64_t total = 0;                             ///< assigned training examples
  int64_t limit = 0;                             ///< report.table_limit
  std::vector<int64_t> row;                      ///< dynamics.h5 row
  std::vector<std::string> id;
  bool integer_ids = true;  ///< the ids are dynamics.h5's integer ids (no text ids)
  std::vector<int64_t> label, original_label;
  std::vector<int64_t> source_index;  ///< position in the dataset's training split
  std::vector<int32_t> pred;          ///< at the last committed epoch (-1: not recorded)
  std::vector<int16_t> assigned;      ///< category index (-1: none)
  std::vector<float> label_issue;     ///< empty when assignments.h5 has none
  std::vector<float> prob;            ///< [rows, categories] P(category)
  /// Per row once write_table_thumbnails ran: 1 its tile was drawn, 0 not (the dataset changed
  /// since training or the image could not be read). Empty: no thumbnails.
  std::vector<uint8_t> image;
  std::vector<std::string>
      sheets;                  ///< thumbnail files, relative to report/, sheet s = rows [s * kSheetRows, ...)
  int64_t thumbnail_side = 0;  ///< pixels of a tile: kThumbnailSide or the images' longer side if smaller
  int64_t size() const { return static_cast<int64_t>(row.size()); }
  /// Assigned training examples the table leaves out (beyond table_limit).
  [[nodiscard]] int64_t left_out() const { return total - size(); }
};

struct ReportData {       // NOLINT(bugprone-exception-escape)
  std::string run_dir;    ///< absolute
  std::string generated;  ///< timestamp
  std::vector<std::string> categories;
  std::vector<std::string> classes;
  nlohmann::json config;  ///< config.resolved.json, else the copy in dynamics.h5
  RunSummary summary;
  std::vector<nlohmann::json> metrics;  ///< metrics.jsonl, one object per complete line
  BadInputs bad_inputs;
  std::optional<nlohmann::json> selftest;   ///< selftest.json
  std::optional<nlohmann::json> detection;  ///< detection.json
  AssignmentSummary assignments;
  Trajectories trajectories;
  std::vector<SurfacedCategory> surfaced;
  std::vector<ProbePreview> probe_previews;
  std::optional<LabelCorrectionView> label_correction;  ///< label-correction runs only
  std::optional<DataMap> data_map;                      ///< none before the first committed epoch
  std::optional<BrowsingTable> table;                   ///< with assignments and report.table_limit > 0
  std::vector<std::string> notes;  ///< missing or inconsistent inputs, shown at the top of the page
};

/// Collects everything the page shows. Reads committed epochs only, so it works on a run that is
/// still training. Surfaced examples get their image from the reloaded dataset only where the
/// dataset still has the recorded id (and original label) at the recorded position; where it does
/// not, the dataset changed since training: the image is left out and a note says how many.
/// Throws IoError when run_dir has no dynamics.h5 or it is unreadable.
ReportData collect_report_data(const std::filesystem::path& run_dir, const config::ReportConfig& options);

/// The page's data block (what assets/report/template.html reads): every member of `data`, with
/// the surfaced images as base64 PNG thumbnails ("png") and the probe previews as base64 PNG.
nlohmann::json to_json(const ReportData& data);

/// The browsing table's data file, report/table/rows.js: a script that sets window.MAPD_TABLE to
/// the table's columns (`generated` is the page's timestamp, so the page can tell a stale file),
/// with every '<', '>' and '&' of the data written as a JSON escape.
std::string table_script(const ReportData& data);

/// Draws `data.table`'s thumbnails from the dataset the resolved config names into sprite sheets
/// <report_dir>/table/thumbs-<sheet>.png (BrowsingTable::kSheetRows rows each, in table order) and
/// fills table.image and table.sheets. A row whose recorded id and original label are no longer
/// at its recorded dataset position (the check of the surfaced examples) gets no tile. Adds a note
/// when the dataset cannot be reloaded or rows are left without a tile. Throws IoError when a sheet
/// cannot be written.
void write_table_thumbnails(ReportData& data, const std::filesystem::path& report_dir);

/// What `generate_report` wrote.
struct ReportResult {
  std::filesystem::path index_html;
  std::vector<std::filesystem::path> grids;  ///< report/<category>.png
  int64_t epochs = 0;                        ///< committed epochs shown
  std::vector<std::string> notes;            ///< missing inputs, mentioned in the page too
  std::filesystem::path table_dir;           ///< report/table ("" when the page has no browsing table)
};

/// Writes <run_dir>/report/index.html (chart library, data and images inlined; no external URL),
/// <run_dir>/report/<category>.png and, with a browsing table, <run_dir>/report/table/ (rows.js and
/// the thumbnail sheets, which index.html loads by relative path). Throws IoError (missing
/// dynamics.h5, chart library not installed, unwritable folder).
ReportResult generate_report(const std::filesystem::path& run_dir, const config::ReportConfig& options);

}  // namespace mapd::report
