// DataParallel's record exchange and parameter check with two ranks in one process (two threads,
// each its own c10d Gloo process group over localhost).
#include "mapd/train/data_parallel.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/dist/collective.hpp"

#include "../dist/free_port.hpp"

namespace mapd::train {
namespace {

using mapd::testing::free_port;

/// Runs `body(rank's DataParallel)` on two ranks at once; the exception each rank's body threw (or
/// null), in rank order.
std::vector<std::exception_ptr> on_two_ranks(const std::function<void(DataParallel&)>& body) {
  // c10d's flight recorder (a process-wide log of collectives) is not safe for two process groups
  // used from two threads of one process; a job has one group per process. Off before the first
  // group is made.
  ::setenv("TORCH_FR_BUFFER_SIZE", "0", 1);
  const int port = free_port();
  std::vector<std::exception_ptr> errors(2);
  // The process groups outlive both threads and close after them, rank 1 before rank 0 (which
  // serves the rendezvous store): closing one while the other thread still runs is not safe.
  std::vector<std::shared_ptr<DataParallel>> ranks(2);
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      const auto k = static_cast<size_t>(r);
      try {
        dist::World world{r, 2, r, "127.0.0.1", port, "test"};
        ranks[k] = std::make_shared<DataParallel>(
            dist::Collective::connect(world, "gloo", std::chrono::seconds(20)), 1 << 20);
        body(*ranks[k]);
        ranks[k]->barrier();
      } catch (...) {
        errors[k] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  ranks[1].reset();
  ranks[0].reset();
  return errors;
}

/// A record of `n` rows in which this rank recorded the rows `recorded` says.
EpochRecord::Host record_of(int64_t n, const std::function<bool(int64_t)>& recorded, float offset) {
  EpochRecord::Host host;
  for (int64_t i = 0; i < n; ++i) {
    const bool here = recorded(i);
    const auto v = static_cast<float>(i) + offset;
    host.loss.push_back(here ? v : NAN);
    host.pred.push_back(here ? static_cast<int32_t>(i % 7) : -1);
    host.true_prob.push_back(here ? v / 100.0F : NAN);
    host.margin.push_back(here ? -v : NAN);
    host.el2n.push_back(here ? v * 2.0F : NAN);
  }
  return host;
}

/// The same parameters on every rank (computed, not drawn: the ranks here are threads of one
/// process and would share torch's random generator).
std::vector<torch::Tensor> parameters() {
  return {torch::linspace(-1.0, 1.0, 12).reshape({4, 3}), torch::arange(5).to(torch::kFloat32).mul(0.1)};
}

void rethrow_if(const std::exception_ptr& error) {
  if (error) std::rethrow_exception(error);
}

// Each rank trained every other row (strided, as the sharded permutation gives) and gets back the
// rows of its own column block, bit for bit, from whichever rank trained them.
TEST(DataParallelExchange, EachRankGetsItsBlockFromTheRanksThatTrainedIt) {
  const int64_t n = 11;
  const std::vector<int64_t> first{0, 5, n};
  std::vector<EpochRecord::Host> blocks(2);
  const auto errors = on_two_ranks([&](DataParallel& p) {
    const int64_t r = p.rank();
    const auto host = record_of(
        n, [&](int64_t i) { return i % 2 == r; }, 0.25F);
    blocks[static_cast<size_t>(r)] = p.exchange_record(host, first, /*exactly_once=*/true);
  });
  rethrow_if(errors[0]);
  rethrow_if(errors[1]);
  for (int64_t r = 0; r < 2; ++r) {
    const auto& b = blocks[static_cast<size_t>(r)];
    ASSERT_EQ(static_cast<int64_t>(b.loss.size()), first[r + 1] - first[r]);
    for (int64_t i = first[r]; i < first[r + 1]; ++i) {
      const auto k = static_cast<size_t>(i - first[r]);
      const auto v = static_cast<float>(i) + 0.25F;
      EXPECT_EQ(b.loss[k], v) << i;
      EXPECT_EQ(b.pred[k], i % 7) << i;
      EXPECT_EQ(b.true_prob[k], v / 100.0F) << i;
      EXPECT_EQ(b.margin[k], -v) << i;
      EXPECT_EQ(b.el2n[k], v * 2.0F) << i;
    }
  }
}

// A row no rank recorded stays unrecorded; a row both recorded (record.view=eval) gets the mean,
// unless the shards must be disjoint.
TEST(DataParallelExchange, UnrecordedRowsStayUnrecordedAndTwiceRecordedRowsAreAveraged) {
  const int64_t n = 6;
  const std::vector<int64_t> first{0, 3, n};
  std::vector<EpochRecord::Host> blocks(2);
  auto errors = on_two_ranks([&](DataParallel& p) {
    const int64_t r = p.rank();
    const auto host = record_of(
        n, [](int64_t i) { return i != 4; }, r == 0 ? 0.0F : 1.0F);
    blocks[static_cast<size_t>(r)] = p.exchange_record(host, first, /*exactly_once=*/false);
  });
  rethrow_if(errors[0]);
  rethrow_if(errors[1]);
  EXPECT_EQ(blocks[0].loss[1], 1.5F);  // (1 + 2) / 2
  EXPECT_EQ(blocks[1].loss[0], 3.5F);
  EXPECT_TRUE(std::isnan(blocks[1].loss[1]));  // row 4
  EXPECT_EQ(blocks[1].pred[1], -1);

  errors = on_two_ranks([&](DataParallel& p) {
    const auto host = record_of(
        n, [](int64_t) { return true; }, 0.0F);
    (void)p.exchange_record(host, first, /*exactly_once=*/true);
  });
  for (const auto& error : errors) {
    ASSERT_TRUE(error);
    try {
      std::rethrow_exception(error);
    } catch (const InternalError& e) {
      EXPECT_NE(std::string(e.what()).find("recorded by 2 ranks"), std::string::npos) << e.what();
    }
  }
}

TEST(DataParallelGather, EveryRankGetsEveryRanksRows) {
  std::vector<std::vector<int64_t>> got(2);
  const auto errors = on_two_ranks([&](DataParallel& p) {
    got[static_cast<size_t>(p.rank())] =
        p.gather_rows(p.rank() == 0 ? std::vector<int64_t>{7} : std::vector<int64_t>{2, 9, 4});
  });
  rethrow_if(errors[0]);
  rethrow_if(errors[1]);
  EXPECT_EQ(got[0], (std::vector<int64_t>{7, 2, 9, 4}));
  EXPECT_EQ(got[1], got[0]);
}

// The runtime guard of issue 15 item 5: identical parameters pass with one checksum on every rank;
// a difference in one bit of one rank fails every rank with a DistributedError naming the epoch.
TEST(DataParallelCheckIdentical, ParametersThatDifferInOneBitFailEveryRank) {
  std::vector<uint64_t> sums(2);
  auto errors = on_two_ranks([&](DataParallel& p) {
    const auto params = parameters();
    sums[static_cast<size_t>(p.rank())] = p.check_identical(params, 2);
  });
  rethrow_if(errors[0]);
  rethrow_if(errors[1]);
  EXPECT_EQ(sums[0], sums[1]);

  errors = on_two_ranks([&](DataParallel& p) {
    auto params = parameters();
    if (p.rank() == 1) {
      auto* bits = reinterpret_cast<uint32_t*>(params[1].data_ptr<float>());
      bits[4] ^= 1U;  // the last bit of the last value
    }
    (void)p.check_identical(params, 2);
  });
  for (const auto& error : errors) {
    ASSERT_TRUE(error);
    try {
      std::rethrow_exception(error);
    } catch (const DistributedError& e) {
      EXPECT_NE(std::string(e.what()).find("parameters differ after epoch 2"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace mapd::train
