#include "mapd/record/dynamics_store.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include "mapd/record/stitched_dynamics.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "DynamicsStore writes little-endian chunks directly; add a byte swap for big-endian hosts");

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"

#include "hdf5.hpp"

namespace mapd::record {

using detail::FileContext;
using detail::Handle;

namespace {

/// Written: 2 (/examples/row). Read: 1 and 2.
constexpr int64_t kFormatVersion = 2;
constexpr int64_t kOldestFormatVersion = 1;
/// Largest chunk (elements of one row) of the /epochs datasets: 4 MB in fp32.
constexpr int64_t kMaxChunkElements = int64_t{1} << 20;
const char* const kRoleNames[] = {"train", "probe_fit", "probe_val"};

const char* const kEpochDatasets[] = {"/epochs/loss", "/epochs/pred", "/epochs/true_prob"};
const char* const kCompleteDataset = "/epochs/complete";
/// Attribute of /epochs naming the extra signals (DynamicsMeta::signals), in order.
const char* const kSignalsAttribute = "signals";
/// Largest finite IEEE binary16 value; from 65520 on, values round to infinity.
constexpr float kFp16Max = 65504.0F;

/// An extra signal's name: letters, digits and '_', not one of the datasets every file has.
bool valid_signal_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (const char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_')) return false;
  }
  return name != "loss" && name != "pred" && name != "true_prob" && name != "complete";
}

/// File access properties: the latest format (needed for SWMR).
Handle latest_format_fapl(const FileContext& ctx) {
  Handle fapl = ctx.plist(H5Pcreate(H5P_FILE_ACCESS), "/", "create file access properties for");
  ctx.check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), "/",
            "set format version for");
  return fapl;
}

/// File creation properties of a dynamics file: paged aggregation, so that no small piece of
/// metadata straddles a kernel page. Every append rewrites the datasets' object headers (their
/// extent) and chunk indexes in place, and SIGKILL can cut a write between two pages (the kernel
/// checks for it before copying each page); a header written half new, half old fails its checksum
/// and the whole dataset, committed epochs included, becomes unreadable. Within one page a write is
/// all or nothing.
Handle paged_fcpl(const FileContext& ctx) {
  Handle fcpl = ctx.plist(H5Pcreate(H5P_FILE_CREATE), "/", "create file creation properties for");
  ctx.check(H5Pset_file_space_strategy(fcpl.get(), H5F_FSPACE_STRATEGY_PAGE, /*persist=*/0, /*threshold=*/1),
            "/", "set the file space strategy of");
  ctx.check(H5Pset_file_space_page_size(fcpl.get(), detail::kFileSpacePage), "/",
            "set the file space page size of");
  return fcpl;
}

/// Number of elements per chunk of an [epochs, n] dataset: whole rows up to kMaxChunkElements,
/// else the row split into equal parts.
hsize_t chunk_elements(int64_t n) {
  const int64_t parts = (n + kMaxChunkElements - 1) / kMaxChunkElements;
  return static_cast<hsize_t>((n + parts - 1) / parts);
}

/// The [epochs, N] datasets of a file with `meta`'s signals: loss, pred, true_prob, then the extra
/// signals in order; `second` tells a class series (stored as /epochs/pred) from a value series.
std::vector<std::pair<std::string, bool>> series_paths(const DynamicsMeta& meta) {
  std::vector<std::pair<std::string, bool>> paths;
  paths.reserve(3 + meta.signals.size());
  for (int i = 0; i < 3; ++i) paths.emplace_back(kEpochDatasets[i], i == 1);
  for (const auto& signal : meta.signals) paths.emplace_back("/epochs/" + signal.name, signal.classes);
  return paths;
}

/// Refuses a meta no dynamics file can be written with: a dtype other than fp16/fp32
/// (ConfigError), invalid or repeated signal names (InternalError).
void check_meta(const DynamicsMeta& meta, const char* where) {
  if (meta.dtype != "fp16" && meta.dtype != "fp32") {
    throw ConfigError(fmt::format("record.dtype is '{}'; expected fp16 or fp32", meta.dtype));
  }
  for (size_t i = 0; i < meta.signals.size(); ++i) {
    const auto& name = meta.signals[i].name;
    MAPD_ASSERT(valid_signal_name(name), fmt::format("{}: invalid signal name '{}'", where, name));
    for (size_t j = 0; j < i; ++j) {
      MAPD_ASSERT(meta.signals[j].name != name, fmt::format("{}: signal '{}' twice", where, name));
    }
  }
}

/// Stored type of the class series: int16 when 1..32767 class names are given (half the space of
/// int32; readers always get int32), else int32.
hid_t class_file_type(const DynamicsMeta& meta) {
  return !meta.class_names.empty() && meta.class_names.size() <= 32767 ? H5T_STD_I16LE : H5T_STD_I32LE;
}

/// Writes the root attributes and /examples (every column of `examples`, whose row column is
/// filled) of a new dynamics file `f`.
void write_header(const FileContext& ctx, hid_t f, const DynamicsMeta& meta, const ExampleColumns& examples) {
  const int64_t n = examples.size();
  ctx.write_int64_attr(f, "/", "format_version", kFormatVersion);
  ctx.write_string_attr(f, "/", "config_json", meta.config_json);
  ctx.write_string_attr(f, "/", "mapd_version", meta.mapd_version);
  ctx.write_string_attr(f, "/", "torch_version", meta.torch_version);
  ctx.write_string_attr(f, "/", "view", meta.view);
  ctx.write_string_attr(f, "/", "dtype", meta.dtype);
  ctx.write_int64_attr(f, "/", "seed", meta.seed);
  ctx.write_string_attr(f, "/", "mapd_file", "dynamics");

  Handle group = ctx.group(H5Gcreate2(f, "/examples", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/examples",
                           "create group");
  ctx.write_strings_attr(group.get(), "/examples", "category_names", meta.category_names);
  ctx.write_strings_attr(group.get(), "/examples", "class_names", meta.class_names);
  ctx.write_strings_attr(group.get(), "/examples", "role_names",
                         std::vector<std::string>(std::begin(kRoleNames), std::end(kRoleNames)));
  ctx.write_1d(f, "/examples/id", H5T_STD_I64LE, H5T_NATIVE_INT64, examples.id.data(), n);
  ctx.write_1d(f, "/examples/label", H5T_STD_I64LE, H5T_NATIVE_INT64, examples.label.data(), n);
  ctx.write_1d(f, "/examples/original_label", H5T_STD_I64LE, H5T_NATIVE_INT64, examples.original_label.data(),
               n);
  ctx.write_1d(f, "/examples/role", H5T_STD_I8LE, H5T_NATIVE_INT8, examples.role.data(), n);
  ctx.write_1d(f, "/examples/probe_category", H5T_STD_I16LE, H5T_NATIVE_INT16, examples.probe_category.data(),
               n);
  ctx.write_1d(f, "/examples/source_index", H5T_STD_I64LE, H5T_NATIVE_INT64, examples.source_index.data(), n);
  ctx.write_1d(f, "/examples/row", H5T_STD_I64LE, H5T_NATIVE_INT64, examples.row.data(), n);
  if (!examples.name.empty()) {
    ctx.write_strings_1d(f, "/examples/name", examples.name);
  }
}

/// Creates the group /epochs of a new file `f` with the attribute naming `meta`'s signals.
Handle create_epochs_group(const FileContext& ctx, hid_t f, const DynamicsMeta& meta) {
  Handle group =
      ctx.group(H5Gcreate2(f, "/epochs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/epochs", "create group");
  if (!meta.signals.empty()) {
    std::vector<std::string> names;
    for (const auto& signal : meta.signals) names.push_back(signal.name);
    ctx.write_strings_attr(group.get(), "/epochs", kSignalsAttribute, names);
  }
  return group;
}

/// Creates the scalar /epochs/complete = 0 of a new file `f` (allocated at once: an SWMR writer
/// then only overwrites it).
void create_complete(const FileContext& ctx, hid_t f) {
  Handle scalar = ctx.dataspace(H5Screate(H5S_SCALAR), kCompleteDataset, "create dataspace for");
  Handle dcpl = ctx.plist(H5Pcreate(H5P_DATASET_CREATE), kCompleteDataset, "create dataset properties for");
  ctx.check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), kCompleteDataset, "set allocation of");
  Handle complete = ctx.dataset(
      H5Dcreate2(f, kCompleteDataset, H5T_STD_I64LE, scalar.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      kCompleteDataset, "create dataset");
  const int64_t zero = 0;
  ctx.check(H5Dwrite(complete.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &zero),
            kCompleteDataset, "write dataset");
}

/// Opens /epochs/complete of `f` and checks that it is an integer scalar.
Handle open_complete(const FileContext& ctx, hid_t f) {
  Handle ds = ctx.dataset(H5Dopen2(f, kCompleteDataset, H5P_DEFAULT), kCompleteDataset, "open dataset");
  // A scalar: read_scalar and write_scalar transfer exactly one int64.
  ctx.expect_dataset(ds.get(), kCompleteDataset, {}, H5T_INTEGER);
  return ds;
}

int64_t read_scalar(const FileContext& ctx, const Handle& ds) {
  int64_t value = 0;
  ctx.check(H5Dread(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value), kCompleteDataset,
            "read dataset");
  return value;
}

void write_scalar(const FileContext& ctx, const Handle& ds, int64_t value) {
  ctx.check(H5Dwrite(ds.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value), kCompleteDataset,
            "write dataset");
}

/// Flushes `file` and fsyncs it, so that what was written survives a crash of the machine, not
/// only of the process.
void flush_and_sync(const FileContext& ctx, const Handle& file) {
  ctx.check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "/", "flush");
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file.get(), H5P_DEFAULT, &handle) >= 0 && handle != nullptr) {
    ::fsync(*static_cast<int*>(handle));
  } else {
    H5Eclear2(H5E_DEFAULT);
  }
}

