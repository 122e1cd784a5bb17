#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mapd/probes/probe_suite.hpp"

namespace mapd::probes {

/// Writes one PNG grid per category, `<dir>/probes_<category>.png`: up to `max_images` probes
/// (fit rows first), each enlarged to at least 64 px with its trained label drawn below it
/// ("label (was original)" where they differ), under a title with the category and its counts.
/// Returns the paths written. Throws IoError naming a file that cannot be written.
std::vector<std::filesystem::path> write_probe_grids(const ProbeSuite& suite,
                                                     const std::vector<std::string>& class_names,
                                                     const std::filesystem::path& dir,
                                                     int64_t max_images = 48);

/// Probes per (category, role) as "category: fit F, val V" lines, in category order.
std::string describe_suite(const ProbeSuite& suite);

}  // namespace mapd::probes
