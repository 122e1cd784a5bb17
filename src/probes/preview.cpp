#include "mapd/probes/preview.hpp"

#include <fmt/format.h>

#include "mapd/core/fs.hpp"
#include "mapd/data/image_grid.hpp"

namespace mapd::probes {
namespace {

std::string class_name(const std::vector<std::string>& names, int64_t label) {
  if (label >= 0 && label < static_cast<int64_t>(names.size())) return names[static_cast<size_t>(label)];
  return std::to_string(label);
}

}  // namespace

std::string describe_suite(const ProbeSuite& suite) {
  std::string out;
  for (size_t c = 0; c < suite.category_names.size(); ++c) {
    int64_t fit = 0;
    int64_t val = 0;
    for (int64_t p = 0; p < suite.size(); ++p) {
      if (suite.category[static_cast<size_t>(p)] != static_cast<int16_t>(c)) continue;
      (suite.role[static_cast<size_t>(p)] == static_cast<int8_t>(record::Role::kProbeFit) ? fit : val) += 1;
    }
    out += fmt::format("{:<14} fit {:>5}  val {:>5}\n", suite.category_names[c], fit, val);
  }
  return out;
}

std::vector<std::filesystem::path> write_probe_grids(const ProbeSuite& suite,
                                                     const std::vector<std::string>& class_names,
                                                     const std::filesystem::path& dir, int64_t max_images) {
  fs::create_directories(dir);
  std::vector<std::filesystem::path> written;
  if (suite.size() == 0) return written;
  // [N, C, H, W] float in [0, 1] -> uint8, the layout the grid draws.
  const auto images =
      suite.images.to(torch::kFloat32).mul(255.0).round().clamp(0.0, 255.0).to(torch::kUInt8).contiguous();
  const int64_t channels = images.size(1);
  const int64_t height = images.size(2);
  const int64_t width = images.size(3);
  const int64_t image_bytes = channels * height * width;
  const data::Rgb fit_colour{0, 0, 0};
  const data::Rgb val_colour{0, 60, 160};
  for (size_t cat = 0; cat < suite.category_names.size(); ++cat) {
    data::GridRow row;
    int64_t fit = 0;
    int64_t val = 0;
    for (int64_t p = 0; p < suite.size(); ++p) {
      const auto k = static_cast<size_t>(p);
      if (suite.category[k] != static_cast<int16_t>(cat)) continue;
      const bool is_val = suite.role[k] == static_cast<int8_t>(record::Role::kProbeVal);
      (is_val ? val : fit) += 1;
      if (static_cast<int64_t>(row.tiles.size()) >= max_images) continue;
      data::GridTile tile;
      const auto* pixels = images[p].data_ptr<uint8_t>();
      tile.pixels.assign(pixels, pixels + image_bytes);
      tile.channels = channels;
      tile.height = height;
      tile.width = width;
      std::string caption = class_name(class_names, suite.labels[k]);
      if (suite.original_labels[k] != suite.labels[k]) {
        caption += " (was " + class_name(class_names, suite.original_labels[k]) + ")";
      }
      tile.captions.push_back({caption, is_val ? val_colour : fit_colour});
      row.tiles.push_back(std::move(tile));
    }
    if (row.tiles.empty()) continue;
    data::ImageGrid grid;
    grid.title = fmt::format("{}: {} fit + {} val (first {} shown)", suite.category_names[cat], fit, val,
                             row.tiles.size());
    grid.rows.push_back(std::move(row));
    grid.columns = 8;
    grid.image_side = 64;
    const auto path = dir / fmt::format("probes_{}.png", suite.category_names[cat]);
    data::write_image_grid(path, grid);
    written.push_back(path);
  }
  return written;
}

}  // namespace mapd::probes
