// bench_assign DIR N T FIT CATEGORIES K REPEATS: reads DIR/query.f32 [N, T], DIR/fit.f32 [FIT, T]
// and DIR/cat.i32 [FIT] (written by run.py), predicts in blocks of 16384 and prints one JSON line
// with the median seconds and peak RSS. Writes DIR/mapd_prob.f32 [N, CATEGORIES] for the
// comparison with scikit-learn.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "mapd/knn/knn.hpp"

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr, "usage: bench_assign DIR N T FIT CATEGORIES K REPEATS\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int64_t n = std::atoll(argv[2]);
  const int64_t t = std::atoll(argv[3]);
  const int64_t m = std::atoll(argv[4]);
  const int64_t c = std::atoll(argv[5]);
  const int64_t k = std::atoll(argv[6]);
  const int repeats = std::atoi(argv[7]);
  mapd::knn::FitSet fit;
  fit.dim = t;
  fit.num_categories = c;
  fit.x.resize(static_cast<size_t>(m * t));
  fit.category.resize(static_cast<size_t>(m));
  std::ifstream(dir + "/fit.f32", std::ios::binary).read(reinterpret_cast<char*>(fit.x.data()), m * t * 4);
  std::ifstream(dir + "/cat.i32", std::ios::binary).read(reinterpret_cast<char*>(fit.category.data()), m * 4);
  // The queries are memory-mapped and read block by block, as from dynamics.h5.
  const int fd = ::open((dir + "/query.f32").c_str(), O_RDONLY);
  if (fd < 0) {
    std::perror("query.f32");
    return 1;
  }
  const size_t bytes = static_cast<size_t>(n * t) * 4;
  auto* q = static_cast<const float*>(::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, fd, 0));
  mapd::config::KnnConfig options;
  options.k = k;
  const mapd::knn::TrajectoryKnn knn(std::move(fit), options);
  const int64_t block = 16384;
  std::vector<double> times;
  int64_t ties = 0;
  int64_t rescanned = 0;
  std::FILE* out = std::fopen((dir + "/mapd_prob.f32").c_str(), "wb");
  std::vector<float> buffer(static_cast<size_t>(block * t));  // reused, as assign_run reuses its own
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    ties = 0;
    rescanned = 0;
    for (int64_t b = 0; b < n; b += block) {
      const int64_t count = std::min(block, n - b);
      std::copy(q + b * t, q + (b + count) * t, buffer.begin());  // the copy a store read makes
      const auto p = knn.predict(buffer.data(), count);
      ties += p.boundary_ties;
      rescanned += p.rescanned;
      if (r == 0) {
        std::fwrite(p.prob.data(), 4, p.prob.size(), out);
      }
    }
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    // Drop the page cache of the mapping so each repeat reads like the first.
    ::madvise(const_cast<float*>(q), bytes, MADV_DONTNEED);
  }
  std::fclose(out);
  std::sort(times.begin(), times.end());
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  std::printf(
      "{\"seconds\": %.4f, \"min_seconds\": %.4f, \"peak_rss_mb\": %.1f, \"boundary_ties\": %ld, "
      "\"rescanned\": %ld, \"backend\": \"%s\"}\n",
      times[times.size() / 2], times.front(), static_cast<double>(usage.ru_maxrss) / 1024.0,
      static_cast<long>(ties), static_cast<long>(rescanned), knn.backend_name().c_str());
  return 0;
}
