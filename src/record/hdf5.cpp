#include "hdf5.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"

namespace mapd::record::detail {

void quiet_hdf5() {
  thread_local bool quiet = false;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    quiet = true;
  }
}

namespace {

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* error, void* client) {
  auto* messages = static_cast<std::vector<std::string>*>(client);
  if (error->desc != nullptr && error->desc[0] != '\0') {
    messages->emplace_back(error->desc);
  }
  return 0;
}

}  // namespace

std::string take_hdf5_error_text() {
  std::vector<std::string> messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &messages);
  H5Eclear2(H5E_DEFAULT);
  std::string text;
  // The innermost few messages say what happened; the outer ones repeat the API call.
  const size_t shown = std::min<size_t>(messages.size(), 3);
  for (size_t i = 0; i < shown; ++i) {
    if (!text.empty()) {
      text += "; ";
    }
    text += messages[i];
  }
  return text;
}

void throw_hdf5_error(std::string_view file, std::string_view object, std::string_view action) {
  std::string detail = take_hdf5_error_text();
  throw IoError(fmt::format("cannot {} '{}' in HDF5 file '{}'{}{}", action, object, file,
                            detail.empty() ? "" : ": ", detail));
}

void Handle::reset() noexcept {
  if (id_ >= 0 && closer_ != nullptr) {
    closer_(id_);
    H5Eclear2(H5E_DEFAULT);
  }
  id_ = H5I_INVALID_HID;
}

herr_t Handle::close() noexcept {
  herr_t status = 0;
  if (id_ >= 0 && closer_ != nullptr) {
    status = closer_(id_);
  }
  id_ = H5I_INVALID_HID;
  return status;
}

Handle FileContext::file_handle(hid_t id, std::string_view action) const {
  return Handle(check(id, "/", action), H5Fclose);
}
Handle FileContext::group(hid_t id, std::string_view object, std::string_view action) const {
  return Handle(check(id, object, action), H5Gclose);
}
Handle FileContext::dataset(hid_t id, std::string_view object, std::string_view action) const {
  return Handle(check(id, object, action), H5Dclose);
}
Handle FileContext::dataspace(hid_t id, std::string_view object, std::string_view action) const {
  return Handle(check(id, object, action), H5Sclose);
}
Handle FileContext::datatype(hid_t id, std::string_view object, std::string_view action) const {
  return Handle(check(id, object, action), H5Tclose);
}
Handle FileContext::attribute(hid_t id, std::string_view object, std::string_view action) const {
  return Handle(check(id, object, action), H5Aclose);
}
Handle FileContext::plist(hid_t id, std::string_view object, std::string_view action) const {
  return Handle(check(id, object, action), H5Pclose);
}

bool FileContext::exists(hid_t loc, const std::string& object) const {
  std::string prefix;
  std::stringstream parts(object);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) {
      continue;
    }
    prefix += "/" + part;
    htri_t found = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
    if (found <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
  }
  return true;
}

namespace {

std::string attr_name(std::string_view object_name, const std::string& name) {
  std::string full(object_name);
  full += "@";
  full += name;
  return full;
}

}  // namespace

void FileContext::write_string_attr(hid_t loc, std::string_view object_name, const std::string& name,
                                    const std::string& value) const {
  const std::string where = attr_name(object_name, name);
  Handle type = datatype(H5Tcopy(H5T_C_S1), where, "create string type for");
  check(H5Tset_size(type.get(), H5T_VARIABLE), where, "set string size of");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), where, "set string encoding of");
  Handle space = dataspace(H5Screate(H5S_SCALAR), where, "create dataspace for");
  Handle attr = attribute(H5Acreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                          where, "create attribute");
  const char* data = value.c_str();
  check(H5Awrite(attr.get(), type.get(), &data), where, "write attribute");
}

void FileContext::write_strings_attr(hid_t loc, std::string_view object_name, const std::string& name,
                                     const std::vector<std::string>& values) const {
  const std::string where = attr_name(object_name, name);
  Handle type = datatype(H5Tcopy(H5T_C_S1), where, "create string type for");
  check(H5Tset_size(type.get(), H5T_VARIABLE), where, "set string size of");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), where, "set string encoding of");
  hsize_t dim = values.size();
  Handle space = dataspace(H5Screate_simple(1, &dim, nullptr), where, "create dataspace for");
  Handle attr = attribute(H5Acreate2(loc, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                          where, "create attribute");
  std::vector<const char*> data;
  data.reserve(values.size());
  for (const auto& value : values) {
    data.push_back(value.c_str());
  }
  if (!data.empty()) {
    check(H5Awrite(attr.get(), type.get(), data.data()), where, "write attribute");
  }
}

