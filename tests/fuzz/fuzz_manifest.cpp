// libFuzzer target: the CSV manifest reader (data.format manifest) through load_dataset, as
// `mapd train` and `mapd data` read it, with image decoding.
//
// The manifest's folder holds a fixed set of images it may name: colour.png, grey.png, grey.pgm,
// colour.ppm, photo.jpg, cut.jpg (a JPEG without its end marker), broken.png (not an image),
// empty.bmp (0 bytes), sub/small.bmp, and a folder named folder.png.
// Input: byte 0 selects options (bits 0-1: data.channels 0, 1, 3, 3; bit 2: data.memory_budget_mb
// = 0, images decoded on demand; bit 3: the manifest is the test split too; bit 4: data.num_classes
// = 3; bit 5: data.limit = 2; bit 6: 30% label noise; bit 7: the class names file is
// train.classes.txt instead of classes.txt), then the manifest text (train.csv); bytes after its
// first NUL, if any, are the class names file. Every training image is then read as the loader
// reads it (ImageSet::read: decoded on demand with memory_budget_mb = 0).
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "mapd/data/dataset.hpp"

#include "fuzz_support.hpp"

namespace {

std::filesystem::path manifest_dir() { return mapd::fuzz::scratch_dir() / "manifest"; }

void write_bytes(const std::string& name, const std::vector<uint8_t>& bytes) {
  mapd::fuzz::write_file(manifest_dir() / name, bytes.data(), bytes.size());
}

std::vector<uint8_t> encode(const cv::Mat& image, const std::string& ext) {
  std::vector<uint8_t> bytes;
  if (!cv::imencode(ext, image, bytes)) {
    std::abort();
  }
  return bytes;
}

/// The images a manifest may name (see the header).
void make_images() {
  const auto dir = manifest_dir();
  std::filesystem::create_directories(dir / "sub");
  std::filesystem::create_directories(dir / "folder.png");
  cv::Mat colour(4, 6, CV_8UC3);
  cv::Mat grey(5, 3, CV_8UC1);
  cv::randu(colour, 0, 255);
  cv::randu(grey, 0, 255);
  write_bytes("colour.png", encode(colour, ".png"));
  write_bytes("grey.png", encode(grey, ".png"));
  write_bytes("grey.pgm", encode(grey, ".pgm"));
  write_bytes("colour.ppm", encode(colour, ".ppm"));
  write_bytes("sub/small.bmp", encode(colour, ".bmp"));
  const auto jpeg = encode(colour, ".jpg");
  write_bytes("photo.jpg", jpeg);
  write_bytes("cut.jpg", std::vector<uint8_t>(jpeg.begin(),
                                              jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() / 2)));
  write_bytes("broken.png",
              {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 1, 2});
  write_bytes("empty.bmp", {});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  mapd::fuzz::quiet_logs();
  make_images();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return -1;
  }
  const uint8_t options = data[0];
  ++data;
  --size;
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t manifest_size = nul != nullptr ? static_cast<size_t>(nul - data) : size;

  const auto dir = manifest_dir();
  const auto manifest = dir / "train.csv";
  mapd::fuzz::write_file(manifest, data, manifest_size);
  std::filesystem::remove(dir / "classes.txt");
  std::filesystem::remove(dir / "train.classes.txt");
  if (nul != nullptr) {
    mapd::fuzz::write_file(dir / ((options & 128U) != 0 ? "train.classes.txt" : "classes.txt"), nul + 1,
                           size - manifest_size - 1);
  }

  mapd::config::DataConfig config;
  config.format = "manifest";
  config.path = manifest.string();
  config.test_path = (options & 8U) != 0 ? manifest.string() : "";
  config.name = "manifest";
  const int64_t channels[] = {0, 1, 3, 3};
  config.channels = channels[options & 3U];
  config.image_size = 8;
  config.workers = 1;
  config.memory_budget_mb = (options & 4U) != 0 ? 0 : 64;
  config.num_classes = (options & 16U) != 0 ? 3 : 0;
  config.limit = (options & 32U) != 0 ? 2 : 0;
  config.label_noise.rate = (options & 64U) != 0 ? 0.3 : 0.0;
  mapd::fuzz::expect_mapd_errors([&] {
    const auto dataset = mapd::data::load_dataset(config, {});
    // Images held on disk are decoded when the loader asks for them (ImageSet::read).
    std::vector<uint8_t> image(static_cast<size_t>(dataset.train.image_bytes()));
    for (int64_t i = 0; i < dataset.train.size(); ++i) {
      dataset.train.read(i, image.data());
    }
  });
  return 0;
}
