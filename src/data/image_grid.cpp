#include "mapd/data/image_grid.hpp"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "mapd/core/error.hpp"
#include "mapd/data/png.hpp"

namespace mapd::data {
namespace {

constexpr int kPad = 4;
constexpr int kTitleBand = 24;
constexpr int kCaptionLine = 13;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr double kTitleScale = 0.5;
constexpr double kLabelScale = 0.45;
constexpr double kCaptionScale = 0.35;
const cv::Scalar kBlack(0, 0, 0);
const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kGrey(128, 128, 128);

// uint8 [C, H, W] (C = 1 or 3, RGB planes) -> 8-bit BGR cv::Mat.
cv::Mat to_bgr(const std::vector<uint8_t>& pixels, int64_t channels, int64_t height, int64_t width) {
  MAPD_CHECK(channels == 1 || channels == 3, DataError,
             fmt::format("image grid: cannot draw an image with {} channels (expected 1 or 3)", channels));
  MAPD_CHECK(height > 0 && width > 0 && static_cast<int64_t>(pixels.size()) == channels * height * width,
             DataError,
             fmt::format("image grid: image buffer of {} bytes does not match {}x{}x{}", pixels.size(),
                         channels, height, width));
  const int h = static_cast<int>(height);
  const int w = static_cast<int>(width);
  if (channels == 1) {
    cv::Mat grey(h, w, CV_8UC1, const_cast<uint8_t*>(pixels.data()));
    cv::Mat bgr;
    cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
    return bgr;
  }
  const size_t plane = static_cast<size_t>(h) * static_cast<size_t>(w);
  std::vector<cv::Mat> planes = {
      cv::Mat(h, w, CV_8UC1, const_cast<uint8_t*>(pixels.data() + 2 * plane)),  // B
      cv::Mat(h, w, CV_8UC1, const_cast<uint8_t*>(pixels.data() + plane)),      // G
      cv::Mat(h, w, CV_8UC1, const_cast<uint8_t*>(pixels.data())),              // R
  };
  cv::Mat bgr;
  cv::merge(planes, bgr);
  return bgr;
}

cv::Mat resized(const cv::Mat& image, double factor) {
  cv::Mat out;
  cv::resize(image, out, cv::Size(), factor, factor, factor >= 1.0 ? cv::INTER_NEAREST : cv::INTER_AREA);
  return out;
}

// Grid scaling: a whole enlargement factor up to `side`, or shrunk to `side`.
cv::Mat fitted(const cv::Mat& image, int64_t side) {
  const int64_t longer = std::max(image.rows, image.cols);
  if (longer > side) {
    return resized(image, static_cast<double>(side) / static_cast<double>(longer));
  }
  const int64_t whole_factor = (side + longer - 1) / longer;  // enlarged by a whole factor only
  return resized(image, static_cast<double>(whole_factor));
}

cv::Scalar bgr_of(const Rgb& colour) { return cv::Scalar(colour.b, colour.g, colour.r); }

int text_width(const std::string& text, double scale) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, scale, 1, &baseline).width;
}

void put_text(cv::Mat& canvas, const std::string& text, int x, int y, double scale,
              const cv::Scalar& colour) {
  cv::putText(canvas, text, cv::Point(x, y), kFont, scale, colour, 1, cv::LINE_AA);
}

PixelView view_of(const cv::Mat& bgr) {
  return PixelView{bgr.data, bgr.rows, bgr.cols, bgr.channels(), static_cast<int64_t>(bgr.step), true};
}

// Lines a row takes: its tiles wrapped after `columns`, at least one (for its label).
int lines_of(const GridRow& row, int64_t columns) {
  const auto per_line = static_cast<size_t>(columns);
  return static_cast<int>(std::max<size_t>(1, (row.tiles.size() + per_line - 1) / per_line));
}

}  // namespace

std::string encode_scaled_png(const std::vector<uint8_t>& pixels, int64_t channels, int64_t height,
                              int64_t width, int64_t side) {
  const cv::Mat image = to_bgr(pixels, channels, height, width);
  const cv::Mat out = resized(image, static_cast<double>(side) / std::max(image.rows, image.cols));
  return encode_png(view_of(out));
}

