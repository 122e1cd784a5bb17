#include "mapd/probes/transforms.hpp"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>
#include <string_view>

#include "mapd/core/error.hpp"
#include "mapd/data/rng.hpp"

namespace mapd::probes {
namespace {

/// Standard normal draws by Box-Muller from MersenneTwister64 (the distribution classes of the
/// standard library differ between implementations; this does not).
class NormalStream {
 public:
  explicit NormalStream(uint64_t seed) : rng_(seed) {}
  float next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    constexpr double kTwoPi = 6.283185307179586;
    // u1 in (0, 1] so that log(u1) is finite (adding 2^-53 to a multiple of 2^-53 is exact).
    const double u1 = rng_.uniform_double() + 0x1.0p-53;
    const double u2 = rng_.uniform_double();
    const double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = static_cast<float>(r * std::sin(kTwoPi * u2));
    has_spare_ = true;
    return static_cast<float>(r * std::cos(kTwoPi * u2));
  }

 private:
  data::MersenneTwister64 rng_;
  float spare_ = 0.0F;
  bool has_spare_ = false;
};

void check_images(const torch::Tensor& images, const char* what) {
  MAPD_ASSERT(images.defined() && images.dim() == 4, std::string(what) + ": expected images [N, C, H, W]");
}

}  // namespace

torch::Tensor add_gaussian_noise(const torch::Tensor& images, double sigma, uint64_t seed) {
  check_images(images, "add_gaussian_noise");
  MAPD_CHECK(sigma > 0.0, ConfigError, "probes.corrupted_sigma: must be > 0, got " + std::to_string(sigma));
  auto out = images.to(torch::kFloat32).contiguous().clone();
  float* data = out.data_ptr<float>();
  NormalStream normal(seed);
  const auto s = static_cast<float>(sigma);
  for (int64_t i = 0, n = out.numel(); i < n; ++i) {
    data[i] = std::min(1.0F, std::max(0.0F, data[i] + s * normal.next()));
  }
  return out;
}

std::vector<int64_t> draw_wrong_labels(const std::vector<int64_t>& labels, int64_t num_classes,
                                       uint64_t seed) {
  MAPD_CHECK(num_classes >= 2, ConfigError,
             "mislabeled probes need at least 2 classes, the dataset has " + std::to_string(num_classes) +
                 "; remove 'mislabeled' from the probe suite");
  data::MersenneTwister64 rng(seed);
  std::vector<int64_t> out(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t y = labels[i];
    MAPD_ASSERT(y >= 0 && y < num_classes,
                "label " + std::to_string(y) + " is outside [0, " + std::to_string(num_classes) + ")");
    // Uniform over the C - 1 other classes: draw from [0, C - 1) and skip the true label.
    int64_t z = rng.below(num_classes - 1);
    if (z >= y) ++z;
    out[i] = z;
  }
  return out;
}

std::vector<int64_t> draw_labels(int64_t n, int64_t num_classes, uint64_t seed) {
  MAPD_CHECK(num_classes >= 1, ConfigError, "random labels need at least one class");
  data::MersenneTwister64 rng(seed);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (auto& y : out) y = rng.below(num_classes);
  return out;
}

torch::Tensor pencil_sketch(const torch::Tensor& images, int64_t out_channels) {
  check_images(images, "pencil_sketch");
  const int64_t n = images.size(0);
  const int64_t c = images.size(1);
  const int64_t h = images.size(2);
  const int64_t w = images.size(3);
  MAPD_CHECK(c == 1 || c == 3, ConfigError,
             "pencil_sketch: images need 1 or 3 channels, got " + std::to_string(c));
  MAPD_CHECK(out_channels == 1 || out_channels == 3, ConfigError,
             "pencil_sketch: output needs 1 or 3 channels, got " + std::to_string(out_channels));
  // uint8 [N, H, W, C], as the reference code (which works on uint8 HWC RGB) sees the image.
  auto bytes = images.to(torch::kFloat32)
                   .mul(255.0)
                   .round()
                   .clamp(0.0, 255.0)
                   .to(torch::kUInt8)
                   .permute({0, 2, 3, 1})
                   .contiguous();
  auto out = torch::empty({n, out_channels, h, w}, torch::kFloat32);
  const int kernel = (h <= 64 && w <= 64) ? 7 : 21;
  const auto hw = static_cast<size_t>(h * w);
  for (int64_t i = 0; i < n; ++i) {
    cv::Mat src(static_cast<int>(h), static_cast<int>(w), c == 3 ? CV_8UC3 : CV_8UC1,
                bytes[i].data_ptr<uint8_t>());
    cv::Mat gray;
    if (c == 3) {
      cv::cvtColor(src, gray, cv::COLOR_RGB2GRAY);
    } else {
      gray = src.clone();
    }
    cv::Mat inverted = cv::Scalar::all(255) - gray;
    cv::Mat blurred;
    cv::GaussianBlur(inverted, blurred, cv::Size(kernel, kernel), 0.0, 0.0);
    cv::Mat divisor = cv::Scalar::all(255) - blurred;
    cv::Mat sketch;
    cv::divide(gray, divisor, sketch, 256.0);
    float* dst = out[i].data_ptr<float>();
    for (size_t p = 0; p < hw; ++p) {
      dst[p] = static_cast<float>(sketch.data[p]) / 255.0F;
    }
    for (int64_t ch = 1; ch < out_channels; ++ch) {
      std::copy(dst, dst + hw, dst + static_cast<size_t>(ch) * hw);
    }
  }
  return out;
}

