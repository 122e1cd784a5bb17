#include "mapd/config/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/run_layout.hpp"

namespace mapd::config {
namespace {

using nlohmann::json;

// The section structs (everything with a visit() member that is visited as a nested mapping).
template <class T>
constexpr bool kIsSection =
    std::is_same_v<T, RunConfig> || std::is_same_v<T, DataConfig> || std::is_same_v<T, AugmentConfig> ||
    std::is_same_v<T, LabelNoiseConfig> || std::is_same_v<T, ModelConfig> ||
    std::is_same_v<T, OptimizerConfig> || std::is_same_v<T, ScheduleConfig> ||
    std::is_same_v<T, TrainConfig> || std::is_same_v<T, ProbesConfig> || std::is_same_v<T, RecordConfig> ||
    std::is_same_v<T, KnnConfig> || std::is_same_v<T, LabelCorrectionConfig> ||
    std::is_same_v<T, PrioritizedConfig> || std::is_same_v<T, ReportConfig> ||
    std::is_same_v<T, DistConfig> || std::is_same_v<T, OutputConfig>;

template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

std::string join_path(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, bool>)
    return "a boolean (true or false)";
  else if constexpr (std::is_same_v<T, int64_t>)
    return "an integer";
  else if constexpr (std::is_same_v<T, double>)
    return "a number";
  else if constexpr (std::is_same_v<T, std::string>)
    return "a string";
  else if constexpr (std::is_same_v<T, std::vector<double>>)
    return "a list of numbers";
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
    return "a list of integers";
  else if constexpr (std::is_same_v<T, std::vector<std::string>>)
    return "a list of strings";
  else
    return "a section (mapping)";
}

const char* json_kind(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "list";
    case json::value_t::object:
      return "mapping";
    default:
      return "value";
  }
}

std::string show(const json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// Converts one scalar of a known type; returns false when the JSON value has the wrong type.
template <class T>
bool convert_scalar(const json& j, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) return false;
    out = j.get<bool>();
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (j.is_number_unsigned()) {
      // JSON integers from 2^63 on parse as unsigned: they would wrap to negative values.
      if (j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      out = j.get<int64_t>();
    } else if (j.is_number_integer()) {
      out = j.get<int64_t>();
    } else if (j.is_number_float()) {
      const double d = j.get<double>();
      // Casting a double outside int64's range (1e200, NaN) is undefined: check the range first.
      constexpr double kTwoTo63 = 9223372036854775808.0;
      if (!(d >= -kTwoTo63 && d < kTwoTo63) || d != static_cast<double>(static_cast<int64_t>(d)))
        return false;
      out = static_cast<int64_t>(d);
    } else {
      return false;
    }
  } else if constexpr (std::is_same_v<T, double>) {
    if (!j.is_number()) return false;
    out = j.get<double>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) return false;
    out = j.get<std::string>();
  }
  return true;
}

template <class T>
bool convert(const json& j, T& out) {
  if constexpr (IsVector<T>::value) {
    if (!j.is_array()) return false;
    T values;
    for (const auto& item : j) {
      typename T::value_type value{};
      if (!convert_scalar(item, value)) return false;
      values.push_back(value);
    }
    out = std::move(values);
    return true;
  } else {
    return convert_scalar(j, out);
  }
}

// Collects (path, type) of every leaf and the keys of every section.
struct KeyCollector {
  std::string prefix;
  std::vector<std::string> leaves;
  std::vector<std::string> types;
  std::vector<std::string> sections;

  template <class T>
  void operator()(const char* key, T& field, const char* /*description*/, const Choices& /*choices*/ = {}) {
    const std::string path = join_path(prefix, key);
    if constexpr (kIsSection<T>) {
      sections.push_back(path);
      const std::string saved = prefix;
      prefix = path;
      field.visit(*this);
      prefix = saved;
    } else {
      leaves.push_back(path);
      types.push_back(std::is_same_v<T, std::string> ? "string" : "other");
    }
  }
};

KeyCollector collect_keys() {
  RunConfig defaults;
  KeyCollector collector;
  defaults.visit(collector);
  return collector;
}

