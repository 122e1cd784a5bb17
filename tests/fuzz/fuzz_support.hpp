#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"

/// What every fuzz target shares: a scratch folder for the files the readers open, and the rule
/// for exceptions. The readers take paths, not bytes, so each input is written to a file first.
namespace mapd::fuzz {

/// This process's scratch folder: /dev/shm/mapd-fuzz-<pid>-XXXXXX (memory, so writing each input
/// is cheap), else $TMPDIR or /tmp. Created on first use and removed when the process exits
/// normally. A crash leaves it (with the input that crashed beside libFuzzer's crash-* file); the
/// next target process removes the folders of processes that no longer run (fork mode crashes
/// often).
inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path path;
    Scratch() {
      std::string base = "/dev/shm";
      if (::access(base.c_str(), W_OK) != 0) {
        const char* tmp = std::getenv("TMPDIR");
        base = tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp";
      }
      std::error_code ignored;
      for (const auto& entry : std::filesystem::directory_iterator(base, ignored)) {
        const std::string name = entry.path().filename().string();
        const std::string prefix = "mapd-fuzz-";
        const auto dash = name.find('-', prefix.size());
        if (name.compare(0, prefix.size(), prefix) == 0 && dash != std::string::npos &&
            !std::filesystem::exists("/proc/" + name.substr(prefix.size(), dash - prefix.size()), ignored)) {
          std::filesystem::remove_all(entry.path(), ignored);
        }
      }
      std::string pattern = base + "/mapd-fuzz-" + std::to_string(::getpid()) + "-XXXXXX";
      if (::mkdtemp(pattern.data()) == nullptr) {
        std::abort();  // the harness cannot run at all: not a finding
      }
      path = pattern;
    }
    ~Scratch() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Scratch scratch;
  return scratch.path;
}

/// Writes `size` bytes to `path` (truncating).
inline void write_file(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::abort();
  }
}

/// Logging off: the readers warn about what they skip, which would flood the fuzzer's output.
inline void quiet_logs() { log::init("off"); }

/// Runs `read` and accepts the errors a damaged file may cause: mapd's own (a DataError, IoError
/// or ConfigError with a message for the user). An InternalError (a broken invariant of mapd) and
/// every other exception (std::filesystem_error, std::bad_alloc, YAML::Exception, nlohmann::json
/// errors, std::out_of_range...) escape and end the process: mapd would report them as an internal
/// error, so they are findings, like crashes, sanitizer reports, leaks and timeouts.
template <typename Read>
void expect_mapd_errors(Read&& read) {
  try {
    read();
  } catch (const InternalError&) {
    throw;
  } catch (const Error&) {  // NOLINT(bugprone-empty-catch): a user error is the expected outcome
  }
}

}  // namespace mapd::fuzz