/// Opens `path` read-write in the latest format. A writer killed in SWMR mode leaves the file
/// marked "open for writing", and a paged file perhaps short of its last allocated bytes
/// (detail::unwritten_tail); the file is then first read as a reader reads it, which checks that
/// every committed row lies within it, and opened past both (what `h5clear -s` does), with a
/// warning, and `*recovered` set. Throws IoError when the file cannot be opened.
Handle open_read_write(const FileContext& ctx, const std::filesystem::path& path, bool* recovered) {
  *recovered = false;
  Handle fapl = latest_format_fapl(ctx);
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get());
  if (id < 0) {
    const std::string first_error = detail::take_hdf5_error_text();
    const uint64_t unwritten = detail::unwritten_tail(path);
    if (unwritten > 0) {
      (void)DynamicsStore::open_read(path);  // IoError when a committed row was cut off
    }
    if (detail::set_clear_status_flags(fapl.get(), unwritten > 0)) {
      id = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get());
    }
    if (id < 0) {
      detail::take_hdf5_error_text();
      throw IoError(
          fmt::format("cannot open HDF5 file '{}' to append: {}. Check that the file exists, is a "
                      "dynamics.h5 written by mapd, and no other process is writing it",
                      path.string(), first_error));
    }
    log::get("record")->warn(
        "'{}' was not closed cleanly (a run killed while writing or reopening it); cleared its \"open for "
        "writing\" mark as `h5clear -s` does{} and continuing from its committed epochs",
        path.string(),
        unwritten > 0 ? fmt::format(" (its last {} allocated bytes were never written)", unwritten) : "");
    *recovered = true;
  }
  return Handle(id, H5Fclose);
}

/// Group of a stitched dynamics.h5 (StitchedDynamics) naming its rank files.
const char* const kRankFiles = "/ranks/file";
const char* const kRankFirstColumns = "/ranks/first_column";

/// Fill values of the virtual datasets where a rank file lacks a row: NaN, pred -1.
constexpr uint16_t kHalfNan = 0x7e00U;
constexpr int32_t kNoClass = -1;

/// Creates the virtual dataset `name` [epochs (unlimited), n] of type `type` in `f` that maps the
/// dataset of the same name of rank file r onto columns [first[r], first[r + 1]), over every
/// epoch (an unlimited hyperslab: the rows the rank files hold, read when the dataset is read).
/// `fill` (in `type`) is what a missing row reads as.
void create_virtual_series(const FileContext& ctx, hid_t f, const std::string& name, hid_t type,
                           const void* fill, const std::vector<int64_t>& first) {
  const auto n = static_cast<hsize_t>(first.back());
  const hsize_t dims[2] = {0, n};
  const hsize_t max_dims[2] = {H5S_UNLIMITED, n};
  Handle space = ctx.dataspace(H5Screate_simple(2, dims, max_dims), name, "create dataspace for");
  Handle dcpl = ctx.plist(H5Pcreate(H5P_DATASET_CREATE), name, "create dataset properties for");
  ctx.check(H5Pset_fill_value(dcpl.get(), type, fill), name, "set the fill value of");
  for (size_t r = 0; r + 1 < first.size(); ++r) {
    const auto width = static_cast<hsize_t>(first[r + 1] - first[r]);
    const hsize_t start[2] = {0, static_cast<hsize_t>(first[r])};
    const hsize_t source_start[2] = {0, 0};
    const hsize_t stride[2] = {1, width};
    const hsize_t count[2] = {H5S_UNLIMITED, 1};
    const hsize_t block[2] = {1, width};
    Handle mapped = ctx.dataspace(H5Screate_simple(2, dims, max_dims), name, "create dataspace for");
    ctx.check(H5Sselect_hyperslab(mapped.get(), H5S_SELECT_SET, start, stride, count, block), name,
              "select the columns of a rank in");
    const hsize_t source_dims[2] = {0, width};
    const hsize_t source_max[2] = {H5S_UNLIMITED, width};
    Handle source = ctx.dataspace(H5Screate_simple(2, source_dims, source_max), name, "create dataspace for");
    ctx.check(H5Sselect_hyperslab(source.get(), H5S_SELECT_SET, source_start, stride, count, block), name,
              "select the rows of a rank file for");
    // Relative: HDF5 looks for it next to this file, so a moved run directory still opens.
    ctx.check(H5Pset_virtual(dcpl.get(), mapped.get(), rank_file_name(static_cast<int64_t>(r)).c_str(),
                             name.c_str(), source.get()),
              name, "map a rank file into");
  }
  Handle ds =
      ctx.dataset(H5Dcreate2(f, name.c_str(), type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), name,
                  "create virtual dataset");
}

std::atomic<void (*)(fault::AppendStage)> append_hook{nullptr};

/// Set while a stitched file opens its rank files (on this thread).
thread_local bool opening_parts = false;

void at_stage(fault::AppendStage stage) {
  if (auto* hook = append_hook.load(std::memory_order_relaxed)) {
    hook(stage);
  }
}

}  // namespace

void fault::set_append_hook(void (*hook)(AppendStage)) { append_hook.store(hook); }

struct DynamicsStore::Impl {
  explicit Impl(const std::filesystem::path& file) : path(file), ctx(file.string()) {}

  std::filesystem::path path;
  FileContext ctx;
  bool writer = false;
  bool swmr_reader = false;
  /// Opened past HDF5's end-of-file check (an SWMR reader, or a file a killed writer left marked
  /// open): every committed chunk is checked to lie within the file (verify_chunks).
  bool unchecked_size = false;
  int64_t verified_epochs = 0;  ///< committed epochs whose chunks verify_chunks found within the file
  DynamicsMeta meta;
  ExampleColumns examples;
  int64_t n = 0;
  int64_t complete = 0;
  /// One [epochs, N] dataset of /epochs: loss, pred, true_prob, then the extra signals.
  struct Series {
    std::string path;      ///< "/epochs/<name>"
    bool classes = false;  ///< class indices (stored as /epochs/pred); else values (meta.dtype)
    Handle ds;
    int64_t rows_known = 0;      ///< extent (rows) as last seen
    std::vector<uint16_t> half;  ///< writer scratch for fp16 conversion
  };

