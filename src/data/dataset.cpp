#include "mapd/data/dataset.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "mapd/core/csv.hpp"
#include "mapd/core/csv_field.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/data/label_noise.hpp"
#include "mapd/data/readers.hpp"

namespace mapd::data {
namespace {

namespace stdfs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> read_lines(const stdfs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

/// Converts an in-memory uint8 set to `channels` (1: BT.601 luma; 3: grey repeated).
void convert_stored_channels(ImageSet& set, int64_t channels) {
  if (channels == 0 || channels == set.channels || !set.in_memory() || set.size() == 0) {
    if (set.size() == 0 && channels != 0) {
      set.channels = channels;
    }
    return;
  }
  const int64_t plane = set.height * set.width;
  const int64_t n = set.size();
  std::vector<uint8_t> out(static_cast<size_t>(n * channels * plane));
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* src = set.pixels.data() + i * set.channels * plane;
    uint8_t* dst = out.data() + i * channels * plane;
    if (set.channels == 1 && channels == 3) {
      for (int c = 0; c < 3; ++c) {
        std::memcpy(dst + c * plane, src, static_cast<size_t>(plane));
      }
    } else if (set.channels == 3 && channels == 1) {
      for (int64_t p = 0; p < plane; ++p) {
        const double y = 0.299 * src[p] + 0.587 * src[plane + p] + 0.114 * src[2 * plane + p];
        dst[p] = static_cast<uint8_t>(std::min(255.0, std::round(y)));
      }
    } else {
      throw DataError(
          fmt::format("data.channels = {}: cannot convert images with {} channels", channels, set.channels));
    }
  }
  set.pixels = std::move(out);
  set.channels = channels;
}

/// The CIFAR layout inside `dir` (or its cifar-10-batches-bin / cifar-100-binary subfolder).
struct CifarLayout {
  bool cifar100 = false;
  stdfs::path dir;
};

CifarLayout find_cifar(const stdfs::path& path) {
  MAPD_CHECK(
      stdfs::is_directory(path), DataError,
      fmt::format("CIFAR folder {} does not exist (data.path: expected the folder of the binary version, "
                  "with data_batch_1.bin ... test_batch.bin or train.bin and test.bin)",
                  path.string()));
  for (const auto& dir : {path, path / "cifar-10-batches-bin", path / "cifar-100-binary"}) {
    if (stdfs::is_regular_file(dir / "data_batch_1.bin")) {
      return {false, dir};
    }
    if (stdfs::is_regular_file(dir / "train.bin")) {
      return {true, dir};
    }
  }
  throw DataError(
      fmt::format("{} holds no CIFAR binary batches: expected data_batch_1.bin ... data_batch_5.bin "
                  "(CIFAR-10) or train.bin (CIFAR-100)",
                  path.string()));
}

std::vector<std::string> cifar_class_names(const CifarLayout& layout, bool coarse) {
  const auto file = layout.cifar100
                        ? layout.dir / (coarse ? "coarse_label_names.txt" : "fine_label_names.txt")
                        : layout.dir / "batches.meta.txt";
  return stdfs::is_regular_file(file) ? read_lines(file) : std::vector<std::string>{};
}

ImageSet read_cifar_split(const CifarLayout& layout, bool train, bool coarse,
                          const std::vector<std::string>& names) {
  std::vector<stdfs::path> files;
  if (layout.cifar100) {
    files.push_back(layout.dir / (train ? "train.bin" : "test.bin"));
  } else if (train) {
    for (int b = 1; b <= 5; ++b) {
      files.push_back(layout.dir / fmt::format("data_batch_{}.bin", b));
    }
  } else {
    files.push_back(layout.dir / "test_batch.bin");
  }
  return read_cifar(files, layout.cifar100, coarse, names);
}

/// Maps the labels of a test folder onto the training class names (by folder name).
void align_classes(ImageSet& test, const std::vector<std::string>& train_names, const std::string& where) {
  if (test.class_names == train_names) {
    return;
  }
  std::vector<int64_t> map(test.class_names.size());
  for (size_t c = 0; c < test.class_names.size(); ++c) {
    const auto it = std::find(train_names.begin(), train_names.end(), test.class_names[c]);
    MAPD_CHECK(it != train_names.end(), DataError,
               fmt::format("test set {} has class '{}', which the training set does not have", where,
                           test.class_names[c]));
    map[c] = it - train_names.begin();
  }
  for (auto& l : test.examples.label) {
    l = map[l];
  }
  test.examples.original_label = test.examples.label;
  test.class_names = train_names;
}

/// What every format must give: training examples, and a test set of the training set's image
/// shape (issue 13 item 13: an empty IDX file got the config exit code; an IDX test set of another
/// image size was accepted and scored 0%).
void check_consistent(const Dataset& dataset, const config::DataConfig& config) {
  const auto& train = dataset.train;
  MAPD_CHECK(train.size() > 0, DataError,
             fmt::format("{}: the training set holds no examples (data.path; data.format {})", config.path,
                         config.format));
  if (dataset.test) {
    const auto& test = *dataset.test;
    MAPD_CHECK(test.channels == train.channels && test.height == train.height && test.width == train.width,
               DataError,
               fmt::format("test set {} has images of {}x{}x{} (channels x height x width) but the training "
                           "set {} has {}x{}x{}: the model takes one image size; use a test set of the same "
                           "kind (data.test_path)",
                           config.test_path.empty() ? config.path : config.test_path, test.channels,
                           test.height, test.width, config.path, train.channels, train.height, train.width));
  }
}

}  // namespace

void ImageSet::read(int64_t i, uint8_t* out) const {
  const int64_t bytes = image_bytes();
  if (!pixels.empty()) {
    std::memcpy(out, pixels.data() + i * bytes, static_cast<size_t>(bytes));
    return;
  }
  const auto reason = decode_image(paths.at(static_cast<size_t>(i)), channels, height, width, out);
  MAPD_CHECK(reason.empty(), DataError,
             fmt::format("image {} (id {}): {}", paths[i], examples.id_text(i), reason));
}

int64_t class_count(const std::vector<int64_t>& labels, int64_t named) {
  int64_t classes = named;
  for (const int64_t label : labels) {
    MAPD_ASSERT(label >= 0, fmt::format("class_count: negative label {}", label));
    classes = std::max(classes, label + 1);
  }
  return classes;
}

void write_bad_inputs(const stdfs::path& path, const std::vector<BadInput>& bad) {
  std::ostringstream out;
  out << "path,reason,epoch\n";
  for (const auto& b : bad) {
    out << csv_field(b.path) << "," << csv_field(b.reason) << ","
        << (b.epoch < 0 ? "" : std::to_string(b.epoch)) << "\n";
  }
  fs::write_file_atomic(path, out.str());
}

std::vector<BadInput> read_bad_inputs(const stdfs::path& path) {
  std::vector<BadInput> out;
  if (!stdfs::exists(path)) {
    return out;
  }
  std::istringstream in(fs::read_file(path));
  std::string line;
  std::getline(in, line);  // the header
  int64_t line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    const auto fields = split_csv_line(line, fmt::format("{}:{}", path.string(), line_number));
    if (fields.size() < 2) {
      continue;
    }
    BadInput bad{fields[0], fields[1]};
    if (fields.size() > 2 && !fields[2].empty()) {
      try {
        bad.epoch = std::stoll(fields[2]);
      } catch (const std::exception&) {
        throw DataError(fmt::format("{}: epoch '{}' is not a number (expected path,reason,epoch rows)",
                                    path.string(), fields[2]));
      }
    }
    out.push_back(std::move(bad));
  }
  return out;
}

