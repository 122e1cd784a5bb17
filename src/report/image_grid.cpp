#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "mapd/core/error.hpp"
#include "mapd/data/png.hpp"
#include "mapd/report/report.hpp"

namespace mapd::report {
namespace {

// uint8 [C, H, W] (C = 1 or 3, RGB) -> 8-bit BGR cv::Mat.
cv::Mat to_bgr(const std::vector<uint8_t>& pixels, int64_t channels, int64_t height, int64_t width) {
  MAPD_CHECK(channels == 1 || channels == 3, DataError,
             fmt::format("report: cannot draw an image with {} channels (expected 1 or 3)", channels));
  MAPD_CHECK(height > 0 && width > 0 && static_cast<int64_t>(pixels.size()) == channels * height * width,
             DataError,
             fmt::format("report: image buffer of {} bytes does not match {}x{}x{}", pixels.size(), channels,
                         height, width));
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

cv::Mat scaled(const cv::Mat& image, int64_t target) {
  const double factor = static_cast<double>(target) / std::max(image.rows, image.cols);
  cv::Mat out;
  cv::resize(image, out, cv::Size(), factor, factor, factor >= 1.0 ? cv::INTER_NEAREST : cv::INTER_AREA);
  return out;
}

}  // namespace

std::string base64(const std::vector<uint8_t>& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint32_t{bytes[i]} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::vector<uint8_t> encode_png(const std::vector<uint8_t>& pixels, int64_t channels, int64_t height,
                                int64_t width, int64_t target) {
  const cv::Mat image = scaled(to_bgr(pixels, channels, height, width), target);
  const std::string png = data::encode_png(data::PixelView{
      image.data, image.rows, image.cols, image.channels(), static_cast<int64_t>(image.step), true});
  return {png.begin(), png.end()};
}

void write_image_grid(const std::filesystem::path& path, const std::vector<GridTile>& tiles, int64_t columns,
                      const std::string& title) {
  constexpr int kCell = 96;     // image side
  constexpr int kCaption = 30;  // two caption lines
  constexpr int kPad = 6;
  constexpr int kTitle = 28;
  const int cols =
      static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(columns, std::max<size_t>(1, tiles.size()))));
  const int rows = std::max(
      1, static_cast<int>((tiles.size() + static_cast<size_t>(cols) - 1) / static_cast<size_t>(cols)));
  const int cell_w = kCell + kPad;
  const int cell_h = kCell + kCaption + kPad;
  cv::Mat canvas(kTitle + rows * cell_h + kPad, std::max(cols * cell_w + kPad, 320), CV_8UC3,
                 cv::Scalar(255, 255, 255));
  cv::putText(canvas, title, cv::Point(kPad, 20), cv::FONT_HERSHEY_SIMPLEX, 0.55, cv::Scalar(0, 0, 0), 1,
              cv::LINE_AA);
  if (tiles.empty()) {
    cv::putText(canvas, "(no examples)", cv::Point(kPad, kTitle + 40), cv::FONT_HERSHEY_SIMPLEX, 0.5,
                cv::Scalar(90, 90, 90), 1, cv::LINE_AA);
  }
  for (size_t i = 0; i < tiles.size(); ++i) {
    const auto& t = tiles[i];
    const int x = kPad + static_cast<int>(i % static_cast<size_t>(cols)) * cell_w;
    const int y = kTitle + static_cast<int>(i / static_cast<size_t>(cols)) * cell_h;
    const cv::Mat image = scaled(to_bgr(t.pixels, t.channels, t.height, t.width), kCell);
    image.copyTo(
        canvas(cv::Rect(x + (kCell - image.cols) / 2, y + (kCell - image.rows) / 2, image.cols, image.rows)));
    cv::putText(canvas, t.line1, cv::Point(x, y + kCell + 12), cv::FONT_HERSHEY_PLAIN, 0.8,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    cv::putText(canvas, t.line2, cv::Point(x, y + kCell + 25), cv::FONT_HERSHEY_PLAIN, 0.8,
                cv::Scalar(60, 60, 160), 1, cv::LINE_AA);
  }
  data::write_png(path, data::PixelView{canvas.data, canvas.rows, canvas.cols, canvas.channels(),
                                        static_cast<int64_t>(canvas.step), true});
}

}  // namespace mapd::report
