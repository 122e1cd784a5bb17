// mapd side of bench/vs_python: trains small_cnn on Fashion-MNIST for a fixed number of steps and
// prints one JSON line with images/s. See run.sh (which also runs train_small_cnn.py).
//   mapd_bench_vs_python [--steps 300] [--warmup 20] [--batch 128] [--threads 2] [--mode step|loader]
//                        [--record online|off] [--device cpu|cuda] [--arch small_cnn|resnet18]
//                        [--data fashion-mnist|IDX_FOLDER|cifar-synthetic] [--n 50000] [--amp off|bf16|fp16]
//                        [--resident 0|1]
// mode step: batches indexed from a float tensor on the device (what the Python script does);
// mode loader: batches from mapd's data::Loader (the path `mapd train` uses; --resident 1 holds
// the uint8 images on the device and gathers batches there, as data.resident=auto does on CUDA).
// data cifar-synthetic: --n random 3x32x32 images with random labels (10 classes), made in
// process, so a GPU machine needs no dataset for the ResNet-18 benchmark.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mapd/config/config.hpp"
#include "mapd/core/device.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/train/learner.hpp"

int main(int argc, char** argv) {
  int64_t steps = 300, warmup = 20, batch = 128, threads = 2;
  std::string mode = "step", record_mode = "online", device_name = "cpu", arch = "small_cnn";
  std::string data_name = "fashion-mnist", amp = "off";
  int64_t synthetic_n = 50000;
  bool resident = false;
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
    else if (key == "--device")
      device_name = value;
    else if (key == "--arch")
      arch = value;
    else if (key == "--data")
      data_name = value;
    else if (key == "--n")
      synthetic_n = std::atoll(value.c_str());
    else if (key == "--amp")
      amp = value;
    else if (key == "--resident")
      resident = value == "1";
  }
  mapd::log::init("warn");
  torch::set_num_threads(static_cast<int>(threads));
  mapd::config::RunConfig config;  // defaults: small_cnn width 32, SGD lr 0.05 momentum 0.9 wd 5e-4
  config.train.batch_size = batch;
  config.train.amp = amp;
  config.model.arch = arch;
  const torch::Device device = mapd::resolve_device(device_name);
  mapd::data::ImageSet images;
  if (data_name == "cifar-synthetic") {
    images.channels = 3;
    images.height = 32;
    images.width = 32;
    const auto pixels = torch::randint(0, 256, {synthetic_n * 3 * 32 * 32}, torch::kUInt8);
    images.pixels.assign(pixels.data_ptr<uint8_t>(), pixels.data_ptr<uint8_t>() + pixels.numel());
    const auto labels = torch::randint(0, 10, {synthetic_n}, torch::kInt64);
    for (int64_t i = 0; i < synthetic_n; ++i) {
      images.examples.id.push_back(i);
      images.examples.label.push_back(labels[i].item<int64_t>());
      images.examples.source.push_back("synthetic");
    }
    images.examples.original_label = images.examples.label;
    for (int c = 0; c < 10; ++c) images.class_names.push_back(std::to_string(c));
  } else {
    if (data_name != "fashion-mnist") config.data.path = data_name;  // an IDX folder
    images = mapd::data::load_dataset(config.data, "").train;
  }
  const int64_t n = images.size();

  torch::manual_seed(0);
  mapd::train::Learner learner(config, images.channels, images.num_classes(), device);
  mapd::train::EpochRecord record(n, device);
  auto* rec = record_mode == "online" ? &record : nullptr;
  auto totals = mapd::train::EpochTotals::zeros(device);

  const auto training_set = mapd::data::TrainingSet::from_image_set(images);
  mapd::data::LoaderOptions options;
  options.batch_size = batch;
  options.augment = false;
  options.workers = config.data.workers < 0 ? 0 : config.data.workers;  // auto: in memory, none
  options.prefetch = config.data.prefetch;
  options.device = device;
  options.resident = resident;
  std::unique_ptr<mapd::data::Loader> loader;
  torch::Tensor all_x, all_y;
  if (mode == "loader") {
    loader = std::make_unique<mapd::data::Loader>(training_set, options);
  } else {
    all_x = torch::from_blob(const_cast<uint8_t*>(images.pixels.data()),
                             {n, images.channels, images.height, images.width}, torch::kUInt8)
                .to(device)
                .to(torch::kFloat32)
                .div_(255.0);
    all_y = torch::tensor(images.examples.label, torch::kInt64).to(device);
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
      order = torch::randperm(n, torch::dtype(torch::kInt64).device(device));
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
  nlohmann::json out = {{"impl", "mapd"},
                        {"mode", mode},
                        {"device", device.str()},
                        {"arch", arch},
                        {"data", data_name},
                        {"amp", amp},
                        {"resident", resident},
                        {"record", record_mode},
                        {"steps", steps},
                        {"batch", batch},
                        {"threads", threads},
                        {"seconds", seconds},
                        {"img_s", static_cast<double>(steps * batch) / seconds},
                        {"final_loss", final_loss}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
