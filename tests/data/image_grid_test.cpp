// The one image-grid writer (data/image_grid.hpp), checked by decoding its PNG files with OpenCV.
#include "mapd/data/image_grid.hpp"

#include <unistd.h>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"

namespace mapd::data {
namespace {

namespace stdfs = std::filesystem;

class ImageGridTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = stdfs::temp_directory_path() / ("mapd_image_grid_" + std::to_string(::getpid()) + "_" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    stdfs::create_directories(dir_);
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  cv::Mat draw(const ImageGrid& grid) {
    const auto path = dir_ / "grid.png";
    write_image_grid(path, grid);
    return cv::imread(path.string(), cv::IMREAD_COLOR);
  }
  stdfs::path dir_;
};

// A solid `side` x `side` RGB tile.
GridTile solid(uint8_t r, uint8_t g, uint8_t b, int64_t side) {
  GridTile tile;
  tile.channels = 3;
  tile.height = side;
  tile.width = side;
  const auto plane = static_cast<size_t>(side * side);
  tile.pixels.resize(3 * plane);
  std::fill_n(tile.pixels.begin(), plane, r);
  std::fill_n(tile.pixels.begin() + static_cast<std::ptrdiff_t>(plane), plane, g);
  std::fill_n(tile.pixels.begin() + static_cast<std::ptrdiff_t>(2 * plane), plane, b);
  return tile;
}

// Every pixel of the `side` x `side` square at (x, y) is `bgr`.
void expect_square(const cv::Mat& image, int x, int y, int side, const cv::Vec3b& bgr) {
  for (int dy = 0; dy < side; ++dy) {
    for (int dx = 0; dx < side; ++dx) {
      ASSERT_EQ(image.at<cv::Vec3b>(y + dy, x + dx), bgr) << "at (" << x + dx << ", " << y + dy << ")";
    }
  }
}

TEST_F(ImageGridTest, TilesWrapAfterColumnsBelowTheTitle) {
  ImageGrid grid;
  grid.title = "t";
  grid.columns = 2;
  grid.image_side = 8;
  grid.rows.push_back({"", {solid(255, 0, 0, 4), solid(0, 255, 0, 4), solid(0, 0, 255, 4)}});
  const cv::Mat image = draw(grid);
  ASSERT_FALSE(image.empty());
  // Title band 24, padding 4, two lines of 8-pixel images (4 x 4 enlarged twice) plus padding.
  EXPECT_EQ(image.rows, 24 + 4 + 2 * (8 + 4));
  EXPECT_EQ(image.cols, 4 + 2 * (8 + 4));
  expect_square(image, 4, 28, 8, cv::Vec3b(0, 0, 255));   // red, BGR
  expect_square(image, 16, 28, 8, cv::Vec3b(0, 255, 0));  // green
  expect_square(image, 4, 40, 8, cv::Vec3b(255, 0, 0));   // blue, on the second line
  expect_square(image, 16, 40, 8, cv::Vec3b(255, 255, 255));
}

TEST_F(ImageGridTest, ImagesEnlargeByWholeFactorsAndShrinkToTheSide) {
  ImageGrid grid;
  grid.image_side = 8;
  grid.rows.push_back({"", {solid(10, 20, 30, 3)}});
  const cv::Mat enlarged = draw(grid);
  EXPECT_EQ(enlarged.rows, 4 + 9 + 4);  // 3 x 3 enlarged three times (not to 8)
  expect_square(enlarged, 4, 4, 9, cv::Vec3b(30, 20, 10));
  grid.rows = {{"", {solid(10, 20, 30, 20)}}};
  const cv::Mat shrunk = draw(grid);
  EXPECT_EQ(shrunk.rows, 4 + 8 + 4);
  expect_square(shrunk, 4, 4, 8, cv::Vec3b(30, 20, 10));
}

TEST_F(ImageGridTest, LabelledRowsCaptionsAndUnreadableImages) {
  ImageGrid grid;
  grid.columns = 3;
  grid.image_side = 16;
  GridTile grey;
  grey.pixels.assign(16, 200);
  grey.height = 4;
  grey.width = 4;
  GridTile missing;  // no pixels: a grey box
  grid.rows.push_back({"0 first class", {grey, missing}});
  grid.rows.push_back({"1 second", {}});
  const cv::Mat labelled = draw(grid);
  EXPECT_EQ(labelled.rows, 4 + 2 * (16 + 4));  // a row without tiles still takes a line for its label
  // The label column is left of the tiles: two 16-pixel cells and their padding end the line.
  const int first_tile_x = labelled.cols - 2 * (16 + 4);
  EXPECT_GT(first_tile_x, 40) << "no room for the row labels";
  expect_square(labelled, first_tile_x, 4, 16, cv::Vec3b(200, 200, 200));
  bool dark_label = false;
  for (int x = 0; x < first_tile_x; ++x) {
    for (int y = 4; y < 20; ++y) {
      dark_label = dark_label || labelled.at<cv::Vec3b>(y, x)[0] < 100;
    }
  }
  EXPECT_TRUE(dark_label) << "no label drawn";
  expect_square(labelled, first_tile_x + 16 + 4, 4, 16, cv::Vec3b(128, 128, 128));

  // One red caption line under each image: one 13-pixel band, cells as wide as the caption.
  ImageGrid captioned;
  captioned.image_side = 8;
  auto tile = solid(0, 0, 0, 8);
  tile.captions = {{"a long caption line", Rgb{220, 0, 0}}};
  captioned.rows.push_back({"", {tile}});
  const cv::Mat image = draw(captioned);
  EXPECT_EQ(image.rows, 4 + 8 + 13 + 4);
  EXPECT_GT(image.cols, 60);
  bool red = false;
  for (int y = 12; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      const auto& p = image.at<cv::Vec3b>(y, x);
      red = red || (p[2] > 150 && p[1] < 100 && p[0] < 100);
    }
  }
  EXPECT_TRUE(red) << "the caption is not drawn in its colour";
}

TEST_F(ImageGridTest, BadTilesAndSettingsAreNamed) {
  ImageGrid grid;
  GridTile two;
  two.channels = 2;
  two.height = 2;
  two.width = 2;
  two.pixels.resize(8);
  grid.rows.push_back({"", {two}});
  try {
    write_image_grid(dir_ / "bad.png", grid);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("2 channels"), std::string::npos) << e.what();
  }
  GridTile short_buffer;
  short_buffer.height = 4;
  short_buffer.width = 4;
  short_buffer.pixels.resize(5);
  grid.rows = {{"", {short_buffer}}};
  EXPECT_THROW(write_image_grid(dir_ / "bad.png", grid), DataError);
  grid.rows.clear();
  grid.columns = 0;
  EXPECT_THROW(write_image_grid(dir_ / "bad.png", grid), ConfigError);
  grid.columns = 8;
  EXPECT_THROW(write_image_grid(dir_ / "no-such-folder" / "x" / "grid.png", grid), IoError);
}

