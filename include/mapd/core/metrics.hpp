#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace mapd {

/// Appends one JSON object per line to a file (`metrics.jsonl`), flushing after each line so a
/// crash loses at most the line being written.
class MetricsWriter {
 public:
  /// Opens `path` for appending. Throws IoError when it cannot be opened.
  explicit MetricsWriter(const std::filesystem::path& path);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;

  /// Writes `record` as one line. Throws IoError on a write failure.
  void write(const nlohmann::json& record);

  /// Resume: rewrites `path` (atomically) keeping only the complete lines whose "epoch" is below
  /// `epochs`, dropping a partial last line and lines of epochs that will be trained again.
  /// A missing file is left missing. Throws IoError when the file cannot be read or written.
  static void keep_epochs_before(const std::filesystem::path& path, int64_t epochs);

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace mapd
