#include "mapd/record/describe.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/assignment_store.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "../common/expect_error.hpp"
#include "h5_craft.hpp"
#include "test_util.hpp"

namespace mapd::record {
namespace {

using testing::make_examples;
using testing::make_meta;
using testing::replace_dataset;
using testing::TempDir;

/// The line of `text` that starts (after indentation) with `prefix`, or "".
std::string line_starting(const std::string& text, const std::string& prefix) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const auto start = line.find_first_not_of(' ');
    if (start != std::string::npos && line.compare(start, prefix.size(), prefix) == 0) {
      return line;
    }
  }
  return "";
}

/// Whitespace-separated fields of `line`.
std::vector<std::string> fields(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  std::string word;
  while (in >> word) {
    out.push_back(word);
  }
  return out;
}

/// 10 examples: 6 train, probes 6..9 (fit, val, fit, val; categories typical, typical,
/// mislabeled, mislabeled); loss of example i at epoch e = i + e, so after 3 epochs the last loss
/// is i + 2 and the mean over epochs i + 1.
std::filesystem::path write_dynamics(const TempDir& dir, int64_t epochs) {
  auto path = dir / "dynamics.h5";
  DynamicsStore store = DynamicsStore::create(path, make_meta("fp32", "eval"), make_examples(10, 4, 2));
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<float> loss;
    for (int64_t i = 0; i < 10; ++i) {
      loss.push_back(static_cast<float>(i + e));
    }
    const std::vector<int32_t> pred(10, 1);
    store.append_epoch(loss.data(), pred.data(), loss.data());
  }
  return path;
}

TEST(Describe, DynamicsSummaryHasShapeMetaAndLossStatistics) {
  TempDir dir;
  const auto path = write_dynamics(dir, 3);
  EXPECT_EQ(detect_store_kind(path), StoreKind::kDynamics);
  std::ostringstream out;
  describe_store(path, out);
  const std::string text = out.str();
  EXPECT_NE(text.find("shape: [3, 10]"), std::string::npos) << text;
  EXPECT_NE(text.find("committed epochs: 3"), std::string::npos) << text;
  EXPECT_NE(text.find("view: eval, dtype: fp32, seed: 1234"), std::string::npos) << text;
  EXPECT_NE(text.find("categories (2): typical, mislabeled"), std::string::npos) << text;
  EXPECT_NE(text.find("roles: train 6, probe_fit 2, probe_val 2"), std::string::npos) << text;
  // group, count, last mean, last median, avg mean, avg median
  const std::vector<std::pair<std::string, std::vector<std::string>>> want = {
      {"role train", {"6", "4.5000", "4.5000", "3.5000", "3.5000"}},
      {"role probe_fit", {"2", "9.0000", "9.0000", "8.0000", "8.0000"}},
      {"role probe_val", {"2", "10.0000", "10.0000", "9.0000", "9.0000"}},
      {"category typical", {"2", "8.5000", "8.5000", "7.5000", "7.5000"}},
      {"category mislabeled", {"2", "10.5000", "10.5000", "9.5000", "9.5000"}},
  };
  for (const auto& [group, values] : want) {
    const auto words = fields(line_starting(text, group + " "));
    ASSERT_EQ(words.size(), 7U) << group << " in\n" << text;
    EXPECT_EQ(std::vector<std::string>(words.begin() + 2, words.end()), values) << group << " in\n" << text;
  }
}

TEST(Describe, DynamicsWithoutEpochsSaysSo) {
  TempDir dir;
  const auto path = write_dynamics(dir, 0);
  std::ostringstream out;
  describe_store(path, out);
  EXPECT_NE(out.str().find("committed epochs: 0"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("no committed epochs yet"), std::string::npos) << out.str();
}

TEST(Describe, AssignmentSummaryCountsCategories) {
  TempDir dir;
  const auto path = dir / "assignments.h5";
  AssignmentMeta meta;
  meta.category_names = {"typical", "mislabeled", "ood"};
  meta.k = 20;
  meta.epoch_end = 12;
  meta.label_issue_ranks = "percentile of the mean loss over the epochs used";
  {
    AssignmentStore store = AssignmentStore::create(path, meta, 5);
    const std::vector<int64_t> ids = {0, 1, 2, 3, 4};
    const std::vector<int16_t> assigned = {0, 0, 1, 0, 2};
    const std::vector<float> max_prob = {1.0F, 0.5F, 0.75F, 0.6F, 0.25F};
    const std::vector<float> prob(15, 0.0F);
    AssignmentStore::Block block;
    block.count = 5;
    block.id = ids.data();
    block.row = ids.data();
    block.label = ids.data();
    block.assigned = assigned.data();
    block.max_prob = max_prob.data();
    block.prob = prob.data();
    store.write(0, block);
  }
  EXPECT_EQ(detect_store_kind(path), StoreKind::kAssignments);
  std::ostringstream out;
  describe_store(path, out);
  const std::string text = out.str();
  EXPECT_NE(text.find("examples: 5, k: 20, epochs used: [0, 12)"), std::string::npos) << text;
  EXPECT_NE(text.find("label_issue ranks: percentile of the mean loss over the epochs used\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(fields(line_starting(text, "typical ")),
            (std::vector<std::string>{"typical", "3", "0.6000", "0.7000"}))
      << text;
  EXPECT_EQ(fields(line_starting(text, "mislabeled ")),
            (std::vector<std::string>{"mislabeled", "1", "0.2000", "0.7500"}))
      << text;
  EXPECT_EQ(fields(line_starting(text, "ood ")), (std::vector<std::string>{"ood", "1", "0.2000", "0.2500"}))
      << text;
  EXPECT_EQ(fields(line_starting(text, "all ")), (std::vector<std::string>{"all", "5", "1.0000", "0.6200"}))
      << text;
}

TEST(Describe, NonMapdFilesAreIoErrors) {
  TempDir dir;
  MAPD_EXPECT_THROW_WITH(describe_store(dir / "missing.h5", std::cout), IoError, "missing.h5': no such file");
  const auto text = dir / "text.h5";
  std::ofstream(text) << "plain text";
  MAPD_EXPECT_THROW_WITH(describe_store(text, std::cout), IoError, "text.h5", "not HDF5");
}

TEST(Describe, CommitMarkerStoredAsAnArrayIsDataError) {
  // `mapd inspect` on such a file once overwrote its stack.
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(50, 4));
    testing::append_row(store, 0);
  }
  replace_dataset(path, "/epochs/complete", {4096}, H5T_STD_I64LE);
  try {
    std::ostringstream out;
    describe_store(path, out);
    FAIL() << "no DataError";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'/epochs/complete'"), std::string::npos) << message;
    EXPECT_NE(message.find("shape [4096]"), std::string::npos) << message;
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  }
}

TEST(Describe, FileMarkedOpenByAKilledWriterIsDescribed) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp32"), make_examples(50, 4));
    testing::append_row(store, 0);
    testing::append_row(store, 1);
  }
  ASSERT_NO_FATAL_FAILURE(testing::leave_marked_open_for_writing(path));
  ASSERT_FALSE(testing::plain_hdf5_open_works(path));
  std::ostringstream out;
  describe_store(path, out);
  EXPECT_NE(out.str().find("committed epochs: 2"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace mapd::record
