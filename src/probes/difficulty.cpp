#include "mapd/probes/difficulty.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <numeric>

#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/data/rng.hpp"
#include "mapd/probes/score_file.hpp"
#include "mapd/probes/transforms.hpp"
#include "mapd/train/signals.hpp"
#include "mapd/train/trainer.hpp"

namespace mapd::probes {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

data::TrainingSet rows_of(const data::ImageSet& train, std::vector<int64_t> rows) {
  data::TrainingSet set;
  set.base = &train;
  set.labels.reserve(rows.size());
  for (auto r : rows) set.labels.push_back(train.examples.label[static_cast<size_t>(r)]);
  set.base_rows = std::move(rows);
  return set;
}

std::vector<int64_t> iota_rows(int64_t n) {
  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

uint64_t fnv1a(const void* data, size_t bytes, uint64_t h = 1469598103934665603ULL) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

/// What the cached scores depend on: the estimator and its settings, everything that changes the
/// models it trains, and the exact examples (ids and labels).
json cache_key(const config::RunConfig& config, const data::ImageSet& train) {
  const json full = config::to_json(config);
  json data_part = full["data"];
  data_part.erase("workers");
  data_part.erase("prefetch");
  data_part.erase("memory_budget_mb");
  json train_part = full["train"];
  train_part.erase("device");
  train_part.erase("threads");
  train_part.erase("eval_test");
  train_part.erase("epochs");
  json key;
  key["method"] = config.probes.difficulty;
  key["seed"] = config.probes.seed;
  if (config.probes.difficulty == "holdout") {
    key["holdout_models"] = config.probes.holdout_models;
    key["holdout_epochs"] = config.probes.holdout_epochs;
  } else {
    key["pilot_epochs"] = config.probes.pilot_epochs;
  }
  key["data"] = data_part;
  key["model"] = full["model"];
  key["optimizer"] = full["optimizer"];
  key["schedule"] = full["schedule"];
  key["train"] = train_part;
  uint64_t h = fnv1a(train.examples.id.data(), train.examples.id.size() * sizeof(int64_t));
  h = fnv1a(train.examples.label.data(), train.examples.label.size() * sizeof(int64_t), h);
  for (const auto& name : train.examples.name) {
    h = fnv1a(name.data(), name.size() + 1, h);  // with its terminating zero: "ab","c" != "a","bc"
  }
  key["examples"] = train.size();
  key["examples_hash"] = fmt::format("{:016x}", h);
  return key;
}

std::vector<double> average_ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double r = 0.5 * static_cast<double>(i + j);
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

}  // namespace

BelowChance below_chance(const std::vector<double>& easiness, const std::vector<int64_t>& labels,
                         int64_t num_classes) {
  MAPD_ASSERT(easiness.size() == labels.size() && num_classes >= 1,
              fmt::format("below_chance: need one score per label and at least one class, got {} scores, {} "
                          "labels and {} classes",
                          easiness.size(), labels.size(), num_classes));
  BelowChance out;
  out.chance = 1.0 / static_cast<double>(num_classes);
  std::vector<int64_t> below(static_cast<size_t>(num_classes), 0);
  std::vector<int64_t> count(static_cast<size_t>(num_classes), 0);
  int64_t total = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto y = static_cast<size_t>(labels[i]);
    MAPD_ASSERT(labels[i] >= 0 && labels[i] < num_classes,
                fmt::format("below_chance: label {} outside [0, {})", labels[i], num_classes));
    const bool doubtful = easiness[i] < out.chance;
    below[y] += doubtful;
    ++count[y];
    total += doubtful;
  }
  out.share = labels.empty() ? 0.0 : static_cast<double>(total) / static_cast<double>(labels.size());
  for (size_t c = 0; c < below.size(); ++c) {
    out.per_class.push_back(count[c] > 0 ? static_cast<double>(below[c]) / static_cast<double>(count[c])
                                         : 0.0);
  }
  return out;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  MAPD_ASSERT(
      a.size() == b.size() && a.size() > 1,
      fmt::format("spearman: need two equally long vectors of 2 or more, got {} and {}", a.size(), b.size()));
  const auto ra = average_ranks(a);
  const auto rb = average_ranks(b);
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0.0;
  double saa = 0.0;
  double sbb = 0.0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return saa > 0.0 && sbb > 0.0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

std::vector<double> holdout_scores(const config::RunConfig& config, const data::ImageSet& train,
                                   int64_t models, int64_t epochs, uint64_t seed) {
  const int64_t n = train.size();
  MAPD_CHECK(n >= 4, ConfigError,
             fmt::format("probes.difficulty=holdout: needs at least 4 training examples, got {}", n));
  MAPD_CHECK(models >= 2, ConfigError, "probes.holdout_models: must be >= 2");
  auto logger = log::get("probes");
  std::vector<double> sum(static_cast<size_t>(n), 0.0);
  std::vector<int64_t> count(static_cast<size_t>(n), 0);
  std::vector<int64_t> half_a;
  std::vector<int64_t> half_b;
  for (int64_t m = 0; m < models; ++m) {
    if (m % 2 == 0) {
      auto order = iota_rows(n);
      data::MersenneTwister64 rng(data::stream_seed(seed, 100 + static_cast<uint64_t>(m)));
      rng.shuffle(order);
      half_a.assign(order.begin(), order.begin() + n / 2);
      half_b.assign(order.begin() + n / 2, order.end());
      std::sort(half_a.begin(), half_a.end());
      std::sort(half_b.begin(), half_b.end());
    }
    const auto& fit_rows = m % 2 == 0 ? half_a : half_b;
    const auto& held_rows = m % 2 == 0 ? half_b : half_a;
    const auto fit = rows_of(train, fit_rows);
    const auto held = rows_of(train, held_rows);
    const auto start = Clock::now();
    const torch::Tensor probs = train::fit_and_score(
        config, fit, held, epochs, static_cast<int64_t>(data::stream_seed(seed, 200 + m) >> 1));
    MAPD_ASSERT(probs.dim() == 2 && probs.size(0) == epochs && probs.size(1) == held.size(),
                "train::fit_and_score returned a tensor of unexpected shape");
    const auto last = probs[epochs - 1].to(torch::kFloat64).contiguous();
    const double* p = last.data_ptr<double>();
    for (size_t i = 0; i < held_rows.size(); ++i) {
      sum[static_cast<size_t>(held_rows[i])] += p[i];
      ++count[static_cast<size_t>(held_rows[i])];
    }
    logger->info("difficulty (holdout): model {}/{} trained on {} examples for {} epochs ({:.1f} s)", m + 1,
                 models, fit.size(), epochs, std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::vector<double> out(static_cast<size_t>(n));
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = count[i] > 0 ? sum[i] / static_cast<double>(count[i]) : 0.0;
  return out;
}

std::vector<double> learning_speed_scores(const config::RunConfig& config, const data::ImageSet& train,
                                          int64_t epochs, uint64_t seed) {
  MAPD_CHECK(train.size() >= 1, ConfigError, "probes.difficulty=learning_speed: the training split is empty");
  const auto all = rows_of(train, iota_rows(train.size()));
  const torch::Tensor probs = train::fit_and_score(config, all, all, epochs, static_cast<int64_t>(seed >> 1));
  MAPD_ASSERT(probs.dim() == 2 && probs.size(0) == epochs && probs.size(1) == train.size(),
              "train::fit_and_score returned a tensor of unexpected shape");
  const auto mean = probs.to(torch::kFloat64).mean(0).contiguous();
  const double* p = mean.data_ptr<double>();
  return std::vector<double>(p, p + train.size());
}

DifficultyScores compute_difficulty(const config::RunConfig& config, const data::ImageSet& train,
                                    const std::filesystem::path& run_dir) {
  auto logger = log::get("probes");
  const auto& pc = config.probes;
  DifficultyScores out;
  out.method = pc.difficulty;
  out.label_probability = pc.difficulty != "file";
  if (pc.difficulty == "file") {
    out.easiness =
        read_score_file(pc.score_file, train.examples.id, config.data.limit > 0, train.examples.name);
    if (pc.score_typical_end == "low") {
      for (auto& v : out.easiness) v = -v;
    }
    out.label_probability =
        pc.score_typical_end == "high" &&
        std::all_of(out.easiness.begin(), out.easiness.end(), [](double v) { return v >= 0.0 && v <= 1.0; });
    logger->info("difficulty: {} scores from {} (typical end: {})", out.easiness.size(), pc.score_file,
                 pc.score_typical_end);
    return out;
  }
  MAPD_CHECK(pc.difficulty == "holdout" || pc.difficulty == "learning_speed", ConfigError,
             "probes.difficulty: unknown estimator '" + pc.difficulty + "' (file, holdout, learning_speed)");
  const json key = cache_key(config, train);
  const auto csv = RunLayout(run_dir).difficulty_scores_csv();
  const auto meta = RunLayout(run_dir).difficulty_scores_json();
  if (!run_dir.empty() && std::filesystem::exists(csv) && std::filesystem::exists(meta)) {
    try {
      const json cached = json::parse(fs::read_file(meta));
      if (cached.value("key", json()) == key) {
        out.easiness = read_score_file(csv, train.examples.id, true, train.examples.name);
        out.from_cache = true;
        logger->info("difficulty: reusing {} cached {} scores from {} (computed in {:.1f} s)",
                     out.easiness.size(), pc.difficulty, csv.string(), cached.value("seconds", 0.0));
        return out;
      }
      logger->info("difficulty: {} was computed for another config or dataset; recomputing", csv.string());
    } catch (const Error& e) {
      logger->warn("difficulty: ignoring the cache {}: {}", csv.string(), e.what());
    } catch (const json::exception& e) {
      logger->warn("difficulty: ignoring the cache {}: {}", meta.string(), e.what());
    }
  }
  const auto start = Clock::now();
  const auto seed = data::stream_seed(static_cast<uint64_t>(pc.seed), 7);
  {
    // SIGINT/SIGTERM/SIGUSR1 end the pilot after its current batch with a message and exit code
    // 128 + N, as they end training (they killed the process without a word; issue 13 item 12).
    const train::StopSignalGuard signals;
    const auto way_out = [&](const InterruptedError& e) {
      const bool is_run = !run_dir.empty() && std::filesystem::exists(RunLayout(run_dir).config());
      return InterruptedError(
          std::string(e.what()) +
              (is_run ? fmt::format("; `mapd resume {}` starts the run again from epoch 0", run_dir.string())
                      : std::string("; run the command again")),
          e.signal_number());
    };
    try {
      if (pc.difficulty == "holdout") {
        logger->info("difficulty: holdout consistency, {} models x {} epochs on halves of {} examples",
                     pc.holdout_models, pc.holdout_epochs, train.size());
        out.easiness = holdout_scores(config, train, pc.holdout_models, pc.holdout_epochs, seed);
      } else {
        logger->info("difficulty: learning speed, pilot run of {} epochs on {} examples", pc.pilot_epochs,
                     train.size());
        out.easiness = learning_speed_scores(config, train, pc.pilot_epochs, seed);
      }
    } catch (const InterruptedError& e) {
      throw way_out(e);
    }
    // A signal after the pilot's last batch would be forgotten with the guard.
    const int late = train::StopSignalGuard::pending();
    if (late != 0) {
      throw way_out(InterruptedError(
          fmt::format("{}: stopped after the difficulty pilot, before the run's own first epoch; nothing of "
                      "it was saved",
                      train::StopSignalGuard::describe(late)),
          late));
    }
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  logger->info("difficulty: {} scores computed in {:.1f} s", pc.difficulty, out.seconds);
  const int64_t num_classes = data::class_count(train.examples.label, train.num_classes());
  const BelowChance doubt = below_chance(out.easiness, train.examples.label, num_classes);
  const auto [low, high] = std::minmax_element(doubt.per_class.begin(), doubt.per_class.end());
  logger->info(
      "difficulty: {:.1f}% of the labels get less than chance probability (1/{}) from the {} models, "
      "{:.1f}-{:.1f}% per class: mislabeled, ambiguous or out-of-distribution examples (with label "
      "noise, about the noise rate)",
      100.0 * doubt.share, num_classes, pc.difficulty, 100.0 * *low, 100.0 * *high);
  if (!run_dir.empty()) {
    write_score_csv(csv, train.examples.id, out.easiness, train.examples.name);
    json m;
    m["key"] = key;
    m["seconds"] = out.seconds;
    m["below_chance"] = {{"chance", doubt.chance},
                         {"share", doubt.share},
                         {"per_class", doubt.per_class},
                         {"class_names", train.class_names}};
    m["orientation"] = "higher = easier (typical); usable as probes.score_file with score_typical_end=high";
    fs::write_file_atomic(meta, m.dump(2) + "\n");
  }
  return out;
}

}  // namespace mapd::probes
