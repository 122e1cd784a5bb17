#include "mapd/knn/knn.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"

namespace mapd::knn {
namespace {

config::KnnConfig options(int64_t k, const std::string& backend = "auto") {
  config::KnnConfig o;
  o.k = k;
  o.backend = backend;
  return o;
}

/// Random trajectories: `n` rows of length `dim`, values offset + N(0, 1).
std::vector<float> random_rows(int64_t n, int64_t dim, uint32_t seed, float offset = 0.0F) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  std::vector<float> x(static_cast<size_t>(n * dim));
  for (auto& v : x) {
    v = offset + normal(gen);
  }
  return x;
}

FitSet random_fit(int64_t n, int64_t dim, int64_t categories, uint32_t seed, float offset = 0.0F) {
  FitSet fit;
  fit.dim = dim;
  fit.num_categories = categories;
  fit.x = random_rows(n, dim, seed, offset);
  for (int64_t i = 0; i < n; ++i) {
    fit.category.push_back(static_cast<int32_t>((i * 7 + i / 3) % categories));
  }
  return fit;
}

/// Brute-force reference in double: vote shares of the k nearest (ties by fit index), and whether
/// the k-th and (k+1)-th distances tie.
std::vector<double> reference_prob(const FitSet& fit, const float* q, int64_t k, bool* tie) {
  std::vector<std::pair<double, int64_t>> d;
  for (int64_t r = 0; r < fit.size(); ++r) {
    double acc = 0.0;
    for (int64_t t = 0; t < fit.dim; ++t) {
      const double diff = static_cast<double>(q[t]) - fit.x[static_cast<size_t>(r * fit.dim + t)];
      acc += diff * diff;
    }
    d.emplace_back(acc, r);
  }
  std::sort(d.begin(), d.end());
  std::vector<double> prob(static_cast<size_t>(fit.num_categories), 0.0);
  for (int64_t j = 0; j < k; ++j) {
    prob[static_cast<size_t>(fit.category[static_cast<size_t>(d[static_cast<size_t>(j)].second)])] +=
        1.0 / static_cast<double>(k);
  }
  *tie = k < fit.size() && d[static_cast<size_t>(k)].first == d[static_cast<size_t>(k - 1)].first;
  return prob;
}

TEST(TrajectoryKnn, HandMadeNeighboursGiveExactShares) {
  // Category 0 near 0, category 1 near 10, category 2 at 20; trajectories of 3 epochs.
  FitSet fit;
  fit.dim = 3;
  fit.num_categories = 3;
  fit.x = {0, 0, 0, 0.5F, 0, 0, 0, 0.6F, 0, 10, 10, 10, 10.5F, 10, 10, 20, 20, 20};
  fit.category = {0, 0, 0, 1, 1, 2};
  TrajectoryKnn knn(fit, options(3));
  const std::vector<float> q = {0.1F, 0.1F, 0.1F, 9, 9, 9, 19, 19, 19};
  const auto p = knn.predict(q.data(), 3);
  // query 0: its 3 nearest are the three category-0 rows.
  EXPECT_FLOAT_EQ(p.prob[0], 1.0F);
  EXPECT_FLOAT_EQ(p.prob[1], 0.0F);
  EXPECT_EQ(p.assigned[0], 0);
  // query 1 (at 9): two category-1 rows and the category-2 row at distance sqrt(3*121) vs the
  // category-0 rows at sqrt(243) -> 0 rows: {10:3, 10.5:~3.4, 0.5,0,0:~15.3} => 2 x cat1 + 1 x cat0.
  EXPECT_NEAR(p.prob[3 + 0], 1.0 / 3.0, 1e-6);
  EXPECT_NEAR(p.prob[3 + 1], 2.0 / 3.0, 1e-6);
  EXPECT_FLOAT_EQ(p.prob[3 + 2], 0.0F);
  EXPECT_EQ(p.assigned[1], 1);
  EXPECT_NEAR(p.max_prob[1], 2.0 / 3.0, 1e-6);
  // query 2 (at 19): cat2 row, then the two cat1 rows.
  EXPECT_NEAR(p.prob[6 + 1], 2.0 / 3.0, 1e-6);
  EXPECT_NEAR(p.prob[6 + 2], 1.0 / 3.0, 1e-6);
  EXPECT_EQ(p.boundary_ties, 0);
  // Scores are a distribution over categories and rank the nearest category first.
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(p.score[i * 3] + p.score[i * 3 + 1] + p.score[i * 3 + 2], 1.0, 1e-5);
  }
  EXPECT_GT(p.score[0], p.score[1]);
  EXPECT_GT(p.score[6 + 2], p.score[6 + 1]);
}

