// mapd side of bench/vs_python: trains small_cnn on Fashion-MNIST for a fixed number of steps and
// prints one JSON line with images/s. See run.sh (which also runs train_small_cnn.py).
//   mapd_bench_vs_python [--steps 300] [--warmup 20] [--batch 128] [--threads 2] [--mode step|loader]
//                        [--record online|off]
// mode step: batches indexed from an in-memory float tensor (what the Python script does);
// mode loader: batches from mapd's data::Loader (the path `mapd train` uses).
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mapd/config/config.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/train/learner.hpp"

int main(int argc, char** argv) {
  int64_t steps = 300, warmup = 20, batch = 128, threads = 2;
  std::string mode = "step", record_mode = "online";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--steps")
      steps = std::atoll(value.c_str());
    else if (key == "--warmup")
      warmup = std::atoll(value.c_str());
    else if (key == "--batch")
      batch = std::atoll(value.c_str());
    else if (key == "--threads")
      threads = std::atoll(value.c_str());
    else if (key == "--mode")
      mode = value;
    else if (key == "--record")
      record_mode = value;
  }
  mapd::log::init("warn");
  torch::set_num_threads(static_cast<int>(threads));
  mapd::config::RunConfig config;  // defaults: small_cnn width 32, SGD lr 0.05 momentum 0.9 wd 5e-4
  config.train.batch_size = batch;
  const auto dataset = mapd::data::load_dataset(config.data, "");
  const auto& images = dataset.train;
  const int64_t n = images.size();

  torch::manual_seed(0);
  mapd::train::Learner learner(config, images.channels, images.num_classes(), torch::kCPU);
  mapd::train::EpochRecord record(n, torch::kCPU);
  auto* rec = record_mode == "online" ? &record : nullptr;
  auto totals = mapd::train::EpochTotals::zeros(torch::kCPU);

  const auto training_set = mapd::data::TrainingSet::from_image_set(images);
  mapd::data::LoaderOptions options;
  options.batch_size = batch;
  options.augment = false;
  options.workers = config.data.workers;
  options.prefetch = config.data.prefetch;
  std::unique_ptr<mapd::data::Loader> loader;
  torch::Tensor all_x, all_y;
  if (mode == "loader") {
    loader = std::make_unique<mapd::data::Loader>(training_set, options);
  } else {
    all_x = torch::from_blob(const_cast<uint8_t*>(images.pixels.data()),
                             {n, images.channels, images.height, images.width}, torch::kUInt8)
                .to(torch::kFloat32)
                .div_(255.0);
    all_y = torch::tensor(images.examples.label, torch::kInt64);
  }
  int64_t epoch = 0, position = n;
  torch::Tensor order;
  auto next_batch = [&]() -> mapd::data::Batch {
    if (loader) {
      auto b = loader->next();
      if (!b) {
        loader->start_epoch(++epoch);
        b = loader->next();
      }
      return *b;
    }
    if (position + batch > n) {
      order = torch::randperm(n, torch::kInt64);
      position = 0;
    }
    auto idx = order.narrow(0, position, batch);
    position += batch;
    return mapd::data::Batch{all_x.index_select(0, idx), all_y.index_select(0, idx), idx};
  };
  if (loader) loader->start_epoch(0);
  for (int64_t s = 0; s < warmup; ++s) learner.train_step(next_batch(), 0.05, totals, rec);
  const auto start = std::chrono::steady_clock::now();
  torch::Tensor last;
  for (int64_t s = 0; s < steps; ++s) last = learner.train_step(next_batch(), 0.05, totals, rec);
  const float final_loss = last.item<float>();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  nlohmann::json out = {{"impl", "mapd"},          {"mode", mode},
                        {"record", record_mode},   {"steps", steps},
                        {"batch", batch},          {"threads", threads},
                        {"seconds", seconds},      {"img_s", static_cast<double>(steps * batch) / seconds},
                        {"final_loss", final_loss}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