std::string suggest_for_unknown(const std::string& path, const std::string& key,
                                const std::vector<std::string>& siblings) {
  std::string hint;
  const std::string near = closest_match(key, siblings);
  if (!near.empty()) {
    hint = "; did you mean '" + near + "'?";
  } else {
    // The key may exist in another section (train.lr -> optimizer.lr).
    for (const auto& leaf : collect_keys().leaves) {
      const auto dot = leaf.rfind('.');
      if (leaf.substr(dot + 1) == key) {
        hint = "; did you mean '" + leaf + "'?";
        break;
      }
    }
  }
  if (hint.empty() && !siblings.empty()) {
    std::string list;
    for (const auto& s : siblings) list += (list.empty() ? "" : ", ") + s;
    hint = " (known keys here: " + list + ")";
  }
  return "unknown key '" + path + "'" + hint;
}

/// Values that were renamed: still read, with a warning, as their new name.
struct RenamedValue {
  const char* path;
  const char* old_value;
  const char* new_value;
  const char* why;
};
constexpr RenamedValue kRenamedValues[] = {
    {"knn.backend", "faiss", "blas",
     "mapd never used the FAISS library: the CPU search is a BLAS GEMM shortlist with an exact re-rank"},
};

void rename_value(const std::string& path, std::string& value) {
  for (const auto& renamed : kRenamedValues) {
    if (path == renamed.path && value == renamed.old_value) {
      log::get("config")->warn("{}: '{}' is the old name of '{}' ({}); write {}: {}", path, value,
                               renamed.new_value, renamed.why, renamed.path, renamed.new_value);
      value = renamed.new_value;
    }
  }
}

struct FromJson {
  const json* node;
  std::string prefix;
  std::vector<std::string>* errors;
  std::vector<std::string> known;

  template <class T>
  void operator()(const char* key, T& field, const char* /*description*/, const Choices& choices = {}) {
    known.emplace_back(key);
    const auto it = node->find(key);
    if (it == node->end()) return;
    const std::string path = join_path(prefix, key);
    if constexpr (kIsSection<T>) {
      if (!it->is_object()) {
        errors->push_back(path + ": expected a section (mapping of keys), got " + json_kind(*it) + " " +
                          show(*it));
        return;
      }
      FromJson inner{&*it, path, errors, {}};
      field.visit(inner);
      inner.report_unknown();
    } else {
      if (!convert(*it, field)) {
        errors->push_back(path + ": expected " + type_name<T>() + ", got " + json_kind(*it) + " " +
                          show(*it));
        return;
      }
      if constexpr (std::is_same_v<T, std::string>) {
        rename_value(path, field);
        if (!choices.empty() && std::find(choices.begin(), choices.end(), field) == choices.end()) {
          std::string list;
          for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
          std::string message = path + ": '" + field + "' is not one of " + list;
          const std::string near = closest_match(field, choices);
          if (!near.empty()) message += "; did you mean '" + near + "'?";
          errors->push_back(message);
        }
      }
    }
  }

  void report_unknown() const {
    for (auto it = node->begin(); it != node->end(); ++it) {
      if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
        errors->push_back(suggest_for_unknown(join_path(prefix, it.key()), it.key(), known));
      }
    }
  }
};

struct ToJson {
  json* node;

  template <class T>
  void operator()(const char* key, T& field, const char* /*description*/, const Choices& /*choices*/ = {}) {
    if constexpr (kIsSection<T>) {
      json inner = json::object();
      ToJson visitor{&inner};
      field.visit(visitor);
      (*node)[key] = std::move(inner);
    } else {
      (*node)[key] = field;
    }
  }
};

struct ReferenceWriter {
  std::ostringstream* out;
  int depth = 0;

  template <class T>
  void operator()(const char* key, T& field, const char* description, const Choices& choices = {}) {
    const std::string indent(static_cast<size_t>(depth) * 2, ' ');
    if constexpr (kIsSection<T>) {
      *out << "\n" << indent << "# " << description << "\n" << indent << key << ":\n";
      ReferenceWriter inner{out, depth + 1};
      field.visit(inner);
    } else {
      std::string comment = description;
      if (!choices.empty()) {
        std::string list;
        for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c;
        comment += " [" + list + "]";
      }
      *out << indent << "# " << comment << "\n" << indent << key << ": " << json(field).dump() << "\n";
    }
  }
};

