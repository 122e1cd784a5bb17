#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "mapd/data/dataset.hpp"

/// Previews of a dataset for a human to check before a long run (`mapd data`).
namespace mapd::data {

/// Examples per class (index = label) of `set`, by its training labels.
std::vector<int64_t> class_counts(const ImageSet& set);

/// Writes a PNG grid of `per_class` examples of each class (the first ones in dataset order), one
/// row per class with its name (at most `max_classes` rows), drawn by `write_image_grid`: images
/// enlarged by a whole factor to at least 48 pixels (larger ones shrunk to 48). Unreadable images
/// are drawn grey. Throws IoError when the file cannot be written.
void write_sample_grid(const ImageSet& set, const std::filesystem::path& png, int64_t per_class = 8,
                       int64_t max_classes = 100);

}  // namespace mapd::data
