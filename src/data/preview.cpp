#include "mapd/data/preview.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "mapd/core/error.hpp"
#include "mapd/data/image_grid.hpp"

namespace mapd::data {

std::vector<int64_t> class_counts(const ImageSet& set) {
  std::vector<int64_t> counts(static_cast<size_t>(set.num_classes()), 0);
  for (const auto l : set.examples.label) {
    if (l >= 0) {
      if (l >= static_cast<int64_t>(counts.size())) {
        counts.resize(static_cast<size_t>(l + 1), 0);
      }
      ++counts[l];
    }
  }
  return counts;
}

void write_sample_grid(const ImageSet& set, const std::filesystem::path& png, int64_t per_class,
                       int64_t max_classes) {
  const int64_t classes = std::min<int64_t>(set.num_classes(), max_classes);
  ImageGrid grid;
  grid.columns = std::max<int64_t>(1, per_class);
  grid.image_side = 48;
  grid.rows.resize(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) {
    std::string name = set.class_names[static_cast<size_t>(c)];
    if (name.size() > 18) {
      name = name.substr(0, 17) + "~";
    }
    grid.rows[static_cast<size_t>(c)].label = fmt::format("{} {}", c, name);
  }
  for (int64_t i = 0; i < set.size(); ++i) {
    const auto l = set.examples.label[static_cast<size_t>(i)];
    if (l < 0 || l >= classes) {
      continue;
    }
    auto& tiles = grid.rows[static_cast<size_t>(l)].tiles;
    if (static_cast<int64_t>(tiles.size()) >= per_class) {
      continue;
    }
    GridTile tile;
    tile.channels = set.channels;
    tile.height = set.height;
    tile.width = set.width;
    tile.pixels.resize(static_cast<size_t>(set.image_bytes()));
    try {
      set.read(i, tile.pixels.data());
    } catch (const DataError&) {
      tile.pixels.clear();  // drawn grey
    }
    tiles.push_back(std::move(tile));
  }
  write_image_grid(png, grid);
}

}  // namespace mapd::data
