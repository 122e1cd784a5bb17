// libFuzzer target: the assignments.h5 reader, as `mapd inspect` and `mapd report` read it:
// detect_store_kind, AssignmentStore::read, and describe_store.
// Input: the file's bytes (assignments.h5).
#include <cstddef>
#include <cstdint>
#include <sstream>

#include "mapd/record/assignment_store.hpp"
#include "mapd/record/describe.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  mapd::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace record = mapd::record;
  const auto path = mapd::fuzz::scratch_dir() / "assignments.h5";
  mapd::fuzz::write_file(path, data, size);
  mapd::fuzz::expect_mapd_errors([&] { record::detect_store_kind(path); });
  mapd::fuzz::expect_mapd_errors([&] {
    record::AssignmentMeta meta;
    const auto columns = record::AssignmentStore::read(path, &meta);
    if (columns.prob.size() != columns.id.size() * meta.category_names.size()) {
      std::abort();  // read promises [N, C] rows
    }
  });
  mapd::fuzz::expect_mapd_errors([&] {
    std::ostringstream out;
    record::describe_store(path, out);
  });
  return 0;
}
