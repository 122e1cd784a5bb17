// Prioritized training (train.mode=prioritized): the k-NN probability and the MAP-D score on
// hand-made inputs, the top-k and class-balanced selection, the batch-statistics scoring pass, and
// whole runs (what is recorded, the metrics, bitwise resume for every selector).
#include "mapd/train/prioritized.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/train/learner.hpp"
#include "mapd/train/mode.hpp"

#include "../common/expect_error.hpp"
#include "synthetic.hpp"
#include "test_dir.hpp"

namespace mapd::train {
namespace {

namespace fsys = std::filesystem;

torch::Tensor floats(const std::vector<float>& values) { return torch::tensor(values, torch::kFloat32); }
torch::Tensor longs(const std::vector<int64_t>& values) { return torch::tensor(values, torch::kInt64); }
std::vector<int64_t> as_vector(const torch::Tensor& t) {
  const auto c = t.to(torch::kInt64).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

TEST(KnnCleanProbability, CountsTheCleanShareOfTheNearestProbes) {
  // Trajectories of two epochs: clean probes near (0, 0), mislabeled probes near (5, 5).
  const auto references = floats({0, 0, 0, 1, 1, 0, 5, 5, 5, 6, 6, 5}).view({6, 2});
  const auto clean = torch::tensor(std::vector<int64_t>{1, 1, 1, 0, 0, 0}).to(torch::kBool);
  const auto queries = floats({0.2F, 0.1F, 5.5F, 5.2F, 2.0F, 2.0F}).view({3, 2});
  auto p = knn_clean_probability(queries, references, clean, 3);
  EXPECT_FLOAT_EQ(p[0].item<float>(), 1.0F);
  EXPECT_FLOAT_EQ(p[1].item<float>(), 0.0F);
  EXPECT_FLOAT_EQ(p[2].item<float>(), 1.0F);  // (2, 2) is nearer the clean cluster
  // k = 4: the fourth neighbour of a clean-side query is mislabeled.
  p = knn_clean_probability(queries, references, clean, 4);
  EXPECT_FLOAT_EQ(p[0].item<float>(), 0.75F);
  EXPECT_FLOAT_EQ(p[1].item<float>(), 0.25F);
  // k beyond the references is clamped: every probe votes.
  p = knn_clean_probability(queries, references, clean, 50);
  EXPECT_FLOAT_EQ(p[0].item<float>(), 0.5F);
}

TEST(KnnCleanProbability, TiesGoToTheLowerReferenceIndex) {
  // Two references at the same distance from the query: the first (mislabeled) wins with k = 1.
  const auto references = floats({1, -1}).view({2, 1});
  const auto queries = floats({0}).view({1, 1});
  EXPECT_FLOAT_EQ(knn_clean_probability(queries, references, torch::tensor({false, true}), 1).item<float>(),
                  0.0F);
  EXPECT_FLOAT_EQ(knn_clean_probability(queries, references, torch::tensor({true, false}), 1).item<float>(),
                  1.0F);
}

TEST(KnnCleanProbability, MatchesAStableSortOfTheDistancesWithManyTies) {
  // Small integer trajectories: many references at equal distances. The k nearest are the first k
  // of a stable sort by distance (ties to the lower index), computed here the slow way.
  torch::manual_seed(5);
  const auto queries = torch::randint(0, 3, {40, 3}).to(torch::kFloat32);
  const auto references = torch::randint(0, 3, {30, 3}).to(torch::kFloat32);
  const auto clean = torch::randint(0, 2, {30}).to(torch::kBool);
  for (const int64_t k : {1, 4, 7, 30}) {
    const auto p = knn_clean_probability(queries, references, clean, k);
    for (int64_t q = 0; q < 40; ++q) {
      std::vector<std::pair<float, int64_t>> by_distance;
      for (int64_t r = 0; r < 30; ++r) {
        by_distance.emplace_back((queries[q] - references[r]).pow(2).sum().item<float>(), r);
      }
      std::stable_sort(by_distance.begin(), by_distance.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      int64_t clean_votes = 0;
      for (int64_t j = 0; j < k; ++j)
        clean_votes += clean[by_distance[static_cast<size_t>(j)].second].item<bool>();
      EXPECT_FLOAT_EQ(p[q].item<float>(), static_cast<float>(clean_votes) / static_cast<float>(k))
          << "query " << q << " k " << k;
    }
  }
}

TEST(MapdPriority, MixesTheCleanProbabilityWithHowFarTheLabelIs) {
  const auto p = mapd_priority(floats({1.0F, 0.0F, 0.5F, 1.0F}), floats({0.0F, 1.0F, 0.5F, 1.0F}));
  // Clean and not learned: 1; mislabeled-looking and learned: 0; a learned clean example: 0.5.
  EXPECT_FLOAT_EQ(p[0].item<float>(), 1.0F);
  EXPECT_FLOAT_EQ(p[1].item<float>(), 0.0F);
  EXPECT_FLOAT_EQ(p[2].item<float>(), 0.5F);
  EXPECT_FLOAT_EQ(p[3].item<float>(), 0.5F);
}

TEST(SelectCandidates, TakesTheHighestScoresWithTiesToTheEarlierPosition) {
  const auto scores = floats({0.1F, 0.9F, 0.5F, 0.9F, 0.3F, 0.7F});
  const auto labels = longs({0, 0, 0, 0, 0, 0});
  EXPECT_EQ(as_vector(select_candidates(scores, labels, 3, false, 2, 1)), (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(as_vector(select_candidates(scores, labels, 1, false, 2, 1)), (std::vector<int64_t>{1}));
  EXPECT_EQ(as_vector(select_candidates(scores, labels, 6, false, 2, 1)),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  // Without balancing the host path and the tensor path agree (one class: balancing is a no-op).
  EXPECT_EQ(as_vector(select_candidates(scores, labels, 3, true, 1, 1)), (std::vector<int64_t>{1, 3, 5}));
}

TEST(SelectCandidates, ClassBalancedGivesEachClassItsSlots) {
  // Class 0 has all the high scores; balanced selection still takes the best of class 1.
  const auto scores = floats({0.9F, 0.8F, 0.7F, 0.6F, 0.2F, 0.1F, 0.05F, 0.3F});
  const auto labels = longs({0, 0, 0, 0, 1, 1, 1, 1});
  EXPECT_EQ(as_vector(select_candidates(scores, labels, 4, false, 2, 3)), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_EQ(as_vector(select_candidates(scores, labels, 4, true, 2, 3)), (std::vector<int64_t>{0, 1, 4, 7}));
  // An odd keep: the extra slot goes to a class drawn from the seed, the same for the same seed.
  const auto a = as_vector(select_candidates(scores, labels, 3, true, 2, 11));
  EXPECT_EQ(a, as_vector(select_candidates(scores, labels, 3, true, 2, 11)));
  ASSERT_EQ(a.size(), 3U);
  std::vector<int64_t> per_class(2, 0);
  for (const int64_t i : a) ++per_class[static_cast<size_t>(as_vector(labels)[static_cast<size_t>(i)])];
  EXPECT_EQ(std::max(per_class[0], per_class[1]), 2);
  EXPECT_EQ(std::min(per_class[0], per_class[1]), 1);
}

TEST(SelectCandidates, SlotsAClassCannotFillGoToTheBestLeft) {
  // Three classes but no candidate of class 2: its slots go to the best remaining candidates.
  const auto scores = floats({0.9F, 0.8F, 0.7F, 0.1F, 0.2F, 0.3F});
  const auto labels = longs({0, 0, 0, 1, 1, 1});
  EXPECT_EQ(as_vector(select_candidates(scores, labels, 3, true, 3, 5)).size(), 3U);
  // keep 6 of 6: everything.
  EXPECT_EQ(as_vector(select_candidates(scores, labels, 6, true, 3, 5)),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  // keep 4, classes 0 and 1 get 1 slot each, class 2's unfilled slots go to 0.8, 0.7 (class 0).
  const auto chosen = as_vector(select_candidates(scores, labels, 4, true, 3, 5));
  ASSERT_EQ(chosen.size(), 4U);
  EXPECT_EQ(chosen[0], 0);
  EXPECT_NE(std::find(chosen.begin(), chosen.end(), 5), chosen.end());  // best of class 1
}

TEST(LearnerScore, BatchModeLeavesTheRunningStatisticsAsTheyWere) {
  auto config = test::tiny_config(1);
  torch::manual_seed(3);
  Learner learner(config, 1, 4, torch::kCPU);
  const auto images = test::make_image_set(32);
  const auto set = data::TrainingSet::from_image_set(images);
  data::LoaderOptions options = loader_options(config, set, torch::kCPU, /*training=*/false, 0);
  options.batch_size = 32;
  data::Loader loader(set, options);
  loader.start_epoch(0);
  const auto batch = *loader.next();
  std::vector<torch::Tensor> before;
  for (const auto& b : learner.model().buffers()) before.push_back(b.clone());
  ASSERT_FALSE(before.empty());
  const auto batch_scores = learner.score(batch, ScoreMode::kBatch);
  size_t i = 0;
  for (const auto& b : learner.model().buffers()) EXPECT_TRUE(torch::equal(b, before[i++]));
  // Batch statistics differ from the (untrained) running statistics: not an eval pass.
  const auto eval_scores = learner.score(batch, ScoreMode::kEval);
  EXPECT_FALSE(torch::allclose(batch_scores.cross_entropy, eval_scores.cross_entropy));
  // kTrain normalises the same way but moves the running statistics.
  const auto train_scores = learner.score(batch, ScoreMode::kTrain);
  EXPECT_TRUE(torch::equal(batch_scores.cross_entropy, train_scores.cross_entropy));
  bool moved = false;
  i = 0;
  for (const auto& b : learner.model().buffers()) moved = moved || !torch::equal(b, before[i++]);
  EXPECT_TRUE(moved);
}

config::RunConfig prioritized_config(int64_t epochs, const std::string& score) {
  auto config = test::tiny_config(epochs);
  config.train.mode = "prioritized";
  config.schedule.name = "constant";
  config.data.augment.hflip = true;
  config.knn.k = 5;
  config.prioritized.candidates = 24;
  config.prioritized.keep = 6;
  config.prioritized.score = score;
  config.prioritized.probes_per_category = 10;
  config.prioritized.rho_epochs = 1;
  return config;
}

/// The recorded `priority` and `selected` signals, example-major [N * epochs].
struct Selection {
  std::vector<float> priority;
  std::vector<int32_t> selected;
};

Selection read_selection(const fsys::path& run_dir) {
  const auto store = record::DynamicsStore::open_read(run_dir / "dynamics.h5");
  const int64_t n = store.num_examples(), e = store.complete_epochs();
  Selection out;
  out.priority.resize(static_cast<size_t>(n * e));
  out.selected.resize(out.priority.size());
  store.read_signal_values("priority", 0, n, 0, e, out.priority.data());
  store.read_signal_classes("selected", 0, n, 0, e, out.selected.data());
  return out;
}

class PrioritizedRun : public test::RunDirTest {
 protected:
  PrioritizedRun() : RunDirTest("mapd_prioritized") {}
};

TEST_F(PrioritizedRun, RecordsEveryCandidateOnceAndCountsWhatItTrainedOn) {
  const auto images = test::make_image_set(128);
  const auto inputs = test::noisy_inputs_with_probes(images);
  const auto config = prioritized_config(3, "mapd");
  train(config, inputs, dir_, false);
  const auto store = record::DynamicsStore::open_read(dir_ / "dynamics.h5");
  EXPECT_EQ(store.meta().view, "candidate");
  const auto losses = test::read_losses(dir_ / "dynamics.h5");
  ASSERT_EQ(losses.size(), 3U);
  for (const auto& epoch : losses) {
    for (const float v : epoch) ASSERT_TRUE(std::isfinite(v));  // every row scored once per epoch
  }
  const auto selection = read_selection(dir_);
  const auto lines = test::metrics_lines(dir_);
  ASSERT_EQ(lines.size(), 3U);
  const int64_t steps = (128 + 23) / 24;  // 6 candidate batches: 5 of 24, one of 8
  for (int64_t e = 0; e < 3; ++e) {
    const auto& p = lines[static_cast<size_t>(e)]["prioritized"];
    EXPECT_EQ(p["score"], "mapd");
    EXPECT_EQ(p["gradient_steps"].get<int64_t>(), steps);
    EXPECT_EQ(p["examples_trained"].get<int64_t>(), steps * 6);
    EXPECT_EQ(p["candidates"].get<int64_t>(), 128);
    ASSERT_TRUE(p.contains("selected_flipped_share")) << p.dump();
    const double share = p["selected_flipped_share"].get<double>();
    EXPECT_GE(share, 0.0);
    EXPECT_LE(share, 1.0);
    EXPECT_TRUE(p["seconds"].contains("knn"));
    int64_t selected = 0;
    for (int64_t i = 0; i < 128; ++i) {
      const auto at = static_cast<size_t>(i * 3 + e);
      ASSERT_TRUE(selection.selected[at] == 0 || selection.selected[at] == 1);
      selected += selection.selected[at];
      // The MAP-D priority is an average of two probabilities.
      ASSERT_GE(selection.priority[at], 0.0F);
      ASSERT_LE(selection.priority[at], 1.0F);
    }
    EXPECT_EQ(selected, steps * 6);
  }
  EXPECT_EQ(lines[0]["view"], "candidate");
}

TEST_F(PrioritizedRun, ResumeIsBitwiseTheSameForEverySelector) {
  const auto images = test::make_image_set(96);
  const auto inputs = test::noisy_inputs_with_probes(images);
  for (const std::string score : {"mapd", "uniform", "loss", "not_learned", "rho"}) {
    for (const bool balanced : {false, true}) {
      if (balanced && score != "mapd" && score != "uniform") continue;
      SCOPED_TRACE(score + (balanced ? " balanced" : ""));
      auto config = prioritized_config(4, score);
      config.prioritized.class_balanced = balanced;
      const auto name = score + (balanced ? "-balanced" : "");
      const auto full = dir_ / (name + "-full");
      const auto split = dir_ / (name + "-split");
      train(config, inputs, full, false);
      auto first = config;
      first.train.epochs = 2;
      train(first, inputs, split, false);
      train(config, inputs, split, true);
      const auto a = test::read_losses(full / "dynamics.h5");
      const auto b = test::read_losses(split / "dynamics.h5");
      ASSERT_EQ(a.size(), 4U);
      ASSERT_EQ(b.size(), 4U);
      for (size_t e = 0; e < 4; ++e) EXPECT_EQ(a[e], b[e]) << "epoch " << e;  // bitwise
      const auto sa = read_selection(full), sb = read_selection(split);
      EXPECT_EQ(sa.selected, sb.selected);
      EXPECT_EQ(0, std::memcmp(sa.priority.data(), sb.priority.data(), sa.priority.size() * sizeof(float)));
      const auto ma = test::metrics_lines(full), mb = test::metrics_lines(split);
      ASSERT_EQ(ma.size(), 4U);
      ASSERT_EQ(mb.size(), 4U);
      for (size_t e = 0; e < 4; ++e) {
        EXPECT_EQ(ma[e]["test_acc"], mb[e]["test_acc"]);
        EXPECT_EQ(ma[e]["loss"], mb[e]["loss"]) << e;
        EXPECT_EQ(ma[e]["prioritized"]["selected_flipped_share"],
                  mb[e]["prioritized"]["selected_flipped_share"]);
      }
    }
  }
}

TEST_F(PrioritizedRun, SelectorsPickDifferentExamples) {
  // The same data, seed and budget: each selector's choice of the first epoch differs from uniform's,
  // and loss-based selection takes more flipped labels than uniform (they have the highest losses
  // once the clean majority is learned) — the failure MAP-D's clean probability is there to avoid.
  const auto images = test::make_image_set(128);
  const auto inputs = test::noisy_inputs_with_probes(images);
  std::vector<std::vector<int32_t>> selected;
  for (const std::string score : {"uniform", "loss", "mapd"}) {
    const auto run = dir_ / score;
    train(prioritized_config(2, score), inputs, run, false);
    selected.push_back(read_selection(run).selected);
  }
  EXPECT_NE(selected[0], selected[1]);
  EXPECT_NE(selected[0], selected[2]);
  EXPECT_NE(selected[1], selected[2]);
}

TEST(PrioritizedConfig, BadSettingsNameTheKey) {
  auto config = prioritized_config(2, "mapd");
  auto json = config::to_json(config);
  json["prioritized"]["keep"] = 500;
  MAPD_EXPECT_THROW_WITH(config::from_json(json), ConfigError,
                         "prioritized.keep: must be in [1, prioritized.candidates");
  json = config::to_json(config);
  json["record"]["view"] = "eval";
  MAPD_EXPECT_THROW_WITH(config::from_json(json), ConfigError, "leave record.view at online");
  json = config::to_json(config);
  json["prioritized"]["score"] = "rho-loss";
  MAPD_EXPECT_THROW_WITH(config::from_json(json), ConfigError, "prioritized.score");
}

TEST_F(PrioritizedRun, AMissingProbeCategoryIsAConfigErrorWithTheKey) {
  const auto images = test::make_image_set(64);
  const auto inputs = test::noisy_inputs_with_probes(images);
  auto config = prioritized_config(1, "mapd");
  config.prioritized.clean_category = "typcal";
  MAPD_EXPECT_THROW_WITH(train(config, inputs, dir_, false), ConfigError, "prioritized.clean_category");
}

}  // namespace
}  // namespace mapd::train
