// libFuzzer target: the CIFAR binary reader (data.format cifar) through load_dataset, as
// `mapd train` and `mapd data` read it.
//
// Input: byte 0 selects options (bit 0: CIFAR-100 layout, train.bin + test.bin, else CIFAR-10,
// data_batch_1..5.bin + test_batch.bin; bit 1: data.cifar_labels coarse; bit 2: a class names file,
// batches.meta.txt or fine/coarse_label_names.txt, holding as many names as bits 3-6 say; bit 7:
// data.limit = 2), then the batch file, written under every batch name of the layout.
#include <cstddef>
#include <cstdint>
#include <string>

#include "mapd/data/dataset.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  mapd::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) {
    return -1;
  }
  const uint8_t options = data[0];
  ++data;
  --size;
  const bool cifar100 = (options & 1U) != 0;
  const bool coarse = (options & 2U) != 0;

  const auto& dir = mapd::fuzz::scratch_dir();
  const auto batches = dir / "cifar";
  std::filesystem::remove_all(batches);
  std::filesystem::create_directories(batches);
  if (cifar100) {
    for (const char* name : {"train.bin", "test.bin"}) {
      mapd::fuzz::write_file(batches / name, data, size);
    }
  } else {
    for (const char* name : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                             "data_batch_5.bin", "test_batch.bin"}) {
      mapd::fuzz::write_file(batches / name, data, size);
    }
  }
  if ((options & 4U) != 0) {
    std::string names;
    for (unsigned c = 0; c < ((options >> 3U) & 15U); ++c) {
      names += "class " + std::to_string(c) + "\n";
    }
    const char* file = !cifar100 ? "batches.meta.txt"
                       : coarse  ? "coarse_label_names.txt"
                                 : "fine_label_names.txt";
    mapd::fuzz::write_file(batches / file, reinterpret_cast<const uint8_t*>(names.data()), names.size());
  }

  mapd::config::DataConfig config;
  config.format = "cifar";
  config.path = batches.string();
  config.name = "cifar";
  config.cifar_labels = coarse ? "coarse" : "fine";
  config.limit = (options & 128U) != 0 ? 2 : 0;
  mapd::fuzz::expect_mapd_errors([&] { mapd::data::load_dataset(config, {}); });
  return 0;
}
