#pragma once

#include <zlib.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../common/scratch_dir.hpp"

/// Tiny dataset files written by the tests themselves.
namespace mapd::data::testing {

namespace stdfs = std::filesystem;

/// A fresh, empty temporary folder named after the running test, removed when the process exits.
inline stdfs::path temp_dir(const std::string& name) { return test::scratch_dir("mapd_data_test_", name); }

inline void put_be32(std::vector<uint8_t>& b, uint32_t v) {
  b.push_back(static_cast<uint8_t>(v >> 24U));
  b.push_back(static_cast<uint8_t>(v >> 16U));
  b.push_back(static_cast<uint8_t>(v >> 8U));
  b.push_back(static_cast<uint8_t>(v));
}

inline void write_bytes(const stdfs::path& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
}

/// Image i has every pixel = (i * 7 + label) % 256 so tests can recognise it; label = i % classes.
inline void write_idx(const stdfs::path& dir, const std::string& split, int n, int rows, int cols,
                      int classes, bool gzip, uint32_t image_magic = 0x803) {
  std::vector<uint8_t> images;
  put_be32(images, image_magic);
  put_be32(images, static_cast<uint32_t>(n));
  put_be32(images, static_cast<uint32_t>(rows));
  put_be32(images, static_cast<uint32_t>(cols));
  std::vector<uint8_t> labels;
  put_be32(labels, 0x801);
  put_be32(labels, static_cast<uint32_t>(n));
  for (int i = 0; i < n; ++i) {
    const int label = i % classes;
    labels.push_back(static_cast<uint8_t>(label));
    images.insert(images.end(), static_cast<size_t>(rows * cols),
                  static_cast<uint8_t>((i * 7 + label) % 256));
  }
  const std::string ext = gzip ? ".gz" : "";
  write_bytes(dir / (split + "-images-idx3-ubyte" + ext), images, gzip);
  write_bytes(dir / (split + "-labels-idx1-ubyte" + ext), labels, gzip);
}

/// A CIFAR-10 (1 label byte) or CIFAR-100 (coarse, fine) binary batch; pixel value = record index.
inline void write_cifar(const stdfs::path& file, int n, bool cifar100, int classes) {
  std::vector<uint8_t> bytes;
  for (int i = 0; i < n; ++i) {
    if (cifar100) {
      bytes.push_back(static_cast<uint8_t>(i % 20));
    }
    bytes.push_back(static_cast<uint8_t>(i % classes));
    for (int p = 0; p < 3072; ++p) {
      bytes.push_back(static_cast<uint8_t>(p < 1024 ? i : (p < 2048 ? 100 : 200)));
    }
  }
  write_bytes(file, bytes, false);
}

/// A random colour image of rows x cols saved as `path` (PNG or JPEG by extension).
inline void write_image(const stdfs::path& path, int rows, int cols, int seed, bool grey = false) {
  std::mt19937 gen(static_cast<unsigned>(seed));
  cv::Mat image(rows, cols, grey ? CV_8UC1 : CV_8UC3);
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols * image.channels(); ++x) {
      image.ptr<uint8_t>(y)[x] = static_cast<uint8_t>(gen() % 256);
    }
  }
  stdfs::create_directories(path.parent_path());
  cv::imwrite(path.string(), image);
}

/// Cuts a file to half its length (a truncated download).
inline void truncate_half(const stdfs::path& path) { stdfs::resize_file(path, stdfs::file_size(path) / 2); }

}  // namespace mapd::data::testing