/// Whether `text` is UTF-8 that nlohmann::json can write. YAML files must be UTF-8, but yaml-cpp
/// passes other bytes through, and a config holding them failed only when it was written out
/// (config.resolved.json, `mapd config`): an internal error instead of a message naming the key.
bool is_utf8(const std::string& text) {
  try {
    static_cast<void>(json(text).dump());
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

/// Limits on a parsed config tree. A real config is four levels deep (data.augment.mean[]) and has
/// a few hundred values; beyond these a file is hostile or broken, and without them a deeply
/// nested file overflowed the stack and a YAML alias bomb (aliases of aliases, each doubling the
/// tree) took gigabytes (issue 13 item 8).
constexpr int kMaxConfigDepth = 32;
constexpr int64_t kMaxConfigNodes = 100000;

/// YAML to JSON with a key given twice in one mapping a ConfigError naming its path and both
/// lines (YAML would silently keep the last), and nesting and expanded size bounded: yaml-cpp
/// shares an aliased node, the JSON copy expands it, so every value copied counts.
class YamlToJson {
 public:
  explicit YamlToJson(std::string origin) : origin_(std::move(origin)) {}

  json operator()(const YAML::Node& node, const std::string& path = "", int depth = 0) {
    MAPD_CHECK(depth <= kMaxConfigDepth, ConfigError,
               fmt::format("{}:{}: '{}' is nested deeper than {} levels; a mapd config is at most 4 levels "
                           "deep (check the file for runaway indentation or brackets)",
                           origin_, node.Mark().line + 1, path, kMaxConfigDepth));
    MAPD_CHECK(++nodes_ <= kMaxConfigNodes, ConfigError,
               fmt::format("{}: the document expands to more than {} values (YAML aliases of aliases?); a "
                           "mapd config has a few hundred: write the values out instead of nesting aliases",
                           origin_, kMaxConfigNodes));
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
      case YAML::NodeType::Sequence: {
        json array = json::array();
        for (const auto& item : node) array.push_back((*this)(item, path + "[]", depth + 1));
        return array;
      }
      case YAML::NodeType::Map:
        return mapping(node, path, depth);
      case YAML::NodeType::Scalar:
        break;
    }
    MAPD_CHECK(
        is_utf8(node.Scalar()), ConfigError,
        fmt::format("{}:{}: the value of '{}' is not UTF-8 text; mapd reads config files as UTF-8 (save "
                    "the file as UTF-8)",
                    origin_, node.Mark().line + 1, path));
    return scalar(node);
  }

 private:
  json mapping(const YAML::Node& node, const std::string& path, int depth) {
    json object = json::object();
    std::map<std::string, int> first_line;
    for (const auto& item : node) {
      const auto key = item.first.as<std::string>();
      const std::string key_path = path.empty() ? key : path + "." + key;
      const int line = item.first.Mark().line + 1;
      MAPD_CHECK(is_utf8(key), ConfigError,
                 fmt::format("{}:{}: a key{} is not UTF-8 text; mapd reads config files as UTF-8 (save the "
                             "file as UTF-8)",
                             origin_, line, path.empty() ? std::string() : " in '" + path + "'"));
      const auto [it, fresh] = first_line.emplace(key, line);
      MAPD_CHECK(fresh, ConfigError,
                 fmt::format("{}:{}: duplicate key '{}' (first given at line {}); YAML would keep only the "
                             "last one: remove one of them",
                             origin_, line, key_path, it->second));
      object[key] = (*this)(item.second, key_path, depth + 1);
    }
    return object;
  }

  static json scalar(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (node.Tag() == "!") return text;  // quoted: always a string
    static const std::regex kInt(R"([-+]?[0-9]+)");
    static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
    if (text == "true" || text == "True") return true;
    if (text == "false" || text == "False") return false;
    if (text == "null" || text == "~" || text.empty()) return nullptr;
    if (std::regex_match(text, kInt)) {
      try {
        return std::stoll(text);
      } catch (const std::out_of_range&) {
        return text;
      }
    }
    if (std::regex_match(text, kFloat)) {
      try {
        return std::stod(text);
      } catch (const std::out_of_range&) {
        return text;  // beyond double's range (1e400): a string, reported as the wrong type
      }
    }
    if (text == ".inf" || text == "+.inf") return std::numeric_limits<double>::infinity();
    if (text == "-.inf") return -std::numeric_limits<double>::infinity();
    return text;
  }

  std::string origin_;
  int64_t nodes_ = 0;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : s) {
    if (c == sep) {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

}  // namespace

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (const auto& candidate : candidates) {
    const size_t d = edit_distance(word, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  return best_distance <= limit ? best : std::string();
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
      // Count a swap of two neighbouring letters ("trian") as one edit.
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        row[j] = std::min(row[j], diagonal);
      }
      diagonal = above;
    }
  }
  return row[b.size()];
}

json parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return YamlToJson(origin)(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
  }
}

json read_config_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  MAPD_CHECK(in.good(), ConfigError, "cannot read config file " + path.string() + " (does it exist?)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string ext = path.extension().string();
  json tree;
  if (ext == ".json") {
    // A key given twice in one object is an error (the parser would keep the last silently).
    std::vector<std::set<std::string>> keys;
    const json::parser_callback_t check_keys = [&](int depth, json::parse_event_t event, json& parsed) {
      MAPD_CHECK(
          depth <= kMaxConfigDepth, ConfigError,
          fmt::format("{}: nested deeper than {} levels; a mapd config is at most 4 levels deep (check "
                      "the file for runaway brackets)",
                      path.string(), kMaxConfigDepth));
      if (event == json::parse_event_t::object_start) {
        keys.emplace_back();
      } else if (event == json::parse_event_t::object_end) {
        keys.pop_back();
      } else if (event == json::parse_event_t::key) {
        const auto key = parsed.get<std::string>();
        MAPD_CHECK(
            keys.back().insert(key).second, ConfigError,
            fmt::format("{}: duplicate key '{}' in one object; JSON readers would keep only the last one: "
                        "remove one of them",
                        path.string(), key));
      }
      return true;
    };
    try {
      tree = json::parse(buffer.str(), check_keys);
    } catch (const json::parse_error& e) {
      throw ConfigError(path.string() + ": JSON syntax error: " + e.what());
    } catch (const json::out_of_range& e) {
      // A number beyond double's range (1e400) is not a parse_error to nlohmann::json.
      throw ConfigError(path.string() + ": JSON number out of range: " + e.what());
    }
  } else {
    MAPD_CHECK(
        ext == ".yaml" || ext == ".yml", ConfigError,
        "config file " + path.string() + ": unknown extension '" + ext + "' (expected .yaml, .yml or .json)");
    tree = parse_yaml(buffer.str(), path.string());
  }
  if (tree.is_null()) return json::object();
  MAPD_CHECK(tree.is_object(), ConfigError,
             path.string() + ": the top level must be a mapping of sections (data:, train:, ...), got " +
                 json_kind(tree));
  return tree;
}

void merge_into(json& base, const json& overlay) {
  if (!base.is_object() || !overlay.is_object()) {
    base = overlay;
    return;
  }
  for (auto it = overlay.begin(); it != overlay.end(); ++it) {
    if (it->is_object() && base.contains(it.key()) && base[it.key()].is_object()) {
      merge_into(base[it.key()], *it);
    } else {
      base[it.key()] = *it;
    }
  }
}

