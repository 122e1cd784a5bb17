#include <fmt/format.h>
#include <opencv2/core.hpp>
#if MAPD_HAVE_IMGCODECS
#include <opencv2/imgcodecs.hpp>
#endif
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "mapd/core/csv.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/readers.hpp"

namespace mapd::data {
namespace {

/// Image decoding is OpenCV's imgcodecs; the lean build (MAPD_IMGCODECS=OFF, for carrying mapd to
/// a machine without Debian's libraries) reads IDX and CIFAR data only.
constexpr const char* kNoImageDecoding =
    "data.format folder/manifest: this mapd was built with MAPD_IMGCODECS=OFF (the lean variant that "
    "reads IDX and CIFAR data only) and cannot decode image files; use the default build (scripts/setup)";

namespace stdfs = std::filesystem;

bool is_image_file(const stdfs::path& path) {
  static const std::set<std::string> kExtensions = {".jpg", ".jpeg", ".png",  ".bmp", ".ppm",
                                                    ".pgm", ".pbm",  ".webp", ".tif", ".tiff"};
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return kExtensions.count(ext) > 0;
}

bool is_jpeg(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF;
}

/// A JPEG ends with the end-of-image marker FF D9 (possibly followed by a little padding). libjpeg
/// decodes a truncated file without failing (grey fill and a warning), so check the marker first.
bool has_jpeg_end_marker(const uint8_t* tail, size_t n) {
  for (size_t i = n; i >= 2; --i) {
    if (tail[i - 2] == 0xFF && tail[i - 1] == 0xD9) {
      return true;
    }
  }
  return false;
}

/// The reason for an image file over kMaxImageFileBytes.
std::string too_large(int64_t size) {
  return fmt::format("file of {:.1f} MiB is larger than the {} MiB limit for one image (not read)",
                     static_cast<double>(size) / 1048576.0, kMaxImageFileBytes >> 20);
}

/// The type of what `entry` names, following a symbolic link, and "" or the reason the link leads
/// nowhere (dangling, a loop, or its target cannot be examined).
std::pair<stdfs::file_type, std::string> entry_type(const stdfs::directory_entry& entry) {
  std::error_code error;
  const auto status = entry.status(error);
  if (!error) {
    return {status.type(), ""};
  }
  std::error_code link_error;
  if (!entry.is_symlink(link_error) || link_error) {
    return {stdfs::file_type::unknown, "cannot be examined: " + error.message()};
  }
  if (error == std::errc::too_many_symbolic_link_levels) {
    return {stdfs::file_type::unknown, "symbolic link loop (not followed)"};
  }
  const auto target = stdfs::read_symlink(entry.path(), link_error);
  if (error == std::errc::no_such_file_or_directory) {
    return {stdfs::file_type::not_found,
            fmt::format("dangling symbolic link: its target {} does not exist", target.string())};
  }
  return {stdfs::file_type::unknown,
          fmt::format("symbolic link to {} cannot be followed: {}", target.string(), error.message())};
}

/// Whether the image file at `path` holds greyscale pixels, from its header: a PNG of colour type
/// grey or grey + alpha, a PGM or PBM, a JPEG with one component. Other formats, and files whose
/// header cannot be read (they are listed as bad when decoded), count as colour.
bool stored_as_grey(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::array<uint8_t, 26> head{};
  in.read(reinterpret_cast<char*>(head.data()), head.size());
  const auto got = in.gcount();
  if (got >= 2 && head[0] == 'P' && (head[1] == '1' || head[1] == '2' || head[1] == '4' || head[1] == '5')) {
    return true;
  }
  constexpr std::array<uint8_t, 8> kPng = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (got == 26 && std::equal(kPng.begin(), kPng.end(), head.begin())) {
    return head[25] == 0 || head[25] == 4;  // IHDR colour type: 0 grey, 4 grey + alpha
  }
  if (got < 4 || head[0] != 0xFF || head[1] != 0xD8) {
    return false;
  }
  // JPEG: walk the segments to the frame header (SOF0..SOF15 but DHT, JPG, DAC); its byte 9 is
  // the number of components.
  std::streamoff at = 2;
  for (int segments = 0; segments < 1000; ++segments) {
    std::array<uint8_t, 10> marker{};
    in.clear();
    in.seekg(at);
    in.read(reinterpret_cast<char*>(marker.data()), marker.size());
    if (in.gcount() < 4 || marker[0] != 0xFF) {
      return false;
    }
    const uint8_t type = marker[1];
    if (type >= 0xC0 && type <= 0xCF && type != 0xC4 && type != 0xC8 && type != 0xCC) {
      return in.gcount() == 10 && marker[9] == 1;
    }
    at += 2 + ((static_cast<std::streamoff>(marker[2]) << 8) | marker[3]);
  }
  return false;
}

/// One image to decode.
struct Entry {
  stdfs::path path;
  int64_t label = 0;
  int64_t id = 0;
  std::string name;  ///< text id (manifests whose ids are not all integers), else ""
};

/// Cheap validity check used when images are decoded on demand: the file exists, is not empty and,
/// for a JPEG, ends with its end-of-image marker. Returns the reason it is bad, or "".
std::string quick_check(const stdfs::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in.good()) {
    return "cannot open the file";
  }
  const auto size = static_cast<int64_t>(in.tellg());
  if (size <= 0) {
    return "empty file";
  }
  if (size > kMaxImageFileBytes) {
    return too_large(size);
  }
  uint8_t head[3] = {0, 0, 0};
  in.seekg(0);
  in.read(reinterpret_cast<char*>(head), 3);
  if (head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) {
    const int64_t n = std::min<int64_t>(size, 1024);
    std::vector<uint8_t> tail(static_cast<size_t>(n));
    in.seekg(size - n);
    in.read(reinterpret_cast<char*>(tail.data()), n);
    if (!has_jpeg_end_marker(tail.data(), tail.size())) {
      return "truncated JPEG (no end-of-image marker)";
    }
  }
  return "";
}

/// The size of an image as its file stores it.
struct StoredSize {
  int64_t height = 0;
  int64_t width = 0;
  stdfs::path path;
};

/// Above this many pixels per side, images kept as stored get a warning.
constexpr int64_t kLargeStoredSide = 512;

/// The stored size of the first of `entries` that decodes, or nothing when none does.
std::optional<StoredSize> stored_size(const std::vector<Entry>& entries) {
#if MAPD_HAVE_IMGCODECS
  for (const auto& e : entries) {
    try {
      std::error_code error;
      const auto bytes = stdfs::file_size(e.path, error);
      if (error || bytes == 0 || bytes > static_cast<uintmax_t>(kMaxImageFileBytes)) {
        continue;
      }
      const cv::Mat image = cv::imread(e.path.string(), cv::IMREAD_UNCHANGED);
      if (!image.empty()) {
        return StoredSize{image.rows, image.cols, e.path};
      }
    } catch (const std::exception&) {  // this one is not the first good image; its decode says why later
    }
  }
#else
  (void)entries;
#endif
  return std::nullopt;
}

/// Decodes `entries` into an ImageSet (in memory within the budget, else on demand); bad images are
/// appended to `bad` and left out.
ImageSet decode_entries(const std::vector<Entry>& entries, const DecodeOptions& options,
                        std::vector<BadInput>& bad) {
  MAPD_CHECK(MAPD_HAVE_IMGCODECS, ConfigError, kNoImageDecoding);
  auto logger = log::get("data");
  ImageSet set;
  set.channels = options.channels;
  if (set.channels == 0) {
    // As stored: one channel when every file holds grey pixels (decoding them as colour tripled
    // each pixel; issue 13 item 10), else three.
    const auto colour =
        std::find_if(entries.begin(), entries.end(), [](const Entry& e) { return !stored_as_grey(e.path); });
    set.channels = colour == entries.end() ? 1 : 3;
    logger->info("data.channels = 0 (as stored): {}",
                 colour == entries.end() ? std::string("every image is greyscale, 1 channel")
                                         : colour->path.string() + " is in colour, 3 channels");
  }
  set.height = options.height;
  set.width = options.width;
  if (set.height == 0 || set.width == 0) {
    // As stored: the size of the first image that decodes; the others are brought to it.
    const auto first = stored_size(entries);
    set.height = first ? first->height : 32;
    set.width = first ? first->width : 32;
    if (first) {
      logger->info("data.image_size = 0 (as stored): {} x {} (height x width) from {}", set.height, set.width,
                   first->path.string());
      if (std::max(set.height, set.width) > kLargeStoredSide) {
        logger->warn(
            "images as stored are {} x {}: large for training; set data.image_size (e.g. 64 or 224) "
            "to resize them",
            set.height, set.width);
      }
    }
  }
  const int64_t n = static_cast<int64_t>(entries.size());
  const int64_t bytes = set.image_bytes();
  const bool in_memory = static_cast<double>(n) * static_cast<double>(bytes) <=
                         static_cast<double>(options.memory_budget_mb) * 1024.0 * 1024.0;
  std::vector<std::string> reason(static_cast<size_t>(n));
  std::vector<uint8_t> pixels;
  if (in_memory) {
    pixels.resize(static_cast<size_t>(n * bytes));
  }
  std::atomic<int64_t> next{0};
  // An exception must not leave a thread (std::terminate): what goes wrong with one file is its
  // reason in bad_inputs.csv.
  auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        reason[i] = in_memory ? decode_image(entries[i].path, set.channels, set.height, set.width,
                                             pixels.data() + i * bytes)
                              : quick_check(entries[i].path);
      } catch (const std::exception& e) {
        reason[i] = std::string("cannot be read: ") + e.what();
      }
    }
  };
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(options.workers, n));
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) {
    pool.emplace_back(work);
  }
  work();
  for (auto& t : pool) {
    t.join();
  }
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const auto& e = entries[i];
    if (!reason[i].empty()) {
      logger->warn("skipping image {}: {} (listed in bad_inputs.csv)", e.path.string(), reason[i]);
      bad.push_back({e.path.string(), reason[i]});
      continue;
    }
    if (in_memory && kept != i) {
      std::copy_n(pixels.begin() + i * bytes, bytes, pixels.begin() + kept * bytes);
    }
    set.examples.id.push_back(e.id);
    if (!e.name.empty()) {
      set.examples.name.push_back(e.name);
    }
    set.examples.label.push_back(e.label);
    set.examples.source.push_back(e.path.string());
    if (!in_memory) {
      set.paths.push_back(e.path.string());
    }
    ++kept;
  }
  set.examples.original_label = set.examples.label;
  if (in_memory) {
    pixels.resize(static_cast<size_t>(kept * bytes));
    set.pixels = std::move(pixels);
  } else {
    logger->info("{} images ({:.0f} MB decoded) exceed data.memory_budget_mb = {}: decoding on the fly", kept,
                 static_cast<double>(kept * bytes) / 1048576.0, options.memory_budget_mb);
  }
  return set;
}

