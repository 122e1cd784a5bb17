// bench/recording step time: the same model and data trained with recording off, online (per-example
// loss/pred written from the training pass into the device buffer) and eval (an extra eval-mode
// pass over the whole trained set per epoch). Modes are interleaved over repeats in one process;
// prints one JSON line per (repeat, mode) and a summary line with medians and overhead ratios.
//   mapd_bench_step_time [--examples 12800] [--batch 128] [--repeats 5] [--threads 2] [--arch small_cnn]
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/train/learner.hpp"

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t examples = 12800, batch = 128, repeats = 5, threads = 2;
  std::string arch = "small_cnn";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--examples")
      examples = std::atoll(value.c_str());
    else if (key == "--batch")
      batch = std::atoll(value.c_str());
    else if (key == "--repeats")
      repeats = std::atoll(value.c_str());
    else if (key == "--threads")
      threads = std::atoll(value.c_str());
    else if (key == "--arch")
      arch = value;
  }
  mapd::log::init("warn");
  torch::set_num_threads(static_cast<int>(threads));
  mapd::config::RunConfig config;
  config.model.arch = arch;
  config.train.batch_size = batch;
  config.data.limit = examples;
  const auto dataset = mapd::data::load_dataset(config.data, "");  // Fashion-MNIST subset, in memory
  const auto set = mapd::data::TrainingSet::from_image_set(dataset.train);
  const int64_t n = set.size();

  // Batches prepared once so the loader is not part of the measured step.
  mapd::data::LoaderOptions train_options;
  train_options.batch_size = batch;
  train_options.augment = false;
  mapd::data::Loader loader(set, train_options);
  std::vector<mapd::data::Batch> batches;
  loader.start_epoch(0);
  while (auto b = loader.next()) batches.push_back(*b);
  mapd::data::LoaderOptions eval_options = train_options;
  eval_options.shuffle = false;
  eval_options.batch_size = 2 * batch;
  mapd::data::Loader eval_loader(set, eval_options);

  torch::manual_seed(0);
  mapd::train::Learner learner(config, dataset.train.channels, dataset.train.num_classes(), torch::kCPU);
  mapd::train::EpochRecord record(n, torch::kCPU);
  const std::vector<std::string> modes = {"off", "online", "eval"};
  std::map<std::string, std::vector<double>> step_ms;
  auto epoch = [&](const std::string& mode) {
    auto totals = mapd::train::EpochTotals::zeros(torch::kCPU);
    record.reset();
    const auto start = std::chrono::steady_clock::now();
    for (const auto& b : batches) learner.train_step(b, 0.01, totals, mode == "online" ? &record : nullptr);
    if (mode == "eval") learner.evaluate(eval_loader, 0, &record);
    (void)totals.mean_loss();  // the once-per-epoch host sync the trainer does
    if (mode != "off") (void)record.to_host();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
           static_cast<double>(batches.size());
  };
  for (const auto& mode : modes) epoch(mode);  // warm-up
  for (int64_t r = 0; r < repeats; ++r) {
    for (const auto& mode : modes) {
      const double ms = epoch(mode);
      step_ms[mode].push_back(ms);
      std::printf("%s\n", nlohmann::json{{"repeat", r}, {"mode", mode}, {"step_ms", ms}}.dump().c_str());
    }
  }
  const double off = median(step_ms["off"]);
  nlohmann::json summary = {{"arch", arch},       {"examples", n},      {"batch", batch},
                            {"threads", threads}, {"repeats", repeats}, {"steps_per_epoch", batches.size()}};
  for (const auto& mode : modes) {
    summary["median_step_ms"][mode] = median(step_ms[mode]);
    summary["ratio_vs_off"][mode] = median(step_ms[mode]) / off;
  }
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}
