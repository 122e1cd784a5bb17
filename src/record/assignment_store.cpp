#include "mapd/record/assignment_store.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"

#include "hdf5.hpp"

namespace mapd::record {

using detail::FileContext;
using detail::Handle;

namespace {

constexpr int64_t kFormatVersion = 1;

/// One column of the file: its name, HDF5 file/memory types, width (1 or C) and fill value.
struct Column {
  const char* name;
  hid_t file_type;
  hid_t mem_type;
  bool per_category;
  bool is_float;
};

constexpr int kNumColumns = 8;

/// The columns in file order (a function: the H5T_* ids are only valid once HDF5 is initialised).
const Column* columns() {
  static const Column kColumns[kNumColumns] = {
      {"/id", H5T_STD_I64LE, H5T_NATIVE_INT64, false, false},
      {"/row", H5T_STD_I64LE, H5T_NATIVE_INT64, false, false},
      {"/label", H5T_STD_I64LE, H5T_NATIVE_INT64, false, false},
      {"/assigned", H5T_STD_I16LE, H5T_NATIVE_INT16, false, false},
      {"/max_prob", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, false, true},
      {"/prob", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, true, true},
      {"/score", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, true, true},
      {"/label_issue", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, false, true},
  };
  return kColumns;
}

}  // namespace

struct AssignmentStore::Impl {
  explicit Impl(const std::filesystem::path& file) : path(file), ctx(file.string()) {}

  std::filesystem::path path;
  FileContext ctx;
  int64_t n = 0;
  int64_t categories = 0;
  Handle file;
  Handle datasets[kNumColumns];

  void write_rows(int column, int64_t offset, int64_t count, const void* data) {
    const Column& c = columns()[column];
    if (data == nullptr || count == 0) {
      return;
    }
    const hsize_t width = c.per_category ? static_cast<hsize_t>(categories) : 1;
    if (width == 0) {
      return;
    }
    const Handle& ds = datasets[column];
    Handle file_space = ctx.dataspace(H5Dget_space(ds.get()), c.name, "get dataspace of");
    const hsize_t start[2] = {static_cast<hsize_t>(offset), 0};
    const hsize_t count_dims[2] = {static_cast<hsize_t>(count), width};
    const int rank = c.per_category ? 2 : 1;
    ctx.check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count_dims, nullptr),
              c.name, "select rows of");
    Handle mem_space =
        ctx.dataspace(H5Screate_simple(rank, count_dims, nullptr), c.name, "create memory space for");
    ctx.check(H5Dwrite(ds.get(), c.mem_type, mem_space.get(), file_space.get(), H5P_DEFAULT, data), c.name,
              "write rows of");
  }
};

AssignmentStore::AssignmentStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AssignmentStore::AssignmentStore(AssignmentStore&&) noexcept = default;
AssignmentStore& AssignmentStore::operator=(AssignmentStore&&) noexcept = default;

AssignmentStore::~AssignmentStore() {
  if (impl_ && impl_->file.valid()) {
    try {
      close();
    } catch (const std::exception& e) {
      log::get("record")->warn("{}", e.what());
    }
  }
}

