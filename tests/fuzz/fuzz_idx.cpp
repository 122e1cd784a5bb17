// libFuzzer target: the IDX reader (data.format idx) through load_dataset, as `mapd train` and
// `mapd data` read it.
//
// Input: byte 0 selects options (bit 0: Fashion-MNIST class names; bit 1: a t10k split, the same
// files again; bit 2: data.limit = 3; bit 3: 30% label noise; bits 4-5: data.channels 0, 1, 3, 3),
// bytes 1-4 the length L of the image file (little-endian, clamped to what is left), then L bytes
// of train-images-idx3-ubyte, then the rest as train-labels-idx1-ubyte. Either may be gzipped.
#include <cstddef>
#include <cstdint>

#include "mapd/data/dataset.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  mapd::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) {
    return -1;  // not an input of this layout: keep it out of the corpus
  }
  const uint8_t options = data[0];
  size_t images = static_cast<size_t>(data[1]) | static_cast<size_t>(data[2]) << 8U |
                  static_cast<size_t>(data[3]) << 16U | static_cast<size_t>(data[4]) << 24U;
  data += 5;
  size -= 5;
  images = images < size ? images : size;

  const auto& dir = mapd::fuzz::scratch_dir();
  const auto split_dir = dir / "idx";
  std::filesystem::create_directories(split_dir);
  mapd::fuzz::write_file(split_dir / "train-images-idx3-ubyte", data, images);
  mapd::fuzz::write_file(split_dir / "train-labels-idx1-ubyte", data + images, size - images);
  if ((options & 2U) != 0) {
    mapd::fuzz::write_file(split_dir / "t10k-images-idx3-ubyte", data, images);
    mapd::fuzz::write_file(split_dir / "t10k-labels-idx1-ubyte", data + images, size - images);
  } else {
    std::filesystem::remove(split_dir / "t10k-images-idx3-ubyte");
    std::filesystem::remove(split_dir / "t10k-labels-idx1-ubyte");
  }

  mapd::config::DataConfig config;
  config.format = "idx";
  config.path = split_dir.string();
  config.name = (options & 1U) != 0 ? "fashion-mnist" : "idx";
  config.limit = (options & 4U) != 0 ? 3 : 0;
  config.label_noise.rate = (options & 8U) != 0 ? 0.3 : 0.0;
  const int64_t channels[] = {0, 1, 3, 3};
  config.channels = channels[(options >> 4U) & 3U];
  mapd::fuzz::expect_mapd_errors([&] { mapd::data::load_dataset(config, {}); });
  return 0;
}
