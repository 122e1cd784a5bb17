// InMemoryTrajectories and DynamicsStore read the same way through TrajectorySource.
#include "mapd/record/trajectories.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "test_util.hpp"

namespace mapd::record {
namespace {

using testing::make_examples;
using testing::make_meta;
using testing::TempDir;

/// Epoch e, example i: loss 10 e + i / 100, pred (e + i) % 7, true_prob 1 / (1 + e + i).
void append_epochs(int64_t n, int64_t epochs,
                   const std::function<void(const float*, const int32_t*, const float*)>& append) {
  for (int64_t e = 0; e < epochs; ++e) {
    std::vector<float> loss(static_cast<size_t>(n));
    std::vector<int32_t> pred(static_cast<size_t>(n));
    std::vector<float> prob(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      loss[static_cast<size_t>(i)] = 10.0F * static_cast<float>(e) + static_cast<float>(i) / 100.0F;
      pred[static_cast<size_t>(i)] = static_cast<int32_t>((e + i) % 7);
      prob[static_cast<size_t>(i)] = 1.0F / static_cast<float>(1 + e + i);
    }
    append(loss.data(), pred.data(), prob.data());
  }
}

void expect_same_reads(const TrajectorySource& a, const TrajectorySource& b) {
  ASSERT_EQ(a.num_examples(), b.num_examples());
  ASSERT_EQ(a.complete_epochs(), b.complete_epochs());
  EXPECT_EQ(a.examples().row, b.examples().row);
  const int64_t begin = 3;
  const int64_t end = a.num_examples() - 2;
  const int64_t e0 = 1;
  const int64_t e1 = a.complete_epochs();
  const auto size = static_cast<size_t>((end - begin) * (e1 - e0));
  std::vector<float> fa(size), fb(size);
  a.read_losses(begin, end, e0, e1, fa.data());
  b.read_losses(begin, end, e0, e1, fb.data());
  EXPECT_EQ(fa, fb);
  // Example-major: example 3 + 1, epoch 1 + 1.
  EXPECT_FLOAT_EQ(fa[static_cast<size_t>(1 * (e1 - e0) + 1)], 20.04F);
  a.read_true_probs(begin, end, e0, e1, fa.data());
  b.read_true_probs(begin, end, e0, e1, fb.data());
  EXPECT_EQ(fa, fb);
  std::vector<int32_t> pa(size), pb(size);
  a.read_preds(begin, end, e0, e1, pa.data());
  b.read_preds(begin, end, e0, e1, pb.data());
  EXPECT_EQ(pa, pb);
  EXPECT_EQ(pa[0], 4);
}

TEST(Trajectories, InMemoryReadsAsTheDynamicsFileOfTheSameEpochs) {
  const TempDir dir;
  const int64_t n = 40;
  const auto examples = make_examples(n, 4);
  const auto meta = make_meta("fp32");
  InMemoryTrajectories memory(meta, examples);
  append_epochs(n, 3,
                [&](const float* l, const int32_t* p, const float* t) { memory.append_epoch(l, p, t); });
  {
    auto store = DynamicsStore::create(dir / "dynamics.h5", meta, examples);
    append_epochs(n, 3,
                  [&](const float* l, const int32_t* p, const float* t) { store.append_epoch(l, p, t); });
  }
  const auto store = DynamicsStore::open_read(dir / "dynamics.h5");
  expect_same_reads(memory, store);
  EXPECT_EQ(memory.describe(), "the trajectories in memory");
  EXPECT_EQ(store.describe(), "'" + (dir / "dynamics.h5").string() + "'");
}

TEST(Trajectories, InMemoryTruncatesAndRefusesReadsBeyondItsEpochs) {
  const int64_t n = 10;
  InMemoryTrajectories memory(make_meta("fp32"), make_examples(n));
  append_epochs(n, 4,
                [&](const float* l, const int32_t* p, const float* t) { memory.append_epoch(l, p, t); });
  memory.truncate(2);
  EXPECT_EQ(memory.complete_epochs(), 2);
  std::vector<float> out(static_cast<size_t>(n * 3));
  try {
    memory.read_losses(0, n, 0, 3, out.data());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("only 2 epochs are committed"), std::string::npos) << e.what();
  }
  EXPECT_THROW(memory.read_losses(0, n + 1, 0, 1, out.data()), IoError);
  append_epochs(n, 1,
                [&](const float* l, const int32_t* p, const float* t) { memory.append_epoch(l, p, t); });
  memory.read_losses(0, n, 2, 3, out.data());
  EXPECT_FLOAT_EQ(out[5], 0.05F);  // the appended epoch is epoch 0 of append_epochs again
}

TEST(Trajectories, RowsAreFilledInOrderOrCheckedToHoldEveryRowOnce) {
  auto examples = make_examples(5);
  fill_or_check_rows(examples, "here");
  EXPECT_EQ(examples.row, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  examples.row = {4, 3, 2, 1, 0};
  fill_or_check_rows(examples, "here");  // a permutation is fine
  examples.row = {0, 1, 2, 3, -1};
  try {
    fill_or_check_rows(examples, "the test's columns");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("the test's columns: /examples/row[4] = -1 is out of range"),
              std::string::npos)
        << e.what();
  }
  examples.row = {0, 1};
  EXPECT_THROW(fill_or_check_rows(examples, "here"), DataError);
}

}  // namespace
}  // namespace mapd::record