  Handle file;
  Handle float16;
  Handle complete_ds;
  std::vector<Series> series;      ///< loss, pred, true_prob, then meta.signals in order
  std::vector<int16_t> class_row;  ///< writer scratch for int16 class indices
  std::vector<char> padded_chunk;  ///< writer scratch for the last chunk of a row
  int64_t chunk_columns = 0;       ///< elements per chunk (a row is whole chunks)
  size_t pred_bytes = 4;           ///< stored size of /epochs/pred (and of every class series)

  /// A stitched dynamics.h5 (StitchedDynamics): the rank files, read directly (each with its own
  /// checks, as an SWMR reader while its rank writes it), and the first column of each (one more:
  /// N). Empty for a file that holds its epochs itself.
  std::vector<DynamicsStore> parts;
  std::vector<int64_t> first_column;

  [[nodiscard]] bool fp16() const { return meta.dtype == "fp16"; }
  [[nodiscard]] bool stitched() const { return !first_column.empty(); }

  /// The series of loss, pred and true_prob, then of meta.signals (not yet opened).
  void plan_series() {
    series.clear();
    for (auto& [path, classes] : series_paths(meta)) series.push_back(Series{path, classes, Handle(), 0, {}});
  }

  [[nodiscard]] const Series& series_named(const std::string& name, bool classes) const {
    const std::string path = "/epochs/" + name;
    for (size_t i = 3; i < series.size(); ++i) {
      if (series[i].path == path && series[i].classes == classes) return series[i];
    }
    std::string known;
    for (const auto& signal : meta.signals) known += (known.empty() ? "" : ", ") + signal.name;
    throw DataError(fmt::format("HDF5 file '{}' has no {} signal '{}' (its extra signals: {})", ctx.file(),
                                classes ? "class" : "value", name, known.empty() ? "none" : known));
  }

  /// Opens the /epochs datasets and checks their shape and type (meta.dtype must be known).
  /// A stitched file's virtual datasets are not opened: HDF5 would open the rank files itself,
  /// with this file's access mode, and read a rank file it cannot open as fill values.
  void open_epoch_datasets() {
    hid_t f = file.get();
    complete_ds = open_complete(ctx, f);
    if (stitched()) return;
    for (auto& one : series) {
      one.ds = ctx.dataset(H5Dopen2(f, one.path.c_str(), H5P_DEFAULT), one.path, "open dataset");
    }
    update_rows_known();
  }

  void close_epoch_datasets() {
    for (auto& one : series) one.ds.reset();
    complete_ds.reset();
  }

  /// Reads the extents of the [epochs, N] datasets and checks their shape and type: values
  /// (loss, true_prob) floats of the size meta.dtype says, classes (pred) 16- or 32-bit integers.
  void update_rows_known() {
    const size_t value_size = fp16() ? 2 : 4;
    for (auto& one : series) {
      const auto shape =
          one.classes
              ? ctx.expect_dataset(one.ds.get(), one.path, {detail::kAnyExtent, n}, H5T_INTEGER, {2, 4})
              : ctx.expect_dataset(one.ds.get(), one.path, {detail::kAnyExtent, n}, H5T_FLOAT, {value_size});
      one.rows_known = shape[0];
    }
  }

  [[nodiscard]] int64_t fewest_rows() const {
    int64_t rows = series.front().rows_known;
    for (const auto& one : series) rows = std::min(rows, one.rows_known);
    return rows;
  }

  int64_t read_complete() const { return read_scalar(ctx, complete_ds); }

  void write_complete(int64_t value) { write_scalar(ctx, complete_ds, value); }

  /// Checks 0 <= complete <= rows of every epoch dataset (a reader may see more rows than commits),
  /// and that the file can hold that many rows: each committed row of each series takes at least 2
  /// bytes per example, written uncompressed. A crafted extent and marker beyond that would
  /// otherwise be read as minutes of fill values.
  void check_complete(int64_t value) const {
    if (stitched()) {
      check_parts_complete(value);
      return;
    }
    const int64_t rows = fewest_rows();
    if (value < 0 || value > rows) {
      throw IoError(
          fmt::format("HDF5 file '{}' is inconsistent: /epochs/complete = {} but /epochs holds {} rows; "
                      "the file is damaged",
                      ctx.file(), value, rows));
    }
    const auto row_bytes = static_cast<uint64_t>(n) * 2 * series.size();
    if (value > 0 && row_bytes > 0) {
      const uint64_t size = detail::file_size(ctx);
      if (static_cast<uint64_t>(value) > size / row_bytes) {
        throw IoError(fmt::format(
            "HDF5 file '{}' is inconsistent: /epochs/complete = {} committed epochs of {} examples need at "
            "least {} bytes, but the file has {}; the file is damaged or was not written by mapd",
            ctx.file(), value, n, static_cast<double>(value) * static_cast<double>(row_bytes), size));
      }
    }
  }

  /// A stitched file commits an epoch only once every rank file committed it: each must hold at
  /// least `value` committed epochs (refreshed; each rank file checks its own chunks).
  void check_parts_complete(int64_t value) const {
    if (value < 0) {
      throw IoError(
          fmt::format("HDF5 file '{}' is damaged: /epochs/complete = {} is negative", ctx.file(), value));
    }
    for (const auto& part : parts) {
      const int64_t held = part.complete_epochs();
      if (held < value) {
        throw IoError(fmt::format(
            "HDF5 file '{}' says {} epochs are committed by every rank, but its rank file {} holds {}; the "
            "rank file is damaged or from another run",
            ctx.file(), value, part.describe(), held));
      }
    }
  }

