#include "mapd/data/preview.hpp"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>

#include "mapd/core/error.hpp"
#include "mapd/data/png.hpp"

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
  const int scale =
      static_cast<int>(std::max<int64_t>(1, (48 + set.height - 1) / std::max<int64_t>(1, set.height)));
  const int cell_h = static_cast<int>(set.height) * scale;
  const int cell_w = static_cast<int>(set.width) * scale;
  const int pad = 4;
  const int label_w = 150;
  const int rows = static_cast<int>(std::max<int64_t>(1, classes));
  cv::Mat grid(rows * (cell_h + pad) + pad, label_w + static_cast<int>(per_class) * (cell_w + pad) + pad,
               CV_8UC3, cv::Scalar(255, 255, 255));
  std::vector<std::vector<int64_t>> picks(static_cast<size_t>(classes));
  for (int64_t i = 0; i < set.size(); ++i) {
    const auto l = set.examples.label[i];
    if (l >= 0 && l < classes && static_cast<int64_t>(picks[l].size()) < per_class) {
      picks[l].push_back(i);
    }
  }
  const int64_t plane = set.height * set.width;
  std::vector<uint8_t> buf(static_cast<size_t>(set.image_bytes()));
  for (int64_t c = 0; c < classes; ++c) {
    const int y0 = pad + static_cast<int>(c) * (cell_h + pad);
    std::string name = set.class_names[c];
    if (name.size() > 18) {
      name = name.substr(0, 17) + "~";
    }
    cv::putText(grid, fmt::format("{} {}", c, name), cv::Point(4, y0 + cell_h / 2 + 5),
                cv::FONT_HERSHEY_SIMPLEX, 0.45, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
    for (size_t k = 0; k < picks[c].size(); ++k) {
      cv::Mat image(static_cast<int>(set.height), static_cast<int>(set.width), CV_8UC3,
                    cv::Scalar(128, 128, 128));
      bool ok = true;
      try {
        set.read(picks[c][k], buf.data());
      } catch (const DataError&) {
        ok = false;
      }
      if (ok) {
        for (int64_t y = 0; y < set.height; ++y) {
          auto* row = image.ptr<uint8_t>(static_cast<int>(y));
          for (int64_t x = 0; x < set.width; ++x) {
            const int64_t p = y * set.width + x;
            const uint8_t r = buf[p];
            const uint8_t g = set.channels == 3 ? buf[plane + p] : r;
            const uint8_t b = set.channels == 3 ? buf[2 * plane + p] : r;
            row[x * 3 + 0] = b;
            row[x * 3 + 1] = g;
            row[x * 3 + 2] = r;
          }
        }
      }
      cv::Mat scaled;
      cv::resize(image, scaled, cv::Size(cell_w, cell_h), 0, 0, cv::INTER_NEAREST);
      const int x0 = label_w + pad + static_cast<int>(k) * (cell_w + pad);
      scaled.copyTo(grid(cv::Rect(x0, y0, cell_w, cell_h)));
    }
  }
  write_png(png, PixelView{grid.data, grid.rows, grid.cols, grid.channels(), static_cast<int64_t>(grid.step),
                           true});
}

}  // namespace mapd::data
