// The k-NN steps over trajectories held in memory (no files) and their agreement with assign_run.
#include "mapd/knn/classify.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/record/assignment_store.hpp"

#include "synthetic_run.hpp"

namespace mapd::knn {
namespace {

record::InMemoryTrajectories in_memory(const Synthetic& s, int64_t epochs) {
  record::InMemoryTrajectories source(make_meta(), s.examples);
  const std::vector<int32_t> pred(static_cast<size_t>(s.examples.size()), 0);
  for (int64_t t = 0; t < epochs; ++t) {
    source.append_epoch(s.epochs[static_cast<size_t>(t)].data(), pred.data(),
                        s.epochs[static_cast<size_t>(t)].data());
  }
  return source;
}

config::KnnConfig knn_options() {
  config::KnnConfig options;
  options.k = 20;
  return options;
}

TEST(Classify, CategoryIndexNamesTheKnownCategoriesAndSuggestsTheClosest) {
  const std::vector<std::string> names{"typical", "mislabeled", "atypical"};
  EXPECT_EQ(category_index(names, "atypical", "label_correction.clean"), 2);
  EXPECT_EQ(find_category(names, "ood"), -1);
  try {
    (void)category_index(names, "mislabelled", "label_correction.noisy");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("label_correction.noisy: no probe category 'mislabelled'"), std::string::npos)
        << what;
    EXPECT_NE(what.find("did you mean 'mislabeled'?"), std::string::npos) << what;
    EXPECT_NE(what.find("typical, mislabeled, atypical"), std::string::npos) << what;
  }
}

TEST(Classify, SplitByRoleAndEpochRangeFollowTheCommittedEpochs) {
  const auto s = make_run(50, 4, 3, 6, 0.2, 3);
  auto source = in_memory(s, 4);
  const auto roles = split_by_role(source.examples(), source.describe());
  EXPECT_EQ(roles.train.size(), 50U);
  EXPECT_EQ(roles.fit.size(), 12U);
  EXPECT_EQ(roles.val.size(), 9U);
  EXPECT_EQ(roles.queries(), 59);
  EXPECT_TRUE(roles.injected_noise);
  EXPECT_EQ(roles.fit.front(), 50);

  auto options = knn_options();
  const auto all = epoch_range(source, options);
  EXPECT_EQ(all.begin, 0);
  EXPECT_EQ(all.end, 4);
  options.epoch_end = 5;
  try {
    (void)epoch_range(source, options);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("knn.epoch_end = 5 but the trajectories in memory has only 4"),
              std::string::npos)
        << e.what();
  }
  source.truncate(0);
  options.epoch_end = 0;
  EXPECT_THROW((void)epoch_range(source, options), DataError);
}

TEST(Classify, FitSetKeepsAndRenumbersTheCategoriesAskedFor) {
  const auto s = make_run(30, 5, 2, 4, 0.0, 4);
  const auto source = in_memory(s, 4);
  const auto roles = split_by_role(source.examples(), source.describe());
  const EpochRange range{1, 3};
  // Categories: typical 0, mislabeled 1, atypical 2. Ask for {mislabeled, typical}.
  const auto fit = make_fit_set(source, roles.fit, range, {1, 0});
  EXPECT_EQ(fit.num_categories, 2);
  EXPECT_EQ(fit.dim, 2);
  ASSERT_EQ(fit.size(), 10);
  std::vector<int64_t> kept;
  for (const int64_t r : roles.fit) {
    const int16_t c = s.examples.probe_category[static_cast<size_t>(r)];
    if (c == 0 || c == 1) kept.push_back(r);
  }
  ASSERT_EQ(kept.size(), 10U);
  for (size_t i = 0; i < kept.size(); ++i) {
    const int16_t c = s.examples.probe_category[static_cast<size_t>(kept[i])];
    EXPECT_EQ(fit.category[i], c == 1 ? 0 : 1);
    for (int64_t t = 0; t < 2; ++t) {
      EXPECT_EQ(fit.x[i * 2 + static_cast<size_t>(t)],
                s.epochs[static_cast<size_t>(1 + t)][static_cast<size_t>(kept[i])]);
    }
  }
  const auto whole = make_fit_set(source, roles.fit, range);
  EXPECT_EQ(whole.num_categories, 3);
  EXPECT_EQ(whole.size(), 15);
}