  void flush() { ctx.check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "/", "flush"); }

  /// Flushes and fsyncs so that a committed epoch survives a crash of the machine, not only of
  /// the process.
  void flush_and_sync() { record::flush_and_sync(ctx, file); }

  /// A stitched file: opens the rank files /ranks/file names (next to this file) and checks that
  /// they hold the columns /ranks/first_column gives them, of these examples, dtype and signals.
  /// The extra signals are those of the rank files. Throws DataError.
  void open_parts() {
    hid_t f = file.get();
    int64_t ranks = 0;
    {
      Handle names_ds = ctx.dataset(H5Dopen2(f, kRankFiles, H5P_DEFAULT), kRankFiles, "open dataset");
      ranks = ctx.expect_dataset(names_ds.get(), kRankFiles, {detail::kAnyExtent}, H5T_STRING)[0];
    }
    if (ranks < 1 || ranks > n) {
      throw DataError(
          fmt::format("HDF5 file '{}' stitches {} rank files for {} examples; the file is damaged",
                      ctx.file(), ranks, n));
    }
    const auto names = ctx.read_strings_1d(f, kRankFiles, ranks);
    std::vector<int64_t> first(static_cast<size_t>(ranks + 1));
    ctx.read_1d(f, kRankFirstColumns, H5T_NATIVE_INT64, first.data(), ranks + 1);
    for (int64_t r = 0; r < ranks; ++r) {
      const auto k = static_cast<size_t>(r);
      if (first.front() != 0 || first.back() != n || first[k] >= first[k + 1]) {
        throw DataError(fmt::format(
            "HDF5 file '{}': /ranks/first_column does not split the {} examples into {} ascending blocks",
            ctx.file(), n, ranks));
      }
      if (names[k] != rank_file_name(r)) {
        throw DataError(fmt::format("HDF5 file '{}': /ranks/file names '{}' for rank {}, not '{}'",
                                    ctx.file(), names[k], r, rank_file_name(r)));
      }
    }
    // A rank file that stitches files itself (a crafted or renamed file) would recurse.
    if (opening_parts) {
      throw DataError(
          fmt::format("HDF5 file '{}' is a rank file that stitches rank files itself", ctx.file()));
    }
    opening_parts = true;
    struct Reset {
      ~Reset() { opening_parts = false; }
    } reset;
    std::vector<DynamicsStore> opened;
    for (int64_t r = 0; r < ranks; ++r) {
      const auto k = static_cast<size_t>(r);
      opened.push_back(DynamicsStore::open_read(path.parent_path() / names[k]));
      const auto& part = opened.back();
      const int64_t width = first[k + 1] - first[k];
      const auto& ids = part.examples().id;
      const bool same_examples = part.num_examples() == width &&
                                 std::equal(ids.begin(), ids.end(), examples.id.begin() + first[k]) &&
                                 std::equal(part.examples().label.begin(), part.examples().label.end(),
                                            examples.label.begin() + first[k]);
      if (!same_examples) {
        throw DataError(
            fmt::format("rank file {} holds {} examples, not the {} columns [{}, {}) of '{}' (other ids or "
                        "labels): it is from another run",
                        part.describe(), part.num_examples(), width, first[k], first[k + 1], ctx.file()));
      }
      const auto names_of = [](const std::vector<SignalSpec>& signals) {
        std::string text;
        for (const auto& signal : signals) text += (text.empty() ? "" : ", ") + signal.name;
        return text;
      };
      if (part.meta().dtype != meta.dtype ||
          names_of(part.meta().signals) != names_of(opened.front().meta().signals)) {
        throw DataError(
            fmt::format("rank file {} records dtype {} and signals [{}], '{}' dtype {} and rank 0 [{}]",
                        part.describe(), part.meta().dtype, names_of(part.meta().signals), ctx.file(),
                        meta.dtype, names_of(opened.front().meta().signals)));
      }
    }
    meta.signals = opened.front().meta().signals;
    parts = std::move(opened);
    first_column = std::move(first);
  }

  /// A stitched file's read of columns [begin, end) x epochs [e0, e1): each rank file's share,
  /// through `read(part, its begin, its end, out)` into `out` (example-major, as read_losses).
  template <typename T, typename Read>
  void read_parts(int64_t begin, int64_t end, int64_t e0, int64_t e1, T* out, Read read) {
    prepare_read(begin, end, e0, e1);
    const int64_t epochs = e1 - e0;
    if (epochs == 0) return;
    for (size_t r = 0; r < parts.size(); ++r) {
      const int64_t lo = std::max(begin, first_column[r]);
      const int64_t hi = std::min(end, first_column[r + 1]);
      if (lo < hi) read(parts[r], lo - first_column[r], hi - first_column[r], out + (lo - begin) * epochs);
    }
  }

  void read_meta_and_examples() {
    hid_t f = file.get();
    if (!ctx.exists(f, "/epochs/loss") || !ctx.exists(f, "/examples/id")) {
      throw IoError(fmt::format(
          "HDF5 file '{}' is not a mapd dynamics file (no /epochs/loss or /examples/id)", ctx.file()));
    }
    meta.format_version = ctx.read_int64_attr(f, "/", "format_version");
    if (meta.format_version < kOldestFormatVersion || meta.format_version > kFormatVersion) {
      throw IoError(
          fmt::format("HDF5 file '{}' has dynamics format_version {}; this mapd reads versions {} to {}. "
                      "Use the mapd version that wrote it",
                      ctx.file(), meta.format_version, kOldestFormatVersion, kFormatVersion));
    }
    meta.config_json = ctx.read_string_attr(f, "/", "config_json");
    meta.mapd_version = ctx.read_string_attr(f, "/", "mapd_version");
    meta.torch_version = ctx.read_string_attr(f, "/", "torch_version");
    meta.view = ctx.read_string_attr(f, "/", "view");
    meta.dtype = ctx.read_string_attr(f, "/", "dtype");
    meta.seed = ctx.read_int64_attr(f, "/", "seed");
    if (meta.dtype != "fp16" && meta.dtype != "fp32") {
      throw IoError(fmt::format("HDF5 file '{}' has dtype attribute '{}', expected fp16 or fp32", ctx.file(),
                                meta.dtype));
    }
    Handle group = ctx.group(H5Gopen2(f, "/examples", H5P_DEFAULT), "/examples", "open group");
    meta.category_names = ctx.read_strings_attr(group.get(), "/examples", "category_names");
    meta.class_names = ctx.read_strings_attr(group.get(), "/examples", "class_names");

    Handle id = ctx.dataset(H5Dopen2(f, "/examples/id", H5P_DEFAULT), "/examples/id", "open dataset");
    n = ctx.expect_dataset(id.get(), "/examples/id", {detail::kAnyExtent}, H5T_INTEGER)[0];
    {
      Handle id_type = ctx.datatype(H5Dget_type(id.get()), "/examples/id", "get type of");
      detail::check_fits_in_file(ctx, "/examples/id", static_cast<uint64_t>(n), H5Tget_size(id_type.get()));
    }
    const auto size = static_cast<size_t>(n);
    examples.id.resize(size);
    examples.label.resize(size);
    examples.original_label.resize(size);
    examples.role.resize(size);
    examples.probe_category.resize(size);
    examples.source_index.resize(size);
    ctx.read_1d(f, "/examples/id", H5T_NATIVE_INT64, examples.id.data(), n);
    ctx.read_1d(f, "/examples/label", H5T_NATIVE_INT64, examples.label.data(), n);
    ctx.read_1d(f, "/examples/original_label", H5T_NATIVE_INT64, examples.original_label.data(), n);
    ctx.read_1d(f, "/examples/role", H5T_NATIVE_INT8, examples.role.data(), n);
    ctx.read_1d(f, "/examples/probe_category", H5T_NATIVE_INT16, examples.probe_category.data(), n);
    ctx.read_1d(f, "/examples/source_index", H5T_NATIVE_INT64, examples.source_index.data(), n);
    examples.row.clear();
    if (meta.format_version >= 2) {
      examples.row.resize(size);
      ctx.read_1d(f, "/examples/row", H5T_NATIVE_INT64, examples.row.data(), n);
    }
    fill_or_check_rows(examples, fmt::format("HDF5 file '{}'", ctx.file()));
    examples.name.clear();
    if (ctx.exists(f, "/examples/name")) {
      examples.name = ctx.read_strings_1d(f, "/examples/name", n);
    }

    if (ctx.exists(f, kRankFiles)) {
      open_parts();
      plan_series();
      return;
    }
    // Extra signals (optional; files without the attribute have none): a class series is stored
    // as an integer, a value series as a float.
    meta.signals.clear();
    Handle epochs = ctx.group(H5Gopen2(f, "/epochs", H5P_DEFAULT), "/epochs", "open group");
    if (ctx.has_attr(epochs.get(), "/epochs", kSignalsAttribute)) {
      for (const auto& name : ctx.read_strings_attr(epochs.get(), "/epochs", kSignalsAttribute)) {
        const std::string path = "/epochs/" + name;
        if (!valid_signal_name(name) || !ctx.exists(f, path)) {
          throw DataError(fmt::format("HDF5 file '{}' lists an extra signal '{}' that it does not hold as {}",
                                      ctx.file(), name, path));
        }
        Handle ds = ctx.dataset(H5Dopen2(f, path.c_str(), H5P_DEFAULT), path, "open dataset");
        Handle type = ctx.datatype(H5Dget_type(ds.get()), path, "get type of");
        meta.signals.push_back(SignalSpec{name, H5Tget_class(type.get()) == H5T_INTEGER});
      }
    }
    plan_series();
  }

  /// Reads rows [e0, e1) x columns [begin, end) of `ds` in memory type `mem_type` into `buffer`
  /// (epoch-major, [e1 - e0, end - begin]).
  void read_block(const Handle& ds, std::string_view name, hid_t mem_type, int64_t begin, int64_t end,
                  int64_t e0, int64_t e1, void* buffer) const {
    Handle file_space = ctx.dataspace(H5Dget_space(ds.get()), name, "get dataspace of");
    const hsize_t start[2] = {static_cast<hsize_t>(e0), static_cast<hsize_t>(begin)};
    const hsize_t count[2] = {static_cast<hsize_t>(e1 - e0), static_cast<hsize_t>(end - begin)};
    ctx.check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), name,
              "select rows of");
    Handle mem_space = ctx.dataspace(H5Screate_simple(2, count, nullptr), name, "create memory space for");
    ctx.check(H5Dread(ds.get(), mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, buffer), name,
              "read dataset");
  }

  /// Validates a read range and makes sure the datasets' extents cover it.
  void prepare_read(int64_t begin, int64_t end, int64_t e0, int64_t e1) {
    if (begin < 0 || end < begin || end > n || e0 < 0 || e1 < e0) {
      throw IoError(fmt::format("invalid read of examples [{}, {}) epochs [{}, {}) from '{}' ({} examples)",
                                begin, end, e0, e1, ctx.file(), n));
    }
    if (e1 > complete && !writer) {
      refresh();
    }
    if (e1 > complete) {
      throw IoError(fmt::format("cannot read epochs [{}, {}) from '{}': only {} epochs are committed", e0, e1,
                                ctx.file(), complete));
    }
  }

  /// Re-reads /epochs/complete and, when it grew past the known extents, the dataset extents.
  void refresh() {
    if (writer) {
      return;
    }
    if (swmr_reader) {
      ctx.check(H5Drefresh(complete_ds.get()), kCompleteDataset, "refresh dataset");
    }
    const int64_t value = read_complete();
    if (stitched()) {
      check_parts_complete(value);
      complete = value;
      return;
    }
    // New commits: an SWMR reader reloads the datasets' metadata, which may be cached from before
    // the writer wrote the committed rows (the extents, and the chunk index verify_chunks reads).
    if (value > complete || value > fewest_rows()) {
      if (swmr_reader) {
        for (const auto& one : series) ctx.check(H5Drefresh(one.ds.get()), one.path, "refresh dataset");
      }
      update_rows_known();
    }
    check_complete(value);
    verify_chunks(value);
    complete = value;
  }

  /// A truncated file (e.g. a killed run copied or cut short) reads as zeros where HDF5 skipped
  /// its end-of-file check: sec2 returns zeros past the end and SWMR readers may read past the
  /// end of allocated space. So, for such a file, checks that each chunk of epochs
  /// [verified_epochs, epochs) of every epoch dataset is allocated and lies within the file.
  /// Metadata needs no such check (the latest format checksums it). Throws IoError.
  void verify_chunks(int64_t epochs) {
    if (!unchecked_size || stitched() || epochs <= verified_epochs) {
      return;
    }
    const uint64_t size = detail::file_size(ctx);
    for (int64_t e = verified_epochs; e < epochs; ++e) {
      for (const auto& one : series) {
        for (int64_t column = 0; column < n; column += chunk_columns) {
          const hsize_t offset[2] = {static_cast<hsize_t>(e), static_cast<hsize_t>(column)};
          unsigned filter_mask = 0;
          haddr_t address = HADDR_UNDEF;
          hsize_t bytes = 0;
          ctx.check(H5Dget_chunk_info_by_coord(one.ds.get(), offset, &filter_mask, &address, &bytes),
                    one.path, "look up a chunk of");
          if (address == HADDR_UNDEF || address + bytes > size) {
            throw IoError(fmt::format(
                "HDF5 file '{}' is truncated or damaged: epoch {} of {} (committed) {} but the file has "
                "{} bytes. Epochs before {} may be intact; the file was cut short (a full disk, an "
                "incomplete copy) after a run was killed",
                ctx.file(), e, one.path,
                address == HADDR_UNDEF ? std::string("was never written")
                                       : fmt::format("lies at bytes [{}, {})", address, address + bytes),
                size, e));
          }
        }
      }
    }
    verified_epochs = epochs;
  }

  template <typename Stored, typename Out, typename Convert>
  void read_transposed(const Handle& ds, std::string_view name, hid_t mem_type, int64_t begin, int64_t end,
                       int64_t e0, int64_t e1, Out* out, Convert convert) {
    prepare_read(begin, end, e0, e1);
    const int64_t epochs = e1 - e0;
    const int64_t count = end - begin;
    if (epochs == 0 || count == 0) {
      return;
    }
    std::vector<Stored> buffer(static_cast<size_t>(epochs * count));
    read_block(ds, name, mem_type, begin, end, e0, e1, buffer.data());
    for (int64_t e = 0; e < epochs; ++e) {
      const Stored* row = buffer.data() + e * count;
      for (int64_t i = 0; i < count; ++i) {
        out[i * epochs + e] = convert(row[i]);
      }
    }
  }

  void read_float(const Handle& ds, std::string_view name, int64_t begin, int64_t end, int64_t e0, int64_t e1,
                  float* out) {
    if (fp16()) {
      read_transposed<uint16_t>(ds, name, float16.get(), begin, end, e0, e1, out, detail::half_to_float);
    } else {
      read_transposed<float>(ds, name, H5T_NATIVE_FLOAT, begin, end, e0, e1, out, [](float v) { return v; });
    }
  }

  /// Writes one row of `ds` at `epoch` (the dataset was already extended) from `data`, which holds
  /// n values already in the dataset's file type (`element_size` bytes each, little-endian).
  /// Each row is whole chunks, so the chunks go to the file directly (H5Dwrite_chunk): no
  /// selection, type conversion or chunk-cache copy. The last chunk of a row may be padded.
  void write_row(const Handle& ds, std::string_view name, int64_t epoch, const void* data,
                 size_t element_size) {
    const auto* bytes = static_cast<const char*>(data);
    for (int64_t column = 0; column < n; column += chunk_columns) {
      const int64_t count = std::min(chunk_columns, n - column);
      const char* chunk = bytes + static_cast<size_t>(column) * element_size;
      if (count < chunk_columns) {
        padded_chunk.assign(static_cast<size_t>(chunk_columns) * element_size, '\0');
        std::copy(chunk, chunk + static_cast<size_t>(count) * element_size, padded_chunk.begin());
        chunk = padded_chunk.data();
      }
      const hsize_t offset[2] = {static_cast<hsize_t>(epoch), static_cast<hsize_t>(column)};
      ctx.check(H5Dwrite_chunk(ds.get(), H5P_DEFAULT, 0, offset,
                               static_cast<size_t>(chunk_columns) * element_size, chunk),
                name, "write row of");
    }
  }

  /// For fp16 storage: converts `values` into `half` and throws DataError, before anything of
  /// the epoch is written, when a finite value exceeds fp16's range (it would be stored as
  /// infinity, and `mapd assign` would later fail on a "non-finite loss").
  void encode_fp16_row(std::string_view name, int64_t epoch, const float* values,
                       std::vector<uint16_t>* half) const {
    half->resize(static_cast<size_t>(n));
    std::transform(values, values + n, half->begin(), detail::float_to_half);
    int64_t overflows = 0;
    int64_t largest_at = -1;
    for (int64_t i = 0; i < n; ++i) {
      const float value = values[i];
      // Infinity in binary16: exponent all ones, mantissa zero (NaN stays NaN).
      if (((*half)[static_cast<size_t>(i)] & 0x7fffu) == 0x7c00u && std::isfinite(value)) {
        if (largest_at < 0 || std::abs(value) > std::abs(values[largest_at])) {
          largest_at = i;
        }
        ++overflows;
      }
    }
    if (overflows > 0) {
      throw DataError(fmt::format(
          "epoch {}: {} of {} values of {} exceed {}, the largest value record.dtype=fp16 stores (the "
          "largest is {} at example index {}, id {}); they would be stored as infinity. Nothing of this "
          "epoch was written to '{}'. Start the run again with record.dtype=fp32 (--set record.dtype=fp32; "
          "a resumed run keeps the file's fp16)",
          epoch, overflows, n, name, kFp16Max, values[largest_at], largest_at, examples.id_text(largest_at),
          ctx.file()));
    }
  }

  /// Writes a value series' row (already in `one.half` for fp16, see encode_fp16_row).
  void write_float_row(const Series& one, int64_t epoch, const float* values) {
    if (fp16()) {
      write_row(one.ds, one.path, epoch, one.half.data(), sizeof(uint16_t));
    } else {
      write_row(one.ds, one.path, epoch, values, sizeof(float));
    }
  }

  void write_class_row(const Series& one, int64_t epoch, const int32_t* values) {
    if (pred_bytes == sizeof(int16_t)) {
      // Class indices are < the class count (<= 32767 when stored as int16).
      class_row.resize(static_cast<size_t>(n));
      std::transform(values, values + n, class_row.begin(),
                     [](int32_t v) { return static_cast<int16_t>(v); });
      write_row(one.ds, one.path, epoch, class_row.data(), sizeof(int16_t));
    } else {
      write_row(one.ds, one.path, epoch, values, sizeof(int32_t));
    }
  }

  /// Reads the chunk width and the stored size of /epochs/pred (set at creation).
  void read_layout() {
    if (stitched()) return;  // read through the rank files, which check their own
    Handle dcpl = ctx.plist(H5Dget_create_plist(series[0].ds.get()), kEpochDatasets[0], "get properties of");
    hsize_t chunk[2] = {0, 0};
    if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED || H5Pget_chunk(dcpl.get(), 2, chunk) != 2 ||
        chunk[0] != 1) {
      detail::take_hdf5_error_text();
      throw IoError(
          fmt::format("dataset '/epochs/loss' in HDF5 file '{}' is not chunked by row; the file was not "
                      "written by mapd",
                      ctx.file()));
    }
    chunk_columns = static_cast<int64_t>(chunk[1]);
    // write_row and verify_chunks step through a row in chunks of the same width in all series.
    for (size_t i = 1; i < series.size(); ++i) {
      Handle other_dcpl = ctx.plist(H5Dget_create_plist(series[i].ds.get()), "/epochs", "get properties of");
      hsize_t other_chunk[2] = {0, 0};
      if (H5Pget_layout(other_dcpl.get()) != H5D_CHUNKED ||
          H5Pget_chunk(other_dcpl.get(), 2, other_chunk) != 2 || other_chunk[0] != chunk[0] ||
          other_chunk[1] != chunk[1] || chunk_columns < 1) {
        detail::take_hdf5_error_text();
        throw IoError(fmt::format(
            "the datasets of /epochs in HDF5 file '{}' are not chunked by row alike; the file was "
            "not written by mapd",
            ctx.file()));
      }
    }
    pred_bytes = 0;
    for (const auto& one : series) {
      if (!one.classes) continue;
      Handle type = ctx.datatype(H5Dget_type(one.ds.get()), one.path, "get type of");
      const size_t bytes = H5Tget_size(type.get());
      if (pred_bytes == 0) pred_bytes = bytes;
      if (H5Tget_class(type.get()) != H5T_INTEGER || bytes != pred_bytes ||
          H5Tget_order(type.get()) != H5T_ORDER_LE) {
        throw IoError(fmt::format(
            "dataset '{}' in HDF5 file '{}' is not {}", one.path, ctx.file(),
            one.path == kEpochDatasets[1] ? std::string("int16 or int32") : "of /epochs/pred's type"));
      }
      if (pred_bytes != 2 && pred_bytes != 4) {
        throw IoError(
            fmt::format("dataset '/epochs/pred' in HDF5 file '{}' is not int16 or int32", ctx.file()));
      }
    }
  }

  /// Sets the first dimension of every epoch dataset to `rows`.
  void set_rows(int64_t rows) {
    const hsize_t extent[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(n)};
    for (auto& one : series) {
      ctx.check(H5Dset_extent(one.ds.get(), extent), one.path, "resize dataset");
      one.rows_known = rows;
    }
  }

  /// Switches an open read-write file into SWMR-writer mode: everything but the file is closed
  /// first (HDF5 requires it), the epoch datasets reopened after.
  void start_swmr_write() {
    close_epoch_datasets();
    ctx.check(H5Fstart_swmr_write(file.get()), "/", "start single-writer/multiple-reader mode for");
    open_epoch_datasets();
  }
};