AssignmentStore AssignmentStore::create(const std::filesystem::path& path, const AssignmentMeta& meta,
                                        int64_t n) {
  detail::quiet_hdf5();
  MAPD_ASSERT(n >= 0, fmt::format("AssignmentStore::create: n must be >= 0, got {}", n));
  auto impl = std::make_unique<Impl>(path);
  Impl& s = *impl;
  const FileContext& ctx = s.ctx;
  s.n = n;
  s.categories = static_cast<int64_t>(meta.category_names.size());
  s.file = ctx.file_handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create");
  hid_t f = s.file.get();
  ctx.write_string_attr(f, "/", "mapd_file", "assignments");
  ctx.write_int64_attr(f, "/", "format_version", kFormatVersion);
  ctx.write_strings_attr(f, "/", "category_names", meta.category_names);
  ctx.write_string_attr(f, "/", "config_json", meta.config_json);
  ctx.write_string_attr(f, "/", "mapd_version", meta.mapd_version);
  ctx.write_int64_attr(f, "/", "k", meta.k);
  ctx.write_int64_attr(f, "/", "epoch_begin", meta.epoch_begin);
  ctx.write_int64_attr(f, "/", "epoch_end", meta.epoch_end);
  ctx.write_string_attr(f, "/", "label_issue_ranks", meta.label_issue_ranks);

  for (int i = 0; i < kNumColumns; ++i) {
    const Column& c = columns()[i];
    const hsize_t dims[2] = {static_cast<hsize_t>(n), static_cast<hsize_t>(s.categories)};
    Handle space = ctx.dataspace(H5Screate_simple(c.per_category ? 2 : 1, dims, nullptr), c.name,
                                 "create dataspace for");
    Handle dcpl = ctx.plist(H5Pcreate(H5P_DATASET_CREATE), c.name, "create dataset properties for");
    // Rows never written keep the fill value: NaN for floats, -1 for integers.
    if (c.is_float) {
      const float fill = std::numeric_limits<float>::quiet_NaN();
      ctx.check(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_FLOAT, &fill), c.name, "set fill value of");
    } else {
      const int64_t fill = -1;
      ctx.check(H5Pset_fill_value(dcpl.get(), H5T_NATIVE_INT64, &fill), c.name, "set fill value of");
    }
    ctx.check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), c.name, "set allocation of");
    s.datasets[i] =
        ctx.dataset(H5Dcreate2(f, c.name, c.file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                    c.name, "create dataset");
  }
  return AssignmentStore(std::move(impl));
}

void AssignmentStore::write(int64_t offset, const Block& block) {
  detail::quiet_hdf5();
  Impl& s = *impl_;
  MAPD_ASSERT(s.file.valid(),
              fmt::format("cannot write to '{}': the assignment file is closed", s.ctx.file()));
  MAPD_ASSERT(offset >= 0 && block.count >= 0 && offset + block.count <= s.n,
              fmt::format("AssignmentStore::write: rows [{}, {}) outside [0, {}) of '{}'", offset,
                          offset + block.count, s.n, s.ctx.file()));
  const void* columns[kNumColumns] = {block.id,       block.row,  block.label, block.assigned,
                                      block.max_prob, block.prob, block.score, block.label_issue};
  for (int i = 0; i < kNumColumns; ++i) {
    s.write_rows(i, offset, block.count, columns[i]);
  }
}

void AssignmentStore::write_names(const std::vector<std::string>& names) {
  detail::quiet_hdf5();
  Impl& s = *impl_;
  MAPD_ASSERT(s.file.valid(),
              fmt::format("cannot write to '{}': the assignment file is closed", s.ctx.file()));
  MAPD_ASSERT(static_cast<int64_t>(names.size()) == s.n,
              fmt::format("AssignmentStore::write_names: {} names for {} rows of '{}'", names.size(), s.n,
                          s.ctx.file()));
  s.ctx.write_strings_1d(s.file.get(), "/name", names);
}

void AssignmentStore::set_config_json(const std::string& config_json) {
  detail::quiet_hdf5();
  Impl& s = *impl_;
  MAPD_ASSERT(s.file.valid(),
              fmt::format("cannot write to '{}': the assignment file is closed", s.ctx.file()));
  s.ctx.check(H5Adelete(s.file.get(), "config_json"), "/config_json", "delete attribute");
  s.ctx.write_string_attr(s.file.get(), "/", "config_json", config_json);
}

void AssignmentStore::close() {
  detail::quiet_hdf5();
  Impl& s = *impl_;
  if (!s.file.valid()) {
    return;
  }
  for (auto& ds : s.datasets) {
    ds.reset();
  }
  s.ctx.check(H5Fflush(s.file.get(), H5F_SCOPE_GLOBAL), "/", "flush");
  s.ctx.check(s.file.close(), "/", "close");
}

