// The record of a data-parallel job: per-rank dynamics files stitched by dynamics.h5
// (StitchedDynamics), read back through DynamicsStore::open_read as one record.
#include "mapd/record/stitched_dynamics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/describe.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "test_util.hpp"

namespace mapd::record {
namespace {

using testing::make_examples;
using testing::make_meta;
using testing::make_row;
using testing::TempDir;

/// make_meta with the extra value signal "margin".
DynamicsMeta meta_with_margin(const std::string& dtype) {
  auto meta = make_meta(dtype);
  meta.signals = {SignalSpec{"margin", false}};
  return meta;
}

/// The margin row of epoch `epoch`: -loss.
std::vector<float> margin_row(int64_t n, int64_t epoch) {
  auto row = make_row(n, epoch).loss;
  for (auto& v : row) v = -v;
  return row;
}

/// A job of `ranks` ranks over `n` examples, as the trainer writes it: dynamics.h5 by rank 0,
/// each rank's columns in its own file.
struct Job {
  Job(const std::filesystem::path& dir, int64_t n_, int64_t ranks, const std::string& dtype = "fp32")
      : n(n_),
        stitched(StitchedDynamics::create(dir / "dynamics.h5", meta_with_margin(dtype), make_examples(n_, 10),
                                          ranks)) {
    for (int64_t r = 0; r < ranks; ++r) {
      blocks.push_back(rank_columns(n, r, ranks));
      parts.push_back(DynamicsStore::create(dir / rank_file_name(r), meta_with_margin(dtype),
                                            slice_columns(make_examples(n, 10), blocks.back())));
    }
  }

  /// Rank r commits epoch `epoch` (make_row's values of its columns) to its file.
  void append(size_t r, int64_t epoch) {
    const auto row = make_row(n, epoch);
    const auto margin = margin_row(n, epoch);
    const auto& b = blocks[r];
    const auto cut = [&](const auto& v) { return std::vector(v.begin() + b.first, v.begin() + b.end); };
    const auto loss = cut(row.loss);
    const auto pred = cut(row.pred);
    const auto prob = cut(row.true_prob);
    parts[r].append_epoch(loss.data(), pred.data(), prob.data(), {SignalRow{cut(margin), {}}});
  }

  /// Every rank commits `epoch`, then dynamics.h5 counts it.
  void commit(int64_t epoch) {
    for (size_t r = 0; r < parts.size(); ++r) append(r, epoch);
    stitched.commit(epoch + 1);
  }

