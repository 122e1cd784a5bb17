#include <fmt/format.h>

#include <fstream>
#include <iterator>

#include "mapd/core/error.hpp"
#include "mapd/data/readers.hpp"

namespace mapd::data {

namespace stdfs = std::filesystem;

ImageSet read_cifar(const std::vector<stdfs::path>& files, bool cifar100, bool coarse,
                    const std::vector<std::string>& class_names) {
  constexpr int64_t kPixels = 3 * 32 * 32;
  const int64_t label_bytes = cifar100 ? 2 : 1;
  const int64_t record = label_bytes + kPixels;
  const int64_t num_classes = !class_names.empty() ? static_cast<int64_t>(class_names.size())
                              : cifar100           ? (coarse ? 20 : 100)
                                                   : 10;
  ImageSet set;
  set.channels = 3;
  set.height = 32;
  set.width = 32;
  auto& ex = set.examples;
  for (const auto& file : files) {
    MAPD_CHECK(stdfs::is_regular_file(file), DataError,
               fmt::format("CIFAR batch file {} does not exist (expected the binary version of CIFAR-{})",
                           file.string(), cifar100 ? 100 : 10));
    std::ifstream in(file, std::ios::binary);
    MAPD_CHECK(in.good(), DataError, fmt::format("cannot open CIFAR batch file {}", file.string()));
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto size = static_cast<int64_t>(bytes.size());
    MAPD_CHECK(
        size > 0 && size % record == 0, DataError,
        fmt::format("CIFAR batch file {} has {} bytes, not a whole number of {}-byte records (CIFAR-{} "
                    "binary format); the file is truncated or of the other CIFAR variant",
                    file.string(), size, record, cifar100 ? 100 : 10));
    const int64_t n = size / record;
    const std::string name = file.filename().string();
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* rec = bytes.data() + i * record;
      const int64_t label = cifar100 ? (coarse ? rec[0] : rec[1]) : rec[0];
      MAPD_CHECK(label < num_classes, DataError,
                 fmt::format("CIFAR batch file {} record {} has label {} outside [0, {})", file.string(), i,
                             label, num_classes));
      ex.id.push_back(ex.size());
      ex.label.push_back(label);
      ex.source.push_back(name + "#" + std::to_string(i));
      set.pixels.insert(set.pixels.end(), rec + label_bytes, rec + record);
    }
  }
  ex.original_label = ex.label;
  set.class_names = class_names;
  if (set.class_names.empty()) {
    for (int64_t c = 0; c < num_classes; ++c) {
      set.class_names.push_back(std::to_string(c));
    }
  }
  return set;
}

}  // namespace mapd::data