Dataset load_dataset(const config::DataConfig& config, const stdfs::path& run_dir) {
  auto logger = log::get("data");
  Dataset dataset;
  dataset.name = config.name;
  const stdfs::path path = config.path;
  const stdfs::path test_path = config.test_path;
  DecodeOptions decode;
  decode.channels = config.channels;  // 0 = as stored, decided from the files
  decode.height = config.image_size;  // 0 = as stored
  decode.width = config.image_size;
  decode.memory_budget_mb = config.memory_budget_mb;
  decode.workers = config.workers < 0 ? 2 : std::max<int64_t>(1, config.workers);  // -1 = auto

  if (config.format == "idx") {
    const bool fashion = lower(config.name).find("fashion") != std::string::npos ||
                         lower(path.string()).find("fashion") != std::string::npos;
    const auto names = fashion ? fashion_mnist_class_names() : std::vector<std::string>{};
    const auto [images, labels] = find_idx_files(path, "train");
    dataset.train = read_idx(images, labels, names);
    if (test_path.empty()) {
      if (stdfs::exists(path / "t10k-images-idx3-ubyte.gz") ||
          stdfs::exists(path / "t10k-images-idx3-ubyte") || stdfs::exists(path / "t10k-images.idx3-ubyte")) {
        const auto [ti, tl] = find_idx_files(path, "t10k");
        dataset.test = read_idx(ti, tl, dataset.train.class_names);
      } else {
        logger->info("no t10k-* files in {}: no test set", path.string());
      }
    } else {
      const bool has_t10k = stdfs::exists(test_path / "t10k-images-idx3-ubyte.gz") ||
                            stdfs::exists(test_path / "t10k-images-idx3-ubyte") ||
                            stdfs::exists(test_path / "t10k-images.idx3-ubyte");
      const auto [ti, tl] = find_idx_files(test_path, has_t10k ? "t10k" : "train");
      dataset.test = read_idx(ti, tl, dataset.train.class_names);
    }
  } else if (config.format == "cifar") {
    const bool coarse = config.cifar_labels == "coarse";
    const auto layout = find_cifar(path);
    const auto names = cifar_class_names(layout, coarse);
    dataset.train = read_cifar_split(layout, true, coarse, names);
    const auto test_layout = test_path.empty() ? layout : find_cifar(test_path);
    const bool test_exists = test_layout.cifar100 ? stdfs::exists(test_layout.dir / "test.bin")
                                                  : stdfs::exists(test_layout.dir / "test_batch.bin");
    if (test_exists || !test_path.empty()) {
      dataset.test = read_cifar_split(test_layout, false, coarse, dataset.train.class_names);
    }
  } else if (config.format == "folder") {
    dataset.train = read_image_folder(path, decode, dataset.bad_inputs);
    decode.height = dataset.train.height;  // the test split at the training split's size
    decode.width = dataset.train.width;
    if (!test_path.empty()) {
      dataset.test = read_image_folder(test_path, decode, dataset.bad_inputs);
      align_classes(*dataset.test, dataset.train.class_names, test_path.string());
    }
  } else if (config.format == "manifest") {
    dataset.train = read_manifest(path, config.num_classes, decode, dataset.bad_inputs);
    decode.height = dataset.train.height;  // the test split at the training split's size
    decode.width = dataset.train.width;
    if (!test_path.empty()) {
      dataset.test = read_manifest(test_path, dataset.train.num_classes(), decode, dataset.bad_inputs);
      dataset.test->class_names = dataset.train.class_names;
    }
  } else {
    throw ConfigError(
        fmt::format("data.format: unknown format '{}' (idx, cifar, folder or manifest)", config.format));
  }

  check_consistent(dataset, config);
  convert_stored_channels(dataset.train, config.channels);
  if (dataset.test) {
    convert_stored_channels(*dataset.test, config.channels);
  }
  const int64_t full = dataset.train.size();
  apply_limit(dataset.train, config.limit, static_cast<uint64_t>(config.seed));
  const int64_t noisy = apply_label_noise(dataset.train, config.label_noise);

  logger->info(
      "{}: {} training examples{}, {} test examples, {} classes, images {}x{}x{}{}", dataset.name,
      dataset.train.size(), full != dataset.train.size() ? fmt::format(" (data.limit of {})", full) : "",
      dataset.test ? dataset.test->size() : 0, dataset.train.num_classes(), dataset.train.channels,
      dataset.train.height, dataset.train.width, dataset.train.in_memory() ? "" : " (decoded on the fly)");
  if (noisy > 0) {
    logger->info("label noise: {} of {} training labels changed ({}, seed {})", noisy, dataset.train.size(),
                 config.label_noise.kind, config.label_noise.seed);
  }
  if (!dataset.bad_inputs.empty()) {
    logger->warn("{} images could not be read and were excluded{}", dataset.bad_inputs.size(),
                 run_dir.empty() ? "" : " (see " + RunLayout(run_dir).bad_inputs().string() + ")");
  }
  if (!run_dir.empty()) {
    // Examples left out during training (their epoch >= 0) stay listed: the trainer trims them to
    // its committed epochs when it opens the run.
    const auto csv = RunLayout(run_dir).bad_inputs();
    auto listed = dataset.bad_inputs;
    for (auto& bad : read_bad_inputs(csv)) {
      if (bad.epoch >= 0) listed.push_back(std::move(bad));
    }
    write_bad_inputs(csv, listed);
  }
  return dataset;
}

}  // namespace mapd::data
