#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

/// PNG output of 8-bit images (image grids, report thumbnails) with zlib only, so writing images
/// needs no image-codec library (OpenCV's imgcodecs pulls in GDAL and ~140 shared libraries).
namespace mapd::data {

/// An 8-bit image in memory: `height` rows of `row_bytes` bytes, `channels` 1 (grey) or 3
/// interleaved colour channels, blue first when `bgr` (OpenCV's order, the default), else red.
struct PixelView {
  const uint8_t* data = nullptr;
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 1;
  int64_t row_bytes = 0;
  bool bgr = true;
};

/// The PNG file (8-bit grey or RGB, deflate level 6, one filter per row) of `image`.
/// Throws InternalError for an empty image or channels other than 1 and 3 (callers pass images
/// of a dataset, which readers make 1 or 3 channels).
std::string encode_png(const PixelView& image);

/// Writes encode_png(image) to `path` atomically. Throws IoError naming the path.
void write_png(const std::filesystem::path& path, const PixelView& image);

}  // namespace mapd::data
