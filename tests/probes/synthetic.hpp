#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "mapd/data/dataset.hpp"

#include "../common/scratch_dir.hpp"

namespace mapd::probes::testing {

/// A synthetic in-memory split: `n` examples, labels i % classes, ids 1000 + i, each image a
/// class-dependent grey level plus per-example noise.
inline data::ImageSet make_image_set(int64_t n, int64_t classes, int64_t c = 1, int64_t h = 8, int64_t w = 8,
                                     uint32_t seed = 1) {
  data::ImageSet set;
  set.channels = c;
  set.height = h;
  set.width = w;
  std::mt19937 rng(seed);
  set.pixels.resize(static_cast<size_t>(n * c * h * w));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = i % classes;
    set.examples.id.push_back(1000 + i);
    set.examples.label.push_back(y);
    set.examples.original_label.push_back(y);
    set.examples.source.push_back("synthetic#" + std::to_string(i));
    for (int64_t p = 0; p < c * h * w; ++p) {
      const int v = static_cast<int>(20 + 200 * y / std::max<int64_t>(1, classes - 1)) +
                    static_cast<int>(rng() % 31) - 15;
      set.pixels[static_cast<size_t>(i * c * h * w + p)] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
  }
  for (int64_t k = 0; k < classes; ++k) set.class_names.push_back("class" + std::to_string(k));
  return set;
}

/// A fresh empty directory under the system temp dir, removed when the test process exits.
inline std::filesystem::path temp_dir(const std::string& name) {
  return test::scratch_dir("mapd_probes_", name);
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

/// The message of the exception `f` throws ("" when it throws none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace mapd::probes::testing
