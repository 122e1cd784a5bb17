// Images per second of the mapd loader alone (no model): in-memory 28x28 grey and 32x32 colour data
// with and without augmentation, and an image folder of JPEGs decoded on the fly, for several worker
// counts. Each configuration runs `repeats` times; the median is reported, with its ratio to the
// baseline measured in the same process (in-memory, 0 workers, no augmentation, same data).
//
// Usage: mapd_loader_bench [repeats=3] [jpeg_count=2000]
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "mapd/core/log.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/loader.hpp"

namespace {

using mapd::data::ImageSet;
using mapd::data::Loader;
using mapd::data::LoaderOptions;
using mapd::data::TrainingSet;

ImageSet synthetic(int64_t n, int64_t c, int64_t h, int64_t w) {
  ImageSet set;
  set.channels = c;
  set.height = h;
  set.width = w;
  set.pixels.resize(static_cast<size_t>(n * c * h * w));
  std::mt19937 gen(0);
  for (auto& p : set.pixels) {
    p = static_cast<uint8_t>(gen());
  }
  for (int64_t i = 0; i < n; ++i) {
    set.examples.id.push_back(i);
    set.examples.label.push_back(i % 10);
    set.examples.source.push_back("");
  }
  set.examples.original_label = set.examples.label;
  for (int k = 0; k < 10; ++k) {
    set.class_names.push_back(std::to_string(k));
  }
  return set;
}

/// Median images/s of one epoch over `repeats` epochs.
double images_per_second(const ImageSet& set, LoaderOptions options, int repeats) {
  const auto ts = TrainingSet::from_image_set(set);
  Loader loader(ts, options);
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    loader.start_epoch(r);
    int64_t n = 0;
    while (auto b = loader.next()) {
      n += b->images.size(0);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(static_cast<double>(n) / s);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

void row(const std::string& data, const std::string& augment, int64_t workers, double rate, double baseline) {
  std::printf("| %s | %s | %lld | %.0f | %.2f |\n", data.c_str(), augment.c_str(),
              static_cast<long long>(workers), rate, rate / baseline);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
  const int jpegs = argc > 2 ? std::atoi(argv[2]) : 2000;
  mapd::log::init("warn");
  std::printf("| data | augmentation | workers | images/s (median of %d) | ratio vs baseline |\n", repeats);
  std::printf("| --- | --- | --- | --- | --- |\n");

  LoaderOptions base;
  base.batch_size = 128;
  base.prefetch = 4;
  mapd::config::AugmentConfig crop_flip;
  crop_flip.crop_padding = 4;
  crop_flip.hflip = true;

  for (const auto& [name, set] :
       {std::pair<std::string, ImageSet>{"in-memory 60000 x 1x28x28", synthetic(60000, 1, 28, 28)},
        std::pair<std::string, ImageSet>{"in-memory 50000 x 3x32x32", synthetic(50000, 3, 32, 32)}}) {
    LoaderOptions o = base;
    o.workers = 0;
    o.augment = false;
    const double baseline = images_per_second(set, o, repeats);
    row(name, "none (baseline)", 0, baseline, baseline);
    for (const int64_t workers : {1, 2}) {
      o.workers = workers;
      row(name, "none", workers, images_per_second(set, o, repeats), baseline);
    }
    o.augment = true;
    o.augment_config = crop_flip;
    for (const int64_t workers : {0, 1, 2}) {
      o.workers = workers;
      row(name, "crop (pad 4, reflect) + flip", workers, images_per_second(set, o, repeats), baseline);
    }
  }

  // An image folder of 64x64 JPEGs, decoded on the fly to 32x32 (memory_budget_mb = 0).
  const auto root = std::filesystem::temp_directory_path() / "mapd_loader_bench_jpegs";
  std::filesystem::remove_all(root);
  std::mt19937 gen(1);
  for (int i = 0; i < jpegs; ++i) {
    const auto dir = root / ("class" + std::to_string(i % 10));
    std::filesystem::create_directories(dir);
    cv::Mat image(64, 64, CV_8UC3);
    cv::randu(image, 0, 255);
    cv::GaussianBlur(image, image, cv::Size(5, 5), 0);  // photo-like content compresses like real JPEGs
    cv::imwrite((dir / (std::to_string(i) + ".jpg")).string(), image);
  }
  mapd::config::DataConfig dc;
  dc.format = "folder";
  dc.path = root.string();
  dc.image_size = 32;
  dc.memory_budget_mb = 0;
  const auto folder = mapd::data::load_dataset(dc, {});
  dc.memory_budget_mb = 8192;
  const auto folder_mem = mapd::data::load_dataset(dc, {});
  LoaderOptions o = base;
  o.workers = 0;
  o.augment = false;
  const double baseline = images_per_second(folder_mem.train, o, repeats);
  const std::string name = std::to_string(jpegs) + " JPEGs 64x64 -> 3x32x32";
  row(name + " (decoded in memory)", "none (baseline)", 0, baseline, baseline);
  o.augment = true;
  o.augment_config = crop_flip;
  for (const int64_t workers : {1, 2}) {
    o.workers = workers;
    row(name + " (decoded on the fly)", "crop + flip", workers, images_per_second(folder.train, o, repeats),
        baseline);
  }
  std::filesystem::remove_all(root);
  return 0;
}