TEST(TrajectoryKnn, ArgmaxTiesGoToTheLowestCategory) {
  FitSet fit;
  fit.dim = 1;
  fit.num_categories = 3;
  // Category 2 is nearer than category 1: a split vote must still go to category 1 (lower index).
  fit.x = {1.0F, 2.0F, 100.0F};
  fit.category = {2, 1, 0};
  TrajectoryKnn knn(fit, options(2));
  const float q = 0.0F;
  const auto p = knn.predict(&q, 1);
  EXPECT_FLOAT_EQ(p.prob[1], 0.5F);
  EXPECT_FLOAT_EQ(p.prob[2], 0.5F);
  EXPECT_EQ(p.assigned[0], 1);
  EXPECT_FLOAT_EQ(p.max_prob[0], 0.5F);
}

TEST(TrajectoryKnn, ReportsExactDistanceTiesAtTheKthNeighbour) {
  FitSet fit;
  fit.dim = 2;
  fit.num_categories = 2;
  fit.x = {1, 0, -1, 0, 0, 5};
  fit.category = {0, 1, 1};
  TrajectoryKnn knn(fit, options(1));
  const std::vector<float> q = {0, 0, 0, 4};
  const auto p = knn.predict(q.data(), 2);
  EXPECT_EQ(p.boundary_tie[0], 1);
  EXPECT_EQ(p.boundary_tie[1], 0);
  EXPECT_EQ(p.boundary_ties, 1);
  // Ties are broken by fit order (category, then index): category 0 wins.
  EXPECT_EQ(p.assigned[0], 0);
  EXPECT_EQ(p.assigned[1], 1);
}