void apply_override(json& tree, const std::string& assignment) {
  const auto eq = assignment.find('=');
  MAPD_CHECK(eq != std::string::npos && eq > 0, ConfigError,
             "--set '" + assignment + "': expected key.path=value (for example train.epochs=3)");
  const std::string key = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  const auto keys = collect_keys();
  const auto leaf = std::find(keys.leaves.begin(), keys.leaves.end(), key);
  if (leaf == keys.leaves.end()) {
    const bool is_section = std::find(keys.sections.begin(), keys.sections.end(), key) != keys.sections.end();
    MAPD_CHECK(!is_section, ConfigError,
               "--set " + key + ": '" + key + "' is a section; set one of its keys (for example " + key +
                   ".<key>=...)");
    std::string near = closest_match(key, keys.leaves);
    if (near.empty()) {
      // The key may exist in another section (train.lr -> optimizer.lr).
      const std::string last = key.substr(key.rfind('.') + 1);
      for (const auto& candidate : keys.leaves) {
        if (candidate.substr(candidate.rfind('.') + 1) == last) near = candidate;
      }
    }
    throw ConfigError("--set " + key + ": unknown key '" + key + "'" +
                      (near.empty() ? std::string() : "; did you mean '" + near + "'?"));
  }
  const bool is_string = keys.types[static_cast<size_t>(leaf - keys.leaves.begin())] == "string";
  MAPD_CHECK(!is_string || is_utf8(value), ConfigError,
             "--set " + key + ": the value is not UTF-8 text (mapd keeps configs as UTF-8 JSON)");
  json parsed = is_string ? json(value) : parse_yaml(value, "--set " + key);
  json* node = &tree;
  const auto parts = split(key, '.');
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    json& child = (*node)[parts[i]];
    if (!child.is_object()) child = json::object();
    node = &child;
  }
  (*node)[parts.back()] = std::move(parsed);
}