DynamicsStore::DynamicsStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DynamicsStore::DynamicsStore(DynamicsStore&&) noexcept = default;
DynamicsStore& DynamicsStore::operator=(DynamicsStore&&) noexcept = default;

DynamicsStore::~DynamicsStore() {
  if (impl_ && impl_->file.valid()) {
    impl_->close_epoch_datasets();
    impl_->float16.reset();
    if (impl_->file.close() < 0) {
      log::get("record")->warn("closing '{}' failed: {}", impl_->ctx.file(), detail::take_hdf5_error_text());
    }
  }
}

DynamicsStore DynamicsStore::create(const std::filesystem::path& path, const DynamicsMeta& meta,
                                    const ExampleColumns& examples) {
  detail::quiet_hdf5();
  const int64_t n = examples.size();
  check_column_lengths(examples, "DynamicsStore::create");
  if (n == 0) {
    throw DataError(fmt::format("cannot create dynamics file '{}' for an empty training set (0 examples)",
                                path.string()));
  }
  check_meta(meta, "DynamicsStore::create");

  auto impl = std::make_unique<Impl>(path);
  Impl& s = *impl;
  const FileContext& ctx = s.ctx;
  s.writer = true;
  s.meta = meta;
  s.meta.format_version = kFormatVersion;
  s.examples = examples;
  fill_or_check_rows(s.examples, fmt::format("dynamics file '{}'", path.string()));
  s.n = n;
  s.float16 = detail::make_float16_type(ctx);
  s.plan_series();

  {
    Handle fapl = latest_format_fapl(ctx);
    Handle fcpl = paged_fcpl(ctx);
    s.file = ctx.file_handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), "create");
  }
  hid_t f = s.file.get();
  write_header(ctx, f, meta, s.examples);
  {
    Handle group = create_epochs_group(ctx, f, meta);
    const hsize_t dims[2] = {0, static_cast<hsize_t>(n)};
    const hsize_t max_dims[2] = {H5S_UNLIMITED, static_cast<hsize_t>(n)};
    const hsize_t chunk[2] = {1, chunk_elements(n)};
    Handle space = ctx.dataspace(H5Screate_simple(2, dims, max_dims), "/epochs", "create dataspace for");
    Handle dcpl = ctx.plist(H5Pcreate(H5P_DATASET_CREATE), "/epochs", "create dataset properties for");
    ctx.check(H5Pset_chunk(dcpl.get(), 2, chunk), "/epochs", "set chunking of");
    const hid_t pred_type = class_file_type(meta);
    const hid_t value_type = s.fp16() ? s.float16.get() : H5T_IEEE_F32LE;
    for (const auto& one : s.series) {
      Handle ds = ctx.dataset(H5Dcreate2(f, one.path.c_str(), one.classes ? pred_type : value_type,
                                         space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                              one.path, "create dataset");
    }
    create_complete(ctx, f);
  }
  s.flush();
  s.start_swmr_write();
  s.read_layout();
  s.complete = 0;
  return DynamicsStore(std::move(impl));
}

