#pragma once

#include <cstdint>

/// Facts about the running process.
namespace mapd::process {

/// Resident set size of this process in bytes now (Linux: /proc/self/statm), or 0 where it cannot
/// be read. Used to plan memory budgets from what the process already holds.
int64_t resident_bytes();

}  // namespace mapd::process