std::vector<std::string> validate(const RunConfig& c) {
  std::vector<std::string> problems;
  auto need = [&](bool ok, const std::string& message) {
    if (!ok) problems.push_back(message);
  };
  need(c.data.label_noise.rate >= 0.0 && c.data.label_noise.rate < 1.0,
       "data.label_noise.rate: " + std::to_string(c.data.label_noise.rate) + " is outside [0, 1)");
  need(c.data.limit >= 0, "data.limit: must be >= 0 (0 = all examples)");
  need(c.data.num_classes >= 0, "data.num_classes: must be >= 0 (0 = inferred)");
  need(c.data.num_classes <= kMaxClasses,
       fmt::format("data.num_classes: must be <= {}, got {}", kMaxClasses, c.data.num_classes));
  need(c.data.channels == 0 || c.data.channels == 1 || c.data.channels == 3,
       "data.channels: must be 0 (as stored), 1 or 3, got " + std::to_string(c.data.channels));
  need(c.data.image_size == 0 || c.data.image_size >= 4,
       "data.image_size: must be 0 (as stored) or >= 4, got " + std::to_string(c.data.image_size));
  // Upper bounds: beyond them a value is a typo, and it failed late or overflowed (issue 13 items 8, 13).
  need(c.data.image_size <= 4096,
       "data.image_size: must be <= 4096 (pixels per side), got " + std::to_string(c.data.image_size));
  need(c.data.workers >= -1, "data.workers: must be >= 0, or -1 (auto)");
  need(c.data.prefetch >= 1, "data.prefetch: must be >= 1");
  need(c.data.memory_budget_mb >= 0, "data.memory_budget_mb: must be >= 0");
  need(c.data.augment.crop_padding >= 0, "data.augment.crop_padding: must be >= 0");
  need(c.data.augment.rrc_scale_min > 0.0 && c.data.augment.rrc_scale_min <= 1.0,
       "data.augment.rrc_scale_min: must be in (0, 1]");
  need(c.data.augment.mean.size() == c.data.augment.std_dev.size(),
       "data.augment.mean and data.augment.std: must have the same length");
  need(c.model.width >= 1, "model.width: must be >= 1");
  need(c.model.width <= 4096, "model.width: must be <= 4096, got " + std::to_string(c.model.width));
  need(c.model.norm == "batch" || c.model.arch == "small_cnn",
       "model.norm: none is for small_cnn; the ResNets keep their BatchNorm (model.arch=" + c.model.arch +
           ")");
  need(c.dist.timeout_s > 0, "dist.timeout_s: must be > 0 (seconds)");
  need(c.dist.bucket_mb > 0, "dist.bucket_mb: must be > 0");
  need(c.optimizer.lr > 0.0, "optimizer.lr: must be > 0");
  need(c.optimizer.momentum >= 0.0 && c.optimizer.momentum < 1.0, "optimizer.momentum: must be in [0, 1)");
  need(c.optimizer.weight_decay >= 0.0, "optimizer.weight_decay: must be >= 0");
  need(!c.optimizer.nesterov || c.optimizer.momentum > 0.0,
       "optimizer.nesterov: needs optimizer.momentum > 0");
  need(c.schedule.warmup_epochs >= 0, "schedule.warmup_epochs: must be >= 0");
  need(std::is_sorted(c.schedule.milestones.begin(), c.schedule.milestones.end()),
       "schedule.milestones: must be increasing");
  need(c.train.epochs >= 1, "train.epochs: must be >= 1, got " + std::to_string(c.train.epochs));
  need(c.train.epochs <= 1000000, "train.epochs: must be <= 1000000, got " + std::to_string(c.train.epochs));
  need(c.train.batch_size >= 1, "train.batch_size: must be >= 1, got " + std::to_string(c.train.batch_size));
  need(c.train.threads >= 0, "train.threads: must be >= 0 (0 = all cores)");
  need(!(c.record.view == "online" && c.data.drop_last),
       "record.view=online records losses from the training pass, which must see every example every "
       "epoch: set data.drop_last=false or record.view=eval");
  need(c.probes.fit_per_category >= 1, "probes.fit_per_category: must be >= 1");
  need(c.probes.val_per_category >= 0, "probes.val_per_category: must be >= 0");
  need(c.probes.corrupted_sigma > 0.0, "probes.corrupted_sigma: must be > 0");
  need(c.probes.typical_pool >= 0.0 && c.probes.typical_pool <= 1.0,
       "probes.typical_pool: must be in [0, 1]");
  need(c.probes.atypical_floor >= 0.0, "probes.atypical_floor: must be >= 0");
  need(c.probes.ood_source != "dataset" || !c.probes.ood_path.empty(),
       "probes.ood_path: must be set when probes.ood_source is 'dataset'");
  need(c.probes.difficulty != "file" || !c.probes.score_file.empty(),
       "probes.score_file: must be set when probes.difficulty is 'file'");
  need(c.probes.holdout_models >= 2, "probes.holdout_models: must be >= 2");
  need(c.probes.holdout_epochs >= 1, "probes.holdout_epochs: must be >= 1");
  need(c.probes.pilot_epochs >= 1, "probes.pilot_epochs: must be >= 1");
  need(c.probes.max_fraction > 0.0 && c.probes.max_fraction <= 1.0, "probes.max_fraction: must be in (0, 1]");
  need(c.knn.k >= 1, "knn.k: must be >= 1, got " + std::to_string(c.knn.k));
  need(c.knn.epoch_begin >= 0, "knn.epoch_begin: must be >= 0");
  need(c.knn.epoch_end == 0 || c.knn.epoch_end > c.knn.epoch_begin,
       "knn.epoch_end: must be 0 (all) or greater than knn.epoch_begin");
  // The k-NN reads committed epochs only: a range beyond train.epochs would fail after training.
  need(c.knn.epoch_end <= c.train.epochs, "knn.epoch_end: " + std::to_string(c.knn.epoch_end) +
                                              " is beyond train.epochs = " + std::to_string(c.train.epochs) +
                                              " (0 = all epochs)");
  need(c.knn.epoch_begin < (c.knn.epoch_end > 0 ? c.knn.epoch_end : c.train.epochs),
       "knn.epoch_begin: " + std::to_string(c.knn.epoch_begin) +
           " leaves no epoch of train.epochs = " + std::to_string(c.train.epochs));
  need(c.knn.memory_budget_mb >= 16, "knn.memory_budget_mb: must be >= 16");
  need(c.knn.block_size >= 0, "knn.block_size: must be >= 0");
  need(c.report.top_n >= 1, "report.top_n: must be >= 1");
  need(c.report.table_limit >= 0, "report.table_limit: must be >= 0 (0 = no browsing table)");
  const auto& lc = c.label_correction;
  need(lc.warmup_epochs >= 0, "label_correction.warmup_epochs: must be >= 0 (0 = auto)");
  need(c.train.mode != "label_correction" || lc.warmup_for(c.train.epochs) < c.train.epochs,
       "label_correction.warmup_epochs: " + std::to_string(lc.warmup_for(c.train.epochs)) +
           " leaves no correction epoch of train.epochs = " + std::to_string(c.train.epochs));
  need(lc.mixup_alpha >= 0.0, "label_correction.mixup_alpha: must be >= 0 (0 = no mixup)");
  need(lc.reg_weight >= 0.0, "label_correction.reg_weight: must be >= 0");
  need(lc.relabel_threshold >= 0.5 && lc.relabel_threshold < 1.0,
       "label_correction.relabel_threshold: must be in [0.5, 1)");
  need(lc.knn_epochs >= 0, "label_correction.knn_epochs: must be >= 0 (0 = all committed epochs)");
  need(lc.corrupted_weight >= 0.0 && lc.corrupted_weight <= 1.0,
       "label_correction.corrupted_weight: must be in [0, 1]");
  need(lc.clean_category != lc.mislabeled_category,
       "label_correction.clean_category and mislabeled_category: must differ");
  need(lc.corrupted_category.empty() || lc.method == "mapd" || lc.method == "gmm",
       "label_correction.corrupted_category: the three-set variant needs method mapd or gmm (bmm has two "
       "components)");
  need(c.train.mode != "label_correction" || lc.method != "oracle" || c.data.label_noise.rate > 0.0,
       "label_correction.method: oracle takes P(mislabeled) from the labels injected noise changed and "
       "needs data.label_noise.rate > 0 (on real data use mapd, bmm or gmm)");
  const auto& pr = c.prioritized;
  need(pr.candidates >= 1, "prioritized.candidates: must be >= 1, got " + std::to_string(pr.candidates));
  need(pr.keep >= 1 && pr.keep <= pr.candidates,
       "prioritized.keep: must be in [1, prioritized.candidates = " + std::to_string(pr.candidates) +
           "], got " + std::to_string(pr.keep));
  need(pr.probes_per_category >= 1, "prioritized.probes_per_category: must be >= 1");
  need(!(c.train.mode == "prioritized" && c.record.view == "eval"),
       "record.view: train.mode=prioritized records every example's loss from the pass that scores it as a "
       "candidate (view 'candidate'), so the k-NN compares like with like; leave record.view at online");
  need(pr.rho_epochs >= 1, "prioritized.rho_epochs: must be >= 1");
  need(pr.clean_category != pr.mislabeled_category,
       "prioritized.clean_category and mislabeled_category: must differ");
  return problems;
}

