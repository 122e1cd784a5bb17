// DynamicsStore::append_epoch time per epoch (the HDF5 part of bench/recording). For each dtype it
// appends --epochs rows of N examples and reports the median time per append, against a baseline
// measured in the same run: write() + fsync() of the same bytes (as stored) to a plain file, twice
// per epoch like the store (row, then commit marker).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "mapd/record/dynamics_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2.0;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Median seconds of writing `bytes` bytes with write() + fsync(), then an 8-byte "commit" +
/// fsync, `epochs` times (appending, like the store).
double raw_write_median(const std::filesystem::path& path, size_t bytes, int epochs) {
  std::vector<char> data(bytes, 1);
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  std::vector<double> times;
  for (int e = 0; e < epochs; ++e) {
    const auto start = Clock::now();
    size_t done = 0;
    while (done < bytes) {
      const ssize_t n = ::write(fd, data.data() + done, bytes - done);
      if (n <= 0) {
        std::perror("write");
        std::exit(1);
      }
      done += static_cast<size_t>(n);
    }
    ::fsync(fd);
    const int64_t commit = e + 1;
    if (::pwrite(fd, &commit, sizeof commit, 0) != static_cast<ssize_t>(sizeof commit)) {
      std::perror("pwrite");
    }
    ::fsync(fd);
    times.push_back(seconds_since(start));
  }
  ::close(fd);
  std::filesystem::remove(path);
  return median(times);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 1281167;  // ImageNet-1k training set
  int epochs = 9;
  std::filesystem::path dir = std::filesystem::temp_directory_path();
  double images_per_second = 3000.0;  // a ResNet-50 epoch on one H100 (for the "% of an epoch" column)
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--n") {
      n = std::stoll(value);
    } else if (key == "--epochs") {
      epochs = std::stoi(value);
    } else if (key == "--dir") {
      dir = value;
    } else if (key == "--images-per-second") {
      images_per_second = std::stod(value);
    } else {
      std::fprintf(stderr, "usage: %s [--n N] [--epochs E] [--dir DIR] [--images-per-second R]\n", argv[0]);
      return 2;
    }
  }

  mapd::record::ExampleColumns examples;
  for (int64_t i = 0; i < n; ++i) {
    examples.id.push_back(i);
    examples.label.push_back(i % 1000);
    examples.original_label.push_back(i % 1000);
    examples.role.push_back(0);
    examples.probe_category.push_back(-1);
    examples.source_index.push_back(i);
  }
  std::mt19937 rng(0);
  std::exponential_distribution<float> loss_dist(0.5F);
  std::vector<float> loss(static_cast<size_t>(n));
  std::vector<float> prob(static_cast<size_t>(n));
  std::vector<int32_t> pred(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    loss[static_cast<size_t>(i)] = loss_dist(rng);
    prob[static_cast<size_t>(i)] = std::exp(-loss[static_cast<size_t>(i)]);
    pred[static_cast<size_t>(i)] = static_cast<int32_t>(rng() % 1000);
  }
  const double epoch_seconds = static_cast<double>(n) / images_per_second;

  std::printf("N = %lld examples, %d epochs per dtype, files in %s\n", static_cast<long long>(n), epochs,
              dir.c_str());
  std::printf("%-6s %12s %14s %9s %10s %22s\n", "dtype", "append ms", "raw write ms", "ratio", "MB/s",
              "% of epoch @ img/s");
  for (const std::string dtype : {"fp16", "fp32"}) {
    mapd::record::DynamicsMeta meta;
    meta.dtype = dtype;
    meta.config_json = "{}";
    meta.class_names.assign(1000, "c");
    const auto path = dir / ("bench_recording_append_" + dtype + ".h5");
    std::vector<double> times;
    {
      auto store = mapd::record::DynamicsStore::create(path, meta, examples);
      for (int e = 0; e < epochs; ++e) {
        const auto start = Clock::now();
        store.append_epoch(loss.data(), pred.data(), prob.data());
        times.push_back(seconds_since(start));
      }
    }
    std::filesystem::remove(path);
    // Bytes per row as stored: loss + true_prob (2 or 4 bytes each) + pred (int16 for 1000 classes).
    const size_t value_bytes = dtype == "fp16" ? 2 : 4;
    const size_t row_bytes = static_cast<size_t>(n) * (2 * value_bytes + 2);
    const double raw = raw_write_median(dir / "bench_recording_raw.bin", row_bytes, epochs);
    const double append = median(times);
    std::printf("%-6s %12.2f %14.2f %9.2f %10.0f %21.4f%%\n", dtype.c_str(), append * 1e3, raw * 1e3,
                append / raw, static_cast<double>(row_bytes) / append / 1e6, 100.0 * append / epoch_seconds);
  }
  std::printf(
      "(ratio = append / raw write+fsync of the same bytes; %% of epoch = append / (N / %.0f img/s))\n",
      images_per_second);
  return 0;
}
