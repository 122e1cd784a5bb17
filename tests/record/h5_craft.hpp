#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

/// Crafted and damaged HDF5 files for the record tests, made with the HDF5 C API directly (what a
/// user's script, another tool or a killed process could leave behind).
namespace mapd::record::testing {

/// Replaces dataset `name` of the closed HDF5 file `path` by a contiguous one of extents `dims`
/// (empty: a scalar) and file type `type`, filled with zero bytes.
inline void replace_dataset(const std::filesystem::path& path, const std::string& name,
                            const std::vector<hsize_t>& dims, hid_t type) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  ASSERT_GE(H5Ldelete(file, name.c_str(), H5P_DEFAULT), 0) << name;
  const hid_t space = dims.empty() ? H5Screate(H5S_SCALAR)
                                   : H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t ds = H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ds, 0) << name;
  hsize_t count = 1;
  for (const hsize_t d : dims) {
    count *= d;
  }
  const std::vector<char> zeros(count * H5Tget_size(type), '\0');
  if (count > 0) {
    ASSERT_GE(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, zeros.data()), 0) << name;
  }
  H5Dclose(ds);
  H5Sclose(space);
  ASSERT_GE(H5Fclose(file), 0);
}

/// Replaces dataset `name` of the closed HDF5 file `path` by a contiguous one of extents `dims` and
/// file type `type` that is never written: HDF5 allocates no space for it, so a small file can
/// claim any number of elements.
inline void replace_with_unwritten_dataset(const std::filesystem::path& path, const std::string& name,
                                           const std::vector<hsize_t>& dims, hid_t type) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  ASSERT_GE(H5Ldelete(file, name.c_str(), H5P_DEFAULT), 0) << name;
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t ds = H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(ds, 0) << name;
  H5Dclose(ds);
  H5Sclose(space);
  ASSERT_GE(H5Fclose(file), 0);
}

/// True when HDF5 opens `path` read-only without help (as h5py would): false for a file whose
/// superblock is marked "open for writing".
inline bool plain_hdf5_open_works(const std::filesystem::path& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_file_locking(fapl, false, true);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (file < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  H5Fclose(file);
  return true;
}

/// Leaves the closed file `path` as a writer killed before SWMR writing leaves it: a child process
/// opens it read-write (which marks the superblock "open for writing") and exits without closing.
inline void leave_marked_open_for_writing(const std::filesystem::path& path) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    ::_exit(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl) >= 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

/// Address and size in bytes of the chunk at [epoch, 0] of dataset `name` of `path` (opened as an
/// SWMR reader, so it works on the file of a killed writer).
inline void chunk_location(const std::filesystem::path& path, const std::string& name, hsize_t epoch,
                           haddr_t* address, hsize_t* size) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
  ASSERT_GE(file, 0) << path;
  const hid_t ds = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  ASSERT_GE(ds, 0) << name;
  const hsize_t offset[2] = {epoch, 0};
  unsigned filter_mask = 0;
  ASSERT_GE(H5Dget_chunk_info_by_coord(ds, offset, &filter_mask, address, size), 0);
  H5Dclose(ds);
  H5Fclose(file);
}

}  // namespace mapd::record::testing