RunConfig from_json(const json& tree) {
  RunConfig config;
  std::vector<std::string> errors;
  if (!tree.is_object()) {
    throw ConfigError("config: the top level must be a mapping of sections, got " +
                      std::string(json_kind(tree)));
  }
  FromJson visitor{&tree, "", &errors, {}};
  config.visit(visitor);
  visitor.report_unknown();
  if (errors.empty()) {
    auto problems = validate(config);
    errors.insert(errors.end(), problems.begin(), problems.end());
  }
  if (!errors.empty()) {
    std::string message = errors.size() == 1
                              ? "invalid configuration: "
                              : "invalid configuration (" + std::to_string(errors.size()) + " problems):";
    if (errors.size() == 1) {
      message += errors.front();
    } else {
      for (const auto& e : errors) message += "\n  - " + e;
    }
    throw ConfigError(message);
  }
  return config;
}

json to_json(const RunConfig& config) {
  json tree = json::object();
  ToJson visitor{&tree};
  const_cast<RunConfig&>(config).visit(visitor);  // NOLINT: ToJson only reads
  return tree;
}

namespace {

/// `tree` < files < overrides, validated; every broken override is reported together with
/// whatever else is wrong in the merged config.
RunConfig resolve_layers(json tree, const std::vector<std::string>& files,
                         const std::vector<std::string>& overrides, const std::string& heading) {
  for (const auto& file : files) {
    json layer = read_config_file(file);
    merge_into(tree, layer);
  }
  std::vector<std::string> errors;
  for (const auto& assignment : overrides) {
    try {
      apply_override(tree, assignment);
    } catch (const ConfigError& e) {
      errors.emplace_back(e.what());
    }
  }
  if (errors.empty()) return from_json(tree);
  try {
    from_json(tree);
  } catch (const ConfigError& e) {
    errors.emplace_back(e.what());
  }
  std::string message = heading;
  for (const auto& e : errors) message += "\n  - " + e;
  throw ConfigError(message);
}

}  // namespace