DynamicsStore DynamicsStore::open_append(const std::filesystem::path& path, int64_t keep_epochs) {
  detail::quiet_hdf5();
  MAPD_ASSERT(keep_epochs >= 0,
              fmt::format("DynamicsStore::open_append: keep_epochs must be >= 0, got {}", keep_epochs));
  auto impl = std::make_unique<Impl>(path);
  Impl& s = *impl;
  const FileContext& ctx = s.ctx;
  s.writer = true;
  bool recovered = false;
  s.file = open_read_write(ctx, path, &recovered);
  if (ctx.exists(s.file.get(), kRankFiles)) {
    const auto ranks = ctx.dims(
        ctx.dataset(H5Dopen2(s.file.get(), kRankFiles, H5P_DEFAULT), kRankFiles, "open dataset").get(),
        kRankFiles);
    throw ConfigError(
        fmt::format("'{}' stitches the files of a data-parallel job of {} ranks (dynamics.rank-R.h5): "
                    "continue it as a job "
                    "of {} ranks (torchrun --nproc-per-node {} ... mapd resume, or srun --ntasks {})",
                    path.string(), ranks.empty() ? 0 : ranks[0], ranks.empty() ? 0 : ranks[0],
                    ranks.empty() ? 0 : ranks[0], ranks.empty() ? 0 : ranks[0]));
  }
  s.read_meta_and_examples();
  s.float16 = detail::make_float16_type(ctx);
  s.open_epoch_datasets();
  if (recovered) {
    // A kill inside a flush can leave the grown datasets and their chunk index on disk but not
    // the superblock's end of allocated space, so the uncommitted epoch's chunks lie beyond that
    // end. Shrinking the datasets frees them, the next append reuses the space past the end, and
    // the write fails ("addr overflow"). Move the end past anything one epoch can allocate (a row
    // of at most 4 bytes per series, plus index metadata; whole file space pages), as `h5clear
    // --increment` does; the gap stays unused.
    const auto increment = (static_cast<hsize_t>(s.n) * 4 * s.series.size() / detail::kFileSpacePage + 256) *
                           detail::kFileSpacePage;
    ctx.check(H5Fincrement_filesize(s.file.get(), increment), "/", "extend the allocated space of");
  }
  const int64_t complete = s.read_complete();
  s.check_complete(complete);
  const int64_t keep = std::min(complete, keep_epochs);
  // Shrink outside SWMR mode (SWMR writers may only grow datasets).
  s.set_rows(keep);
  s.write_complete(keep);
  s.complete = keep;
  s.flush_and_sync();
  at_stage(fault::AppendStage::kReopened);
  s.start_swmr_write();
  s.read_layout();
  if (keep < complete) {
    log::get("record")->info("'{}': discarded epochs {}..{} beyond the checkpoint", path.string(), keep,
                             complete - 1);
  }
  return DynamicsStore(std::move(impl));
}

