#include "mapd/dist/world.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"

namespace mapd::dist {
namespace {

/// world_from_environment over the variables `env` alone.
std::optional<World> world_of(const std::map<std::string, std::string>& env) {
  return world_from_environment([&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(World, NothingSetOrAWorldOfOneIsOneProcess) {
  EXPECT_FALSE(world_of({}).has_value());
  EXPECT_FALSE(world_of({{"WORLD_SIZE", "1"}, {"RANK", "0"}}).has_value());
  EXPECT_FALSE(world_of({{"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}}).has_value());
}

TEST(World, TorchrunsVariables) {
  const auto world = world_of({{"WORLD_SIZE", "4"},
                               {"RANK", "3"},
                               {"LOCAL_RANK", "1"},
                               {"MASTER_ADDR", "node7"},
                               {"MASTER_PORT", "29500"}});
  ASSERT_TRUE(world.has_value());
  EXPECT_EQ(world->rank, 3);
  EXPECT_EQ(world->world_size, 4);
  EXPECT_EQ(world->local_rank, 1);
  EXPECT_EQ(world->master_addr, "node7");
  EXPECT_EQ(world->master_port, 29500);
  EXPECT_EQ(world->launcher, "torchrun");
}

TEST(World, SlurmsVariablesWithTheFirstHostOfTheNodeList) {
  // torchrun's variables win over SLURM's (torchrun inside an allocation).
  const std::map<std::string, std::string> slurm = {{"SLURM_NTASKS", "8"},
                                                    {"SLURM_PROCID", "5"},
                                                    {"SLURM_LOCALID", "1"},
                                                    {"SLURM_JOB_NODELIST", "gpu[03-05,07],cpu1"},
                                                    {"SLURM_JOB_ID", "123456"}};
  const auto world = world_of(slurm);
  ASSERT_TRUE(world.has_value());
  EXPECT_EQ(world->launcher, "slurm");
  EXPECT_EQ(world->rank, 5);
  EXPECT_EQ(world->world_size, 8);
  EXPECT_EQ(world->local_rank, 1);
  EXPECT_EQ(world->master_addr, "gpu03");
  EXPECT_EQ(world->master_port, kDefaultPort + 456);  // per job, so that two jobs on a node differ
  auto ignored = slurm;
  ignored["MAPD_IGNORE_SLURM"] = "1";
  EXPECT_FALSE(world_of(ignored).has_value());
}

TEST(World, FirstSlurmHost) {
  EXPECT_EQ(first_slurm_host("node7"), "node7");
  EXPECT_EQ(first_slurm_host("a1,b2"), "a1");
  EXPECT_EQ(first_slurm_host("gpu[003-010]"), "gpu003");
  EXPECT_EQ(first_slurm_host("x,gpu[1,4]"), "x");
  MAPD_EXPECT_THROW_WITH(first_slurm_host("gpu[1-2"), ConfigError, "'[' without ']'");
  MAPD_EXPECT_THROW_WITH(first_slurm_host("gpu[a-b]"), ConfigError, "'a' is not a host number");
  MAPD_EXPECT_THROW_WITH(first_slurm_host(""), ConfigError, "empty");
}

TEST(World, MalformedOrInconsistentVariablesNameTheVariable) {
  MAPD_EXPECT_THROW_WITH(world_of({{"WORLD_SIZE", "two"}}), ConfigError,
                         "WORLD_SIZE='two' is not an integer");
  MAPD_EXPECT_THROW_WITH(world_of({{"WORLD_SIZE", "2"}}), ConfigError, "RANK is not");
  MAPD_EXPECT_THROW_WITH(
      world_of({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}), ConfigError,
      "rank 2 is outside [0, 2)");
  MAPD_EXPECT_THROW_WITH(world_of({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_PORT", "1"}}), ConfigError,
                         "MASTER_ADDR is not");
  MAPD_EXPECT_THROW_WITH(
      world_of({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}),
      ConfigError, "MASTER_PORT 70000 is not a port");
  MAPD_EXPECT_THROW_WITH(world_of({{"SLURM_NTASKS", "2"}, {"SLURM_PROCID", "0"}}), ConfigError,
                         "neither MASTER_ADDR nor SLURM_JOB_NODELIST");
}

}  // namespace
}  // namespace mapd::dist
