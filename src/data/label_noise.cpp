#include "mapd/data/label_noise.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "mapd/core/error.hpp"
#include "mapd/data/rng.hpp"

namespace mapd::data {

void select_examples(ImageSet& set, const std::vector<int64_t>& indices) {
  const int64_t bytes = set.image_bytes();
  const bool pixels = !set.pixels.empty();
  const bool paths = !set.paths.empty();
  auto& ex = set.examples;
  const bool original = !ex.original_label.empty();
  const bool names = !ex.name.empty();
  int64_t out = 0;
  for (const int64_t i : indices) {
    MAPD_ASSERT(i >= out && i < set.size(),
                fmt::format("select_examples: index {} is not ascending or outside [0, {})", i, set.size()));
    if (i != out) {
      if (pixels) {
        std::copy_n(set.pixels.begin() + i * bytes, bytes, set.pixels.begin() + out * bytes);
      }
      if (paths) {
        set.paths[out] = std::move(set.paths[i]);
      }
      ex.id[out] = ex.id[i];
      ex.label[out] = ex.label[i];
      if (original) {
        ex.original_label[out] = ex.original_label[i];
      }
      ex.source[out] = std::move(ex.source[i]);
      if (names) {
        ex.name[out] = std::move(ex.name[i]);
      }
    }
    ++out;
  }
  if (pixels) {
    set.pixels.resize(static_cast<size_t>(out * bytes));
  }
  if (paths) {
    set.paths.resize(out);
  }
  ex.id.resize(out);
  ex.label.resize(out);
  if (original) {
    ex.original_label.resize(out);
  }
  ex.source.resize(out);
  if (names) {
    ex.name.resize(out);
  }
}

void apply_limit(ImageSet& set, int64_t limit, uint64_t seed) {
  if (limit <= 0 || limit >= set.size()) {
    return;
  }
  const int64_t num_classes = std::max<int64_t>(
      set.num_classes(), *std::max_element(set.examples.label.begin(), set.examples.label.end()) + 1);
  std::vector<std::vector<int64_t>> by_class(num_classes);
  for (int64_t i = 0; i < set.size(); ++i) {
    by_class[set.examples.label[i]].push_back(i);
  }
  // Equal shares; classes that run out hand their remaining share to the others.
  std::vector<int64_t> quota(num_classes, 0);
  int64_t remaining = limit;
  while (remaining > 0) {
    std::vector<int64_t> open;
    for (int64_t c = 0; c < num_classes; ++c) {
      if (quota[c] < static_cast<int64_t>(by_class[c].size())) {
        open.push_back(c);
      }
    }
    if (open.empty()) {
      break;
    }
    const int64_t per = remaining / static_cast<int64_t>(open.size());
    const int64_t extra = remaining % static_cast<int64_t>(open.size());
    for (size_t k = 0; k < open.size(); ++k) {
      const int64_t c = open[k];
      const int64_t want = per + (static_cast<int64_t>(k) < extra ? 1 : 0);
      const int64_t add = std::min(want, static_cast<int64_t>(by_class[c].size()) - quota[c]);
      quota[c] += add;
      remaining -= add;
    }
  }
  std::vector<int64_t> keep;
  for (int64_t c = 0; c < num_classes; ++c) {
    const auto order = permutation(static_cast<int64_t>(by_class[c].size()), mix_seed(seed, 0x11b17, c));
    for (int64_t k = 0; k < quota[c]; ++k) {
      keep.push_back(by_class[c][order[k]]);
    }
  }
  std::sort(keep.begin(), keep.end());
  select_examples(set, keep);
}

int64_t apply_label_noise(ImageSet& set, const config::LabelNoiseConfig& config) {
  if (config.rate <= 0.0 || set.size() == 0) {
    return 0;
  }
  const int64_t num_classes = set.num_classes();
  MAPD_CHECK(num_classes >= 2, ConfigError,
             fmt::format("data.label_noise.rate = {} needs a dataset with at least 2 classes (it has {})",
                         config.rate, num_classes));
  MAPD_CHECK(config.kind == "symmetric" || config.kind == "asymmetric" || config.kind == "uniform",
             ConfigError,
             fmt::format("data.label_noise.kind: unknown kind '{}' (symmetric, asymmetric or uniform)",
                         config.kind));
  auto& ex = set.examples;
  if (ex.original_label.size() != ex.label.size()) {
    ex.original_label = ex.label;
  }
  const auto n = set.size();
  const auto redrawn = std::min<int64_t>(n, std::llround(config.rate * static_cast<double>(n)));
  const auto order = permutation(n, mix_seed(static_cast<uint64_t>(config.seed), 0x4015e));
  SplitMix64 rng(mix_seed(static_cast<uint64_t>(config.seed), 0x1abe1));
  std::vector<int64_t> chosen(order.begin(), order.begin() + redrawn);
  std::sort(chosen.begin(), chosen.end());
  int64_t changed = 0;
  for (const int64_t i : chosen) {
    const int64_t original = ex.original_label[i];
    if (config.kind == "symmetric") {
      auto drawn = static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(num_classes - 1)));
      ex.label[i] = drawn >= original ? drawn + 1 : drawn;
    } else if (config.kind == "uniform") {
      ex.label[i] = rng.below(num_classes);
    } else {
      ex.label[i] = (original + 1) % num_classes;
    }
    changed += ex.label[i] != original ? 1 : 0;
  }
  return changed;
}

}  // namespace mapd::data
