#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

/// The one image-grid writer of mapd: the dataset preview (`mapd data`), the probe previews
/// (`mapd probes`) and the report's surfaced examples are all drawn by `write_image_grid`.
/// No torch and no OpenCV in this header.
namespace mapd::data {

/// An 8-bit RGB colour.
struct Rgb {
  uint8_t r = 0;
  uint8_t g = 0;
  uint8_t b = 0;
};

/// One line of text under a grid image.
struct GridCaption {
  std::string text;
  Rgb colour{};
};

/// One image of a grid: `pixels` uint8 [C, H, W] (C = 1 grey or 3 planes R, G, B), drawn with the
/// caption lines below it. Empty `pixels` draw a grey box of the grid's image size (an image that
/// could not be read).
struct GridTile {
  std::vector<uint8_t> pixels;
  int64_t channels = 1;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<GridCaption> captions;
};

/// A run of tiles, with `label` drawn to the left of its first line (nothing when empty). A row
/// longer than ImageGrid::columns wraps onto further lines.
struct GridRow {
  std::string label;
  std::vector<GridTile> tiles;
};

/// A titled grid of images. Every image is scaled to fit a square of `image_side` pixels: smaller
/// images are enlarged by the smallest whole factor that reaches it (nearest neighbour, so pixels
/// stay sharp), larger ones shrunk to it (area averaging). Cells are as wide as the widest caption.
struct ImageGrid {
  std::string title;  ///< drawn above the grid; no title band when empty
  std::vector<GridRow> rows;
  int64_t columns = 8;      ///< tiles per line
  int64_t image_side = 64;  ///< pixels
};

/// Draws `grid` and writes it as PNG to `path`. Throws DataError for a tile whose pixel buffer does
/// not match its shape or has other than 1 or 3 channels, ConfigError for columns or image_side
/// below 1, IoError naming the path when it cannot be written.
void write_image_grid(const std::filesystem::path& path, const ImageGrid& grid);

/// The PNG file of a uint8 [C, H, W] image (C = 1 or 3, planes R, G, B) scaled so that its longer
/// side is `side` pixels (nearest neighbour when enlarging, area averaging when shrinking).
/// Throws DataError for other channel counts or a buffer that does not match the shape.
std::string encode_scaled_png(const std::vector<uint8_t>& pixels, int64_t channels, int64_t height,
                              int64_t width, int64_t side);

/// The PNG of a sprite sheet: `tiles` (their pixels and shape; captions are ignored) in cells of
/// `side` x `side` pixels, `columns` per line, tile i at x = (i % columns) * side,
/// y = (i / columns) * side, scaled so that its longer side is `side` (nearest neighbour when
/// enlarging, area averaging when shrinking) and centred in its cell; a tile with empty pixels
/// leaves its cell grey. The report's table thumbnails. Throws ConfigError for columns or side
/// below 1 or no tiles, DataError as encode_scaled_png for a tile that cannot be drawn.
std::string encode_sprite_sheet(const std::vector<GridTile>& tiles, int64_t columns, int64_t side);

}  // namespace mapd::data
