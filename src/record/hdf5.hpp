#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

/// Private HDF5 layer of module `record` (the only code in mapd that includes <hdf5.h>): RAII
/// handles for HDF5 ids, error checks that turn every negative status into an IoError naming the
/// file and object, attribute/dataset helpers and the IEEE half-precision type.
namespace mapd::record::detail {

/// Turns HDF5's automatic error printing off for the calling thread (the library is thread-safe,
/// error stacks are per thread). Cheap; call at every public entry point.
void quiet_hdf5();

/// The messages of the current thread's HDF5 error stack, innermost first, joined by "; "; clears
/// the stack. Empty when the stack holds nothing.
std::string take_hdf5_error_text();

/// Throws IoError: "cannot <action> '<object>' in HDF5 file '<file>': <hdf5 messages>".
[[noreturn]] void throw_hdf5_error(std::string_view file, std::string_view object, std::string_view action);

/// Returns `status` unless it is negative, in which case throws as throw_hdf5_error.
template <typename T>
T check(T status, std::string_view file, std::string_view object, std::string_view action) {
  if (status < 0) {
    throw_hdf5_error(file, object, action);
  }
  return status;
}

/// Owns one HDF5 id (file, group, dataset, dataspace, datatype, attribute or property list) and
/// closes it with the matching H5*close function. Move-only.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      closer_ = other.closer_;
      other.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  ~Handle() { reset(); }

  [[nodiscard]] hid_t get() const { return id_; }
  [[nodiscard]] bool valid() const { return id_ >= 0; }
  /// Closes the id, ignoring errors (destructors and error paths).
  void reset() noexcept;
  /// Closes the id; returns the HDF5 status (negative on failure) so callers can check it.
  herr_t close() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

/// An extent of `FileContext::expect_dataset` that matches any size.
inline constexpr int64_t kAnyExtent = -1;

/// Error context of one file: every helper throws IoError naming `file` and the object.
class FileContext {
 public:
  explicit FileContext(std::string file) : file_(std::move(file)) {}
  [[nodiscard]] const std::string& file() const { return file_; }

  template <typename T>
  T check(T status, std::string_view object, std::string_view action) const {
    return detail::check(status, file_, object, action);
  }
  [[noreturn]] void fail(std::string_view object, std::string_view action) const {
    throw_hdf5_error(file_, object, action);
  }

  // Wrapping constructors: check the id and return a Handle with the right closer.
  Handle file_handle(hid_t id, std::string_view action) const;
  Handle group(hid_t id, std::string_view object, std::string_view action) const;
  Handle dataset(hid_t id, std::string_view object, std::string_view action) const;
  Handle dataspace(hid_t id, std::string_view object, std::string_view action) const;
  Handle datatype(hid_t id, std::string_view object, std::string_view action) const;
  Handle attribute(hid_t id, std::string_view object, std::string_view action) const;
  Handle plist(hid_t id, std::string_view object, std::string_view action) const;

  /// True when the absolute path `object` ("/a/b") exists below `loc` (every component checked).
  bool exists(hid_t loc, const std::string& object) const;

  // Attributes on `loc` (a file, group or dataset), named `object_name` in messages.
  void write_string_attr(hid_t loc, std::string_view object_name, const std::string& name,
                         const std::string& value) const;
  void write_strings_attr(hid_t loc, std::string_view object_name, const std::string& name,
                          const std::vector<std::string>& values) const;
  void write_int64_attr(hid_t loc, std::string_view object_name, const std::string& name,
                        int64_t value) const;
  [[nodiscard]] bool has_attr(hid_t loc, std::string_view object_name, const std::string& name) const;
  [[nodiscard]] std::string read_string_attr(hid_t loc, std::string_view object_name,
                                             const std::string& name) const;
  [[nodiscard]] std::vector<std::string> read_strings_attr(hid_t loc, std::string_view object_name,
                                                           const std::string& name) const;
  [[nodiscard]] int64_t read_int64_attr(hid_t loc, std::string_view object_name,
                                        const std::string& name) const;