void FileContext::write_int64_attr(hid_t loc, std::string_view object_name, const std::string& name,
                                   int64_t value) const {
  const std::string where = attr_name(object_name, name);
  Handle space = dataspace(H5Screate(H5S_SCALAR), where, "create dataspace for");
  Handle attr = attribute(H5Acreate2(loc, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                          where, "create attribute");
  check(H5Awrite(attr.get(), H5T_NATIVE_INT64, &value), where, "write attribute");
}

bool FileContext::has_attr(hid_t loc, std::string_view object_name, const std::string& name) const {
  return check(H5Aexists(loc, name.c_str()), attr_name(object_name, name), "look up attribute") > 0;
}

namespace {

/// Reads the string elements of `object`, an attribute or a dataset (variable-length or
/// fixed-length strings).
std::vector<std::string> read_string_elements(const FileContext& ctx, hid_t object,
                                              const std::string& where) {
  const bool is_dataset = H5Iget_type(object) == H5I_DATASET;
  const char* what = is_dataset ? "dataset" : "attribute";
  Handle file_type =
      ctx.datatype(is_dataset ? H5Dget_type(object) : H5Aget_type(object), where, "get type of");
  if (H5Tget_class(file_type.get()) != H5T_STRING) {
    throw IoError(
        fmt::format("{} '{}' in HDF5 file '{}' is not a string; the file was not written "
                    "by mapd or is damaged",
                    what, where, ctx.file()));
  }
  Handle space =
      ctx.dataspace(is_dataset ? H5Dget_space(object) : H5Aget_space(object), where, "get dataspace of");
  const hssize_t count = ctx.check(H5Sget_simple_extent_npoints(space.get()), where, "get size of");
  std::vector<std::string> values;
  if (count == 0) {
    return values;
  }
  const auto read = [&](hid_t mem_type, void* out) {
    const herr_t status = is_dataset ? H5Dread(object, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out)
                                     : H5Aread(object, mem_type, out);
    ctx.check(status, where, is_dataset ? "read dataset" : "read attribute");
  };
  const htri_t variable = ctx.check(H5Tis_variable_str(file_type.get()), where, "inspect type of");
  Handle mem_type = ctx.datatype(H5Tcopy(H5T_C_S1), where, "create string type for");
  // HDF5 converts strings only between types of the same character set.
  ctx.check(H5Tset_cset(mem_type.get(), H5Tget_cset(file_type.get())), where, "set string encoding of");
  if (variable > 0) {
    ctx.check(H5Tset_size(mem_type.get(), H5T_VARIABLE), where, "set string size of");
    std::vector<char*> data(static_cast<size_t>(count), nullptr);
    read(mem_type.get(), data.data());
    for (char* item : data) {
      values.emplace_back(item != nullptr ? item : "");
    }
    H5Dvlen_reclaim(mem_type.get(), space.get(), H5P_DEFAULT, data.data());
  } else {
    const size_t size = H5Tget_size(file_type.get());
    ctx.check(H5Tset_size(mem_type.get(), size), where, "set string size of");
    std::vector<char> data(size * static_cast<size_t>(count), '\0');
    read(mem_type.get(), data.data());
    for (hssize_t i = 0; i < count; ++i) {
      const char* begin = data.data() + static_cast<size_t>(i) * size;
      values.emplace_back(begin, strnlen(begin, size));
    }
  }
  return values;
}

}  // namespace

std::string FileContext::read_string_attr(hid_t loc, std::string_view object_name,
                                          const std::string& name) const {
  const std::string where = attr_name(object_name, name);
  Handle attr = attribute(H5Aopen(loc, name.c_str(), H5P_DEFAULT), where, "open attribute");
  auto values = read_string_elements(*this, attr.get(), where);
  if (values.size() != 1) {
    throw IoError(fmt::format("attribute '{}' in HDF5 file '{}' holds {} strings, expected one", where, file_,
                              values.size()));
  }
  return values.front();
}

std::vector<std::string> FileContext::read_strings_attr(hid_t loc, std::string_view object_name,
                                                        const std::string& name) const {
  const std::string where = attr_name(object_name, name);
  Handle attr = attribute(H5Aopen(loc, name.c_str(), H5P_DEFAULT), where, "open attribute");
  return read_string_elements(*this, attr.get(), where);
}

int64_t FileContext::read_int64_attr(hid_t loc, std::string_view object_name, const std::string& name) const {
  const std::string where = attr_name(object_name, name);
  Handle attr = attribute(H5Aopen(loc, name.c_str(), H5P_DEFAULT), where, "open attribute");
  Handle space = dataspace(H5Aget_space(attr.get()), where, "get dataspace of");
  if (check(H5Sget_simple_extent_npoints(space.get()), where, "get size of") != 1) {
    throw IoError(fmt::format("attribute '{}' in HDF5 file '{}' is not a single integer", where, file_));
  }
  int64_t value = 0;
  check(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), where, "read attribute");
  return value;
}