RunConfig resolve(const std::vector<std::string>& files, const std::vector<std::string>& overrides) {
  return resolve_layers(json::object(), files, overrides, "invalid configuration:");
}

RunConfig resolve_run_config(const std::filesystem::path& run_dir, const std::string& command,
                             RunConfigFile need, const std::vector<std::string>& files,
                             const std::vector<std::string>& overrides) {
  MAPD_CHECK(!run_dir.empty(), ConfigError,
             "mapd " + command + ": give the run directory: mapd " + command + " RUN_DIR");
  MAPD_CHECK(std::filesystem::is_directory(run_dir), IoError,
             "mapd " + command + ": run directory '" + run_dir.string() + "' does not exist");
  const auto path = RunLayout(run_dir).config();
  json tree = json::object();
  if (std::filesystem::exists(path)) {
    tree = read_config_file(path);
  } else {
    MAPD_CHECK(need == RunConfigFile::kOptional, ConfigError,
               "mapd " + command + ": no " + path.filename().string() + " in " + run_dir.string() +
                   " (is it a mapd run directory?)");
  }
  return resolve_layers(std::move(tree), files, overrides,
                        "invalid configuration for mapd " + command + " (the run's " +
                            path.filename().string() + ", then -c and --set):");
}

std::vector<std::string> leaf_keys() { return collect_keys().leaves; }

std::vector<std::string> changed_run_keys(const json& recorded, const RunConfig& config) {
  // How the run is executed, or what reads it afterwards: no effect on the recorded trajectories.
  // data.path and data.test_path may move: the resume checks that the examples are the same.
  static const std::vector<std::string> kFreeToChange = {"data.path",     "data.test_path",
                                                         "data.name",     "data.workers",
                                                         "data.prefetch", "data.memory_budget_mb",
                                                         "data.resident", "data.resident_max_mb",
                                                         "train.threads", "knn.",
                                                         "report.",       "output.",
                                                         "dist."};
  const json now = to_json(config);
  // Label correction and prioritized training use the k-NN while training: there, knn decides
  // what is recorded.
  const bool knn_trains = config.train.mode == "label_correction" || config.train.mode == "prioritized";
  std::vector<std::string> changed;
  for (const auto& key : collect_keys().leaves) {
    const bool free = std::any_of(kFreeToChange.begin(), kFreeToChange.end(), [&](const std::string& prefix) {
      if (knn_trains && prefix == "knn.") return false;
      return prefix.back() == '.' ? key.compare(0, prefix.size(), prefix) == 0 : key == prefix;
    });
    const json::json_pointer pointer("/" + [&] {
      std::string path = key;
      std::replace(path.begin(), path.end(), '.', '/');
      return path;
    }());
    // A key the run's mapd did not have yet was its default then: nothing to compare.
    if (free || !recorded.contains(pointer) || recorded.at(pointer) == now.at(pointer)) continue;
    changed.push_back(key + ": " + show(recorded.at(pointer)) + " -> " + show(now.at(pointer)));
  }
  return changed;
}

std::string reference_yaml() {
  std::ostringstream out;
  out << "# mapd reference configuration: every key with its default value and what it does.\n"
         "# Generated from include/mapd/config/config.hpp by `mapd config --reference`; a unit test\n"
         "# checks that this file and the config structs list the same keys with the same defaults.\n"
         "# Use it as a starting point: copy, delete what you do not change, and pass it with -c.\n";
  RunConfig defaults;
  ReferenceWriter writer{&out, 0};
  defaults.visit(writer);
  return out.str();
}

}  // namespace mapd::config
