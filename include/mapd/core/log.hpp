#pragma once

#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>

#include "mapd/core/run_layout.hpp"

/// Logging: one spdlog logger per module ("[data] ...", "[train] ..."), all writing to the same
/// sinks: stderr (coloured on a terminal) and, once a run directory exists, `train.log` in it.
namespace mapd::log {

/// Sets up the stderr sink and the global level ("trace", "debug", "info", "warn", "error", "off").
/// Throws ConfigError for an unknown level name. Safe to call more than once.
void init(const std::string& level = "info");

/// Adds the run's log file (RunLayout::log(): train.log, or train.rank-R.log for ranks > 0;
/// appended to, so a resumed run keeps its history) to every logger. Throws IoError.
void attach_run_dir(const RunLayout& run);
/// attach_run_dir(RunLayout(run_dir)): one process.
void attach_run_dir(const std::filesystem::path& run_dir);

/// Removes the train.log sink (used by tests that create several run directories).
void detach_run_dir();

/// The logger of `module`; messages print as "[module] message".
std::shared_ptr<spdlog::logger> get(const std::string& module);

}  // namespace mapd::log