void FileContext::write_1d(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type,
                           const void* data, int64_t n) const {
  hsize_t dim = static_cast<hsize_t>(n);
  Handle space = dataspace(H5Screate_simple(1, &dim, nullptr), name, "create dataspace for");
  Handle ds =
      dataset(H5Dcreate2(loc, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              name, "create dataset");
  if (n > 0) {
    check(H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name, "write dataset");
  }
}

void FileContext::write_strings_1d(hid_t loc, const std::string& name,
                                   const std::vector<std::string>& values) const {
  Handle type = datatype(H5Tcopy(H5T_C_S1), name, "create string type for");
  check(H5Tset_size(type.get(), H5T_VARIABLE), name, "set string size of");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), name, "set string encoding of");
  std::vector<const char*> data;
  data.reserve(values.size());
  for (const auto& value : values) {
    data.push_back(value.c_str());
  }
  write_1d(loc, name, type.get(), type.get(), data.data(), static_cast<int64_t>(data.size()));
}

std::vector<std::string> FileContext::read_strings_1d(hid_t loc, const std::string& name, int64_t n) const {
  Handle ds = dataset(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), name, "open dataset");
  expect_dataset(ds.get(), name, {n}, H5T_STRING);
  return read_string_elements(*this, ds.get(), name);
}

std::vector<int64_t> FileContext::dims(hid_t ds, std::string_view object) const {
  Handle space = dataspace(H5Dget_space(ds), object, "get dataspace of");
  const int rank = check(H5Sget_simple_extent_ndims(space.get()), object, "get rank of");
  std::vector<hsize_t> raw(static_cast<size_t>(rank));
  if (rank > 0) {
    check(H5Sget_simple_extent_dims(space.get(), raw.data(), nullptr), object, "get dimensions of");
  }
  return {raw.begin(), raw.end()};
}

namespace {

const char* type_class_name(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_INTEGER:
      return "integer";
    case H5T_FLOAT:
      return "float";
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "variable-length";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_REFERENCE:
      return "reference";
    case H5T_TIME:
      return "time";
    default:
      return "unknown";
  }
}

std::string shape_text(const std::vector<int64_t>& shape) {
  if (shape.empty()) {
    return "[] (a scalar)";
  }
  std::vector<std::string> parts;
  parts.reserve(shape.size());
  for (const int64_t extent : shape) {
    parts.push_back(extent == kAnyExtent ? "any" : std::to_string(extent));
  }
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

std::string type_text(H5T_class_t type_class, const std::vector<size_t>& sizes) {
  // Only the size of a number says how it is stored (a string's is its fixed length).
  if (sizes.empty() || (type_class != H5T_INTEGER && type_class != H5T_FLOAT)) {
    return type_class_name(type_class);
  }
  std::vector<std::string> bits;
  bits.reserve(sizes.size());
  for (const size_t size : sizes) {
    bits.push_back(std::to_string(size * 8));
  }
  return fmt::format("{}-bit {}", fmt::join(bits, " or "), type_class_name(type_class));
}

}  // namespace

