#include "mapd/knn/metrics.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"

namespace mapd::knn {
namespace {

TEST(Metrics, AurocCountsTiesAsOneHalf) {
  EXPECT_DOUBLE_EQ(auroc({0.1F, 0.4F, 0.35F, 0.8F}, {0, 0, 1, 1}), 0.75);  // sklearn's doc example
  EXPECT_DOUBLE_EQ(auroc({1, 1, 1, 1}, {0, 1, 0, 1}), 0.5);
  EXPECT_DOUBLE_EQ(auroc({3, 2, 1}, {1, 0, 0}), 1.0);
  EXPECT_TRUE(std::isnan(auroc({1, 2}, {0, 0})));
  try {  // scores and labels come from the same rows: a bug in mapd otherwise
    (void)auroc({1, 2}, {0});
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("metric: 2 scores but 1 labels"), std::string::npos) << e.what();
  }
}

TEST(Metrics, AveragePrecisionMatchesScikitLearn) {
  // average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333...
  EXPECT_NEAR(average_precision({0.1F, 0.4F, 0.35F, 0.8F}, {0, 0, 1, 1}), 0.833333333, 1e-8);
  // One threshold for tied scores: precision 0.5 at recall 1.
  EXPECT_DOUBLE_EQ(average_precision({1, 1, 1, 1}, {0, 1, 0, 1}), 0.5);
  EXPECT_TRUE(std::isnan(average_precision({1, 2}, {0, 0})));
}

TEST(Metrics, ConfusionMatrixCountsPrecisionRecall) {
  ConfusionMatrix m(3);
  m.add(0, 0);
  m.add(0, 0);
  m.add(0, 1);
  m.add(1, 1);
  m.add(2, 1);
  EXPECT_EQ(m.total(), 5);
  EXPECT_DOUBLE_EQ(m.accuracy(), 0.6);
  EXPECT_DOUBLE_EQ(m.precision(1), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.recall(0), 2.0 / 3.0);
  EXPECT_TRUE(std::isnan(m.precision(2)));
  const auto norm = m.row_normalized();
  EXPECT_DOUBLE_EQ(norm[1], 1.0 / 3.0);
  const auto j = m.to_json({"a", "b", "c"});
  EXPECT_EQ(j["counts"][0][0], 2);
  EXPECT_TRUE(j["per_category"][2]["precision"].is_null());
  const auto table = m.to_table({"a", "b", "c"});
  EXPECT_NE(table.find("accuracy 0.600 on 5"), std::string::npos) << table;
  try {  // categories are checked against the file's names before they get here
    m.add(3, 0);
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("category pair (3, 0) outside [0, 3)"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace mapd::knn