  int64_t n;
  StitchedDynamics stitched;
  std::vector<ColumnBlock> blocks;
  std::vector<DynamicsStore> parts;
};

TEST(RankColumns, TileTheExamplesInBlocksThatDifferByOneAtMost) {
  for (const int64_t n : {1, 7, 100, 101}) {
    for (const int64_t ranks : {1, 2, 3, 7}) {
      if (ranks > n) continue;
      int64_t next = 0;
      for (int64_t r = 0; r < ranks; ++r) {
        const auto b = rank_columns(n, r, ranks);
        EXPECT_EQ(b.first, next) << n << " " << ranks << " " << r;
        EXPECT_EQ(b.first, n * r / ranks);
        EXPECT_GE(b.size(), n / ranks);
        EXPECT_LE(b.size(), n / ranks + 1);
        next = b.end;
      }
      EXPECT_EQ(next, n);
    }
  }
  // A billion examples over many ranks: no overflow in n * r.
  const int64_t n = int64_t{1} << 40;
  EXPECT_EQ(rank_columns(n, 4095, 4096).end, n);
  EXPECT_EQ(rank_columns(n, 1, 4096).first, n / 4096);
  EXPECT_EQ(rank_file_name(3), "dynamics.rank-3.h5");
}

TEST(SliceColumns, KeepsTheColumnsAndCountsRowsFromTheBlock) {
  const auto ex = make_examples(20, 4);
  const auto part = slice_columns(ex, ColumnBlock{15, 20});
  ASSERT_EQ(part.size(), 5);
  EXPECT_EQ(part.id.front(), 1015);
  EXPECT_EQ(part.role.back(), ex.role.back());
  EXPECT_EQ(part.probe_category[1], ex.probe_category[16]);
  EXPECT_TRUE(part.row.empty());  // 0..4 when written
}

TEST(StitchedDynamics, ReadsTheRankFilesAsOneRecord) {
  TempDir dir;
  const int64_t n = 101;
  Job job(dir.path(), n, 3);
  job.commit(0);
  job.commit(1);

  const auto store = DynamicsStore::open_read(dir / "dynamics.h5");
  EXPECT_EQ(store.num_examples(), n);
  EXPECT_EQ(store.complete_epochs(), 2);
  EXPECT_EQ(store.examples().id, make_examples(n, 10).id);
  ASSERT_EQ(store.meta().signals.size(), 1U);
  EXPECT_EQ(store.meta().signals[0].name, "margin");
  EXPECT_EQ(StitchedDynamics::recorded_ranks(dir / "dynamics.h5"), 3);
  EXPECT_EQ(StitchedDynamics::recorded_ranks(dir / rank_file_name(0)), 0);
  std::ostringstream described;  // mapd inspect
  describe_store(dir / "dynamics.h5", described);
  EXPECT_NE(described.str().find("shape: [2, 101]"), std::string::npos) << described.str();
  EXPECT_NE(described.str().find("recorded by 3 data-parallel ranks"), std::string::npos) << described.str();

  // Columns [20, 90) cross all three blocks ([0, 33), [33, 67), [67, 101)).
  const int64_t begin = 20;
  const int64_t end = 90;
  const int64_t count = end - begin;
  std::vector<float> loss(static_cast<size_t>(count * 2));
  std::vector<float> margin(loss.size());
  std::vector<int32_t> pred(loss.size());
  store.read_losses(begin, end, 0, 2, loss.data());
  store.read_preds(begin, end, 0, 2, pred.data());
  store.read_signal_values("margin", begin, end, 0, 2, margin.data());
  for (int64_t e = 0; e < 2; ++e) {
    const auto row = make_row(n, e);
    for (int64_t i = begin; i < end; ++i) {
      const auto at = static_cast<size_t>((i - begin) * 2 + e);
      ASSERT_EQ(loss[at], row.loss[static_cast<size_t>(i)]) << i << " " << e;
      ASSERT_EQ(pred[at], row.pred[static_cast<size_t>(i)]) << i << " " << e;
      ASSERT_EQ(margin[at], -row.loss[static_cast<size_t>(i)]) << i << " " << e;
    }
  }
}

TEST(StitchedDynamics, AnEpochCountsOnlyOnceEveryRankCommittedIt) {
  TempDir dir;
  const int64_t n = 40;
  Job job(dir.path(), n, 2);
  job.commit(0);
  job.append(0, 1);  // rank 0 committed epoch 1, rank 1 not yet

  auto store = DynamicsStore::open_read(dir / "dynamics.h5");
  EXPECT_EQ(store.complete_epochs(), 1);
  std::vector<float> loss(static_cast<size_t>(n * 2));
  EXPECT_THROW(store.read_losses(0, n, 0, 2, loss.data()), IoError);

  job.append(1, 1);
  job.stitched.commit(2);
  store.refresh();
  EXPECT_EQ(store.complete_epochs(), 2);  // a live reader follows the commits
  store.read_losses(0, n, 0, 2, loss.data());
  EXPECT_EQ(loss[1], make_row(n, 1).loss[0]);

  // dynamics.h5 counting an epoch a rank file lacks is damage, not fill values.
  job.stitched.commit(3);
  try {
    (void)DynamicsStore::open_read(dir / "dynamics.h5");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("rank file"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dynamics.rank-0.h5"), std::string::npos) << e.what();
  }
}

TEST(StitchedDynamics, AMissingOrForeignRankFileIsAnError) {
  TempDir dir;
  {
    Job job(dir.path(), 30, 2);
    job.commit(0);
  }
  std::filesystem::rename(dir / "dynamics.rank-1.h5", dir / "elsewhere.h5");
  EXPECT_THROW((void)DynamicsStore::open_read(dir / "dynamics.h5"), IoError);

  // Rank 1's file of another run (other examples) in its place.
  {
    auto other = make_examples(30, 10);
    for (auto& id : other.id) id += 5000;
    auto part = DynamicsStore::create(dir / "dynamics.rank-1.h5", meta_with_margin("fp32"),
                                      slice_columns(other, rank_columns(30, 1, 2)));
  }
  try {
    (void)DynamicsStore::open_read(dir / "dynamics.h5");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("from another run"), std::string::npos) << e.what();
  }
  // A stitched file in a rank file's place (it would open itself again and again).
  std::filesystem::copy_file(dir / "dynamics.h5", dir / "dynamics.rank-1.h5",
                             std::filesystem::copy_options::overwrite_existing);
  try {
    (void)DynamicsStore::open_read(dir / "dynamics.h5");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("stitches rank files itself"), std::string::npos) << e.what();
  }
}

TEST(StitchedDynamics, ResumeTrimsTheCountAndOneProcessCannotAppend) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  {
    Job job(dir.path(), 30, 2);
    job.commit(0);
    job.commit(1);
  }
  try {
    (void)DynamicsStore::open_append(path, 1);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("job of 2 ranks"), std::string::npos) << e.what();
  }
  {
    auto stitched = StitchedDynamics::open_append(path, 1);
    EXPECT_EQ(stitched.ranks(), 2);
    EXPECT_EQ(stitched.complete_epochs(), 1);
  }
  EXPECT_EQ(DynamicsStore::open_read(path).complete_epochs(), 1);
  // A dynamics.h5 that holds its epochs is not a stitched one.
  EXPECT_THROW((void)StitchedDynamics::open_append(dir / rank_file_name(0), 1), IoError);
}

TEST(StitchedDynamics, FewerExamplesThanRanksIsDataError) {
  TempDir dir;
  EXPECT_THROW((void)StitchedDynamics::create(dir / "dynamics.h5", make_meta("fp32"), make_examples(2), 3),
               DataError);
}

}  // namespace
}  // namespace mapd::record
