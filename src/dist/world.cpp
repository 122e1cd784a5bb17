#include "mapd/dist/world.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>

#include "mapd/core/error.hpp"

namespace mapd::dist {
namespace {

/// The integer value of variable `name` (`text`), or ConfigError naming it.
int64_t integer(const char* name, const char* text) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  MAPD_CHECK(end != text && *end == '\0' && errno == 0, ConfigError,
             fmt::format("environment variable {}='{}' is not an integer", name, text));
  return value;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  MAPD_CHECK(!nodelist.empty(), ConfigError, "SLURM_JOB_NODELIST is empty: cannot find the first host");
  // The first entry ends at a comma outside brackets.
  const auto bracket = nodelist.find('[');
  const auto comma = nodelist.find(',');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) {
    return nodelist.substr(0, comma);
  }
  const auto close = nodelist.find(']', bracket);
  MAPD_CHECK(close != std::string::npos, ConfigError,
             fmt::format("SLURM_JOB_NODELIST='{}': '[' without ']'", nodelist));
  // "gpu[03-05,07]": the prefix and the first number of the range list, zero padding kept.
  const std::string ranges = nodelist.substr(bracket + 1, close - bracket - 1);
  const auto end = ranges.find_first_of("-,");
  const std::string first = ranges.substr(0, end);
  MAPD_CHECK(!first.empty() && first.find_first_not_of("0123456789") == std::string::npos, ConfigError,
             fmt::format("SLURM_JOB_NODELIST='{}': '{}' is not a host number", nodelist, first));
  return nodelist.substr(0, bracket) + first;
}

std::optional<World> world_from_environment(const std::function<const char*(const char*)>& getenv) {
  const auto get = [&](const char* name) -> const char* {
    const char* value = getenv ? getenv(name) : std::getenv(name);
    return value != nullptr && *value != '\0' ? value : nullptr;
  };
  World world;
  const char* size_text = get("WORLD_SIZE");
  if (size_text != nullptr) {
    world.launcher = "torchrun";
    world.world_size = integer("WORLD_SIZE", size_text);
    const char* rank = get("RANK");
    MAPD_CHECK(rank != nullptr, ConfigError, "WORLD_SIZE is set but RANK is not (launch with torchrun)");
    world.rank = integer("RANK", rank);
    const char* local = get("LOCAL_RANK");
    world.local_rank = local != nullptr ? integer("LOCAL_RANK", local) : world.rank;
    const char* addr = get("MASTER_ADDR");
    MAPD_CHECK(addr != nullptr || world.world_size == 1, ConfigError,
               "WORLD_SIZE is set but MASTER_ADDR is not (the host of rank 0's rendezvous store)");
    world.master_addr = addr != nullptr ? addr : "127.0.0.1";
    const char* port = get("MASTER_PORT");
    MAPD_CHECK(port != nullptr || world.world_size == 1, ConfigError,
               "WORLD_SIZE is set but MASTER_PORT is not (the port of rank 0's rendezvous store)");
    world.master_port = port != nullptr ? integer("MASTER_PORT", port) : kDefaultPort;
  } else if (const char* tasks = get("SLURM_NTASKS");
             tasks != nullptr && get("MAPD_IGNORE_SLURM") == nullptr) {
    world.launcher = "slurm";
    world.world_size = integer("SLURM_NTASKS", tasks);
    if (world.world_size <= 1) return std::nullopt;
    const char* rank = get("SLURM_PROCID");
    MAPD_CHECK(rank != nullptr, ConfigError,
               "SLURM_NTASKS is set but SLURM_PROCID is not (run mapd under srun)");
    world.rank = integer("SLURM_PROCID", rank);
    const char* local = get("SLURM_LOCALID");
    world.local_rank = local != nullptr ? integer("SLURM_LOCALID", local) : 0;
    const char* addr = get("MASTER_ADDR");
    const char* nodes = get("SLURM_JOB_NODELIST");
    if (nodes == nullptr) nodes = get("SLURM_NODELIST");
    MAPD_CHECK(addr != nullptr || nodes != nullptr, ConfigError,
               "SLURM_NTASKS is set but neither MASTER_ADDR nor SLURM_JOB_NODELIST is");
    world.master_addr = addr != nullptr ? addr : first_slurm_host(nodes);
    const char* port = get("MASTER_PORT");
    const char* job = get("SLURM_JOB_ID");
    world.master_port = port != nullptr
                            ? integer("MASTER_PORT", port)
                            : kDefaultPort + (job != nullptr ? integer("SLURM_JOB_ID", job) % 1000 : 0);
  } else {
    return std::nullopt;
  }
  MAPD_CHECK(world.world_size >= 1, ConfigError,
             fmt::format("{}: the world size must be >= 1, got {}", world.launcher, world.world_size));
  MAPD_CHECK(world.rank >= 0 && world.rank < world.world_size, ConfigError,
             fmt::format("{}: rank {} is outside [0, {})", world.launcher, world.rank, world.world_size));
  MAPD_CHECK(world.master_port > 0 && world.master_port < 65536, ConfigError,
             fmt::format("{}: MASTER_PORT {} is not a port (1..65535)", world.launcher, world.master_port));
  if (world.world_size == 1) return std::nullopt;
  return world;
}

}  // namespace mapd::dist