torch::Tensor random_inputs(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  auto out = torch::empty({n, c, h, w}, torch::kFloat32);
  float* data = out.data_ptr<float>();
  NormalStream normal(seed);
  for (int64_t i = 0, m = out.numel(); i < m; ++i) {
    data[i] = std::min(1.0F, std::max(0.0F, normal.next()));
  }
  return out;
}

torch::Tensor render_glyphs(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  MAPD_CHECK(c == 1 || c == 3, ConfigError,
             "render_glyphs: images need 1 or 3 channels, got " + std::to_string(c));
  MAPD_CHECK(h >= 8 && w >= 8, ConfigError,
             fmt::format("render_glyphs: images of {}x{} are too small for glyphs (at least 8x8)", h, w));
  static constexpr std::string_view kCharacters = "ABCDEFGHJKLMNPQRSTUVWXYZabdefghkmnqrt23456789&?#@%$";
  static constexpr int kFonts[] = {cv::FONT_HERSHEY_SIMPLEX,       cv::FONT_HERSHEY_PLAIN,
                                   cv::FONT_HERSHEY_DUPLEX,        cv::FONT_HERSHEY_COMPLEX,
                                   cv::FONT_HERSHEY_TRIPLEX,       cv::FONT_HERSHEY_SCRIPT_SIMPLEX,
                                   cv::FONT_HERSHEY_SCRIPT_COMPLEX};
  // Drawn at 4x (at least 64 px) and shrunk with area interpolation: anti-aliased strokes.
  const int scale = std::max(4, static_cast<int>((64 + std::min(h, w) - 1) / std::min(h, w)));
  const int ch = static_cast<int>(h) * scale;
  const int cw = static_cast<int>(w) * scale;
  data::MersenneTwister64 rng(seed);
  auto out = torch::empty({n, c, h, w}, torch::kFloat32);
  float* data = out.data_ptr<float>();
  cv::Mat canvas(ch, cw, CV_8UC1);
  cv::Mat rotated;
  cv::Mat small;
  for (int64_t i = 0; i < n; ++i) {
    canvas.setTo(0);
    std::string text(1,
                     kCharacters[static_cast<size_t>(rng.below(static_cast<int64_t>(kCharacters.size())))]);
    if (rng.below(3) == 0)
      text += kCharacters[static_cast<size_t>(rng.below(static_cast<int64_t>(kCharacters.size())))];
    int font = kFonts[rng.below(static_cast<int64_t>(std::size(kFonts)))];
    if (rng.below(4) == 0) font |= cv::FONT_ITALIC;
    const int thickness = std::max(1, static_cast<int>(std::lround(rng.uniform_double(0.5, 1.6) * scale)));
    int baseline = 0;
    const cv::Size unit = cv::getTextSize(text, font, 1.0, thickness, &baseline);
    // Glyph height 45-85% of the canvas, never wider than 90% of it.
    const double font_scale = std::min(rng.uniform_double(0.45, 0.85) * ch / std::max(1, unit.height),
                                       0.9 * cw / std::max(1, unit.width));
    const cv::Size size = cv::getTextSize(text, font, font_scale, thickness, &baseline);
    const int x = static_cast<int>(rng.uniform_double(0.0, std::max(1, cw - size.width)));
    const int y =
        size.height + static_cast<int>(rng.uniform_double(0.0, std::max(1, ch - size.height - baseline / 2)));
    cv::putText(canvas, text, cv::Point(x, y), font, font_scale, cv::Scalar(255), thickness, cv::LINE_AA);
    const cv::Mat turn =
        cv::getRotationMatrix2D(cv::Point2f(cw / 2.0F, ch / 2.0F), rng.uniform_double(-25.0, 25.0), 1.0);
    cv::warpAffine(canvas, rotated, turn, canvas.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                   cv::Scalar(0));
    cv::resize(rotated, small, cv::Size(static_cast<int>(w), static_cast<int>(h)), 0, 0, cv::INTER_AREA);
    // Grey level 0.55-1 (per channel for colour images) on a black background.
    float level[3];
    for (auto& l : level) l = static_cast<float>(rng.uniform_double(0.55, 1.0));
    if (c == 1) level[0] = level[1] = level[2] = std::max({level[0], level[1], level[2]});
    for (int64_t k = 0; k < c; ++k) {
      float* plane = data + (i * c + k) * h * w;
      for (int64_t r = 0; r < h; ++r) {
        const uint8_t* row = small.ptr<uint8_t>(static_cast<int>(r));
        for (int64_t col = 0; col < w; ++col)
          plane[r * w + col] = level[k] * static_cast<float>(row[col]) / 255.0F;
      }
    }
  }
  return out;
}

torch::Tensor resize_images(const torch::Tensor& images, int64_t height, int64_t width) {
  check_images(images, "resize_images");
  if (images.size(2) == height && images.size(3) == width) return images;
  const int64_t n = images.size(0);
  const int64_t c = images.size(1);
  auto src = images.to(torch::kFloat32).contiguous();
  auto out = torch::empty({n, c, height, width}, torch::kFloat32);
  const bool shrink = height * width < images.size(2) * images.size(3);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t ch = 0; ch < c; ++ch) {
      cv::Mat plane(static_cast<int>(images.size(2)), static_cast<int>(images.size(3)), CV_32FC1,
                    src[i][ch].data_ptr<float>());
      cv::Mat resized(static_cast<int>(height), static_cast<int>(width), CV_32FC1,
                      out[i][ch].data_ptr<float>());
      cv::resize(plane, resized, resized.size(), 0.0, 0.0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
  }
  return out.clamp_(0.0, 1.0);
}

}  // namespace mapd::probes