/// decode_image without the guard against std::bad_alloc.
std::string decode_image_file(const stdfs::path& path, int64_t channels, int64_t height, int64_t width,
                              uint8_t* out) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in.good()) {
    return "cannot open the file";
  }
  // The size is checked before anything is read: a 3 GB file in an image folder was read whole.
  const auto file_size = static_cast<int64_t>(in.tellg());
  if (file_size <= 0) {
    return "empty file";
  }
  if (file_size > kMaxImageFileBytes) {
    return too_large(file_size);
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(file_size));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), file_size);
  if (in.gcount() != file_size) {
    return "cannot read the whole file";
  }
  if (is_jpeg(bytes) &&
      !has_jpeg_end_marker(bytes.data() + bytes.size() - std::min<size_t>(bytes.size(), 1024),
                           std::min<size_t>(bytes.size(), 1024))) {
    return "truncated JPEG (no end-of-image marker)";
  }
  cv::Mat image;
#if MAPD_HAVE_IMGCODECS
  try {
    image = cv::imdecode(bytes, channels == 1 ? cv::IMREAD_GRAYSCALE : cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    return std::string("cannot be decoded: ") + e.what();
  }
#else
  return std::string(kNoImageDecoding);
#endif
  if (image.empty() || image.rows == 0 || image.cols == 0) {
    return "cannot be decoded (corrupt, truncated or unsupported image format)";
  }
  if (channels == 3) {
    cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  }
  // Resize (aspect kept) to cover height x width, then take the centre.
  const double scale =
      std::max(static_cast<double>(height) / image.rows, static_cast<double>(width) / image.cols);
  const int new_rows =
      std::max<int>(static_cast<int>(height), static_cast<int>(std::lround(image.rows * scale)));
  const int new_cols =
      std::max<int>(static_cast<int>(width), static_cast<int>(std::lround(image.cols * scale)));
  if (new_rows != image.rows || new_cols != image.cols) {
    cv::resize(image, image, cv::Size(new_cols, new_rows), 0, 0,
               scale < 1.0 ? cv::INTER_AREA : cv::INTER_LINEAR);
  }
  const int top = (image.rows - static_cast<int>(height)) / 2;
  const int left = (image.cols - static_cast<int>(width)) / 2;
  const cv::Mat crop = image(cv::Rect(left, top, static_cast<int>(width), static_cast<int>(height)));
  const int64_t plane = height * width;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = crop.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < width; ++x) {
      for (int64_t c = 0; c < channels; ++c) {
        out[c * plane + y * width + x] = row[x * channels + c];
      }
    }
  }
  return "";
}

}  // namespace

