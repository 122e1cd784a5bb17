#include "mapd/core/metrics.hpp"

#include <cerrno>
#include <cstring>

#include "mapd/core/error.hpp"

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

}  // namespace mapd
