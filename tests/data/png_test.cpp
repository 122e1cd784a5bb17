// mapd's own PNG writer, checked by decoding its files with OpenCV's (libpng's) decoder.
#include "mapd/data/png.hpp"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <random>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"

namespace mapd::data {
namespace {

cv::Mat decode(const std::string& png, int flags) {
  const std::vector<uint8_t> bytes(png.begin(), png.end());
  return cv::imdecode(bytes, flags);
}

TEST(Png, GreyAndColourRoundTripExactly) {
  std::mt19937 rng(3);
  for (const int channels : {1, 3}) {
    // Noise, a flat area and a gradient, so every row filter gets chosen somewhere.
    cv::Mat image(37, 53, channels == 1 ? CV_8UC1 : CV_8UC3);
    for (int y = 0; y < image.rows; ++y) {
      for (int x = 0; x < image.cols * channels; ++x) {
        image.ptr<uint8_t>(y)[x] =
            static_cast<uint8_t>(y < 12 ? rng() % 256 : (y < 24 ? 200 : (x * 5 + y * 3) % 256));
      }
    }
    const auto png = encode_png(
        PixelView{image.data, image.rows, image.cols, channels, static_cast<int64_t>(image.step), true});
    ASSERT_EQ(png.substr(1, 3), "PNG");
    const auto back = decode(png, cv::IMREAD_UNCHANGED);
    ASSERT_EQ(back.rows, image.rows);
    ASSERT_EQ(back.cols, image.cols);
    ASSERT_EQ(back.channels(), channels);
    EXPECT_EQ(cv::norm(back, image, cv::NORM_INF), 0.0) << channels << " channels";
  }
}

TEST(Png, RgbInputIsStoredAsRgbAndRowPaddingIsSkipped) {
  // One red pixel per row in RGB order, rows padded to 16 bytes.
  std::vector<uint8_t> rgb(2 * 16, 7);
  for (int y = 0; y < 2; ++y) {
    rgb[y * 16 + 0] = 255;
    rgb[y * 16 + 1] = 0;
    rgb[y * 16 + 2] = 0;
  }
  const auto back = decode(encode_png(PixelView{rgb.data(), 2, 1, 3, 16, false}), cv::IMREAD_COLOR);
  ASSERT_EQ(back.rows, 2);
  const auto bgr = back.at<cv::Vec3b>(1, 0);  // OpenCV decodes to BGR
  EXPECT_EQ(bgr[2], 255);
  EXPECT_EQ(bgr[1], 0);
  EXPECT_EQ(bgr[0], 0);
}

TEST(Png, RejectsEmptyImagesAndOtherChannelCounts) {
  const uint8_t pixel[4] = {1, 2, 3, 4};
  try {
    (void)encode_png(PixelView{});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("empty image"), std::string::npos) << e.what();
  }
  try {
    (void)encode_png(PixelView{pixel, 1, 1, 4, 4, false});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4 channels"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mapd::data
