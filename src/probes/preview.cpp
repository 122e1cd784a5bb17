#include "mapd/probes/preview.hpp"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/data/png.hpp"

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
  const auto images = suite.images.to(torch::kFloat32).contiguous();
  const int c = static_cast<int>(images.size(1));
  const int h = static_cast<int>(images.size(2));
  const int w = static_cast<int>(images.size(3));
  const int scale = std::max(1, (64 + std::max(h, w) - 1) / std::max(h, w));
  const int base_tile_w = std::max(w * scale, 96);
  const int tile_h = h * scale;
  constexpr int kBand = 16;
  constexpr int kTitle = 24;
  constexpr int kCols = 8;
  for (size_t cat = 0; cat < suite.category_names.size(); ++cat) {
    std::vector<int64_t> rows;
    int64_t fit = 0;
    int64_t val = 0;
    for (int64_t p = 0; p < suite.size(); ++p) {
      if (suite.category[static_cast<size_t>(p)] != static_cast<int16_t>(cat)) continue;
      (suite.role[static_cast<size_t>(p)] == static_cast<int8_t>(record::Role::kProbeFit) ? fit : val) += 1;
      if (static_cast<int64_t>(rows.size()) < max_images) rows.push_back(p);
    }
    if (rows.empty()) continue;
    auto caption = [&](int64_t p) {
      const auto label = suite.labels[static_cast<size_t>(p)];
      const auto original = suite.original_labels[static_cast<size_t>(p)];
      std::string text = class_name(class_names, label);
      if (original != label) text += " (was " + class_name(class_names, original) + ")";
      return text;
    };
    int tile_w = base_tile_w;
    for (auto p : rows) {
      int baseline = 0;
      const auto size = cv::getTextSize(caption(p), cv::FONT_HERSHEY_SIMPLEX, 0.33, 1, &baseline);
      tile_w = std::max(tile_w, size.width + 4);
    }
    const int cols = std::min<int>(kCols, static_cast<int>(rows.size()));
    const int grid_rows = (static_cast<int>(rows.size()) + cols - 1) / cols;
    const int width = std::max(cols * (tile_w + 2), 320);
    cv::Mat canvas(kTitle + grid_rows * (tile_h + kBand + 2), width, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(
        canvas,
        fmt::format("{}: {} fit + {} val (first {} shown)", suite.category_names[cat], fit, val, rows.size()),
        cv::Point(4, 17), cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    for (size_t k = 0; k < rows.size(); ++k) {
      const int64_t p = rows[k];
      const auto img =
          images[p].mul(255.0).round().clamp(0.0, 255.0).to(torch::kUInt8).permute({1, 2, 0}).contiguous();
      cv::Mat src(h, w, c == 3 ? CV_8UC3 : CV_8UC1, img.data_ptr<uint8_t>());
      cv::Mat bgr;
      if (c == 3) {
        cv::cvtColor(src, bgr, cv::COLOR_RGB2BGR);
      } else {
        cv::cvtColor(src, bgr, cv::COLOR_GRAY2BGR);
      }
      cv::Mat big;
      cv::resize(bgr, big, cv::Size(w * scale, tile_h), 0, 0, cv::INTER_NEAREST);
      const int x = static_cast<int>(k % static_cast<size_t>(cols)) * (tile_w + 2) + 1;
      const int y = kTitle + static_cast<int>(k / static_cast<size_t>(cols)) * (tile_h + kBand + 2);
      big.copyTo(canvas(cv::Rect(x + (tile_w - big.cols) / 2, y, big.cols, big.rows)));
      const std::string text = caption(p);
      const bool is_val = suite.role[static_cast<size_t>(p)] == static_cast<int8_t>(record::Role::kProbeVal);
      cv::putText(canvas, text, cv::Point(x + 1, y + tile_h + 12), cv::FONT_HERSHEY_SIMPLEX, 0.33,
                  is_val ? cv::Scalar(160, 60, 0) : cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    }
    const auto path = dir / fmt::format("probes_{}.png", suite.category_names[cat]);
    data::write_png(path, data::PixelView{canvas.data, canvas.rows, canvas.cols, canvas.channels(),
                                          static_cast<int64_t>(canvas.step), true});
    written.push_back(path);
  }
  return written;
}

}  // namespace mapd::probes
