#include "mapd/core/log.hpp"

#include <unistd.h>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>
#include <vector>

#include "mapd/core/error.hpp"

namespace mapd::log {
namespace {

constexpr const char* kPattern = "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v";

struct Registry {
  std::mutex mutex;
  spdlog::sink_ptr stderr_sink;
  spdlog::sink_ptr file_sink;
  spdlog::level::level_enum level = spdlog::level::info;
  std::vector<std::shared_ptr<spdlog::logger>> loggers;
};

Registry& registry() {
  static Registry r;
  return r;
}

spdlog::sink_ptr make_stderr_sink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
      isatty(STDERR_FILENO) != 0 ? spdlog::color_mode::automatic : spdlog::color_mode::never);
  sink->set_pattern(kPattern);
  return sink;
}

void rebuild_sinks_locked(Registry& r) {
  for (auto& logger : r.loggers) {
    auto& sinks = logger->sinks();
    sinks.clear();
    sinks.push_back(r.stderr_sink);
    if (r.file_sink) sinks.push_back(r.file_sink);
    logger->set_level(r.level);
  }
}

}  // namespace

void init(const std::string& level) {
  auto parsed = spdlog::level::from_str(level);
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  MAPD_CHECK(
      parsed != spdlog::level::off || level == "off", ConfigError,
      "unknown log level '" + level + "' (expected one of trace, debug, info, warn, error, critical, off)");
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.stderr_sink) r.stderr_sink = make_stderr_sink();
  r.level = parsed;
  rebuild_sinks_locked(r);
}

void attach_run_dir(const std::filesystem::path& run_dir) { attach_run_dir(RunLayout(run_dir)); }

void attach_run_dir(const RunLayout& run) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.stderr_sink) r.stderr_sink = make_stderr_sink();
  const std::string path = run.log().string();
  try {
    r.file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false);
  } catch (const spdlog::spdlog_ex& e) {
    throw IoError("cannot open log file " + path + ": " + e.what());
  }
  r.file_sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %-5l [%n] %v");
  rebuild_sinks_locked(r);
}

void detach_run_dir() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.file_sink.reset();
  rebuild_sinks_locked(r);
}

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  for (auto& logger : r.loggers) {
    if (logger->name() == module) return logger;
  }
  if (!r.stderr_sink) r.stderr_sink = make_stderr_sink();
  std::vector<spdlog::sink_ptr> sinks{r.stderr_sink};
  if (r.file_sink) sinks.push_back(r.file_sink);
  auto logger = std::make_shared<spdlog::logger>(module, sinks.begin(), sinks.end());
  logger->set_level(r.level);
  logger->flush_on(spdlog::level::info);
  r.loggers.push_back(logger);
  return logger;
}

}  // namespace mapd::log
