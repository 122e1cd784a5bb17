#include "mapd/probes/suite_spec.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"
#include "synthetic.hpp"

namespace mapd::probes {
namespace {

using testing::error_of;
using testing::temp_dir;
using testing::write_text;

TEST(SuiteSpec, DefaultSuiteFileListsAllSixCategories) {
  const auto spec = load_suite_spec(std::string(MAPD_SOURCE_DIR) + "/probes/default.yaml");
  EXPECT_EQ(spec.name, "default");
  EXPECT_EQ(spec.categories, builtin_categories());
  // By name (source tree) and the built-in fallback give the same list.
  EXPECT_EQ(load_suite_spec("default").categories, builtin_categories());
  EXPECT_TRUE(load_suite_spec("none").categories.empty());
  EXPECT_EQ(load_suite_spec("paper4").categories.size(), 4U);
}

TEST(SuiteSpec, UnknownCategoryIsAConfigErrorWithASuggestion) {
  const auto msg = error_of([] { parse_suite_spec("categories: [typical, corupted]", "s.yaml"); });
  EXPECT_NE(msg.find("s.yaml: categories[1]: unknown probe category 'corupted'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'corrupted'?"), std::string::npos) << msg;
  MAPD_EXPECT_THROW_WITH(parse_suite_spec("categories: [ood, ood]", "s.yaml"), ConfigError,
                         "s.yaml: categories[1]: category 'ood' is listed twice");
  MAPD_EXPECT_THROW_WITH(parse_suite_spec("categories: typical", "s.yaml"), ConfigError,
                         "s.yaml: 'categories' must be a list");
  const auto key = error_of([] { parse_suite_spec("categorys: [ood]", "s.yaml"); });
  EXPECT_NE(key.find("did you mean 'categories'?"), std::string::npos) << key;
}

TEST(SuiteSpec, MissingSuiteListsTheAvailableOnes) {
  const auto msg = error_of([] { load_suite_spec("no_such_suite"); });
  EXPECT_NE(msg.find("no probe suite 'no_such_suite'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("default"), std::string::npos) << msg;
}

TEST(UserProbes, ReadsCsvAndBothJsonShapes) {
  const auto dir = temp_dir("user");
  write_text(dir / "u.csv", "id,category\n5,duplicate\n7,watermark\n\"9\",duplicate\n");
  auto csv = read_user_probes(dir / "u.csv");
  ASSERT_EQ(csv.size(), 3U);
  EXPECT_EQ(csv[2].id, "9");
  EXPECT_EQ(csv[2].category, "duplicate");
  write_text(dir / "a.json", R"([{"id": 1, "category": "watermark"}, {"id": 2, "category": "mislabeled"}])");
  EXPECT_EQ(read_user_probes(dir / "a.json").size(), 2U);
  write_text(dir / "o.json", R"({"duplicate": [3, 4], "watermark": [8, "img-9"]})");
  const auto o = read_user_probes(dir / "o.json");
  ASSERT_EQ(o.size(), 4U);
  EXPECT_EQ(o[0].category, "duplicate");
  EXPECT_EQ(o[3].id, "img-9");  // text ids (manifests) as written
}

TEST(UserProbes, MalformedFilesAreDataErrorsWithTheLine) {
  const auto dir = temp_dir("user_bad");
  write_text(dir / "h.csv", "example,cat\n1,a\n");
  MAPD_EXPECT_THROW_WITH(read_user_probes(dir / "h.csv"), DataError, "h.csv:1", "'id' and 'category'");
  write_text(dir / "n.csv", "id,category\n,a\n");
  const auto msg = error_of([&] { read_user_probes(dir / "n.csv"); });
  EXPECT_NE(msg.find("n.csv:2: empty id"), std::string::npos) << msg;
  write_text(dir / "d.csv", "id,category\n1,a\n1,b\n");
  MAPD_EXPECT_THROW_WITH(read_user_probes(dir / "d.csv"), DataError,
                         "d.csv: example id 1 is listed more than once");
  write_text(dir / "b.json", R"([{"id": 1.5, "category": "a"}])");
  MAPD_EXPECT_THROW_WITH(read_user_probes(dir / "b.json"), DataError, "b.json: entry 0",
                         "id 1.5 must be an integer or a non-empty string");
  write_text(dir / "e.json", R"({"dup": [""]})");
  MAPD_EXPECT_THROW_WITH(read_user_probes(dir / "e.json"), DataError, "e.json: 'dup'", "non-empty string");
  MAPD_EXPECT_THROW_WITH(read_user_probes(dir / "missing.csv"), IoError, "missing.csv");
}

TEST(UserProbes, CsvQuotingFollowsRfc4180AndAnUnterminatedQuoteNamesTheLine) {
  const auto dir = temp_dir("user_quotes");
  write_text(dir / "q.csv", "id,category\r\n3,\"water, \"\"mark\"\"\"\r\n");
  const auto quoted = read_user_probes(dir / "q.csv");
  ASSERT_EQ(quoted.size(), 1U);
  EXPECT_EQ(quoted[0].category, "water, \"mark\"");
  write_text(dir / "u.csv", "id,category\n1,a\n2,\"b\n");
  try {
    (void)read_user_probes(dir / "u.csv");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("u.csv:3: field 2 has an unterminated quote"), std::string::npos)
        << e.what();
  }
}

TEST(SizePlan, KeepsScalesOrRefuses) {
  auto keep = plan_sizes(250, 250, 5, 60000, 0.1, 2);
  EXPECT_EQ(keep.fit, 250);
  EXPECT_EQ(keep.val, 250);
  EXPECT_FALSE(keep.scaled);
  // 10k examples, 10% = 1000 for 5 categories -> 200 each.
  auto scaled = plan_sizes(250, 250, 5, 10000, 0.1, 2);
  EXPECT_TRUE(scaled.scaled);
  EXPECT_EQ(scaled.fit, 100);
  EXPECT_EQ(scaled.val, 100);
  EXPECT_LE((scaled.fit + scaled.val) * 5, 1000);
  const auto msg = error_of([] { plan_sizes(250, 250, 5, 50, 0.1, 2); });
  EXPECT_NE(msg.find("too few training examples"), std::string::npos) << msg;
  EXPECT_NE(msg.find("2500"), std::string::npos) << msg;
  EXPECT_NE(msg.find("of the 50 available allows 5"), std::string::npos) << msg;
  EXPECT_THROW(plan_sizes(250, 250, 5, 50, 0.1, 2), ConfigError);
  // Only synthetic categories: nothing to scale.
  EXPECT_FALSE(plan_sizes(250, 250, 0, 10, 0.1, 2).scaled);
}

}  // namespace
}  // namespace mapd::probes
