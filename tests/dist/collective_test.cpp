// The process group on this machine: a world of one on a free localhost port (the same c10d
// TCPStore and Gloo the 2-rank tests of tests/cli/distributed_test.cpp use), and the backend rules.
#include "mapd/dist/collective.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <memory>

#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"

namespace mapd::dist {
namespace {

World world_of_one() {
  World w;
  w.master_addr = "127.0.0.1";
  w.master_port = 0;  // the store's server picks a free port
  w.launcher = "test";
  return w;
}

TEST(Collective, NcclWithoutACudaDeviceIsAConfigError) {
  MAPD_EXPECT_THROW_WITH(Collective::connect(world_of_one(), "nccl", std::chrono::seconds(5), -1),
                         ConfigError, "dist.backend",
                         Collective::nccl_built() ? "needs a CUDA device" : "not available");
  MAPD_EXPECT_THROW_WITH(Collective::connect(world_of_one(), "mpi", std::chrono::seconds(5)), ConfigError,
                         "dist.backend: 'mpi'");
}

TEST(Collective, AWorldOfOneReducesAndBroadcastsInPlaceThroughGloo) {
  const auto group = Collective::connect(world_of_one(), "gloo", std::chrono::seconds(30));
  EXPECT_EQ(group->backend_name(), "gloo");
  EXPECT_EQ(group->size(), 1);
  auto x = torch::arange(5, torch::kFloat64);
  group->all_reduce_sum(x);
  EXPECT_TRUE(torch::equal(x, torch::arange(5, torch::kFloat64)));
  auto m = torch::tensor({3, -1}, torch::kInt64);
  group->all_reduce_max(m);
  EXPECT_TRUE(torch::equal(m, torch::tensor({3, -1}, torch::kInt64)));
  group->broadcast(x, 0);
  group->barrier();
  EXPECT_EQ(group->share("key", "value"), "value");
}

}  // namespace
}  // namespace mapd::dist
