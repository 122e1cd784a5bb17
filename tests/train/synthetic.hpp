#pragma once

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/train/trainer.hpp"

/// Small deterministic in-memory data for trainer tests: class c draws a bright square in one of
/// four positions plus noise, so a tiny CNN learns it in a few epochs.
namespace mapd::test {

inline data::ImageSet make_image_set(int64_t n, int64_t classes = 4, int64_t size = 12, uint32_t seed = 1) {
  data::ImageSet set;
  set.channels = 1;
  set.height = size;
  set.width = size;
  set.pixels.resize(static_cast<size_t>(n * size * size));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(0, 60);
  for (int64_t c = 0; c < classes; ++c) set.class_names.push_back("class" + std::to_string(c));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = i % classes;
    const int64_t y0 = (label / 2) * (size / 2), x0 = (label % 2) * (size / 2);
    for (int64_t y = 0; y < size; ++y) {
      for (int64_t x = 0; x < size; ++x) {
        const bool on = y >= y0 && y < y0 + size / 2 && x >= x0 && x < x0 + size / 2;
        set.pixels[static_cast<size_t>((i * size + y) * size + x)] =
            static_cast<uint8_t>((on ? 180 : 0) + noise(rng));
      }
    }
    set.examples.id.push_back(i);
    set.examples.label.push_back(label);
    set.examples.original_label.push_back(label);
    set.examples.source.push_back("synthetic#" + std::to_string(i));
  }
  return set;
}

/// TrainInputs over all of `images` (every row role train).
inline train::TrainInputs make_inputs(const data::ImageSet& images, const data::ImageSet* test = nullptr) {
  train::TrainInputs inputs;
  inputs.train_set = data::TrainingSet::from_image_set(images);
  for (int64_t i = 0; i < images.size(); ++i) {
    inputs.examples.id.push_back(images.examples.id[static_cast<size_t>(i)]);
    inputs.examples.label.push_back(images.examples.label[static_cast<size_t>(i)]);
    inputs.examples.original_label.push_back(images.examples.original_label[static_cast<size_t>(i)]);
    inputs.examples.role.push_back(static_cast<int8_t>(record::Role::kTrain));
    inputs.examples.probe_category.push_back(-1);
    inputs.examples.source_index.push_back(i);
  }
  inputs.class_names = images.class_names;
  inputs.test = test;
  return inputs;
}

/// A fast config for the synthetic data: small_cnn width 8, CPU, 1 thread, batch 16.
inline config::RunConfig tiny_config(int64_t epochs) {
  config::RunConfig config;
  config.model.arch = "small_cnn";
  config.model.width = 8;
  config.train.epochs = epochs;
  config.train.batch_size = 16;
  config.train.device = "cpu";
  config.train.threads = 1;  // no OpenMP spinning on a loaded 2-core machine
  config.train.seed = 7;
  config.optimizer.lr = 0.05;
  config.record.dtype = "fp32";
  config.data.workers = 1;
  config.data.prefetch = 2;
  return config;
}

/// Raises `signal_number` in this process after step `step` (0-based) of epoch `epoch`: a stop
/// signal at a known step, as SLURM's --signal sends one at an unknown one.
class SignalAtStep final : public train::TrainingObserver {
 public:
  SignalAtStep(int64_t epoch, int64_t step, int signal_number = SIGUSR1)
      : epoch_(epoch), step_(step), signal_(signal_number) {}
  void batch_done(const train::BatchEvent& event) override {
    if (event.epoch == epoch_ && event.step == step_) std::raise(signal_);
  }

 private:
  int64_t epoch_;
  int64_t step_;
  int signal_;
};

/// All committed losses of `path` as [epoch][example].
inline std::vector<std::vector<float>> read_losses(const std::filesystem::path& path) {
  auto store = record::DynamicsStore::open_read(path);
  const int64_t n = store.num_examples(), e = store.complete_epochs();
  std::vector<float> flat(static_cast<size_t>(n * e));
  if (n * e > 0) store.read_losses(0, n, 0, e, flat.data());
  std::vector<std::vector<float>> out(static_cast<size_t>(e), std::vector<float>(static_cast<size_t>(n)));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < e; ++t)
      out[static_cast<size_t>(t)][static_cast<size_t>(i)] = flat[static_cast<size_t>(i * e + t)];
  }
  return out;
}

/// Synthetic images with 16 clean probes (rows 0-15, category typical), 16 mislabeled probes
/// (rows 16-31, label + 1) and the rest training rows, of which a quarter of every class has its
/// label moved by 2 (original_label keeps the true one).
inline train::TrainInputs noisy_inputs_with_probes(const data::ImageSet& images) {
  auto inputs = make_inputs(images);
  inputs.category_names = {"typical", "mislabeled"};
  auto& ex = inputs.examples;
  for (int64_t i = 0; i < images.size(); ++i) {
    const auto r = static_cast<size_t>(i);
    int64_t label = ex.label[r];
    if (i < 32) {
      ex.role[r] = static_cast<int8_t>(record::Role::kProbeFit);
      ex.probe_category[r] = static_cast<int16_t>(i / 16);
      if (i >= 16) label = (label + 1) % 4;
    } else if ((i / 4) % 4 == 1) {  // a quarter of every class
      label = (label + 2) % 4;
    }
    ex.label[r] = label;
    inputs.train_set.labels[r] = label;
  }
  return inputs;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The lines of `<run_dir>/metrics.jsonl`, parsed.
inline std::vector<nlohmann::json> metrics_lines(const std::filesystem::path& run_dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

}  // namespace mapd::test
