#include "mapd/core/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"

namespace mapd {

namespace {

/// What the lock file says about its holder ("pid 123, mapd train, since ..."), or "" when empty.
std::string holder_of(int fd) {
  char buffer[512] = {};
  const ssize_t got = ::pread(fd, buffer, sizeof(buffer) - 1, 0);
  if (got <= 0) {
    return {};
  }
  std::string text(buffer, static_cast<size_t>(got));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

}  // namespace

RunLock RunLock::acquire(const RunLayout& run, const std::string& command) {
  const auto path = run.lock();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  MAPD_CHECK(fd >= 0, IoError,
             fmt::format("cannot create the run directory's lock file '{}': {}", path.string(),
                         std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string holder = holder_of(fd);
    ::close(fd);
    MAPD_CHECK(
        error != EWOULDBLOCK, IoError,
        fmt::format("{}: run directory '{}' is in use by another live mapd process ({}); wait for it to "
                    "finish or stop it, or choose another --run-dir",
                    command, run.dir().string(), holder.empty() ? "holder unknown" : holder));
    throw IoError(fmt::format("cannot lock '{}': {}", path.string(), std::strerror(error)));
  }
  const std::string text = fmt::format("pid {}, {}, since {}\n", ::getpid(), command, fs::timestamp());
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    const int error = errno;
    ::close(fd);
    throw IoError(fmt::format("cannot write the lock file '{}': {}", path.string(), std::strerror(error)));
  }
  return RunLock(fd);
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

RunLock::~RunLock() {
  if (fd_ >= 0) {
    ::close(fd_);  // releases the flock
  }
}

}  // namespace mapd
