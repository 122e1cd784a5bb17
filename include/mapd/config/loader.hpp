#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"

/// Reading, merging, overriding and validating configurations:
/// defaults < config files (in order) < `--set key=value` overrides.
namespace mapd::config {

/// Parses a YAML (.yaml/.yml) or JSON (.json) file into JSON. Throws ConfigError naming the file
/// and line on a syntax error, IoError when it cannot be read.
nlohmann::json read_config_file(const std::filesystem::path& path);

/// Parses YAML text (used for files and for `--set` values). `origin` names the source in errors.
nlohmann::json parse_yaml(const std::string& text, const std::string& origin);

/// Deep-merges `overlay` into `base` (objects merge key by key; other values are replaced).
void merge_into(nlohmann::json& base, const nlohmann::json& overlay);

/// Applies one `key.path=value` override to `tree`. The value is parsed as a YAML scalar or list,
/// except for string fields, which take it verbatim. Throws ConfigError for a malformed override
/// or an unknown key (with a did-you-mean).
void apply_override(nlohmann::json& tree, const std::string& assignment);

/// Converts JSON to a RunConfig, starting from the defaults. Every problem (unknown key with its
/// full path and a suggestion, wrong type, value outside its choices or range) is collected and
/// reported in one ConfigError.
RunConfig from_json(const nlohmann::json& tree);

/// The full config as JSON (every key, including defaults).
nlohmann::json to_json(const RunConfig& config);

/// defaults < files < overrides, validated. Throws ConfigError listing every problem.
RunConfig resolve(const std::vector<std::string>& files, const std::vector<std::string>& overrides);

/// Whether a run directory must hold its config.resolved.json (RunLayout::config()).
enum class RunConfigFile { kRequired, kOptional };

/// The config of an existing run, for every command that continues or reads one (resume, assign,
/// report): defaults < `<run_dir>/config.resolved.json` < `files` < `overrides`, validated.
/// Throws IoError when run_dir does not exist, ConfigError (naming `command`) when the file is
/// required and missing or the result is invalid (every problem listed). Without the file
/// (kOptional) the defaults are the base.
RunConfig resolve_run_config(const std::filesystem::path& run_dir, const std::string& command,
                             RunConfigFile need, const std::vector<std::string>& files = {},
                             const std::vector<std::string>& overrides = {});

/// The keys whose values in `config` differ from `recorded` (the config a run started with, as
/// dynamics.h5 stores it), as "key: old -> new", leaving out those a resume may change because
/// they do not affect what is trained and recorded: data.path, data.test_path and data.name (a
/// moved dataset; the resume checks its examples), data.workers, data.prefetch,
/// data.memory_budget_mb, data.resident, data.resident_max_mb, train.threads and the knn, report
/// and output sections. Keys `recorded` lacks (an older mapd) are not compared.
std::vector<std::string> changed_run_keys(const nlohmann::json& recorded, const RunConfig& config);

/// Dotted paths of every leaf key ("train.epochs", "data.augment.hflip", ...).
std::vector<std::string> leaf_keys();

/// The commented reference config (every key, its default and its description) as YAML text;
/// configs/reference.yaml is this text.
std::string reference_yaml();

/// Semantic checks beyond types and choices (ranges, combinations). Returns the problems found.
std::vector<std::string> validate(const RunConfig& config);

/// Levenshtein edit distance (used for did-you-mean suggestions).
size_t edit_distance(const std::string& a, const std::string& b);

/// The candidate closest to `word` by edit distance when it is close enough to suggest (at most
/// max(2, |word| / 3) edits), else an empty string.
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace mapd::config
