#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

/// Probe suite files (`probes/*.yaml`), user-labelled probes and the size plan. No torch here.
namespace mapd::probes {

/// The generated categories mapd knows how to build, in their canonical order.
const std::vector<std::string>& builtin_categories();

/// A parsed suite file. YAML:
/// ```yaml
/// name: default
/// description: all six MAP-D categories
/// categories: [typical, atypical, corrupted, mislabeled, ood, random_input]
/// ```
struct SuiteSpec {
  std::string name;
  std::string description;
  std::vector<std::string> categories;  ///< generated categories, in suite order
  std::filesystem::path source;         ///< the file read (empty for built-in suites)
};

/// Resolves probes.suite: "none" (no generated probes), a name looked up as `<name>.yaml` in the
/// probes directories (`./probes`, then the source tree's `probes/`), or a path to a YAML file.
/// "default" falls back to the built-in six-category suite when no file is found.
/// Throws ConfigError for a missing suite (listing the suites found), unknown keys, an unknown
/// category (with a did-you-mean) or a duplicate category.
SuiteSpec load_suite_spec(const std::string& suite);

/// Parses a suite from YAML/JSON `text`; `origin` names the file in errors. Throws as load_suite_spec.
SuiteSpec parse_suite_spec(const std::string& text, const std::string& origin);

/// Throws ConfigError unless `name` is a built-in category; the message names `where` and the
/// nearest known category.
void check_category_name(const std::string& name, const std::string& where);

/// One hand-labelled probe example.
struct UserProbe {
  std::string id;        ///< dataset example id as written (data::ExampleTable::id_text)
  std::string category;  ///< any name, e.g. "duplicate", "watermark" or a built-in one
};

/// Reads probes.user_probes: a CSV with a header containing `id` and `category` columns, or JSON
/// (a list of {"id": .., "category": ..} objects, or an object {category: [ids...]}).
/// Throws IoError when unreadable, DataError naming the file and line for malformed rows or an
/// id listed twice.
std::vector<UserProbe> read_user_probes(const std::filesystem::path& path);

/// Probes per category after scaling to the dataset.
struct SizePlan {
  int64_t fit = 0;
  int64_t val = 0;
  bool scaled = false;
};

/// Fits `requested_fit + requested_val` probes for each of `sourced_categories` categories drawn
/// from a pool of `pool` examples into `max_fraction * pool`. Keeps the requested sizes when they
/// fit; otherwise scales fit and val down proportionally (scaled = true; the caller warns).
/// Throws ConfigError with the numbers when fewer than `min_fit` fit probes per category (or no
/// val probe when val was requested) would remain.
SizePlan plan_sizes(int64_t requested_fit, int64_t requested_val, int64_t sourced_categories, int64_t pool,
                    double max_fraction, int64_t min_fit);

}  // namespace mapd::probes
