#include "mapd/probes/suite_spec.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <unordered_set>

#include "mapd/config/loader.hpp"
#include "mapd/core/csv.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"

namespace mapd::probes {
namespace {

using json = nlohmann::json;

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

/// Where a suite named without a path is looked for: ./probes, then the shipped probes/ folder.
std::vector<std::filesystem::path> suite_dirs() {
  std::vector<std::filesystem::path> dirs{std::filesystem::path("probes")};
  for (const auto& root : fs::resource_dirs()) dirs.push_back(root / "probes");
  return dirs;
}

/// A user probe's id from JSON: an integer or a non-empty string, as text.
std::string json_id(const json& id, const std::string& where) {
  MAPD_CHECK((id.is_number_integer() || id.is_string()) && id.dump() != "\"\"", DataError,
             fmt::format("{}: id {} must be an integer or a non-empty string (the dataset's example id)",
                         where, id.dump()));
  return id.is_string() ? id.get<std::string>() : id.dump();
}

}  // namespace

const std::vector<std::string>& builtin_categories() {
  static const std::vector<std::string> kNames{"typical",    "atypical", "corrupted",
                                               "mislabeled", "ood",      "random_input"};
  return kNames;
}

void check_category_name(const std::string& name, const std::string& where) {
  const auto& known = builtin_categories();
  if (std::find(known.begin(), known.end(), name) != known.end()) return;
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& k : known) {
    const size_t d = config::edit_distance(name, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  std::string message = fmt::format("{}: unknown probe category '{}'", where, name);
  if (best_distance <= std::max<size_t>(2, name.size() / 3))
    message += fmt::format("; did you mean '{}'?", best);
  message += fmt::format(
      " Known categories: {}. Hand-labelled categories with other names go in a "
      "probes.user_probes file.",
      join(known, ", "));
  throw ConfigError(message);
}

SuiteSpec parse_suite_spec(const std::string& text, const std::string& origin) {
  const json tree = config::parse_yaml(text, origin);
  MAPD_CHECK(tree.is_object(), ConfigError,
             origin + ": a probe suite is a mapping with 'name' and 'categories'");
  SuiteSpec spec;
  for (const auto& [key, value] : tree.items()) {
    if (key == "name") {
      MAPD_CHECK(value.is_string(), ConfigError, origin + ": 'name' must be a string");
      spec.name = value.get<std::string>();
    } else if (key == "description") {
      MAPD_CHECK(value.is_string(), ConfigError, origin + ": 'description' must be a string");
      spec.description = value.get<std::string>();
    } else if (key == "categories") {
      MAPD_CHECK(value.is_array(), ConfigError,
                 origin + ": 'categories' must be a list, e.g. [typical, atypical, corrupted]");
      for (size_t i = 0; i < value.size(); ++i) {
        const auto where = fmt::format("{}: categories[{}]", origin, i);
        MAPD_CHECK(value[i].is_string(), ConfigError, where + ": must be a category name");
        const auto name = value[i].get<std::string>();
        check_category_name(name, where);
        MAPD_CHECK(std::find(spec.categories.begin(), spec.categories.end(), name) == spec.categories.end(),
                   ConfigError, fmt::format("{}: category '{}' is listed twice", where, name));
        spec.categories.push_back(name);
      }
    } else {
      std::string near;
      size_t best = SIZE_MAX;
      for (const char* k : {"name", "description", "categories"}) {
        const size_t d = config::edit_distance(key, k);
        if (d < best) best = d, near = k;
      }
      throw ConfigError(fmt::format("{}: unknown key '{}'{} (a suite has name, description, categories)",
                                    origin, key,
                                    best <= 3 ? fmt::format("; did you mean '{}'?", near) : std::string()));
    }
  }
  return spec;
}

SuiteSpec load_suite_spec(const std::string& suite) {
  if (suite == "none" || suite.empty()) {
    SuiteSpec spec;
    spec.name = "none";
    return spec;
  }
  const std::filesystem::path as_path(suite);
  const bool looks_like_path = suite.find('/') != std::string::npos || as_path.extension() == ".yaml" ||
                               as_path.extension() == ".yml" || as_path.extension() == ".json";
  std::vector<std::filesystem::path> candidates;
  if (looks_like_path) {
    candidates.push_back(as_path);
  } else {
    for (const auto& dir : suite_dirs()) candidates.push_back(dir / (suite + ".yaml"));
  }
  for (const auto& path : candidates) {
    if (std::filesystem::is_regular_file(path)) {
      auto spec = parse_suite_spec(fs::read_file(path), path.string());
      spec.source = path;
      if (spec.name.empty()) spec.name = path.stem().string();
      return spec;
    }
  }
  if (suite == "default") {
    SuiteSpec spec;
    spec.name = "default";
    spec.description = "all six MAP-D categories (built in)";
    spec.categories = builtin_categories();
    return spec;
  }
  std::set<std::string> found;
  for (const auto& dir : suite_dirs()) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".yaml") found.insert(entry.path().stem().string());
    }
  }
  std::vector<std::string> names(found.begin(), found.end());
  throw ConfigError(
      fmt::format("probes.suite: no probe suite '{}' (looked for {}); available: {}. Give a "
                  "suite name, a path to a YAML file, or 'none'.",
                  suite, candidates.front().string(),
                  names.empty() ? std::string("default (built in)") : join(names, ", ")));
}