namespace {

/// The root attributes of an open assignment file. Throws IoError when it is not one or has
/// another format version.
AssignmentMeta read_root(const FileContext& ctx, hid_t f) {
  if (!ctx.exists(f, "/assigned") || !ctx.exists(f, "/prob")) {
    throw IoError(
        fmt::format("HDF5 file '{}' is not a mapd assignment file (no /assigned or /prob)", ctx.file()));
  }
  AssignmentMeta m;
  m.format_version = ctx.read_int64_attr(f, "/", "format_version");
  if (m.format_version != kFormatVersion) {
    throw IoError(fmt::format("HDF5 file '{}' has assignment format_version {}; this mapd reads version {}",
                              ctx.file(), m.format_version, kFormatVersion));
  }
  m.category_names = ctx.read_strings_attr(f, "/", "category_names");
  m.config_json = ctx.read_string_attr(f, "/", "config_json");
  m.mapd_version = ctx.read_string_attr(f, "/", "mapd_version");
  m.k = ctx.read_int64_attr(f, "/", "k");
  m.epoch_begin = ctx.read_int64_attr(f, "/", "epoch_begin");
  m.epoch_end = ctx.read_int64_attr(f, "/", "epoch_end");
  if (ctx.has_attr(f, "/", "label_issue_ranks")) {
    m.label_issue_ranks = ctx.read_string_attr(f, "/", "label_issue_ranks");
  }
  return m;
}

}  // namespace

AssignmentMeta AssignmentStore::read_meta(const std::filesystem::path& path) {
  detail::quiet_hdf5();
  const FileContext ctx(path.string());
  detail::ReadMode mode = detail::ReadMode::kClosed;
  Handle file = detail::open_for_read(ctx, &mode);
  return read_root(ctx, file.get());
}

AssignmentStore::Columns AssignmentStore::read(const std::filesystem::path& path, AssignmentMeta* meta) {
  detail::quiet_hdf5();
  const FileContext ctx(path.string());
  detail::ReadMode mode = detail::ReadMode::kClosed;
  Handle file = detail::open_for_read(ctx, &mode);
  hid_t f = file.get();
  AssignmentMeta m = read_root(ctx, f);

  Handle id_ds = ctx.dataset(H5Dopen2(f, "/id", H5P_DEFAULT), "/id", "open dataset");
  const int64_t n = ctx.expect_dataset(id_ds.get(), "/id", {detail::kAnyExtent}, H5T_INTEGER)[0];
  const auto categories = static_cast<int64_t>(m.category_names.size());
  {
    Handle id_type = ctx.datatype(H5Dget_type(id_ds.get()), "/id", "get type of");
    detail::check_fits_in_file(ctx, "/id", static_cast<uint64_t>(n), H5Tget_size(id_type.get()));
    // /prob and /score hold N rows of C 32-bit floats.
    detail::check_fits_in_file(ctx, "/prob", static_cast<uint64_t>(n), 4 * static_cast<uint64_t>(categories));
  }
  const auto size = static_cast<size_t>(n);
  Columns out;
  out.id.resize(size);
  out.row.resize(size);
  out.label.resize(size);
  out.assigned.resize(size);
  out.max_prob.resize(size);
  out.label_issue.resize(size);
  out.prob.resize(size * static_cast<size_t>(categories));
  out.score.resize(size * static_cast<size_t>(categories));
  ctx.read_1d(f, "/id", H5T_NATIVE_INT64, out.id.data(), n);
  ctx.read_1d(f, "/row", H5T_NATIVE_INT64, out.row.data(), n);
  ctx.read_1d(f, "/label", H5T_NATIVE_INT64, out.label.data(), n);
  ctx.read_1d(f, "/assigned", H5T_NATIVE_INT16, out.assigned.data(), n);
  ctx.read_1d(f, "/max_prob", H5T_NATIVE_FLOAT, out.max_prob.data(), n);
  ctx.read_1d(f, "/label_issue", H5T_NATIVE_FLOAT, out.label_issue.data(), n);
  if (ctx.exists(f, "/name")) {
    out.name = ctx.read_strings_1d(f, "/name", n);
  }
  for (const char* name : {"/prob", "/score"}) {
    Handle ds = ctx.dataset(H5Dopen2(f, name, H5P_DEFAULT), name, "open dataset");
    ctx.expect_dataset(ds.get(), name, {n, categories}, H5T_FLOAT);
    auto& target = std::string_view(name) == "/prob" ? out.prob : out.score;
    if (!target.empty()) {
      ctx.check(H5Dread(ds.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, target.data()), name,
                "read dataset");
    }
  }
  if (meta != nullptr) {
    *meta = std::move(m);
  }
  return out;
}

}  // namespace mapd::record
