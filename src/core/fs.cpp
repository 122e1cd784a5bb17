#include "mapd/core/fs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "mapd/core/error.hpp"

#ifndef MAPD_SOURCE_DIR
#define MAPD_SOURCE_DIR ""
#endif

namespace mapd::fs {
namespace {

void fsync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  MAPD_CHECK(fd >= 0, IoError, "cannot open " + path.string() + " to sync: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  MAPD_CHECK(rc == 0, IoError, "fsync failed for " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, const std::string& contents) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const auto tmp = dir / ("." + path.filename().string() + ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  MAPD_CHECK(fd >= 0, IoError, "cannot create " + tmp.string() + ": " + std::strerror(errno));
  // A failed write (a full disk) removes the temporary file: it holds a partial copy nobody reads.
  const auto discard = [&](const std::string& what, const std::string& reason) {
    ::unlink(tmp.c_str());
    throw IoError(what + ": " + reason + " (" + path.string() + " is unchanged)");
  };
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string reason = std::strerror(errno);
      ::close(fd);
      discard("cannot write " + tmp.string(), reason);
    }
    written += static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const std::string reason = std::strerror(errno);
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    discard("cannot write " + tmp.string() + " to disk", synced ? std::strerror(errno) : reason);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    discard("cannot rename " + tmp.string() + " to " + path.string(), ec.message());
  }
  fsync_path(dir, /*directory=*/true);
}

void sync_file(const std::filesystem::path& path) {
  fsync_path(path, /*directory=*/false);
  fsync_path(path.has_parent_path() ? path.parent_path() : std::filesystem::path("."), true);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  MAPD_CHECK(in.good(), IoError, "cannot read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void create_directories(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  MAPD_CHECK(!ec, IoError, "cannot create directory " + dir.string() + ": " + ec.message());
}

std::string timestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y%m%d-%H%M%S", &local);
  return buffer;
}

std::filesystem::path executable_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path() : exe.parent_path();
}

std::vector<std::filesystem::path> resource_dirs() {
  std::vector<std::filesystem::path> candidates;
  if (const auto exe = executable_dir(); !exe.empty()) {
    candidates.push_back((exe / ".." / "share" / "mapd").lexically_normal());
  }
  if (const std::string source = MAPD_SOURCE_DIR; !source.empty()) {
    candidates.emplace_back(source);
  }
  std::vector<std::filesystem::path> dirs;
  for (auto& dir : candidates) {
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) dirs.push_back(std::move(dir));
  }
  return dirs;
}

}  // namespace mapd::fs