std::vector<UserProbe> read_user_probes(const std::filesystem::path& path) {
  const std::string text = fs::read_file(path);
  const std::string where = path.string();
  std::vector<UserProbe> out;
  if (path.extension() == ".json") {
    json tree;
    try {
      tree = json::parse(text);
    } catch (const json::parse_error& e) {
      throw DataError(fmt::format("{}: invalid JSON: {}", where, e.what()));
    }
    if (tree.is_array()) {
      for (size_t i = 0; i < tree.size(); ++i) {
        const auto& item = tree[i];
        const auto at = fmt::format("{}: entry {}", where, i);
        MAPD_CHECK(item.is_object() && item.contains("id") && item.contains("category"), DataError,
                   at + ": expected {\"id\": <id>, \"category\": <name>}");
        MAPD_CHECK(item["category"].is_string(), DataError, at + ": category must be a string");
        out.push_back({json_id(item["id"], at), item["category"].get<std::string>()});
      }
    } else if (tree.is_object()) {
      for (const auto& [category, ids] : tree.items()) {
        MAPD_CHECK(ids.is_array(), DataError,
                   fmt::format("{}: '{}' must map to a list of example ids", where, category));
        for (const auto& id : ids) {
          out.push_back({json_id(id, fmt::format("{}: '{}'", where, category)), category});
        }
      }
    } else {
      throw DataError(where + ": expected a list of {id, category} objects or a {category: [ids]} object");
    }
  } else {
    std::istringstream in(text);
    std::string line;
    int64_t line_no = 0;
    int id_col = -1;
    int cat_col = -1;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty() || line == "\r" || line[0] == '#') continue;
      const auto at = fmt::format("{}:{}", where, line_no);
      const auto cells = split_csv_line(line, at);
      if (id_col < 0) {
        for (size_t i = 0; i < cells.size(); ++i) {
          if (cells[i] == "id") id_col = static_cast<int>(i);
          if (cells[i] == "category") cat_col = static_cast<int>(i);
        }
        MAPD_CHECK(
            id_col >= 0 && cat_col >= 0, DataError,
            fmt::format("{}: the header must name the columns 'id' and 'category', got '{}'", at, line));
        continue;
      }
      MAPD_CHECK(static_cast<int>(cells.size()) > std::max(id_col, cat_col), DataError,
                 at + ": too few columns");
      MAPD_CHECK(!cells[static_cast<size_t>(cat_col)].empty(), DataError, at + ": empty category");
      MAPD_CHECK(!cells[static_cast<size_t>(id_col)].empty(), DataError, at + ": empty id");
      out.push_back({cells[static_cast<size_t>(id_col)], cells[static_cast<size_t>(cat_col)]});
    }
    MAPD_CHECK(id_col >= 0, DataError, where + ": empty file; expected a header 'id,category' and rows");
  }
  std::unordered_set<std::string> seen;
  for (const auto& p : out) {
    MAPD_CHECK(
        seen.insert(p.id).second, DataError,
        fmt::format("{}: example id {} is listed more than once (a probe has one category)", where, p.id));
  }
  return out;
}

SizePlan plan_sizes(int64_t requested_fit, int64_t requested_val, int64_t sourced_categories, int64_t pool,
                    double max_fraction, int64_t min_fit) {
  SizePlan plan{requested_fit, requested_val, false};
  if (sourced_categories <= 0) return plan;
  const auto budget = static_cast<int64_t>(std::floor(max_fraction * static_cast<double>(pool)));
  const int64_t need = (requested_fit + requested_val) * sourced_categories;
  if (need <= budget) return plan;
  const double scale = static_cast<double>(budget) / static_cast<double>(need);
  plan.fit = static_cast<int64_t>(std::floor(static_cast<double>(requested_fit) * scale));
  plan.val = static_cast<int64_t>(std::floor(static_cast<double>(requested_val) * scale));
  plan.scaled = true;
  if (plan.fit < min_fit || (requested_val > 0 && plan.val < 1)) {
    throw ConfigError(fmt::format(
        "probes: too few training examples for the probe suite: {} categories drawn from the data need "
        "({} fit + {} val) x {} = {} examples, but probes.max_fraction = {} of the {} available allows {}; "
        "scaled down that leaves {} fit / {} val per category, below the minimum of {} fit and 1 val. "
        "Use more data (data.limit), fewer categories (probes.suite) or a larger probes.max_fraction.",
        sourced_categories, requested_fit, requested_val, sourced_categories, need, max_fraction, pool,
        budget, plan.fit, plan.val, min_fit));
  }
  return plan;
}

}  // namespace mapd::probes
