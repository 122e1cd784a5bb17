// bench_assign_make_run RUN_DIR N EPOCHS [NOISE_RATE]: writes RUN_DIR/dynamics.h5 through
// record::DynamicsStore (the trainer's own writer, fp16) for N train examples plus 250 + 250 probes
// of each of the six categories, with synthetic loss trajectories whose shape depends on the
// category. A NOISE_RATE share of the train rows (default 0.1) gets a flipped label and a
// mislabeled-like trajectory, so `mapd assign RUN_DIR` also runs its ground-truth evaluation.
// stream.sh uses it to show that `mapd assign` stays inside knn.memory_budget_mb at N = 10M.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "mapd/record/dynamics_store.hpp"

namespace {

/// splitmix64: small, fast and good enough for synthetic data.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31U);
  }
  float uniform() { return static_cast<float>(next() >> 40U) * (1.0F / 16777216.0F); }
};

/// Trajectory shape per category: loss(e) = start * exp(-rate * e / epochs) + floor.
struct Shape {
  float start_lo, start_hi, rate_lo, rate_hi, floor_lo, floor_hi;
};
// typical, atypical, corrupted, mislabeled, ood, random_input
constexpr Shape kShapes[] = {
    {0.5F, 1.0F, 8.0F, 14.0F, 0.0F, 0.02F}, {1.5F, 2.5F, 2.0F, 5.0F, 0.05F, 0.3F},
    {0.8F, 1.5F, 5.0F, 9.0F, 0.02F, 0.1F},  {2.2F, 3.0F, 0.5F, 2.0F, 0.3F, 1.2F},
    {1.8F, 2.6F, 1.0F, 3.0F, 0.2F, 0.8F},   {2.3F, 2.5F, 0.2F, 1.0F, 0.8F, 1.8F},
};
constexpr int kCategories = 6;
constexpr int64_t kPerHalf = 250;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_assign_make_run RUN_DIR N EPOCHS [NOISE_RATE]\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int64_t n_train = std::atoll(argv[2]);
  const int64_t epochs = std::atoll(argv[3]);
  const double noise = argc > 4 ? std::atof(argv[4]) : 0.1;
  const auto started = std::chrono::steady_clock::now();
  std::filesystem::create_directories(dir);

  mapd::record::DynamicsMeta meta;
  meta.config_json = "{}";
  meta.mapd_version = "bench";
  meta.torch_version = "none";
  meta.category_names = {"typical", "atypical", "corrupted", "mislabeled", "ood", "random_input"};
  for (int c = 0; c < 10; ++c) {
    meta.class_names.push_back("class" + std::to_string(c));
  }
  const int64_t n_probes = 2 * kPerHalf * kCategories;
  const int64_t n = n_train + n_probes;
  mapd::record::ExampleColumns ex;
  std::vector<int8_t> shape(static_cast<size_t>(n));
  Rng rng{42};
  for (int64_t r = 0; r < n; ++r) {
    const bool probe = r >= n_train;
    const int64_t label = static_cast<int64_t>(rng.next() % 10);
    int64_t trained = label;
    int category = -1;
    int kind = 0;
    if (probe) {
      const int64_t p = r - n_train;
      category = static_cast<int>(p / (2 * kPerHalf));
      kind = category;
      ex.role.push_back(
          static_cast<int8_t>(p % 2 == 0 ? mapd::record::Role::kProbeFit : mapd::record::Role::kProbeVal));
    } else {
      const float u = rng.uniform();
      kind = u < 0.6F ? 0 : u < 0.8F ? 2 : u < 0.95F ? 1 : 4;
      if (rng.uniform() < noise) {
        trained = (label + 1 + static_cast<int64_t>(rng.next() % 9)) % 10;
        kind = 3;
      }
      ex.role.push_back(static_cast<int8_t>(mapd::record::Role::kTrain));
    }
    ex.id.push_back(probe ? -1 : r);
    ex.label.push_back(trained);
    ex.original_label.push_back(label);
    ex.probe_category.push_back(static_cast<int16_t>(category));
    ex.source_index.push_back(probe ? -1 : r);
    shape[static_cast<size_t>(r)] = static_cast<int8_t>(kind);
  }
  // Per-row parameters, then one epoch at a time (as the trainer appends).
  std::vector<float> start(static_cast<size_t>(n));
  std::vector<float> rate(static_cast<size_t>(n));
  std::vector<float> floor_(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    const auto& s = kShapes[shape[static_cast<size_t>(r)]];
    start[static_cast<size_t>(r)] = s.start_lo + (s.start_hi - s.start_lo) * rng.uniform();
    rate[static_cast<size_t>(r)] = s.rate_lo + (s.rate_hi - s.rate_lo) * rng.uniform();
    floor_[static_cast<size_t>(r)] = s.floor_lo + (s.floor_hi - s.floor_lo) * rng.uniform();
  }
  auto store = mapd::record::DynamicsStore::create(dir / "dynamics.h5", meta, ex);
  std::vector<float> loss(static_cast<size_t>(n));
  std::vector<float> prob(static_cast<size_t>(n));
  std::vector<int32_t> pred(static_cast<size_t>(n));
  for (int64_t e = 0; e < epochs; ++e) {
    const float t = static_cast<float>(e) / static_cast<float>(epochs);
    for (int64_t r = 0; r < n; ++r) {
      const auto i = static_cast<size_t>(r);
      const float l = start[i] * std::exp(-rate[i] * t) + floor_[i] + 0.15F * (rng.uniform() - 0.5F);
      loss[i] = std::max(0.0F, l);
      prob[i] = std::exp(-loss[i]);
      pred[i] = static_cast<int32_t>(prob[i] > 0.5F ? ex.label[i] : (ex.label[i] + 1) % 10);
    }
    store.append_epoch(loss.data(), pred.data(), prob.data());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("{\"rows\": %lld, \"train\": %lld, \"probes\": %lld, \"epochs\": %lld, \"seconds\": %.1f}\n",
              static_cast<long long>(n), static_cast<long long>(n_train), static_cast<long long>(n_probes),
              static_cast<long long>(epochs), seconds);
  return 0;
}