std::string decode_image(const stdfs::path& path, int64_t channels, int64_t height, int64_t width,
                         uint8_t* out) {
  try {
    return decode_image_file(path, channels, height, width, out);
  } catch (const std::bad_alloc&) {
    return "out of memory while decoding it";
  }
}

ImageSet read_image_folder(const stdfs::path& root, const DecodeOptions& options,
                           std::vector<BadInput>& bad) {
  MAPD_CHECK(stdfs::is_directory(root), DataError,
             fmt::format("image folder {} does not exist (data.path: expected a folder root/<class>/<image>)",
                         root.string()));
  // A symbolic link that leads nowhere (dangling, or a loop) is listed and skipped: a loop made
  // the whole run fail with "internal error: filesystem error", a dangling link vanished.
  std::vector<BadInput> broken;
  std::vector<std::string> classes;
  for (const auto& entry : stdfs::directory_iterator(root)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') {
      continue;
    }
    const auto [type, reason] = entry_type(entry);
    if (!reason.empty()) {
      broken.push_back({entry.path().string(), reason});
    } else if (type == stdfs::file_type::directory) {
      classes.push_back(name);
    }
  }
  std::sort(classes.begin(), classes.end());
  MAPD_CHECK(!classes.empty(), DataError,
             fmt::format("image folder {} has no class folders (expected root/<class>/<image>, class index = "
                         "sorted folder name)",
                         root.string()));
  std::vector<Entry> entries;
  for (size_t c = 0; c < classes.size(); ++c) {
    std::vector<stdfs::path> files;
    for (const auto& entry : stdfs::recursive_directory_iterator(root / classes[c])) {
      const auto [type, reason] = entry_type(entry);
      if (!reason.empty()) {
        broken.push_back({entry.path().string(), reason});
      } else if (type == stdfs::file_type::regular && is_image_file(entry.path())) {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      entries.push_back({f, static_cast<int64_t>(c), static_cast<int64_t>(entries.size()), std::string()});
    }
  }
  std::sort(broken.begin(), broken.end(),
            [](const BadInput& a, const BadInput& b) { return a.path < b.path; });
  for (auto& link : broken) {
    log::get("data")->warn("skipping {}: {} (listed in bad_inputs.csv)", link.path, link.reason);
    bad.push_back(std::move(link));
  }
  MAPD_CHECK(
      !entries.empty(), DataError,
      fmt::format("image folder {} has class folders but no images (.jpg, .jpeg, .png, .bmp, .ppm, .pgm, "
                  ".webp, .tif)",
                  root.string()));
  ImageSet set = decode_entries(entries, options, bad);
  set.class_names = classes;
  MAPD_CHECK(set.size() > 0, DataError,
             fmt::format("image folder {}: none of its {} images could be read (see bad_inputs.csv)",
                         root.string(), entries.size()));
  return set;
}

