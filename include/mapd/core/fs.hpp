#pragma once

#include <filesystem>
#include <string>
#include <vector>

/// File-system helpers shared by every module.
namespace mapd::fs {

/// Writes `contents` to `path` atomically: a temporary file beside it, fsync, rename, fsync of
/// the directory. A crash leaves either the old file or the new one, never a mix.
/// Throws IoError naming the path.
void write_file_atomic(const std::filesystem::path& path, const std::string& contents);

/// fsyncs an existing file and its directory (after writing it through another API).
void sync_file(const std::filesystem::path& path);

/// Reads a whole file. Throws IoError naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

/// Creates `dir` (and parents). Throws IoError naming the path.
void create_directories(const std::filesystem::path& dir);

/// Local time as "YYYYmmdd-HHMMSS", for run directory names.
std::string timestamp();

/// Folder of the running executable (from /proc/self/exe); empty when it cannot be read.
std::filesystem::path executable_dir();

/// Folders that hold the files mapd ships (probes/, configs/), in search order: the share folder
/// of an installed mapd (<exe>/../share/mapd, from `cmake --install`), then the source tree the
/// binary was built from. Only folders that exist are listed.
std::vector<std::filesystem::path> resource_dirs();

}  // namespace mapd::fs
