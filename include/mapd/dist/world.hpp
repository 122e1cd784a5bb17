#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

/// Which process of a data-parallel job this is, read from the launcher's environment: torchrun's
/// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or SLURM's (SLURM_PROCID, SLURM_NTASKS,
/// SLURM_LOCALID, the first host of SLURM_JOB_NODELIST). No torch here.
namespace mapd::dist {

struct World {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;   ///< index of the process on its node (which GPU it takes)
  std::string master_addr;  ///< where rank 0 serves the rendezvous store
  int64_t master_port = 0;
  std::string launcher;  ///< "torchrun" or "slurm", for messages
};

/// The rendezvous port when the launcher names none (SLURM): MASTER_PORT, else this one plus the
/// job id modulo 1000, so that two jobs sharing a node do not collide.
inline constexpr int64_t kDefaultPort = 29400;

/// Reads the environment through `getenv` (std::getenv by default). torchrun's variables win over
/// SLURM's; SLURM counts only when SLURM_NTASKS > 1 and MAPD_IGNORE_SLURM is not set (an
/// interactive `salloc` shell runs one mapd). Nothing set, or a world of one: nullopt (one
/// process). Throws ConfigError naming the variable when a value is malformed or inconsistent
/// (rank outside [0, world size), no master address).
std::optional<World> world_from_environment(const std::function<const char*(const char*)>& getenv = nullptr);

/// The first host of a SLURM node list: "gpu[03-05,07],cpu1" -> "gpu03", "node7" -> "node7".
/// Throws ConfigError for an empty or malformed list.
std::string first_slurm_host(const std::string& nodelist);

}  // namespace mapd::dist