std::vector<int64_t> FileContext::expect_dataset(hid_t ds, std::string_view object,
                                                 const std::vector<int64_t>& shape, H5T_class_t type_class,
                                                 const std::vector<size_t>& type_sizes) const {
  Handle space = dataspace(H5Dget_space(ds), object, "get dataspace of");
  const H5S_class_t space_class = H5Sget_simple_extent_type(space.get());
  check(static_cast<int>(space_class), object, "get dataspace class of");
  std::vector<int64_t> found;
  std::string found_shape;
  if (space_class == H5S_NULL) {
    found_shape = "null (no data)";
  } else {
    found = dims(ds, object);
    found_shape = shape_text(found);
  }
  Handle type = datatype(H5Dget_type(ds), object, "get type of");
  const H5T_class_t found_class = H5Tget_class(type.get());
  check(static_cast<int>(found_class), object, "get type class of");
  const size_t found_size = H5Tget_size(type.get());
  bool ok =
      space_class != H5S_NULL && found.size() == shape.size() && found_class == type_class &&
      (type_sizes.empty() || std::find(type_sizes.begin(), type_sizes.end(), found_size) != type_sizes.end());
  for (size_t i = 0; ok && i < shape.size(); ++i) {
    ok = shape[i] == kAnyExtent || shape[i] == found[i];
  }
  if (!ok) {
    throw DataError(
        fmt::format("dataset '{}' in HDF5 file '{}' has shape {} and type {}; expected shape {} and type {}. "
                    "The file is damaged or was not written by this version of mapd",
                    object, file_, found_shape, type_text(found_class, {found_size}), shape_text(shape),
                    type_text(type_class, type_sizes)));
  }
  return found;
}

void FileContext::read_1d(hid_t loc, const std::string& name, hid_t mem_type, void* out, int64_t n) const {
  Handle ds = dataset(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), name, "open dataset");
  expect_dataset(ds.get(), name, {n}, H5Tget_class(mem_type));
  if (n > 0) {
    check(H5Dread(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), name, "read dataset");
  }
}

bool set_clear_status_flags(hid_t fapl, bool skip_eof_check) {
  // The properties' names in HDF5 1.10 to 1.14 (H5F_ACS_CLEAR_STATUS_FLAGS_NAME and
  // H5F_ACS_SKIP_EOF_CHECK_NAME, H5Fprivate.h).
  hbool_t on = true;
  for (const char* name : {"clear_status_flags", "skip_eof_check"}) {
    if (H5Pexist(fapl, name) <= 0 || H5Pset(fapl, name, &on) < 0) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    if (!skip_eof_check) break;
  }
  return true;
}

uint64_t unwritten_tail(const std::filesystem::path& path) {
  std::array<unsigned char, 36> block{};
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(block.data()), block.size())) return 0;
  const std::array<unsigned char, 8> signature = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  const auto u64 = [&](size_t at) {
    uint64_t value = 0;
    for (size_t i = 8; i-- > 0;) value = value << 8U | block[at + i];
    return value;
  };
  // Superblock version 2 and 3: flags at byte 11, then base address, extension address and end
  // of allocated space (8-byte offsets).
  constexpr unsigned kOpenForWriting = 0x01U | 0x04U;  // write access, SWMR write access
  if (!std::equal(signature.begin(), signature.end(), block.begin()) || (block[8] != 2 && block[8] != 3) ||
      block[9] != 8 || (block[11] & kOpenForWriting) == 0 || u64(12) != 0) {
    return 0;
  }
  const uint64_t end = u64(28);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  return !ec && end > size && end - size <= 16 * kFileSpacePage ? end - size : 0;
}

bool locked_by_writer(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  // HDF5 takes an exclusive flock for a writer until it starts SWMR writing, a shared one for a
  // reader; a shared probe fails only against a writer.
  const bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return locked;
}

uint64_t file_size(const FileContext& ctx) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(ctx.file(), ec);
  if (ec) {
    throw IoError(fmt::format("cannot get the size of '{}': {}", ctx.file(), ec.message()));
  }
  return static_cast<uint64_t>(size);
}

void check_fits_in_file(const FileContext& ctx, std::string_view object, uint64_t count,
                        uint64_t element_bytes) {
  const uint64_t size = file_size(ctx);
  if (element_bytes > 0 && count > size / element_bytes) {
    throw DataError(fmt::format(
        "'{}' in HDF5 file '{}' claims {} elements of {} bytes, more than the file's {} bytes "
        "hold (mapd writes its files uncompressed); the file is damaged or was not written by mapd",
        object, ctx.file(), count, element_bytes, size));
  }
}

Handle open_for_read(const FileContext& ctx, ReadMode* mode) {
  const std::string& path = ctx.file();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw IoError(fmt::format("cannot read '{}': no such file", path));
  }
  Handle plain_fapl = ctx.plist(H5Pcreate(H5P_FILE_ACCESS), "/", "create file access properties for");
#if H5_VERSION_GE(1, 10, 7)
  ctx.check(H5Pset_file_locking(plain_fapl.get(), false, true), "/", "turn off file locking for");
