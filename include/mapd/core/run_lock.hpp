#pragma once

#include <string>

#include "mapd/core/run_layout.hpp"

namespace mapd {

/// The writer's lock on a run directory (RunLayout::lock(): an flock on `.mapd.lock`): one process
/// trains a run at a time. The kernel drops the lock when its holder dies, however it dies, so a
/// lock is never stale; the file also names the holder (pid, command, start time) for the message
/// another writer gets. Moving is allowed, copying is not; the destructor releases the lock.
class RunLock {
 public:
  /// Takes the lock for `command` ("mapd train", "mapd resume", ...). Throws IoError when another
  /// live process holds it (naming that process and the way out) or the file cannot be created.
  static RunLock acquire(const RunLayout& run, const std::string& command);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace mapd
