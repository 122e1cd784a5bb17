#pragma once

#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>

/// Logging: one spdlog logger per module ("[data] ...", "[train] ..."), all writing to the same
/// sinks: stderr (coloured on a terminal) and, once a run directory exists, `train.log` in it.
namespace mapd::log {

/// Sets up the stderr sink and the global level ("trace", "debug", "info", "warn", "error", "off").
/// Throws ConfigError for an unknown level name. Safe to call more than once.
void init(const std::string& level = "info");

/// Adds `<run_dir>/train.log` (appended to, so a resumed run keeps its history) to every logger.
void attach_run_dir(const std::filesystem::path& run_dir);

/// Removes the train.log sink (used by tests that create several run directories).
void detach_run_dir();

/// The logger of `module`; messages print as "[module] message".
std::shared_ptr<spdlog::logger> get(const std::string& module);

}  // namespace mapd::log