DynamicsStore DynamicsStore::open_read(const std::filesystem::path& path) {
  detail::quiet_hdf5();
  auto impl = std::make_unique<Impl>(path);
  Impl& s = *impl;
  const FileContext& ctx = s.ctx;
  detail::ReadMode mode = detail::ReadMode::kClosed;
  s.file = detail::open_for_read(ctx, &mode);
  s.swmr_reader = mode == detail::ReadMode::kSwmr;
  s.unchecked_size = mode != detail::ReadMode::kClosed;
  s.read_meta_and_examples();
  s.float16 = detail::make_float16_type(ctx);
  s.open_epoch_datasets();
  s.read_layout();
  const int64_t complete = s.read_complete();
  s.check_complete(complete);
  s.verify_chunks(complete);
  s.complete = complete;
  return DynamicsStore(std::move(impl));
}

int64_t DynamicsStore::num_examples() const { return impl_->n; }

int64_t DynamicsStore::complete_epochs() const {
  detail::quiet_hdf5();
  impl_->refresh();
  return impl_->complete;
}

const DynamicsMeta& DynamicsStore::meta() const { return impl_->meta; }
const ExampleColumns& DynamicsStore::examples() const { return impl_->examples; }
const std::filesystem::path& DynamicsStore::path() const { return impl_->path; }
std::string DynamicsStore::describe() const { return "'" + impl_->path.string() + "'"; }

void DynamicsStore::append_epoch(const float* loss, const int32_t* pred, const float* true_prob,
                                 const std::vector<SignalRow>& signals) {
  detail::quiet_hdf5();
  Impl& s = *impl_;
  MAPD_ASSERT(s.writer, fmt::format("cannot append to '{}': it was opened read-only", s.ctx.file()));
  MAPD_ASSERT(signals.size() == s.meta.signals.size(),
              fmt::format("append_epoch: {} extra signal rows for the {} signals of '{}'", signals.size(),
                          s.meta.signals.size(), s.ctx.file()));
  const int64_t epoch = s.complete;
  // The rows of every series: loss, pred, true_prob, then the signals.
  std::vector<const void*> rows = {loss, pred, true_prob};
  for (size_t i = 0; i < signals.size(); ++i) {
    const bool classes = s.meta.signals[i].classes;
    const auto size = static_cast<int64_t>(classes ? signals[i].classes.size() : signals[i].values.size());
    MAPD_ASSERT(size == s.n, fmt::format("append_epoch: signal '{}' has {} values for {} examples",
                                         s.meta.signals[i].name, size, s.n));
    rows.push_back(classes ? static_cast<const void*>(signals[i].classes.data()) : signals[i].values.data());
  }
  if (s.fp16()) {
    // Before the rows grow: an epoch that cannot be stored leaves the file as it was.
    for (size_t i = 0; i < s.series.size(); ++i) {
      auto& one = s.series[i];
      if (!one.classes) s.encode_fp16_row(one.path, epoch, static_cast<const float*>(rows[i]), &one.half);
    }
  }
  s.set_rows(epoch + 1);
  for (size_t i = 0; i < s.series.size(); ++i) {
    const auto& one = s.series[i];
    if (one.classes) {
      s.write_class_row(one, epoch, static_cast<const int32_t*>(rows[i]));
    } else {
      s.write_float_row(one, epoch, static_cast<const float*>(rows[i]));
    }
  }
  at_stage(fault::AppendStage::kRowsWritten);
  // The row must be on disk before the commit marker that makes it visible.
  s.flush_and_sync();
  at_stage(fault::AppendStage::kRowsSynced);
  s.write_complete(epoch + 1);
  s.flush_and_sync();
  s.complete = epoch + 1;
  at_stage(fault::AppendStage::kCommitted);
}

void DynamicsStore::read_losses(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                                float* out) const {
  detail::quiet_hdf5();
  if (impl_->stitched()) {
    impl_->read_parts(begin, end, epoch_begin, epoch_end, out,
                      [&](const DynamicsStore& part, int64_t b, int64_t e, float* o) {
                        part.read_losses(b, e, epoch_begin, epoch_end, o);
                      });
    return;
  }
  impl_->read_float(impl_->series[0].ds, kEpochDatasets[0], begin, end, epoch_begin, epoch_end, out);
}

void DynamicsStore::read_true_probs(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                                    float* out) const {
  detail::quiet_hdf5();
  if (impl_->stitched()) {
    impl_->read_parts(begin, end, epoch_begin, epoch_end, out,
                      [&](const DynamicsStore& part, int64_t b, int64_t e, float* o) {
                        part.read_true_probs(b, e, epoch_begin, epoch_end, o);
                      });
    return;
  }
  impl_->read_float(impl_->series[2].ds, kEpochDatasets[2], begin, end, epoch_begin, epoch_end, out);
}

void DynamicsStore::read_preds(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                               int32_t* out) const {
  detail::quiet_hdf5();
  if (impl_->stitched()) {
    impl_->read_parts(begin, end, epoch_begin, epoch_end, out,
                      [&](const DynamicsStore& part, int64_t b, int64_t e, int32_t* o) {
                        part.read_preds(b, e, epoch_begin, epoch_end, o);
                      });
    return;
  }
  impl_->read_transposed<int32_t>(impl_->series[1].ds, kEpochDatasets[1], H5T_NATIVE_INT32, begin, end,
                                  epoch_begin, epoch_end, out, [](int32_t v) { return v; });
}

void DynamicsStore::read_signal_values(const std::string& name, int64_t begin, int64_t end,
                                       int64_t epoch_begin, int64_t epoch_end, float* out) const {
  detail::quiet_hdf5();
  const auto& one = impl_->series_named(name, /*classes=*/false);
  if (impl_->stitched()) {
    impl_->read_parts(begin, end, epoch_begin, epoch_end, out,
                      [&](const DynamicsStore& part, int64_t b, int64_t e, float* o) {
                        part.read_signal_values(name, b, e, epoch_begin, epoch_end, o);
                      });
    return;
  }
  impl_->read_float(one.ds, one.path, begin, end, epoch_begin, epoch_end, out);
}

void DynamicsStore::read_signal_classes(const std::string& name, int64_t begin, int64_t end,
                                        int64_t epoch_begin, int64_t epoch_end, int32_t* out) const {
  detail::quiet_hdf5();
  const auto& one = impl_->series_named(name, /*classes=*/true);
  if (impl_->stitched()) {
    impl_->read_parts(begin, end, epoch_begin, epoch_end, out,
                      [&](const DynamicsStore& part, int64_t b, int64_t e, int32_t* o) {
                        part.read_signal_classes(name, b, e, epoch_begin, epoch_end, o);
                      });
    return;
  }
  impl_->read_transposed<int32_t>(one.ds, one.path, H5T_NATIVE_INT32, begin, end, epoch_begin, epoch_end, out,
                                  [](int32_t v) { return v; });
}

void DynamicsStore::refresh() {
  detail::quiet_hdf5();
  impl_->refresh();
}

ColumnBlock rank_columns(int64_t n, int64_t rank, int64_t ranks) {
  MAPD_ASSERT(ranks >= 1 && rank >= 0 && rank < ranks && n >= 0,
              fmt::format("rank_columns: rank {} of {} for {} examples", rank, ranks, n));
  // n * r / ranks without forming n * r (which overflows for large n): with n = q * ranks + rem,
  // it is q * r + rem * r / ranks, and rem * r < ranks^2.
  const int64_t q = n / ranks;
  const int64_t rem = n % ranks;
  const auto split = [&](int64_t r) { return q * r + rem * r / ranks; };
  return ColumnBlock{split(rank), split(rank + 1)};
}

