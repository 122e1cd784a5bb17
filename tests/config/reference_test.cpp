// configs/reference.yaml must list exactly the keys of the config structs, with their defaults.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "mapd/config/loader.hpp"

namespace mapd::config {
namespace {

void collect_leaves(const nlohmann::json& node, const std::string& prefix, std::set<std::string>& out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object()) {
      collect_leaves(*it, path, out);
    } else {
      out.insert(path);
    }
  }
}

const std::string kReference = std::string(MAPD_SOURCE_DIR) + "/configs/reference.yaml";

TEST(ReferenceConfig, ListsEveryStructFieldAndNothingElse) {
  const nlohmann::json file = read_config_file(kReference);
  std::set<std::string> in_file;
  collect_leaves(file, "", in_file);
  const auto keys = leaf_keys();
  const std::set<std::string> in_structs(keys.begin(), keys.end());
  for (const auto& key : in_structs) {
    EXPECT_TRUE(in_file.count(key)) << key << " is a config field but missing from " << kReference
                                    << " (regenerate it with `mapd config --reference`)";
  }
  for (const auto& key : in_file) {
    EXPECT_TRUE(in_structs.count(key)) << key << " is in " << kReference << " but not a config field";
  }
}

TEST(ReferenceConfig, HoldsTheDefaults) {
  EXPECT_EQ(to_json(from_json(read_config_file(kReference))), to_json(RunConfig{}));
}

TEST(ReferenceConfig, EveryKeyIsDocumented) {
  // Each key line in the generated reference is preceded by a comment line.
  const std::string text = reference_yaml();
  size_t keys = 0;
  size_t comments = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    const auto first = line.find_first_not_of(' ');
    if (first != std::string::npos) (line[first] == '#' ? comments : keys)++;
    pos = end == std::string::npos ? text.size() : end + 1;
  }
  EXPECT_GE(comments, keys);
}

TEST(ShippedConfigs, AllResolve) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(MAPD_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(resolve({entry.path().string()}, {})) << entry.path();
    ++count;
  }
  EXPECT_GE(count, 3);
}

TEST(ShippedConfigs, FashionMnistIsTheDefault) {
  const auto file = resolve({std::string(MAPD_SOURCE_DIR) + "/configs/fashion-mnist.yaml"}, {});
  EXPECT_EQ(to_json(file), to_json(RunConfig{}));
}

}  // namespace
}  // namespace mapd::config