// knn.signals: a row is the losses over the epochs, then each extra signal over the same epochs.
TEST(Classify, FeatureRowsAppendEachSignalAfterTheLosses) {
  const auto s = make_run(30, 5, 2, 4, 0.0, 4);
  const auto source = in_memory(s, 4);
  const auto roles = split_by_role(source.examples(), source.describe());
  const EpochRange range{1, 3};
  Features features;
  features.names = {"twice", "column"};
  features.extra.emplace_back([&](int64_t begin, int64_t end, EpochRange r, float* out) {
    source.read_losses(begin, end, r.begin, r.end, out);
    for (int64_t i = 0; i < (end - begin) * r.size(); ++i) out[i] *= 2.0F;
  });
  features.extra.emplace_back([](int64_t begin, int64_t end, EpochRange r, float* out) {
    for (int64_t c = begin; c < end; ++c) {
      for (int64_t t = 0; t < r.size(); ++t) out[(c - begin) * r.size() + t] = static_cast<float>(c * 10 + t);
    }
  });
  EXPECT_EQ(features.width(range), 6);
  const auto fit = make_fit_set(source, roles.fit, range, {}, features);
  ASSERT_EQ(fit.dim, 6);
  ASSERT_EQ(fit.size(), 15);
  for (size_t i = 0; i < roles.fit.size(); ++i) {
    const auto r = static_cast<size_t>(roles.fit[i]);
    for (size_t t = 0; t < 2; ++t) {
      EXPECT_EQ(fit.x[i * 6 + t], s.epochs[1 + t][r]);
      EXPECT_EQ(fit.x[i * 6 + 2 + t], 2.0F * s.epochs[1 + t][r]);
      EXPECT_EQ(fit.x[i * 6 + 4 + t], static_cast<float>(r * 10 + t));
    }
  }
  EXPECT_EQ(read_feature_rows(source, roles.fit, range, features), fit.x);
  // A non-finite value names its signal and epoch.
  std::vector<float> x(6, 0.5F);
  x[5] = std::nanf("");
  const std::vector<int64_t> rows{3};
  try {
    check_finite(source, x.data(), rows.data(), 1, 6, 1, features, 2);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("row 3 (id 3): non-finite column nan at epoch 2"), std::string::npos)
        << e.what();
  }
}

TEST(Classify, MeanLossPercentileCountsHalfTheTies) {
  record::ExampleColumns ex;
  for (int64_t i = 0; i < 4; ++i) {
    ex.id.push_back(i);
    ex.label.push_back(0);
    ex.original_label.push_back(0);
    ex.role.push_back(0);
    ex.probe_category.push_back(-1);
    ex.source_index.push_back(i);
  }
  record::DynamicsMeta meta;
  record::InMemoryTrajectories source(meta, ex);
  const std::vector<float> epoch0{1.0F, 2.0F, 2.0F, 4.0F};
  const std::vector<float> epoch1{3.0F, 2.0F, 2.0F, 4.0F};
  const std::vector<int32_t> pred(4, 0);
  source.append_epoch(epoch0.data(), pred.data(), epoch0.data());
  source.append_epoch(epoch1.data(), pred.data(), epoch1.data());
  // Mean losses 2, 2, 2, 4.
  const auto ranking = PercentileRanking::of_rows(source, {0, 1, 2, 3}, EpochRange{0, 2}, 3);
  EXPECT_FLOAT_EQ(ranking.percentile(2.0F), 0.375F);
  EXPECT_FLOAT_EQ(ranking.percentile(1.0F), 0.0F);
  EXPECT_FLOAT_EQ(ranking.percentile(5.0F), 1.0F);
  EXPECT_FLOAT_EQ(ranking.percentile(3.0F), 0.75F);
  EXPECT_EQ(ranking.bytes(), 16);
}

TEST(Classify, PercentileOfOtherEvidenceSamplesTheRowsInColumnBlocks) {
  // Evidence of column c is 10 - c; rows 1, 2, 4, 6, 7 (not 0, 3, 5: probes, say); NaN at 7 is
  // left out of the sample.
  std::vector<std::pair<int64_t, int64_t>> reads;
  const ColumnValues values = [&](int64_t begin, int64_t end, float* out) {
    reads.emplace_back(begin, end);
    for (int64_t c = begin; c < end; ++c)
      out[c - begin] = c == 7 ? std::nanf("") : static_cast<float>(10 - c);
  };
  const auto ranking = PercentileRanking::of_values(values, {1, 2, 4, 6, 7}, /*block_rows=*/3);
  EXPECT_EQ(ranking.bytes(), 16);  // 9, 8, 6, 4
  for (const auto& [begin, end] : reads) EXPECT_LE(end - begin, 3) << begin << ".." << end;
  EXPECT_FLOAT_EQ(ranking.percentile(9.0F), 0.875F);
  EXPECT_FLOAT_EQ(ranking.percentile(5.0F), 0.25F);
  // Every second row: 1, 4, 7 (NaN, left out).
  EXPECT_EQ(PercentileRanking::of_values(values, {1, 2, 4, 6, 7}, 3, /*max_sample=*/3).bytes(), 8);
}

class ClassifyAgainstAssignRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mapd_knn_classify_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// `mapd assign`'s output for the first `epochs` epochs of `s`, written and assigned on disk.
  record::AssignmentStore::Columns assign_file(const Synthetic& s, int64_t epochs) {
    { write_run(dir_, s, epochs); }
    (void)assign_run(dir_, knn_options());
    return record::AssignmentStore::read(RunLayout(dir_).assignments_h5(), nullptr);
  }
  fs::path dir_;
};

/// What assign_run builds from the file, built from trajectories in memory.
struct InMemoryClassifier {
  RowRoles roles;
  EpochRange range;
  TrajectoryKnn knn;
  PercentileRanking ranking;
  int64_t mislabeled = -1;
};

InMemoryClassifier classifier_of(const record::TrajectorySource& source, int64_t ranking_block) {
  const auto roles = split_by_role(source.examples(), source.describe());
  const auto range = epoch_range(source, knn_options());
  return InMemoryClassifier{roles, range,
                            TrajectoryKnn(make_fit_set(source, roles.fit, range), knn_options()),
                            PercentileRanking::of_rows(source, roles.train, range, ranking_block),
                            category_index(source.meta().category_names, "mislabeled", "test")};
}

// What a training mode computes from its committed epochs in memory is what `mapd assign` writes
// from the same epochs on disk, value for value.
TEST_F(ClassifyAgainstAssignRun, InMemoryScoresEqualTheAssignmentsFile) {
  const auto s = make_run(600, 40, 20, 12, 0.2, 7);
  const auto written = assign_file(s, 10);
  const auto source = in_memory(s, 10);
  const auto c = classifier_of(source, 64);
  const auto& range = c.range;
  std::vector<int64_t> queries;
  for (int64_t r = 0; r < source.num_examples(); ++r) {
    if (static_cast<Role>(s.examples.role[static_cast<size_t>(r)]) != Role::kProbeFit) queries.push_back(r);
  }
  const auto x = read_loss_rows(source, queries, range);
  check_finite(source, x.data(), queries.data(), static_cast<int64_t>(queries.size()), range.size(),
               range.begin);
  const auto scores = score_block(c.knn, c.ranking, c.mislabeled, x.data(),
                                  static_cast<int64_t>(queries.size()), range.size());
  ASSERT_EQ(written.id.size(), queries.size());
  EXPECT_EQ(scores.categories, 3);
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_EQ(written.row[i], queries[i]);
    EXPECT_EQ(written.assigned[i], scores.prediction.assigned[i]) << i;
    EXPECT_EQ(written.label_issue[i], scores.label_issue[i]) << i;
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_EQ(written.prob[i * 3 + static_cast<size_t>(k)], scores.prob(static_cast<int64_t>(i), k)) << i;
      EXPECT_EQ(written.score[i * 3 + static_cast<size_t>(k)], scores.score(static_cast<int64_t>(i), k)) << i;
    }
  }
}

// assign_blocks is assign_run's loop: over the same trajectories in memory, in blocks of any size,
// it yields the rows and values assignments.h5 holds, in the same order.
TEST_F(ClassifyAgainstAssignRun, AssignBlocksInMemoryYieldTheAssignmentsFileInOrder) {
  const auto s = make_run(400, 30, 15, 8, 0.2, 9);
  const auto written = assign_file(s, 8);
  const auto source = in_memory(s, 8);
  const auto c = classifier_of(source, 50);
  size_t next = 0;
  int64_t blocks = 0;
  const auto totals = assign_blocks(
      source, c.knn, c.ranking, c.mislabeled, c.range, {0, source.num_examples()}, 37, {},
      [&](const QueryBlock& block) {
        ++blocks;
        EXPECT_LE(block.size(), 37);
        for (int64_t i = 0; i < block.size(); ++i, ++next) {
          ASSERT_LT(next, written.id.size());
          EXPECT_EQ(written.row[next], block.columns[static_cast<size_t>(i)]);
          EXPECT_EQ(written.assigned[next], block.scores.prediction.assigned[static_cast<size_t>(i)]);
          EXPECT_EQ(written.label_issue[next], block.scores.label_issue[static_cast<size_t>(i)]);
        }
      });
  EXPECT_EQ(next, written.id.size());
  EXPECT_EQ(totals.queries, static_cast<int64_t>(written.id.size()));
  EXPECT_GE(blocks, (400 + 135 + 36) / 37 - 2);  // some blocks hold only fit rows and are skipped
}

TEST(Classify, ANonFiniteLossNamesTheRowTheIdAndTheEpoch) {
  const auto s = make_run(10, 2, 1, 3, 0.0, 2);
  const auto source = in_memory(s, 3);
  std::vector<float> x{0.5F, 0.25F, 0.1F, 0.4F, std::nanf(""), 0.2F};
  const std::vector<int64_t> rows{3, 7};
  try {
    check_finite(source, x.data(), rows.data(), 2, 3, 2);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("row 7 (id 7): non-finite loss nan at epoch 3"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mapd::knn
