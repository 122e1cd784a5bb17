#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/record/dynamics_store.hpp"

/// The audit report (DESIGN.md §2, issue 7): report/index.html with the run summary, probe
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

/// One image of a grid: `pixels` uint8 [C, H, W] (C = 1 or 3), and up to two caption lines.
struct GridTile {
  std::vector<uint8_t> pixels;
  int64_t channels = 1;
  int64_t height = 0;
  int64_t width = 0;
  std::string line1;
  std::string line2;
};

/// Encodes a uint8 [C, H, W] image as PNG, scaled so the longer side is `target` pixels (nearest
/// neighbour when enlarging). Throws DataError for an unsupported channel count.
std::vector<uint8_t> encode_png(const std::vector<uint8_t>& pixels, int64_t channels, int64_t height,
                                int64_t width, int64_t target);

/// Draws `tiles` as a grid of `columns` columns with captions under each image and `title` on top,
/// and writes it as PNG to `path`. Throws IoError naming the path when it cannot be written.
void write_image_grid(const std::filesystem::path& path, const std::vector<GridTile>& tiles, int64_t columns,
                      const std::string& title);

/// Base64 (RFC 4648, with padding) of `bytes`.
std::string base64(const std::vector<uint8_t>& bytes);

/// The UMD build of the chart library (Chart.js; Debian's libjs-chart.js): `assets_dir` when
/// non-empty (the file itself, or a folder holding chart.min.js / chart.umd.min.js), then
/// $MAPD_ASSETS_DIR, then the system folder found at build time (/usr/share/javascript/chart.js),
/// then <share>/javascript/chart.js of each resource folder. Throws IoError naming every place
/// tried and the package that installs it.
std::filesystem::path find_chart_library(const std::string& assets_dir);

/// Everything the page shows, as JSON (the page's data block): summary, metrics, selftest,
/// trajectories, assignments, surfaced examples (with base64 PNG thumbnails), learning curves,
/// detection and a list of notes about missing inputs. Reads committed epochs only, so it works on
/// a run that is still training. Throws IoError when run_dir has no dynamics.h5 or it is unreadable.
nlohmann::json collect_report_data(const std::filesystem::path& run_dir, const config::ReportConfig& options);

/// What `generate_report` wrote.
struct ReportResult {
  std::filesystem::path index_html;
  std::vector<std::filesystem::path> grids;  ///< report/<category>.png
  int64_t epochs = 0;                        ///< committed epochs shown
  std::vector<std::string> notes;            ///< missing inputs, mentioned in the page too
};

/// Writes <run_dir>/report/index.html (self-contained: chart library, data and images inlined; no
/// external URL) and <run_dir>/report/<category>.png. Throws IoError (missing dynamics.h5, chart
/// library not installed, unwritable folder).
ReportResult generate_report(const std::filesystem::path& run_dir, const config::ReportConfig& options);

}  // namespace mapd::report