TEST(TrajectoryKnn, MatchesDoubleBruteForceEvenWithLargeOffsets) {
  // Offset 1000 makes fp32 GEMM distances lose ~7 digits; the double re-ranking must still be exact.
  for (const float offset : {0.0F, 1000.0F}) {
    const auto fit = random_fit(600, 40, 6, 1, offset);
    const auto q = random_rows(500, 40, 2, offset);
    TrajectoryKnn knn(fit, options(20));
    const auto p = knn.predict(q.data(), 500);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < 500; ++i) {
      bool tie = false;
      const auto ref = reference_prob(fit, q.data() + i * 40, 20, &tie);
      for (int64_t c = 0; c < 6; ++c) {
        if (std::abs(ref[static_cast<size_t>(c)] - p.prob[static_cast<size_t>(i * 6 + c)]) > 1e-6) {
          ++mismatches;
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << "offset " << offset << ", rescanned " << p.rescanned;
  }
}

TEST(TrajectoryKnn, RescansQueriesWhoseFp32ShortlistCannotSeparateNearTies) {
  // 300 fit rows within ~1e-6 of each other (beyond fp32 GEMM resolution at distance ~30) and 100
  // far ones: every query has more than 2k + 8 rows within the fp32 error of its k-th neighbour, so
  // it must be re-scanned in double, and the result must still be exact.
  const int64_t dim = 30;
  FitSet fit = random_fit(400, dim, 4, 11, 5.0F);
  const auto base = random_rows(1, dim, 12);
  const auto jitter = random_rows(300, dim, 13);
  for (int64_t i = 0; i < 300; ++i) {
    for (int64_t t = 0; t < dim; ++t) {
      fit.x[static_cast<size_t>(i * dim + t)] =
          base[static_cast<size_t>(t)] + 1e-6F * jitter[static_cast<size_t>(i * dim + t)];
    }
  }
  auto q = random_rows(50, dim, 14);
  TrajectoryKnn knn(fit, options(20));
  const auto p = knn.predict(q.data(), 50);
  EXPECT_EQ(p.rescanned, 50);
  int64_t mismatches = 0;
  for (int64_t i = 0; i < 50; ++i) {
    // Reference in double with the documented tie order: (distance, category, fit index).
    std::vector<std::tuple<double, int32_t, int64_t>> d;
    for (int64_t r = 0; r < fit.size(); ++r) {
      double acc = 0.0;
      for (int64_t t = 0; t < dim; ++t) {
        const double diff = static_cast<double>(q[static_cast<size_t>(i * dim + t)]) -
                            fit.x[static_cast<size_t>(r * dim + t)];
        acc += diff * diff;
      }
      d.emplace_back(acc, fit.category[static_cast<size_t>(r)], r);
    }
    std::sort(d.begin(), d.end());
    std::vector<float> ref(4, 0.0F);
    for (int64_t j = 0; j < 20; ++j) {
      ref[static_cast<size_t>(std::get<1>(d[static_cast<size_t>(j)]))] += 1.0F / 20.0F;
    }
    for (int64_t c = 0; c < 4; ++c) {
      mismatches +=
          std::abs(ref[static_cast<size_t>(c)] - p.prob[static_cast<size_t>(i * 4 + c)]) > 1e-6 ? 1 : 0;
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The LibTorch shortlist detects the same overflow.
  const auto torch_p = TrajectoryKnn(fit, options(20, "torch:cpu")).predict(q.data(), 50);
  EXPECT_EQ(torch_p.rescanned, 50);
  EXPECT_EQ(torch_p.prob, p.prob);
}

TEST(TrajectoryKnn, BlockBoundariesDoNotChangeResults) {
  const auto fit = random_fit(300, 25, 5, 3);
  const int64_t n = 1003;  // not a multiple of the block size
  const auto q = random_rows(n, 25, 4);
  TrajectoryKnn knn(fit, options(20));
  const auto whole = knn.predict(q.data(), n);
  const int64_t block = 64;
  for (int64_t start = 0; start < n; start += block) {
    const int64_t count = std::min(block, n - start);
    const auto part = knn.predict(q.data() + start * 25, count);
    for (int64_t i = 0; i < count; ++i) {
      ASSERT_EQ(part.assigned[static_cast<size_t>(i)], whole.assigned[static_cast<size_t>(start + i)]);
      for (int64_t c = 0; c < 5; ++c) {
        ASSERT_EQ(part.prob[static_cast<size_t>(i * 5 + c)],
                  whole.prob[static_cast<size_t>((start + i) * 5 + c)]);
        ASSERT_EQ(part.score[static_cast<size_t>(i * 5 + c)],
                  whole.score[static_cast<size_t>((start + i) * 5 + c)]);
      }
    }
  }
}

TEST(TrajectoryKnn, DistanceWeightsFollowScikitLearn) {
  FitSet fit;
  fit.dim = 1;
  fit.num_categories = 2;
  fit.x = {1.0F, 3.0F, 50.0F};
  fit.category = {0, 1, 1};
  auto o = options(2);
  o.weights = "distance";
  TrajectoryKnn knn(fit, o);
  const std::vector<float> q = {0.0F, 3.0F};
  const auto p = knn.predict(q.data(), 2);
  // weights 1/1 and 1/3 -> 0.75 / 0.25
  EXPECT_NEAR(p.prob[0], 0.75, 1e-6);
  EXPECT_NEAR(p.prob[1], 0.25, 1e-6);
  // A zero-distance neighbour takes all the weight.
  EXPECT_FLOAT_EQ(p.prob[2], 0.0F);
  EXPECT_FLOAT_EQ(p.prob[3], 1.0F);
}

TEST(TrajectoryKnn, StandardisationMakesPerEpochScaleIrrelevant) {
  auto fit = random_fit(200, 10, 4, 5);
  auto q = random_rows(100, 10, 6);
  auto o = options(7);
  o.standardize = true;
  const auto base = TrajectoryKnn(fit, o).predict(q.data(), 100);
  // Scale epoch 3 by 1000 and shift epoch 5 by 7 in both fit and queries.
  auto scaled_fit = fit;
  for (int64_t i = 0; i < 200; ++i) {
    scaled_fit.x[static_cast<size_t>(i * 10 + 3)] *= 1024.0F;
    scaled_fit.x[static_cast<size_t>(i * 10 + 5)] += 8.0F;
  }
  for (int64_t i = 0; i < 100; ++i) {
    q[static_cast<size_t>(i * 10 + 3)] *= 1024.0F;
    q[static_cast<size_t>(i * 10 + 5)] += 8.0F;
  }
  const auto scaled = TrajectoryKnn(scaled_fit, o).predict(q.data(), 100);
  int64_t same = 0;
  for (int64_t i = 0; i < 100; ++i) {
    same += base.assigned[static_cast<size_t>(i)] == scaled.assigned[static_cast<size_t>(i)] ? 1 : 0;
  }
  EXPECT_GE(same, 99);  // identical up to float rounding of the standardised values
  // Without standardisation epoch 3 dominates and assignments change.
  o.standardize = false;
  const auto raw = TrajectoryKnn(scaled_fit, o).predict(q.data(), 100);
  int64_t raw_same = 0;
  for (int64_t i = 0; i < 100; ++i) {
    raw_same += base.assigned[static_cast<size_t>(i)] == raw.assigned[static_cast<size_t>(i)] ? 1 : 0;
  }
  EXPECT_LT(raw_same, 90);
}

TEST(TrajectoryKnn, TorchBackendAgreesWithBlas) {
  const auto fit = random_fit(400, 30, 6, 7, 2.0F);
  const auto q = random_rows(300, 30, 8, 2.0F);
  const auto blas = TrajectoryKnn(fit, options(20, "blas")).predict(q.data(), 300);
  TrajectoryKnn torch_knn(fit, options(20, "torch:cpu"));
  EXPECT_EQ(torch_knn.backend_name(), "torch:cpu");
  const auto torch_p = torch_knn.predict(q.data(), 300);
  EXPECT_EQ(blas.prob, torch_p.prob);
  EXPECT_EQ(blas.assigned, torch_p.assigned);
  for (size_t i = 0; i < blas.score.size(); ++i) {
    EXPECT_NEAR(blas.score[i], torch_p.score[i], 1e-4);
  }
}

TEST(TrajectoryKnn, RejectsKLargerThanTheFitSet) {
  const auto fit = random_fit(12, 4, 3, 9);
  try {
    TrajectoryKnn knn(fit, options(20));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("knn.k = 20"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("only 12"), std::string::npos) << e.what();
  }
}

TEST(TrajectoryKnn, RejectsAnEmptyFitSet) {
  FitSet fit;
  fit.dim = 4;
  fit.num_categories = 2;
  MAPD_EXPECT_THROW_WITH(TrajectoryKnn(fit, options(1)), DataError, "fit set is empty", "probes.suite");
}

TEST(TrajectoryKnn, RejectsNonFiniteQueriesAndBadCategories) {
  auto fit = random_fit(30, 4, 3, 10);
  TrajectoryKnn knn(fit, options(5));
  std::vector<float> q(8, 0.0F);
  q[6] = std::nanf("");
  try {
    (void)knn.predict(q.data(), 2);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("query row 1"), std::string::npos) << e.what();
  }
  fit.category[4] = 3;
  MAPD_EXPECT_THROW_WITH(TrajectoryKnn(fit, options(5)), DataError, "fit row 4: category 3 outside [0, 3)");
  MAPD_EXPECT_THROW_WITH(TrajectoryKnn(random_fit(30, 4, 3, 10), options(5, "annoy")), ConfigError,
                         "knn.backend", "'annoy'");
}

}  // namespace
}  // namespace mapd::knn
