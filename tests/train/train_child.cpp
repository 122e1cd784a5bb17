// A small training run in its own process, for the SIGTERM, kill/resume and step-checkpoint tests:
//   mapd_train_child RUN_DIR EPOCHS RESUME(0|1) [STOP_EPOCH STOP_STEP]
// With STOP_EPOCH and STOP_STEP, the last rank raises SIGUSR1 after that step (0-based). Under
// torchrun's variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) it is one rank of a
// data-parallel job over Gloo. Exit codes as the mapd binary: 0 ok, 5 diverged, 128+N interrupted
// by signal N.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/dist/collective.hpp"
#include "mapd/dist/world.hpp"

#include "synthetic.hpp"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    std::fprintf(stderr, "usage: %s RUN_DIR EPOCHS RESUME [STOP_EPOCH STOP_STEP]\n", argv[0]);
    return 2;
  }
  try {
    mapd::log::init("warn");
    const auto images = mapd::test::make_image_set(1024, 4, 16);
    auto config = mapd::test::tiny_config(std::atoll(argv[2]));
    config.train.batch_size = 8;  // many short steps: the signal lands mid-epoch
    const auto inputs = mapd::test::make_inputs(images);
    const std::filesystem::path run_dir(argv[1]);
    const bool resume = std::string(argv[3]) == "1";
    std::shared_ptr<mapd::dist::Collective> group;
    if (const auto world = mapd::dist::world_from_environment()) {
      group = mapd::dist::Collective::connect(*world, "gloo", std::chrono::seconds(30));
    }
    const mapd::RunLayout run = group ? mapd::RunLayout(run_dir, group->rank(), group->size()) : run_dir;
    mapd::train::Trainer trainer(config, inputs, run, group);
    std::optional<mapd::test::SignalAtStep> stop;
    if (argc == 6 && (!group || group->rank() == group->size() - 1)) {
      stop.emplace(std::atoll(argv[4]), std::atoll(argv[5]));
      trainer.add_observer(&*stop);
    }
    trainer.run(resume);
    return 0;
  } catch (const mapd::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return static_cast<int>(e.exit_code());
  }
}