std::string encode_sprite_sheet(const std::vector<GridTile>& tiles, int64_t columns, int64_t side) {
  MAPD_CHECK(columns >= 1 && side >= 1 && !tiles.empty(), ConfigError,
             fmt::format("sprite sheet: {} tiles, columns ({}) and side ({}) must be at least 1",
                         tiles.size(), columns, side));
  const auto count = static_cast<int64_t>(tiles.size());
  const int64_t lines = (count + columns - 1) / columns;
  const int64_t per_line = std::min(count, columns);
  // A sheet of grey images stays grey: a third of the pixels to compress.
  const bool grey = std::all_of(tiles.begin(), tiles.end(),
                                [](const GridTile& t) { return t.pixels.empty() || t.channels == 1; });
  cv::Mat sheet(static_cast<int>(lines * side), static_cast<int>(per_line * side), grey ? CV_8UC1 : CV_8UC3,
                kGrey);
  for (int64_t i = 0; i < count; ++i) {
    const auto& tile = tiles[static_cast<size_t>(i)];
    if (tile.pixels.empty()) continue;
    cv::Mat bgr = to_bgr(tile.pixels, tile.channels, tile.height, tile.width);
    if (grey) cv::cvtColor(bgr, bgr, cv::COLOR_BGR2GRAY);
    cv::Mat image = resized(bgr, static_cast<double>(side) / std::max(bgr.rows, bgr.cols));
    // Rounding can leave a side one pixel over the cell.
    image = image(cv::Rect(0, 0, std::min<int>(image.cols, static_cast<int>(side)),
                           std::min<int>(image.rows, static_cast<int>(side))));
    const int x = static_cast<int>((i % columns) * side) + (static_cast<int>(side) - image.cols) / 2;
    const int y = static_cast<int>((i / columns) * side) + (static_cast<int>(side) - image.rows) / 2;
    image.copyTo(sheet(cv::Rect(x, y, image.cols, image.rows)));
  }
  return encode_png(view_of(sheet));
}

void write_image_grid(const std::filesystem::path& path, const ImageGrid& grid) {
  MAPD_CHECK(grid.columns >= 1 && grid.image_side >= 1, ConfigError,
             fmt::format("image grid {}: columns ({}) and image_side ({}) must be at least 1", path.string(),
                         grid.columns, grid.image_side));
  // Scale every image first: the cell is as large as the largest of them.
  std::vector<std::vector<cv::Mat>> images(grid.rows.size());
  int cell_w = 0;
  int cell_h = 0;
  int tile_w = 0;
  int label_w = 0;
  size_t caption_lines = 0;
  int lines = 0;
  size_t widest_row = 1;
  for (size_t r = 0; r < grid.rows.size(); ++r) {
    const auto& row = grid.rows[r];
    for (const auto& tile : row.tiles) {
      cv::Mat image;
      if (!tile.pixels.empty()) {
        image = fitted(to_bgr(tile.pixels, tile.channels, tile.height, tile.width), grid.image_side);
        cell_w = std::max(cell_w, image.cols);
        cell_h = std::max(cell_h, image.rows);
      }
      images[r].push_back(image);
      caption_lines = std::max(caption_lines, tile.captions.size());
      for (const auto& caption : tile.captions) {
        tile_w = std::max(tile_w, text_width(caption.text, kCaptionScale) + 4);
      }
    }
    if (!row.label.empty()) {
      label_w = std::max(label_w, text_width(row.label, kLabelScale) + 2 * kPad);
    }
    lines += lines_of(row, grid.columns);
    widest_row = std::max(widest_row, std::min(row.tiles.size(), static_cast<size_t>(grid.columns)));
  }
  if (cell_w == 0) {  // no readable image: grey boxes of the grid's image size
    cell_w = cell_h = static_cast<int>(grid.image_side);
  }
  tile_w = std::max(tile_w, cell_w);
  const int title_h = grid.title.empty() ? 0 : kTitleBand;
  const int line_h = cell_h + static_cast<int>(caption_lines) * kCaptionLine + kPad;
  const int width = std::max(label_w + kPad + static_cast<int>(widest_row) * (tile_w + kPad),
                             text_width(grid.title, kTitleScale) + 2 * kPad);
  cv::Mat canvas(title_h + kPad + lines * line_h, width, CV_8UC3, kWhite);
  if (!grid.title.empty()) {
    put_text(canvas, grid.title, kPad, 17, kTitleScale, kBlack);
  }
  int line = 0;
  for (size_t r = 0; r < grid.rows.size(); ++r) {
    const auto& row = grid.rows[r];
    if (!row.label.empty()) {
      put_text(canvas, row.label, kPad, title_h + kPad + line * line_h + cell_h / 2 + 5, kLabelScale, kBlack);
    }
    for (size_t k = 0; k < row.tiles.size(); ++k) {
      const auto column = static_cast<int>(k % static_cast<size_t>(grid.columns));
      const int x = label_w + kPad + column * (tile_w + kPad);
      const int y =
          title_h + kPad + (line + static_cast<int>(k / static_cast<size_t>(grid.columns))) * line_h;
      const cv::Mat& image = images[r][k];
      if (image.empty()) {
        canvas(cv::Rect(x + (tile_w - cell_w) / 2, y, cell_w, cell_h)).setTo(kGrey);
      } else {
        image.copyTo(canvas(
            cv::Rect(x + (tile_w - image.cols) / 2, y + (cell_h - image.rows) / 2, image.cols, image.rows)));
      }
      const auto& captions = row.tiles[k].captions;
      for (size_t c = 0; c < captions.size(); ++c) {
        put_text(canvas, captions[c].text, x + 2, y + cell_h + 11 + static_cast<int>(c) * kCaptionLine,
                 kCaptionScale, bgr_of(captions[c].colour));
      }
    }
    line += lines_of(row, grid.columns);
  }
  write_png(path, view_of(canvas));
}

}  // namespace mapd::data
