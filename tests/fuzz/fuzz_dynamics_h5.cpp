// libFuzzer target: the dynamics.h5 reader, as `mapd inspect`, `mapd assign` and `mapd report`
// read it: detect_store_kind, DynamicsStore::open_read, then every committed row of every series
// (loss, true_prob, pred and the extra signals), the excluded columns, a refresh, a read beyond
// the committed epochs (an IoError), and describe_store.
// Input: the file's bytes (dynamics.h5).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <vector>

#include "mapd/record/describe.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  mapd::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace record = mapd::record;
  const auto path = mapd::fuzz::scratch_dir() / "dynamics.h5";
  mapd::fuzz::write_file(path, data, size);
  mapd::fuzz::expect_mapd_errors([&] { record::detect_store_kind(path); });
  mapd::fuzz::expect_mapd_errors([&] {
    auto store = record::DynamicsStore::open_read(path);
    const int64_t n = store.num_examples();
    const int64_t epochs = store.complete_epochs();
    const auto cells = static_cast<size_t>(n * epochs);
    std::vector<float> values(cells);
    std::vector<int32_t> classes(cells);
    store.read_losses(0, n, 0, epochs, values.data());
    store.read_true_probs(0, n, 0, epochs, values.data());
    store.read_preds(0, n, 0, epochs, classes.data());
    for (const auto& signal : store.meta().signals) {
      if (signal.classes) {
        store.read_signal_classes(signal.name, 0, n, 0, epochs, classes.data());
      } else {
        store.read_signal_values(signal.name, 0, n, 0, epochs, values.data());
      }
    }
    if (epochs > 0) {
      record::excluded_columns(store, epochs - 1, 7);
    }
    store.refresh();
    std::vector<float> beyond(static_cast<size_t>(n) + 1);
    store.read_losses(0, n > 0 ? 1 : 0, 0, epochs + 1, beyond.data());
  });
  mapd::fuzz::expect_mapd_errors([&] {
    std::ostringstream out;
    record::describe_store(path, out);
  });
  return 0;
}
