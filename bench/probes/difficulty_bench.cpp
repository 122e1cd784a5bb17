// Measures the two built-in difficulty estimators on one dataset: wall time of each, their
// Spearman agreement, and how well each ranks the injected-noise (flipped) examples as hard
// (AUROC of "clean ranks easier than flipped") plus the share of flipped examples among the
// sources the `typical` / `easy` pool would draw from. Usage:
//   bench_probes_difficulty [limit=10000] [noise=0.15] [holdout_models=4] [holdout_epochs=3] [pilot_epochs=3]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "mapd/config/config.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/probes/difficulty.hpp"

namespace {

double auroc(const std::vector<double>& easiness, const std::vector<bool>& flipped) {
  std::vector<size_t> order(easiness.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return easiness[a] < easiness[b]; });
  // Mann-Whitney U with average ranks for ties.
  double rank_sum_clean = 0.0;
  double clean = 0.0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && easiness[order[j + 1]] == easiness[order[i]]) ++j;
    const double r = 0.5 * static_cast<double>(i + j) + 1.0;
    for (size_t k = i; k <= j; ++k) {
      if (!flipped[order[k]]) rank_sum_clean += r, clean += 1.0;
    }
    i = j + 1;
  }
  const double dirty = static_cast<double>(easiness.size()) - clean;
  return (rank_sum_clean - clean * (clean + 1.0) / 2.0) / (clean * dirty);
}

/// Share of flipped examples among the easiest half of each class (the `easy` source pool).
double flipped_in_easy_half(const std::vector<double>& e, const std::vector<bool>& flipped,
                            const std::vector<int64_t>& labels, int64_t classes) {
  double bad = 0.0;
  double total = 0.0;
  for (int64_t c = 0; c < classes; ++c) {
    std::vector<size_t> members;
    for (size_t i = 0; i < e.size(); ++i) {
      if (labels[i] == c) members.push_back(i);
    }
    std::sort(members.begin(), members.end(), [&](size_t a, size_t b) { return e[a] > e[b]; });
    for (size_t k = 0; k < (members.size() + 1) / 2; ++k) bad += flipped[members[k]], total += 1.0;
  }
  return bad / total;
}

}  // namespace

int main(int argc, char** argv) {
  mapd::log::init("warn");
  const int64_t limit = argc > 1 ? std::atoll(argv[1]) : 10000;
  const double noise = argc > 2 ? std::atof(argv[2]) : 0.15;
  mapd::config::RunConfig config;
  config.data.limit = limit;
  config.data.label_noise.rate = noise;
  config.data.label_noise.seed = 1;
  if (argc > 3) config.probes.holdout_models = std::atoll(argv[3]);
  if (argc > 4) config.probes.holdout_epochs = std::atoll(argv[4]);
  if (argc > 5) config.probes.pilot_epochs = std::atoll(argv[5]);
  const auto dataset = mapd::data::load_dataset(config.data, {});
  const auto& train = dataset.train;
  std::vector<bool> flipped(static_cast<size_t>(train.size()));
  for (size_t i = 0; i < flipped.size(); ++i)
    flipped[i] = train.examples.label[i] != train.examples.original_label[i];
  std::printf("dataset %s: %lld examples, %.0f%% flipped labels, model %s, threads %d\n",
              dataset.name.c_str(), static_cast<long long>(train.size()), 100.0 * noise,
              config.model.arch.c_str(), 0);
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  const auto speed = mapd::probes::learning_speed_scores(config, train, config.probes.pilot_epochs, 7);
  const double t_speed = std::chrono::duration<double>(Clock::now() - t0).count();
  t0 = Clock::now();
  const auto holdout = mapd::probes::holdout_scores(config, train, config.probes.holdout_models,
                                                    config.probes.holdout_epochs, 7);
  const double t_holdout = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto classes = train.num_classes();
  std::printf("%-16s %10s %8s %22s\n", "estimator", "seconds", "AUROC", "flipped in easy half");
  std::printf("%-16s %10.1f %8.4f %21.2f%%\n", "learning_speed", t_speed, auroc(speed, flipped),
              100.0 * flipped_in_easy_half(speed, flipped, train.examples.label, classes));
  std::printf("%-16s %10.1f %8.4f %21.2f%%\n", "holdout", t_holdout, auroc(holdout, flipped),
              100.0 * flipped_in_easy_half(holdout, flipped, train.examples.label, classes));
  std::printf(
      "pilot_epochs=%lld holdout_models=%lld holdout_epochs=%lld  spearman(learning_speed, holdout)=%.4f  "
      "cost ratio holdout/learning_speed=%.2f\n",
      static_cast<long long>(config.probes.pilot_epochs),
      static_cast<long long>(config.probes.holdout_models),
      static_cast<long long>(config.probes.holdout_epochs), mapd::probes::spearman(speed, holdout),
      t_holdout / t_speed);
  return 0;
}
