#include "mapd/core/metrics.hpp"

#include <cerrno>
#include <cstring>
#include <sstream>
#include <string>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"

namespace mapd {

MetricsWriter::MetricsWriter(const std::filesystem::path& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "a");
  MAPD_CHECK(file_ != nullptr, IoError,
             "cannot open metrics file " + path.string() + ": " + std::strerror(errno));
}

MetricsWriter::~MetricsWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void MetricsWriter::write(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  const bool ok = std::fwrite(line.data(), 1, line.size(), file_) == line.size() && std::fflush(file_) == 0;
  MAPD_CHECK(ok, IoError, "cannot write to metrics file " + path_.string());
}

void MetricsWriter::keep_epochs_before(const std::filesystem::path& path, int64_t epochs) {
  if (!std::filesystem::exists(path)) return;
  std::istringstream in(fs::read_file(path));
  std::string kept;
  for (std::string line; std::getline(in, line);) {
    if (in.eof()) break;  // no newline: the line a kill cut short
    const auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (record.is_object() && record.contains("epoch") && record["epoch"].is_number_integer() &&
        record["epoch"].get<int64_t>() < epochs) {
      kept += line + "\n";
    }
  }
  fs::write_file_atomic(path, kept);
}

}  // namespace mapd