  /// Creates a contiguous 1-D dataset `name` of `n` elements in `loc` and writes `data` (may be
  /// null when n == 0) given in memory type `mem_type`.
  void write_1d(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, const void* data,
                int64_t n) const;
  /// Creates a 1-D dataset `name` in `loc` of variable-length UTF-8 strings holding `values`.
  void write_strings_1d(hid_t loc, const std::string& name, const std::vector<std::string>& values) const;
  /// Reads the whole 1-D string dataset `name` of `loc`, which must hold `n` strings (else
  /// DataError).
  [[nodiscard]] std::vector<std::string> read_strings_1d(hid_t loc, const std::string& name, int64_t n) const;
  /// Dimensions of dataset `ds` (named `object` in messages).
  [[nodiscard]] std::vector<int64_t> dims(hid_t ds, std::string_view object) const;
  /// Checks the form of dataset `ds` (named `object`) before anything is read from it into a
  /// buffer: a simple dataspace of rank `shape.size()` (0: a scalar) whose extents equal `shape`
  /// (kAnyExtent matches any extent), and a datatype of class `type_class` whose size is one of
  /// `type_sizes` (empty: any size). Returns the extents. Throws DataError naming the file, the
  /// dataset and the expected and found shape and type.
  std::vector<int64_t> expect_dataset(hid_t ds, std::string_view object, const std::vector<int64_t>& shape,
                                      H5T_class_t type_class,
                                      const std::vector<size_t>& type_sizes = {}) const;
  /// Reads the whole 1-D dataset `name` of `loc`, which must hold `n` elements of the type class of
  /// `mem_type` (else DataError), into `out` in memory type `mem_type`.
  void read_1d(hid_t loc, const std::string& name, hid_t mem_type, void* out, int64_t n) const;

 private:
  std::string file_;
};

/// How open_for_read opened a file.
enum class ReadMode {
  kClosed,  ///< a cleanly closed file: HDF5 checked its size against its end of allocated space
  kSwmr,    ///< as an SWMR reader: the file is written by a live or killed SWMR writer
  kStale,   ///< past a "still open for writing" mark left by a killed non-SWMR writer
};

/// Opens `ctx.file()` read-only. First as a plain reader with file locking off (a cleanly closed
/// file: HDF5 checks it for truncation, and a later writer is not locked out); when that fails
/// (the file is marked as being written by a live or killed SWMR writer), as an SWMR reader with
/// a bounded number of metadata read attempts (HDF5's default of 100 doubles a sleep on each
/// retry and never ends on a damaged file); when that fails too and no process holds a lock on
/// the file, past the superblock's "open for writing" mark (HDF5's `clear_status_flags` access
/// property, which `h5clear -s` uses; read-only, so the mark stays on disk) with a warning. HDF5
/// checks neither of the last two for truncation: callers must check that what they read lies
/// within the file (file_size). Sets `*mode` to the mode used. Throws IoError with the plain
/// open's message when all fail, or when another process holds the file open for writing.
Handle open_for_read(const FileContext& ctx, ReadMode* mode);

/// Sets the private `clear_status_flags` file access property (what `h5clear -s` does; HDF5 has
/// no public call for it): H5Fopen then ignores and, when opening read-write, clears the
/// superblock's "file is open for writing" flags. With `skip_eof_check`, also the private
/// `skip_eof_check` (h5clear's for such files), so that a file shorter than its end of allocated
/// space opens: only for a file unwritten_tail accepts, whose committed rows the caller checks to
/// lie within it (libhdf5 1.10.8 can loop forever reading metadata past the end of a file).
/// Returns false when this HDF5 lacks them.
bool set_clear_status_flags(hid_t fapl, bool skip_eof_check = false);

/// File space page of the files mapd writes with paged aggregation: the kernel's page, the unit
/// a killed write can be cut at.
constexpr uint64_t kFileSpacePage = 4096;

/// A writer killed in a paged file can leave it shorter than the end of allocated space its
/// superblock records (a page is allocated before all of it is written), which HDF5 refuses as a
/// truncated file. Returns how much shorter when the superblock (version 2 or 3 at offset 0,
/// base address 0) marks the file open for writing and the file falls short by at most 16 pages
/// (under one in every kill measured); else 0, as for every file a writer closed.
uint64_t unwritten_tail(const std::filesystem::path& path);

/// True when another process holds an HDF5 (flock) lock on `path` that excludes readers: a
/// non-SWMR writer is running. False when the file cannot be locked-tested (no flock support).
bool locked_by_writer(const std::string& path);

/// The current size of `ctx.file()` in bytes (re-read from the file system on each call).
/// Throws IoError when it cannot be determined.
uint64_t file_size(const FileContext& ctx);

/// Throws DataError naming `object` unless `count` elements of `element_bytes` each fit in
/// `ctx.file()`. mapd writes its datasets uncompressed, so one whose extent claims more than the
/// file holds (a dataset never written takes no space) is damaged or crafted: checked before a
/// buffer of that many elements is allocated (a 14 KB file claiming 2^34 examples made mapd
/// allocate 128 GB).
void check_fits_in_file(const FileContext& ctx, std::string_view object, uint64_t count,
                        uint64_t element_bytes);

/// A new IEEE 754 binary16 little-endian datatype (HDF5 1.10 has no predefined one; h5py reads it
/// as numpy float16).
Handle make_float16_type(const FileContext& ctx);

/// Float to IEEE half, round to nearest even; overflow gives +-inf, NaN stays NaN.
uint16_t float_to_half(float value);
/// IEEE half to float (exact).
float half_to_float(uint16_t bits);

}  // namespace mapd::record::detail