std::string rank_file_name(int64_t rank) { return fmt::format("dynamics.rank-{}.h5", rank); }

ExampleColumns slice_columns(const ExampleColumns& examples, ColumnBlock block) {
  check_column_lengths(examples, "slice_columns");
  MAPD_ASSERT(block.first >= 0 && block.first <= block.end && block.end <= examples.size(),
              fmt::format("slice_columns: columns [{}, {}) of {}", block.first, block.end, examples.size()));
  const auto cut = [&](const auto& column) {
    using Column = std::decay_t<decltype(column)>;
    if (column.empty()) return Column();
    return Column(column.begin() + block.first, column.begin() + block.end);
  };
  ExampleColumns part;
  part.id = cut(examples.id);
  part.label = cut(examples.label);
  part.original_label = cut(examples.original_label);
  part.role = cut(examples.role);
  part.probe_category = cut(examples.probe_category);
  part.source_index = cut(examples.source_index);
  part.name = cut(examples.name);
  if (!examples.row.empty()) {
    part.row = cut(examples.row);
    for (auto& r : part.row) r -= block.first;
  }
  return part;
}

struct StitchedDynamics::Impl {
  explicit Impl(const std::filesystem::path& file) : ctx(file.string()) {}

  FileContext ctx;
  Handle file;
  Handle complete_ds;
  int64_t ranks = 0;
  int64_t complete = 0;

  /// SWMR writing (readers follow the commits); the marker is reopened after.
  void start_swmr_write() {
    complete_ds.reset();
    ctx.check(H5Fstart_swmr_write(file.get()), "/", "start single-writer/multiple-reader mode for");
    complete_ds = open_complete(ctx, file.get());
  }
};

StitchedDynamics::StitchedDynamics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StitchedDynamics::StitchedDynamics(StitchedDynamics&&) noexcept = default;
StitchedDynamics& StitchedDynamics::operator=(StitchedDynamics&&) noexcept = default;

StitchedDynamics::~StitchedDynamics() {
  if (impl_ && impl_->file.valid()) {
    impl_->complete_ds.reset();
    if (impl_->file.close() < 0) {
      log::get("record")->warn("closing '{}' failed: {}", impl_->ctx.file(), detail::take_hdf5_error_text());
    }
  }
}

StitchedDynamics StitchedDynamics::create(const std::filesystem::path& path, const DynamicsMeta& meta,
                                          const ExampleColumns& examples, int64_t ranks) {
  detail::quiet_hdf5();
  const int64_t n = examples.size();
  check_column_lengths(examples, "StitchedDynamics::create");
  MAPD_ASSERT(ranks >= 1, fmt::format("StitchedDynamics::create: {} ranks", ranks));
  MAPD_CHECK(
      n >= ranks, DataError,
      fmt::format("cannot record {} examples in the files of {} ranks ('{}'): each rank records a block "
                  "of at least one example; run fewer ranks",
                  n, ranks, path.string()));
  check_meta(meta, "StitchedDynamics::create");
  auto columns = examples;
  fill_or_check_rows(columns, fmt::format("dynamics file '{}'", path.string()));

  auto impl = std::make_unique<Impl>(path);
  Impl& s = *impl;
  const FileContext& ctx = s.ctx;
  s.ranks = ranks;
  {
    Handle fapl = latest_format_fapl(ctx);
    Handle fcpl = paged_fcpl(ctx);  // each commit rewrites /epochs/complete in place
    s.file = ctx.file_handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get()), "create");
  }
  hid_t f = s.file.get();
  write_header(ctx, f, meta, columns);
  std::vector<int64_t> first;
  std::vector<std::string> names;
  for (int64_t r = 0; r < ranks; ++r) {
    first.push_back(rank_columns(n, r, ranks).first);
    names.push_back(rank_file_name(r));
  }
  first.push_back(n);
  {
    Handle group =
        ctx.group(H5Gcreate2(f, "/ranks", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "/ranks", "create group");
    ctx.write_strings_1d(f, kRankFiles, names);
    ctx.write_1d(f, kRankFirstColumns, H5T_STD_I64LE, H5T_NATIVE_INT64, first.data(), ranks + 1);
  }
  {
    Handle group = create_epochs_group(ctx, f, meta);
    Handle float16 = detail::make_float16_type(ctx);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (const auto& [name, classes] : series_paths(meta)) {
      if (classes) {
        create_virtual_series(ctx, f, name, class_file_type(meta), &kNoClass, first);
      } else if (meta.dtype == "fp16") {
        create_virtual_series(ctx, f, name, float16.get(), &kHalfNan, first);
      } else {
        create_virtual_series(ctx, f, name, H5T_IEEE_F32LE, &nan, first);
      }
    }
    create_complete(ctx, f);
  }
  flush_and_sync(ctx, s.file);
  s.start_swmr_write();
  return StitchedDynamics(std::move(impl));
}

StitchedDynamics StitchedDynamics::open_append(const std::filesystem::path& path, int64_t keep_epochs) {
  detail::quiet_hdf5();
  MAPD_ASSERT(keep_epochs >= 0,
              fmt::format("StitchedDynamics::open_append: keep_epochs must be >= 0, got {}", keep_epochs));
  auto impl = std::make_unique<Impl>(path);
  Impl& s = *impl;
  const FileContext& ctx = s.ctx;
  bool recovered = false;
  s.file = open_read_write(ctx, path, &recovered);
  if (!ctx.exists(s.file.get(), kRankFiles)) {
    throw IoError(fmt::format("'{}' is not the dynamics.h5 of a job recorded per rank (no {})", path.string(),
                              kRankFiles));
  }
  {
    Handle names = ctx.dataset(H5Dopen2(s.file.get(), kRankFiles, H5P_DEFAULT), kRankFiles, "open dataset");
    s.ranks = ctx.expect_dataset(names.get(), kRankFiles, {detail::kAnyExtent}, H5T_STRING)[0];
  }
  s.complete_ds = open_complete(ctx, s.file.get());
  const int64_t complete = read_scalar(ctx, s.complete_ds);
  if (complete < 0) {
    throw IoError(
        fmt::format("HDF5 file '{}' is damaged: /epochs/complete = {} is negative", path.string(), complete));
  }
  s.complete = std::min(complete, keep_epochs);
  write_scalar(ctx, s.complete_ds, s.complete);
  flush_and_sync(ctx, s.file);
  s.start_swmr_write();
  if (s.complete < complete) {
    log::get("record")->info("'{}': discarded epochs {}..{} beyond the checkpoint", path.string(), s.complete,
                             complete - 1);
  }
  return StitchedDynamics(std::move(impl));
}

int64_t StitchedDynamics::recorded_ranks(const std::filesystem::path& path) {
  detail::quiet_hdf5();
  const FileContext ctx(path.string());
  detail::ReadMode mode = detail::ReadMode::kClosed;
  const Handle file = detail::open_for_read(ctx, &mode);
  if (!ctx.exists(file.get(), kRankFiles)) return 0;
  const Handle names = ctx.dataset(H5Dopen2(file.get(), kRankFiles, H5P_DEFAULT), kRankFiles, "open dataset");
  return ctx.expect_dataset(names.get(), kRankFiles, {detail::kAnyExtent}, H5T_STRING)[0];
}

int64_t StitchedDynamics::ranks() const { return impl_->ranks; }
int64_t StitchedDynamics::complete_epochs() const { return impl_->complete; }

void StitchedDynamics::commit(int64_t epochs) {
  detail::quiet_hdf5();
  Impl& s = *impl_;
  MAPD_ASSERT(epochs >= s.complete,
              fmt::format("StitchedDynamics::commit({}) after {} epochs", epochs, s.complete));
  write_scalar(s.ctx, s.complete_ds, epochs);
  flush_and_sync(s.ctx, s.file);
  s.complete = epochs;
}

}  // namespace mapd::record