#endif
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, plain_fapl.get());
  if (id >= 0) {
    *mode = ReadMode::kClosed;
    return Handle(id, H5Fclose);
  }
  const std::string plain_error = take_hdf5_error_text();
  Handle swmr_fapl = ctx.plist(H5Pcreate(H5P_FILE_ACCESS), "/", "create file access properties for");
  ctx.check(H5Pset_metadata_read_attempts(swmr_fapl.get(), 16), "/", "set read attempts for");
  id = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, swmr_fapl.get());
  if (id >= 0) {
    *mode = ReadMode::kSwmr;
    return Handle(id, H5Fclose);
  }
  take_hdf5_error_text();
  // A writer killed before it started SWMR writing (e.g. `mapd resume` while it reopens the file)
  // leaves the superblock marked "open for writing", which both opens above refuse. Its data is
  // intact; read past the mark unless a live writer holds the file.
  if (locked_by_writer(path)) {
    throw IoError(
        fmt::format("cannot read '{}': another process (a running mapd train or resume?) has it "
                    "open for writing; try again once it records epochs",
                    path));
  }
  if (set_clear_status_flags(plain_fapl.get(), unwritten_tail(path) > 0)) {
    id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, plain_fapl.get());
    if (id >= 0) {
      log::get("record")->warn(
          "'{}' is still marked as open for writing by a process that was killed (e.g. mapd resume while "
          "reopening it); reading it anyway. `mapd resume` clears the mark, as does `h5clear -s` (for "
          "h5py and other HDF5 tools)",
          path);
      *mode = ReadMode::kStale;
      return Handle(id, H5Fclose);
    }
    take_hdf5_error_text();
  }
  throw IoError(fmt::format(
      "cannot open '{}' as an HDF5 file: {}. The file is damaged, truncated or not HDF5", path, plain_error));
}

Handle make_float16_type(const FileContext& ctx) {
  Handle type = ctx.datatype(H5Tcopy(H5T_IEEE_F32LE), "float16", "create datatype");
  // binary16: sign bit 15, exponent bits 10-14 (bias 15), mantissa bits 0-9, implied leading 1.
  ctx.check(H5Tset_fields(type.get(), 15, 10, 5, 0, 10), "float16", "set fields of datatype");
  ctx.check(H5Tset_size(type.get(), 2), "float16", "set size of datatype");
  ctx.check(H5Tset_ebias(type.get(), 15), "float16", "set exponent bias of datatype");
  return type;
}

uint16_t float_to_half(float value) {
  // Round to nearest even without branches on the common path (F. Giesen's float_to_half_fast3_rtne).
  constexpr uint32_t kF32Infinity = 255u << 23;
  constexpr uint32_t kF16Max = (127u + 16u) << 23;  // 2^16: everything from here rounds to inf
  constexpr uint32_t kDenormMagicBits = ((127u - 15u) + (23u - 10u) + 1u) << 23;
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  const uint32_t sign = bits & 0x80000000u;
  bits ^= sign;
  uint16_t out = 0;
  if (bits >= kF16Max) {
    out = bits > kF32Infinity ? 0x7e00 : 0x7c00;
  } else if (bits < (113u << 23)) {
    // Result is subnormal or zero: let the FPU round by adding a magic number.
    float magnitude = 0.0F;
    float magic = 0.0F;
    std::memcpy(&magnitude, &bits, sizeof magnitude);
    std::memcpy(&magic, &kDenormMagicBits, sizeof magic);
    magnitude += magic;
    uint32_t sum = 0;
    std::memcpy(&sum, &magnitude, sizeof sum);
    out = static_cast<uint16_t>(sum - kDenormMagicBits);
  } else {
    const uint32_t mantissa_odd = (bits >> 13) & 1u;
    bits += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu;
    bits += mantissa_odd;
    out = static_cast<uint16_t>(bits >> 13);
  }
  return static_cast<uint16_t>(out | (sign >> 16));
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  uint32_t out = 0;
  if (exponent == 0) {
    if (mantissa == 0) {
      out = sign;
    } else {
      float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8F;  // 2^-24
      std::memcpy(&out, &magnitude, sizeof out);
      out |= sign;
    }
  } else if (exponent == 31) {
    out = sign | 0x7f800000u | (mantissa << 13);
  } else {
    out = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  }
  float value = 0.0F;
  std::memcpy(&value, &out, sizeof value);
  return value;
}

}  // namespace mapd::record::detail
