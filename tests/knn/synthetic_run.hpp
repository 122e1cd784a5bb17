#pragma once
// Synthetic runs for the k-NN tests: trajectories shaped like a noisy training run, written to a
// dynamics.h5 or held in memory.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "mapd/record/dynamics_store.hpp"

namespace mapd::knn {

namespace fs = std::filesystem;
using record::Role;

/// Synthetic loss trajectories that mimic a noisy training run: typical examples are learnt fast,
/// atypical ones slowly, flipped labels stay high until memorised late.
struct Synthetic {
  record::ExampleColumns examples;
  std::vector<std::vector<float>> epochs;  ///< [epochs][N]
};

inline float trajectory(int kind, int64_t t, int64_t epochs, std::mt19937& gen) {
  std::uniform_real_distribution<float> u(0.0F, 1.0F);
  std::normal_distribution<float> noise(0.0F, 0.08F);
  const float x = static_cast<float>(t) / static_cast<float>(epochs);
  float v = 0.0F;
  switch (kind) {
    case 0:  // typical
      v = 2.3F * std::exp(-x * 12.0F);
      break;
    case 1:  // mislabeled: high, memorised near the end
      v = 3.2F / (1.0F + std::exp((x - 0.85F) * 12.0F));
      break;
    default:  // atypical: slow
      v = 2.3F * std::exp(-x * 3.5F);
      break;
  }
  return std::max(0.0F, v + noise(gen) + 0.1F * u(gen));
}

inline Synthetic make_run(int64_t train, int64_t per_category_fit, int64_t per_category_val, int64_t epochs,
                          double rate, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0F, 1.0F);
  Synthetic s;
  std::vector<int> kind;
  auto add = [&](int64_t id, int64_t label, int64_t original, Role role, int16_t category, int k) {
    s.examples.id.push_back(id);
    s.examples.label.push_back(label);
    s.examples.original_label.push_back(original);
    s.examples.role.push_back(static_cast<int8_t>(role));
    s.examples.probe_category.push_back(category);
    s.examples.source_index.push_back(id);
    kind.push_back(k);
  };
  for (int64_t i = 0; i < train; ++i) {
    const bool flip = u(gen) < rate;
    const int k = flip ? 1 : (u(gen) < 0.15F ? 2 : 0);
    add(i, flip ? (i + 1) % 10 : i % 10, i % 10, Role::kTrain, -1, k);
  }
  int64_t id = train;
  for (int16_t c = 0; c < 3; ++c) {
    for (int64_t i = 0; i < per_category_fit + per_category_val; ++i) {
      add(id, id % 10, id % 10, i < per_category_fit ? Role::kProbeFit : Role::kProbeVal, c, c);
      ++id;
    }
  }
  const auto n = s.examples.size();
  s.epochs.assign(static_cast<size_t>(epochs), std::vector<float>(static_cast<size_t>(n)));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < epochs; ++t) {
      s.epochs[static_cast<size_t>(t)][static_cast<size_t>(i)] =
          trajectory(kind[static_cast<size_t>(i)], t, epochs, gen);
    }
  }
  return s;
}

inline record::DynamicsMeta make_meta() {
  record::DynamicsMeta meta;
  meta.config_json = "{}";
  meta.dtype = "fp32";
  meta.category_names = {"typical", "mislabeled", "atypical"};
  for (int c = 0; c < 10; ++c) {
    meta.class_names.push_back("c" + std::to_string(c));
  }
  return meta;
}

/// A per-epoch signal a synthetic run records besides the loss: its value at column `column`
/// whose loss is `loss`.
struct SyntheticSignal {
  std::string name;
  std::function<float(size_t column, float loss)> value;
};

/// Writes `s` as dir/dynamics.h5 (its first `epochs_to_write` epochs, -1: all), recording the
/// `signals` too, with `config_json` as the run's config.
inline record::DynamicsStore write_run_signals(const fs::path& dir, const Synthetic& s,
                                               const std::vector<SyntheticSignal>& recorded,
                                               int64_t epochs_to_write = -1,
                                               const std::string& config_json = "{}") {
  fs::create_directories(dir);
  auto meta = make_meta();
  meta.config_json = config_json;
  for (const auto& r : recorded) meta.signals.push_back(record::SignalSpec{r.name, false});
  auto store = record::DynamicsStore::create(dir / "dynamics.h5", meta, s.examples);
  const auto n = static_cast<size_t>(s.examples.size());
  // The probability of the label and the prediction follow from the loss: p = exp(-loss), and
  // the label is predicted while p > 1/2 (another class otherwise).
  std::vector<int32_t> pred(n, 0);
  std::vector<float> prob(n, 0.0F);
  const auto epochs = epochs_to_write < 0 ? static_cast<int64_t>(s.epochs.size()) : epochs_to_write;
  for (int64_t t = 0; t < epochs; ++t) {
    const auto& loss = s.epochs[static_cast<size_t>(t)];
    for (size_t i = 0; i < n; ++i) {
      prob[i] = std::exp(-loss[i]);
      const auto label = static_cast<int32_t>(s.examples.label[i]);
      pred[i] = prob[i] > 0.5F ? label : (label + 1) % 10;
    }
    std::vector<record::SignalRow> signals(recorded.size());
    for (size_t r = 0; r < recorded.size(); ++r) {
      for (size_t i = 0; i < n; ++i) signals[r].values.push_back(recorded[r].value(i, loss[i]));
    }
    store.append_epoch(loss.data(), pred.data(), prob.data(), signals);
  }
  return store;
}

/// Writes `s` as dir/dynamics.h5 (its first `epochs_to_write` epochs, -1: all). With
/// `margin_of_loss`, the file records the `margin` signal too: margin_of_loss(loss) per value.
inline record::DynamicsStore write_run(const fs::path& dir, const Synthetic& s, int64_t epochs_to_write = -1,
                                       float (*margin_of_loss)(float) = nullptr,
                                       const std::string& config_json = "{}") {
  std::vector<SyntheticSignal> recorded;
  if (margin_of_loss != nullptr) {
    recorded.push_back({"margin", [margin_of_loss](size_t, float loss) { return margin_of_loss(loss); }});
  }
  return write_run_signals(dir, s, recorded, epochs_to_write, config_json);
}

}  // namespace mapd::knn
