#pragma once

#include <filesystem>
#include <string>

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

}  // namespace mapd::fs
