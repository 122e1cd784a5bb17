// A small training run in its own process, for the SIGTERM and kill/resume tests:
//   mapd_train_child RUN_DIR EPOCHS RESUME(0|1)
// Exit codes as the mapd binary: 0 ok, 5 diverged, 128+N interrupted by signal N.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"

#include "synthetic.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s RUN_DIR EPOCHS RESUME\n", argv[0]);
    return 2;
  }
  try {
    mapd::log::init("warn");
    const auto images = mapd::test::make_image_set(1024, 4, 16);
    auto config = mapd::test::tiny_config(std::atoll(argv[2]));
    config.train.batch_size = 8;  // many short steps: the signal lands mid-epoch
    const auto inputs = mapd::test::make_inputs(images);
    mapd::train::train(config, inputs, std::filesystem::path(argv[1]), std::string(argv[3]) == "1");
    return 0;
  } catch (const mapd::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return static_cast<int>(e.exit_code());
  }
}