ImageSet read_manifest(const stdfs::path& manifest, int64_t num_classes, const DecodeOptions& options,
                       std::vector<BadInput>& bad) {
  MAPD_CHECK(
      stdfs::is_regular_file(manifest), DataError,
      fmt::format("manifest {} does not exist (data.path: expected a CSV file with a header path,label[,id])",
                  manifest.string()));
  std::ifstream in(manifest);
  MAPD_CHECK(in.good(), DataError, fmt::format("cannot open manifest {}", manifest.string()));
  const stdfs::path dir = manifest.parent_path();
  std::vector<std::string> class_names;
  for (const auto& names_file : {dir / (manifest.stem().string() + ".classes.txt"), dir / "classes.txt"}) {
    if (stdfs::is_regular_file(names_file)) {
      std::ifstream names(names_file);
      std::string line;
      while (std::getline(names, line)) {
        if (!line.empty() && line.back() == '\r') {
          line.pop_back();
        }
        if (!line.empty()) {
          class_names.push_back(line);
        }
      }
      break;
    }
  }
  if (num_classes == 0 && !class_names.empty()) {
    num_classes = static_cast<int64_t>(class_names.size());
  }
  std::string line;
  MAPD_CHECK(static_cast<bool>(std::getline(in, line)), DataError,
             fmt::format("manifest {} is empty (expected a header line path,label[,id])", manifest.string()));
  // A UTF-8 byte order mark (spreadsheet exports write one) is not part of the first column's name.
  constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
  if (line.compare(0, kByteOrderMark.size(), kByteOrderMark) == 0) {
    line.erase(0, kByteOrderMark.size());
  }
  const auto header = split_csv_line(line, manifest.string() + ":1");
  int path_col = -1;
  int label_col = -1;
  int id_col = -1;
  for (size_t i = 0; i < header.size(); ++i) {
    const auto first = std::find(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(i), header[i]);
    MAPD_CHECK(first == header.begin() + static_cast<std::ptrdiff_t>(i), DataError,
               fmt::format("{}:1: the header names the column '{}' twice (columns {} and {}); which one to "
                           "read is unclear: rename or remove one",
                           manifest.string(), header[i], first - header.begin() + 1, i + 1));
    if (header[i] == "path") path_col = static_cast<int>(i);
    if (header[i] == "label") label_col = static_cast<int>(i);
    if (header[i] == "id") id_col = static_cast<int>(i);
  }
  MAPD_CHECK(path_col >= 0 && label_col >= 0, DataError,
             fmt::format("{}:1: the header '{}' must name the columns path and label (optionally id)",
                         manifest.string(), line));
  std::vector<Entry> entries;
  std::set<std::string> ids;
  bool integer_ids = true;  // every id is an integer written as such ("12", not "012" or "img-12")
  int64_t line_number = 1;
  int64_t max_label = -1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    const auto where = fmt::format("{}:{}", manifest.string(), line_number);
    const auto fields = split_csv_line(line, where);
    MAPD_CHECK(fields.size() == header.size(), DataError,
               fmt::format("{}: expected {} fields as in the header, found {}", where, header.size(),
                           fields.size()));
    Entry e;
    e.path = dir / fields[path_col];
    const auto label = parse_int64(fields[label_col]);
    MAPD_CHECK(label.has_value(), DataError,
               fmt::format("{}: label '{}' is not an integer class index", where, fields[label_col]));
    e.label = *label;
    MAPD_CHECK(num_classes != 0 || e.label < config::kMaxClasses, DataError,
               fmt::format("{}: label {} is beyond mapd's limit of {} classes (labels are class indices "
                           "0..C-1: is an id or a file name in the label column?)",
                           where, e.label, config::kMaxClasses));
    MAPD_CHECK(
        e.label >= 0 && (num_classes == 0 || e.label < num_classes), DataError,
        fmt::format("{}: label {} is outside [0, {}) (set data.num_classes or classes.txt beside the "
                    "manifest to change C)",
                    where, e.label, num_classes == 0 ? std::string("C") : std::to_string(num_classes)));
    e.id = static_cast<int64_t>(entries.size());
    if (id_col >= 0) {
      const std::string& text = fields[id_col];
      MAPD_CHECK(
          !text.empty(), DataError,
          fmt::format("{}: the id is empty (with an id column, every row needs an id of its own)", where));
      MAPD_CHECK(ids.insert(text).second, DataError, fmt::format("{}: id '{}' appears twice", where, text));
      const auto value = parse_int64(text);
      if (integer_ids && value && std::to_string(*value) == text) {
        e.id = *value;
      } else {
        integer_ids = false;
      }
      e.name = text;
    }
    std::error_code missing;
    MAPD_CHECK(stdfs::is_regular_file(e.path, missing), DataError,
               fmt::format("{}: image file {} {} (paths are relative to the manifest's folder)", where,
                           e.path.string(),
                           !missing ? std::string("is not a file")
                           : missing == std::errc::no_such_file_or_directory
                               ? std::string("does not exist")
                               : "cannot be examined: " + missing.message()));
    max_label = std::max(max_label, e.label);
    entries.push_back(e);
  }
  MAPD_CHECK(!entries.empty(), DataError, fmt::format("manifest {} lists no images", manifest.string()));
  // Text ids are kept verbatim (ExampleTable::name) with the line index as the integer id; integer
  // ids are the ids.
  if (id_col >= 0 && !integer_ids) {
    const auto text = std::find_if(entries.begin(), entries.end(), [](const Entry& e) {
      const auto value = parse_int64(e.name);
      return !value || std::to_string(*value) != e.name;
    });
    log::get("data")->info("manifest {}: ids are text (such as '{}'), kept as written", manifest.string(),
                           text->name);
    for (size_t i = 0; i < entries.size(); ++i) {
      entries[i].id = static_cast<int64_t>(i);
    }
  } else {
    for (auto& e : entries) {
      e.name.clear();
    }
  }
  ImageSet set = decode_entries(entries, options, bad);
  if (num_classes == 0) {
    num_classes = max_label + 1;
  }
  if (static_cast<int64_t>(class_names.size()) != num_classes) {
    class_names.clear();
    for (int64_t c = 0; c < num_classes; ++c) {
      class_names.push_back(std::to_string(c));
    }
  }
  set.class_names = class_names;
  MAPD_CHECK(set.size() > 0, DataError,
             fmt::format("manifest {}: none of its {} images could be read (see bad_inputs.csv)",
                         manifest.string(), entries.size()));
  return set;
}

}  // namespace mapd::data
