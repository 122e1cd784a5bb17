#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

/// Scratch folders for tests, removed when the test process exits normally.
namespace mapd::test {

/// A fresh, empty folder `<temp>/<prefix><name>_<pid>`. It is removed with its contents when the
/// process exits (set MAPD_KEEP_TEST_DIRS=1 to keep it for a look after a failure). A forked child
/// that ends with _exit removes nothing, so the parent's folders outlive it.
inline std::filesystem::path scratch_dir(const std::string& prefix, const std::string& name) {
  struct Registry {
    std::mutex mutex;
    std::vector<std::filesystem::path> dirs;
    pid_t owner = ::getpid();
    ~Registry() {
      if (::getpid() != owner || std::getenv("MAPD_KEEP_TEST_DIRS") != nullptr) return;
      std::error_code ignored;
      for (const auto& dir : dirs) std::filesystem::remove_all(dir, ignored);
    }
  };
  static Registry registry;
  const auto dir =
      std::filesystem::temp_directory_path() / (prefix + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::lock_guard<std::mutex> lock(registry.mutex);
  registry.dirs.push_back(dir);
  return dir;
}

}  // namespace mapd::test
