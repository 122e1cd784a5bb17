// libFuzzer targets fuzz_config_yaml and fuzz_config_json (this source, built twice with
// MAPD_FUZZ_CONFIG_FILE "config.yaml" or "config.json"): the config file reader as
// `mapd config -c FILE` uses it: config::resolve (read_config_file, merge, from_json, validate),
// then the resolved config as JSON text (what every run saves as config.resolved.json).
// Input: the file's bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mapd/config/loader.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  mapd::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = mapd::fuzz::scratch_dir() / MAPD_FUZZ_CONFIG_FILE;
  mapd::fuzz::write_file(path, data, size);
  mapd::fuzz::expect_mapd_errors([&] {
    const auto config = mapd::config::resolve({path.string()}, {});
    const std::string text = mapd::config::to_json(config).dump(2);
    if (text.empty()) {
      std::abort();
    }
  });
  return 0;
}