TEST(EncodeScaledPng, LongerSideBecomesTheTarget) {
  std::vector<uint8_t> grey(10 * 20, 77);
  const auto png = encode_scaled_png(grey, 1, 10, 20, 10);
  const cv::Mat image = cv::imdecode(std::vector<uint8_t>(png.begin(), png.end()), cv::IMREAD_GRAYSCALE);
  EXPECT_EQ(image.rows, 5);
  EXPECT_EQ(image.cols, 10);
  EXPECT_EQ(image.at<uint8_t>(2, 7), 77);
}

// The report's table thumbnails: tile i at ((i % columns) * side, (i / columns) * side), scaled and
// centred in its cell; an empty tile leaves its cell grey.
TEST(EncodeSpriteSheet, TilesAtTheirCellsScaledAndCentred) {
  std::vector<GridTile> tiles;
  tiles.push_back(solid(200, 0, 0, 4));  // enlarged to 8 x 8
  tiles.push_back(GridTile{});           // no image
  GridTile wide = solid(0, 0, 250, 16);  // 16 x 8, shrunk to 8 x 4 and centred vertically
  wide.height = 8;
  wide.pixels.clear();
  for (const uint8_t v : {uint8_t{0}, uint8_t{0}, uint8_t{250}})
    wide.pixels.insert(wide.pixels.end(), 16 * 8, v);
  tiles.push_back(wide);
  const auto png = encode_sprite_sheet(tiles, 2, 8);
  const cv::Mat sheet = cv::imdecode(std::vector<uint8_t>(png.begin(), png.end()), cv::IMREAD_COLOR);
  ASSERT_EQ(sheet.cols, 16);
  ASSERT_EQ(sheet.rows, 16);
  expect_square(sheet, 0, 0, 8, cv::Vec3b(0, 0, 200));
  expect_square(sheet, 8, 0, 8, cv::Vec3b(128, 128, 128));
  expect_square(sheet, 0, 10, 4, cv::Vec3b(250, 0, 0));
  expect_square(sheet, 4, 10, 4, cv::Vec3b(250, 0, 0));
  EXPECT_EQ(sheet.at<cv::Vec3b>(9, 3), cv::Vec3b(128, 128, 128));    // above the wide tile
  EXPECT_EQ(sheet.at<cv::Vec3b>(14, 3), cv::Vec3b(128, 128, 128));   // below it
  EXPECT_EQ(sheet.at<cv::Vec3b>(12, 12), cv::Vec3b(128, 128, 128));  // the fourth cell is empty

  // Grey tiles give a grey sheet.
  GridTile grey;
  grey.height = 2;
  grey.width = 2;
  grey.pixels = {10, 20, 30, 40};
  const auto grey_png = encode_sprite_sheet({grey, grey, grey}, 8, 2);
  const cv::Mat grey_sheet =
      cv::imdecode(std::vector<uint8_t>(grey_png.begin(), grey_png.end()), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(grey_sheet.channels(), 1);
  EXPECT_EQ(grey_sheet.cols, 6);
  EXPECT_EQ(grey_sheet.at<uint8_t>(1, 5), 40);

  EXPECT_THROW((void)encode_sprite_sheet({}, 2, 8), ConfigError);
  EXPECT_THROW((void)encode_sprite_sheet(tiles, 0, 8), ConfigError);
  EXPECT_THROW((void)encode_sprite_sheet(tiles, 2, 0), ConfigError);
  GridTile two;
  two.channels = 2;
  two.height = 1;
  two.width = 1;
  two.pixels = {1, 2};
  EXPECT_THROW((void)encode_sprite_sheet({two}, 2, 8), DataError);
}

}  // namespace
}  // namespace mapd::data
