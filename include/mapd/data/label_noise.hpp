#pragma once

#include <cstdint>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/dataset.hpp"

/// Subsetting and synthetic label noise of a training split (docs/user-guide.md §5: data.limit,
/// data.label_noise.*).
namespace mapd::data {

/// Keeps the examples at `indices` (ascending) of `set`: pixels or paths and every ExampleTable column.
/// Throws InternalError for indices that are not ascending or outside the set.
void select_examples(ImageSet& set, const std::vector<int64_t>& indices);

/// Keeps a seeded, class-balanced subset of `limit` examples of `set` (limit >= size: unchanged).
/// Each class gets limit / C examples (the remainder goes to the first classes); a class with too few
/// examples gives its share to the others. The kept examples stay in their original order and keep
/// their ids.
void apply_limit(ImageSet& set, int64_t limit, uint64_t seed);

/// Replaces round(rate * N) labels of `set`, chosen by `config.seed`: symmetric = uniform over all
/// other classes of the dataset; asymmetric = c -> (c + 1) mod C; uniform = uniform over all classes,
/// the given one included (Arazo et al.'s generator, which published noise rates refer to: about
/// (C - 1) / C of the redrawn labels change). `original_label` is left untouched. Returns how many
/// labels changed. Throws ConfigError for an unknown kind or a dataset with fewer than 2 classes.
int64_t apply_label_noise(ImageSet& set, const config::LabelNoiseConfig& config);

}  // namespace mapd::data
