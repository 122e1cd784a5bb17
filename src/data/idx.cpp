#include <zlib.h>

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <string>

#include "mapd/core/error.hpp"
#include "mapd/data/readers.hpp"

namespace mapd::data {
namespace {

namespace stdfs = std::filesystem;

/// Reads a whole file, gunzipping it when it is gzipped (zlib reads plain files as they are).
std::vector<uint8_t> read_maybe_gzipped(const stdfs::path& path) {
  MAPD_CHECK(
      stdfs::is_regular_file(path), DataError,
      fmt::format("IDX file {} does not exist (expected an IDX file, gzipped or plain)", path.string()));
  gzFile file = gzopen(path.c_str(), "rb");
  MAPD_CHECK(file != nullptr, DataError, fmt::format("cannot open IDX file {}", path.string()));
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    const int n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      const std::string message = gzerror(file, &code);
      gzclose(file);
      throw DataError(
          fmt::format("cannot read IDX file {}: {} (is the gzip file truncated?)", path.string(), message));
    }
    if (n == 0) {
      break;
    }
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + n);
  }
  gzclose(file);
  return bytes;
}

uint32_t big_endian(const std::vector<uint8_t>& b, size_t offset) {
  return (static_cast<uint32_t>(b[offset]) << 24U) | (static_cast<uint32_t>(b[offset + 1]) << 16U) |
         (static_cast<uint32_t>(b[offset + 2]) << 8U) | static_cast<uint32_t>(b[offset + 3]);
}

}  // namespace

std::pair<stdfs::path, stdfs::path> find_idx_files(const stdfs::path& dir, const std::string& split) {
  MAPD_CHECK(
      stdfs::is_directory(dir), DataError,
      fmt::format("IDX dataset folder {} does not exist (data.path / data.test_path: expected a folder "
                  "with {}-images-idx3-ubyte[.gz] and {}-labels-idx1-ubyte[.gz])",
                  dir.string(), split, split));
  auto find = [&](const std::string& kind, const std::string& dims) -> stdfs::path {
    for (const char* sep : {"-", "."}) {
      for (const char* ext : {".gz", ""}) {
        auto candidate = dir / (split + "-" + kind + sep + dims + "-ubyte" + ext);
        if (stdfs::is_regular_file(candidate)) {
          return candidate;
        }
      }
    }
    return {};
  };
  auto images = find("images", "idx3");
  auto labels = find("labels", "idx1");
  MAPD_CHECK(!images.empty() && !labels.empty(), DataError,
             fmt::format("IDX dataset folder {} has no {} split: expected {}-images-idx3-ubyte[.gz] and "
                         "{}-labels-idx1-ubyte[.gz]",
                         dir.string(), split, split, split));
  return {images, labels};
}

ImageSet read_idx(const stdfs::path& images_file, const stdfs::path& labels_file,
                  const std::vector<std::string>& class_names) {
  const auto images = read_maybe_gzipped(images_file);
  const auto labels = read_maybe_gzipped(labels_file);
  MAPD_CHECK(images.size() >= 16 && big_endian(images, 0) == 0x00000803U, DataError,
             fmt::format("{} is not an IDX image file: magic number {:#010x}, expected 0x00000803 "
                         "(unsigned bytes, 3 dimensions)",
                         images_file.string(), images.size() >= 4 ? big_endian(images, 0) : 0U));
  MAPD_CHECK(labels.size() >= 8 && big_endian(labels, 0) == 0x00000801U, DataError,
             fmt::format("{} is not an IDX label file: magic number {:#010x}, expected 0x00000801 "
                         "(unsigned bytes, 1 dimension)",
                         labels_file.string(), labels.size() >= 4 ? big_endian(labels, 0) : 0U));
  const uint64_t n = big_endian(images, 4);
  const uint64_t rows = big_endian(images, 8);
  const uint64_t cols = big_endian(images, 12);
  MAPD_CHECK(
      rows > 0 && cols > 0, DataError,
      fmt::format("IDX image file {}: its header gives images of {}x{} pixels; an image needs at least "
                  "one row and one column (the file is corrupt)",
                  images_file.string(), rows, cols));
  // rows * cols < 2^64 (each is below 2^32), but n * rows * cols may not be: compare by division.
  const uint64_t image_bytes = rows * cols;
  const uint64_t payload = images.size() - 16;
  MAPD_CHECK(
      payload % image_bytes == 0 && payload / image_bytes == n, DataError,
      fmt::format("IDX image file {} has {} bytes but its header ({} images of {}x{}) needs {}: the file "
                  "is truncated or corrupt",
                  images_file.string(), images.size(), n, rows, cols,
                  n <= (std::numeric_limits<uint64_t>::max() - 16) / image_bytes
                      ? std::to_string(16 + n * image_bytes)
                      : std::string("more than 2^64")));
  const uint64_t n_labels = big_endian(labels, 4);
  MAPD_CHECK(labels.size() == 8 + n_labels, DataError,
             fmt::format("IDX label file {} has {} bytes but its header ({} labels) needs {}: the file is "
                         "truncated or corrupt",
                         labels_file.string(), labels.size(), n_labels, 8 + n_labels));
  MAPD_CHECK(n_labels == n, DataError,
             fmt::format("IDX files disagree: {} holds {} images but {} holds {} labels",
                         images_file.string(), n, labels_file.string(), n_labels));

  ImageSet set;
  set.channels = 1;
  set.height = static_cast<int64_t>(rows);
  set.width = static_cast<int64_t>(cols);
  set.pixels.assign(images.begin() + 16, images.end());
  const std::string source = images_file.filename().string();
  int64_t max_label = -1;
  auto& ex = set.examples;
  ex.id.resize(n);
  ex.label.resize(n);
  ex.source.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    ex.id[i] = static_cast<int64_t>(i);
    ex.label[i] = labels[8 + i];
    ex.source[i] = source + "#" + std::to_string(i);
    max_label = std::max<int64_t>(max_label, labels[8 + i]);
  }
  ex.original_label = ex.label;
  if (!class_names.empty()) {
    MAPD_CHECK(max_label < static_cast<int64_t>(class_names.size()), DataError,
               fmt::format("IDX label file {} has label {} but the dataset has {} classes",
                           labels_file.string(), max_label, class_names.size()));
    set.class_names = class_names;
  } else {
    for (int64_t c = 0; c <= max_label; ++c) {
      set.class_names.push_back(std::to_string(c));
    }
  }
  return set;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> kNames = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                  "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                  "Bag",         "Ankle boot"};
  return kNames;
}

}  // namespace mapd::data
