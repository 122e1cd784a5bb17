#include "mapd/probes/probe_suite.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <numeric>
#include <set>

#include "mapd/core/error.hpp"
#include "mapd/probes/preview.hpp"
#include "mapd/probes/score_file.hpp"
#include "mapd/probes/suite_spec.hpp"

#include "../common/expect_error.hpp"
#include "synthetic.hpp"

namespace mapd::probes {
namespace {

using testing::error_of;
using testing::make_image_set;
using testing::temp_dir;
using testing::write_text;

/// A dataset of `n` examples in `classes` classes plus a score file whose easiness is planted:
/// score = (i * 7919) % n (a fixed scramble), so the expected typical/atypical sets are known.
struct Fixture {
  data::Dataset dataset;
  config::RunConfig config;
  std::filesystem::path dir;
  std::vector<double> easiness;
};

Fixture make_fixture(const std::string& name, int64_t n = 600, int64_t classes = 4) {
  Fixture f;
  f.dir = temp_dir(name);
  f.dataset.name = "synthetic";
  f.dataset.train = make_image_set(n, classes);
  f.easiness.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) f.easiness[static_cast<size_t>(i)] = static_cast<double>((i * 7919) % n);
  write_score_csv(f.dir / "scores.csv", f.dataset.train.examples.id, f.easiness);
  f.config.probes.difficulty = "file";
  f.config.probes.score_file = (f.dir / "scores.csv").string();
  f.config.probes.fit_per_category = 10;
  f.config.probes.val_per_category = 6;
  f.config.probes.max_fraction = 0.5;
  f.config.probes.suite = "default";
  return f;
}

int64_t count_of(const ProbeSuite& s, const std::string& category, record::Role role) {
  const auto c =
      std::find(s.category_names.begin(), s.category_names.end(), category) - s.category_names.begin();
  int64_t k = 0;
  for (int64_t p = 0; p < s.size(); ++p) {
    k += s.category[static_cast<size_t>(p)] == c &&
         s.role[static_cast<size_t>(p)] == static_cast<int8_t>(role);
  }
  return k;
}

std::vector<int64_t> sources_of(const ProbeSuite& s, const std::string& category) {
  const auto c =
      std::find(s.category_names.begin(), s.category_names.end(), category) - s.category_names.begin();
  std::vector<int64_t> out;
  for (int64_t p = 0; p < s.size(); ++p) {
    if (s.category[static_cast<size_t>(p)] == c) out.push_back(s.source_index[static_cast<size_t>(p)]);
  }
  return out;
}

TEST(ProbeSuite, DefaultSuiteHasSixCategoriesWithFitAndValSizes) {
  auto f = make_fixture("sizes");
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  ASSERT_EQ(suite.category_names, builtin_categories());
  EXPECT_EQ(suite.size(), 6 * 16);
  for (const auto& name : suite.category_names) {
    EXPECT_EQ(count_of(suite, name, record::Role::kProbeFit), 10) << name;
    EXPECT_EQ(count_of(suite, name, record::Role::kProbeVal), 6) << name;
  }
  EXPECT_EQ(suite.images.sizes(), (std::vector<int64_t>{96, 1, 8, 8}));
  EXPECT_GE(suite.images.min().item<float>(), 0.0F);
  EXPECT_LE(suite.images.max().item<float>(), 1.0F);
  // random_input and (glyph) ood probes are synthetic; the four others come from the dataset.
  for (auto s : sources_of(suite, "random_input")) EXPECT_EQ(s, -1);
  for (auto s : sources_of(suite, "ood")) EXPECT_EQ(s, -1);
  EXPECT_EQ(suite.removed.size(), 4U * 16U);
  f.config.probes.ood_source = "sketch";  // the paper's ood transforms training images
  EXPECT_EQ(build_probe_suite(f.config, f.dataset, f.dir).removed.size(), 5U * 16U);
}

TEST(ProbeSuite, SourcesDoNotOverlapAndAreRemoved) {
  auto f = make_fixture("overlap");
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  std::set<int64_t> seen;
  for (int64_t p = 0; p < suite.size(); ++p) {
    const auto s = suite.source_index[static_cast<size_t>(p)];
    if (s < 0) continue;
    EXPECT_TRUE(seen.insert(s).second) << "source " << s << " used twice";
    EXPECT_EQ(suite.source_id[static_cast<size_t>(p)], f.dataset.train.examples.id[static_cast<size_t>(s)]);
  }
  EXPECT_EQ(std::vector<int64_t>(seen.begin(), seen.end()), suite.removed);

  const auto trained = compose_trained_set(f.dataset.train, suite, false);
  const auto n = f.dataset.train.size();
  EXPECT_EQ(trained.train_set.num_base(), n - static_cast<int64_t>(suite.removed.size()));
  EXPECT_EQ(trained.train_set.size(), trained.train_set.num_base() + suite.size());
  EXPECT_EQ(trained.examples.size(), trained.train_set.size());
  for (auto r : trained.train_set.base_rows)
    EXPECT_FALSE(std::binary_search(suite.removed.begin(), suite.removed.end(), r));
  const auto base = static_cast<size_t>(trained.train_set.num_base());
  EXPECT_EQ(trained.examples.role[0], static_cast<int8_t>(record::Role::kTrain));
  EXPECT_EQ(trained.examples.probe_category[0], -1);
  EXPECT_EQ(trained.examples.role[base], suite.role[0]);
  EXPECT_EQ(trained.examples.label[base + 5], suite.labels[5]);
  EXPECT_EQ(trained.train_set.labels[base + 5], suite.labels[5]);
  EXPECT_EQ(trained.examples.source_index[base + 5], suite.source_index[5]);
  EXPECT_TRUE(trained.train_set.fixed_images.equal(suite.images));
  EXPECT_FALSE(trained.train_set.augment_fixed);
  EXPECT_TRUE(compose_trained_set(f.dataset.train, suite, true).train_set.augment_fixed);
}

TEST(ProbeSuite, DeterministicBySeed) {
  auto f = make_fixture("seed");
  const auto a = build_probe_suite(f.config, f.dataset, f.dir);
  const auto b = build_probe_suite(f.config, f.dataset, f.dir);
  EXPECT_TRUE(a.images.equal(b.images));
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.source_index, b.source_index);
  EXPECT_EQ(a.role, b.role);
  f.config.probes.seed = 1;
  const auto c = build_probe_suite(f.config, f.dataset, f.dir);
  EXPECT_NE(a.source_index, c.source_index);
  EXPECT_FALSE(a.images.equal(c.images));
}

TEST(ProbeSuite, TransformsAreAppliedPerCategory) {
  auto f = make_fixture("transforms");
  f.config.probes.ood_source = "sketch";
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  const auto& train = f.dataset.train;
  for (int64_t p = 0; p < suite.size(); ++p) {
    const auto k = static_cast<size_t>(p);
    const auto& name = suite.category_names[static_cast<size_t>(suite.category[k])];
    const auto s = suite.source_index[k];
    if (name == "mislabeled") {
      EXPECT_NE(suite.labels[k], suite.original_labels[k]);
      EXPECT_EQ(suite.original_labels[k], train.examples.label[static_cast<size_t>(s)]);
    } else if (name != "random_input") {
      EXPECT_EQ(suite.labels[k], train.examples.label[static_cast<size_t>(s)]) << name;
    }
    if (s < 0) continue;
    auto source =
        torch::from_blob(const_cast<uint8_t*>(train.pixels.data()) + s * 64, {1, 8, 8}, torch::kUInt8)
            .to(torch::kFloat32)
            .div(255.0);
    const bool same = suite.images[p].allclose(source, 1e-6, 1e-6);
    if (name == "typical" || name == "atypical" || name == "mislabeled") {
      EXPECT_TRUE(same) << name;
    } else {
      EXPECT_FALSE(same) << name;  // corrupted and ood change the pixels
    }
  }
}

TEST(ProbeSuite, TypicalAndAtypicalArePerClassByDefaultAndGlobalOnRequest) {
  auto f = make_fixture("per_class");
  f.config.probes.typical_pool = 0.0;  // the paper's extreme ends (the default draws from the easy half)
  f.config.probes.suite = (f.dir / "ta.yaml").string();
  write_text(f.dir / "ta.yaml", "categories: [typical, atypical]\n");
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  const auto& labels = f.dataset.train.examples.label;
  std::vector<int64_t> per_class(4, 0);
  for (auto s : sources_of(suite, "typical"))
    ++per_class[static_cast<size_t>(labels[static_cast<size_t>(s)])];
  EXPECT_EQ(per_class, (std::vector<int64_t>{4, 4, 4, 4}));
  // Per class the typical sources are that class's 4 easiest examples.
  for (int64_t c = 0; c < 4; ++c) {
    std::vector<int64_t> members;
    for (int64_t i = c; i < 600; i += 4) members.push_back(i);
    std::sort(members.begin(), members.end(),
              [&](int64_t a, int64_t b) { return f.easiness[a] > f.easiness[b]; });
    auto typical = sources_of(suite, "typical");
    for (int64_t k = 0; k < 4; ++k) {
      EXPECT_NE(std::find(typical.begin(), typical.end(), members[static_cast<size_t>(k)]), typical.end());
    }
  }
  f.config.probes.selection = "global";
  const auto global = build_probe_suite(f.config, f.dataset, f.dir);
  std::vector<int64_t> order(600);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return f.easiness[a] > f.easiness[b]; });
  auto typical = sources_of(global, "typical");
  auto atypical = sources_of(global, "atypical");
  std::sort(typical.begin(), typical.end());
  std::sort(atypical.begin(), atypical.end());
  std::vector<int64_t> top(order.begin(), order.begin() + 16);
  std::vector<int64_t> bottom(order.end() - 16, order.end());
  std::sort(top.begin(), top.end());
  std::sort(bottom.begin(), bottom.end());
  EXPECT_EQ(typical, top);
  EXPECT_EQ(atypical, bottom);
  // score_typical_end=low flips the ends.
  f.config.probes.score_typical_end = "low";
  auto flipped = sources_of(build_probe_suite(f.config, f.dataset, f.dir), "typical");
  std::sort(flipped.begin(), flipped.end());
  EXPECT_EQ(flipped, bottom);
}

TEST(ProbeSuite, TypicalPoolDrawsTypicalProbesFromTheEasiestShareOfEachClass) {
  auto f = make_fixture("typical_pool");
  f.config.probes.suite = (f.dir / "t.yaml").string();
  write_text(f.dir / "t.yaml", "categories: [typical]\n");
  f.config.probes.typical_pool = 0.5;
  const auto typical = sources_of(build_probe_suite(f.config, f.dataset, f.dir), "typical");
  const auto& labels = f.dataset.train.examples.label;
  std::vector<int64_t> per_class(4, 0);
  int64_t beyond_the_extreme = 0;
  for (int64_t c = 0; c < 4; ++c) {
    std::vector<int64_t> members;
    for (int64_t i = c; i < 600; i += 4) members.push_back(i);
    std::sort(members.begin(), members.end(),
              [&](int64_t a, int64_t b) { return f.easiness[a] > f.easiness[b]; });
    for (auto s : typical) {
      if (labels[static_cast<size_t>(s)] != c) continue;
      ++per_class[static_cast<size_t>(c)];
      const auto rank = std::find(members.begin(), members.end(), s) - members.begin();
      EXPECT_LT(rank, static_cast<std::ptrdiff_t>(members.size() / 2)) << "source " << s << " of class " << c;
      if (rank >= 4) ++beyond_the_extreme;
    }
  }
  EXPECT_EQ(per_class, (std::vector<int64_t>{4, 4, 4, 4}));
  EXPECT_GT(beyond_the_extreme, 0) << "a draw from the easy half, not only its 4 easiest";
  // Seeded: the same config draws the same probes; another seed draws others.
  EXPECT_EQ(sources_of(build_probe_suite(f.config, f.dataset, f.dir), "typical"), typical);
  f.config.probes.seed = 7;
  EXPECT_NE(sources_of(build_probe_suite(f.config, f.dataset, f.dir), "typical"), typical);
}

TEST(ProbeSuite, AtypicalProbesSkipExamplesBelowTheFloor) {
  // Scores in [0, 1] (a probability of the label, like C-scores): with 4 classes chance is 0.25,
  // and atypical_floor = 2 puts the floor at 0.5. Atypical probes are the hardest examples at or
  // above it; atypical_floor = 0 takes the hardest whatever their score (the paper). Scores
  // outside [0, 1] never get a floor.
  auto f = make_fixture("atypical_floor");
  for (auto& e : f.easiness) e /= 600.0;
  write_score_csv(f.dir / "scores.csv", f.dataset.train.examples.id, f.easiness);
  f.config.probes.suite = (f.dir / "t.yaml").string();
  write_text(f.dir / "t.yaml", "categories: [atypical]\n");
  f.config.probes.atypical_floor = 2.0;
  const auto& labels = f.dataset.train.examples.label;
  const double floor = 0.5;
  auto check = [&](const std::vector<int64_t>& atypical, bool above) {
    ASSERT_EQ(atypical.size(), 16U);
    for (auto s : atypical) {
      const double e = f.easiness[static_cast<size_t>(s)];
      EXPECT_EQ(e >= floor, above) << "source " << s << " easiness " << e;
      // Every example of its class between the floor (or 0) and it is atypical too: the hardest.
      for (int64_t i = labels[static_cast<size_t>(s)]; i < 600; i += 4) {
        const double ei = f.easiness[static_cast<size_t>(i)];
        if (ei < e && (!above || ei >= floor)) {
          EXPECT_NE(std::find(atypical.begin(), atypical.end(), i), atypical.end())
              << "example " << i << " (" << ei << ") is harder than atypical " << s << " (" << e << ")";
        }
      }
    }
  };
  check(sources_of(build_probe_suite(f.config, f.dataset, f.dir), "atypical"), true);
  f.config.probes.atypical_floor = 0.0;
  const auto paper = sources_of(build_probe_suite(f.config, f.dataset, f.dir), "atypical");
  check(paper, false);
  // A floor above every score leaves nothing above it: the hardest below it are taken (with a warning).
  f.config.probes.atypical_floor = 4.0;
  EXPECT_EQ(sources_of(build_probe_suite(f.config, f.dataset, f.dir), "atypical"), paper);
  f.config.probes.atypical_floor = 2.0;
  f.config.probes.score_typical_end = "low";  // a loss-like score: no probability, no floor
  for (auto s : sources_of(build_probe_suite(f.config, f.dataset, f.dir), "atypical")) {
    EXPECT_GT(f.easiness[static_cast<size_t>(s)], 0.9) << "the highest scores are the hardest now";
  }
}

TEST(ProbeSuite, EasySourcePoolDrawsFromTheEasyHalfOfEachClass) {
  auto f = make_fixture("easy_pool");
  f.config.probes.source_pool = "easy";
  f.config.probes.ood_source = "sketch";  // glyph ood probes have no source
  f.config.probes.suite = (f.dir / "t.yaml").string();
  write_text(f.dir / "t.yaml", "categories: [corrupted, mislabeled, ood]\n");
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  // Median easiness of each class is about n/2: every source must be above its class median.
  const auto& labels = f.dataset.train.examples.label;
  for (const char* name : {"corrupted", "mislabeled", "ood"}) {
    for (auto s : sources_of(suite, name)) {
      std::vector<double> cls;
      for (int64_t i = labels[static_cast<size_t>(s)]; i < 600; i += 4)
        cls.push_back(f.easiness[static_cast<size_t>(i)]);
      std::sort(cls.begin(), cls.end());
      EXPECT_GE(f.easiness[static_cast<size_t>(s)], cls[cls.size() / 2 - 1]) << name << " source " << s;
    }
  }
}

TEST(ProbeSuite, ScaledDownOnSmallDatasetsAndRefusedWhenTooSmall) {
  auto f = make_fixture("small", 200, 4);
  f.config.probes.fit_per_category = 250;
  f.config.probes.val_per_category = 250;
  f.config.probes.max_fraction = 0.5;  // 100 examples for 4 drawn categories (ood is rendered) -> 12 + 12
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  EXPECT_EQ(count_of(suite, "typical", record::Role::kProbeFit), 12);
  EXPECT_EQ(count_of(suite, "ood", record::Role::kProbeVal), 12);
  EXPECT_LE(suite.removed.size(), 100U);
  f.config.probes.max_fraction = 0.01;
  const auto msg = error_of([&] { build_probe_suite(f.config, f.dataset, f.dir); });
  EXPECT_NE(msg.find("too few training examples"), std::string::npos) << msg;
  EXPECT_NE(msg.find("of the 200 available allows 2"), std::string::npos) << msg;
  EXPECT_THROW(build_probe_suite(f.config, f.dataset, f.dir), ConfigError);
}

TEST(ProbeSuite, UnknownCategoryInASuiteFileSuggestsTheNearestOne) {
  auto f = make_fixture("unknown");
  write_text(f.dir / "bad.yaml", "categories: [typical, mislabelled]\n");
  f.config.probes.suite = (f.dir / "bad.yaml").string();
  const auto msg = error_of([&] { build_probe_suite(f.config, f.dataset, f.dir); });
  EXPECT_NE(msg.find("unknown probe category 'mislabelled'; did you mean 'mislabeled'?"), std::string::npos)
      << msg;
  EXPECT_THROW(build_probe_suite(f.config, f.dataset, f.dir), ConfigError);
}

TEST(ProbeSuite, UserProbesAddCategoriesAndKeepTheirLabels) {
  auto f = make_fixture("user");
  write_text(f.dir / "user.csv",
             "id,category\n1000,duplicate\n1001,duplicate\n1002,watermark\n1003,watermark\n"
             "1004,watermark\n1005,mislabeled\n");
  f.config.probes.user_probes = (f.dir / "user.csv").string();
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  ASSERT_EQ(suite.category_names.size(), 8U);
  EXPECT_EQ(suite.category_names[6], "duplicate");
  EXPECT_EQ(suite.category_names[7], "watermark");
  EXPECT_EQ(count_of(suite, "duplicate", record::Role::kProbeFit), 1);
  EXPECT_EQ(count_of(suite, "duplicate", record::Role::kProbeVal), 1);
  EXPECT_EQ(count_of(suite, "watermark", record::Role::kProbeFit) +
                count_of(suite, "watermark", record::Role::kProbeVal),
            3);
  // A user-labelled example of a built-in category joins it, unchanged.
  EXPECT_EQ(count_of(suite, "mislabeled", record::Role::kProbeFit) +
                count_of(suite, "mislabeled", record::Role::kProbeVal),
            17);
  for (int64_t i = 0; i < 6; ++i)
    EXPECT_TRUE(std::binary_search(suite.removed.begin(), suite.removed.end(), i));
  for (int64_t p = 0; p < suite.size(); ++p) {
    if (suite.source_index[static_cast<size_t>(p)] == 5) {
      EXPECT_EQ(suite.labels[static_cast<size_t>(p)], 1);
    }
  }
}

// Issue 13 item 10: text ids (a manifest's) name user probes and scores, and reach the trained
// set's columns (dynamics.h5 /examples/name); an integer id matches however it is written.
TEST(ProbeSuite, TextIdsNameUserProbesScoresAndTheTrainedColumns) {
  auto f = make_fixture("text_ids");
  auto& ex = f.dataset.train.examples;
  for (int64_t i = 0; i < f.dataset.train.size(); ++i) ex.name.push_back(fmt::format("img-{:04d}", i));
  write_score_csv(f.dir / "scores.csv", ex.id, f.easiness, ex.name);
  write_text(f.dir / "user.csv",
             "id,category\nimg-0000,duplicate\nimg-0001,duplicate\n\"img-0002\",watermark\n");
  f.config.probes.user_probes = (f.dir / "user.csv").string();
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  EXPECT_EQ(count_of(suite, "duplicate", record::Role::kProbeFit) +
                count_of(suite, "duplicate", record::Role::kProbeVal),
            2);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_TRUE(std::binary_search(suite.removed.begin(), suite.removed.end(), i));
  const auto trained = compose_trained_set(f.dataset.train, suite, false);
  const auto& columns = trained.examples;
  ASSERT_EQ(columns.name.size(), columns.id.size());
  int64_t synthetic = 0;
  for (int64_t r = 0; r < columns.size(); ++r) {
    const int64_t source = columns.source_index[static_cast<size_t>(r)];
    if (source < 0) {
      EXPECT_EQ(columns.name[static_cast<size_t>(r)], "");
      EXPECT_EQ(columns.id_text(r), "-1");
      ++synthetic;
    } else {
      EXPECT_EQ(columns.id_text(r), ex.name[static_cast<size_t>(source)]);
    }
  }
  EXPECT_GT(synthetic, 0);  // random_input probes have no source

  // Integer ids: "01001" is 1001; one example listed twice (as 1000 and 01000) is refused.
  auto g = make_fixture("integer_ids");
  write_text(g.dir / "user.csv", "id,category\n01001,duplicate\n1002,duplicate\n");
  g.config.probes.user_probes = (g.dir / "user.csv").string();
  const auto integer = build_probe_suite(g.config, g.dataset, g.dir);
  EXPECT_TRUE(std::binary_search(integer.removed.begin(), integer.removed.end(), 1));
  write_text(g.dir / "user.csv", "id,category\n1000,duplicate\n01000,watermark\n");
  MAPD_EXPECT_THROW_WITH(build_probe_suite(g.config, g.dataset, g.dir), DataError,
                         "example id 1000 is listed more than once (as '01000' too");
}

TEST(ProbeSuite, UserProbeIdsMissingFromTheDatasetAreListed) {
  auto f = make_fixture("user_missing");
  write_text(f.dir / "user.csv", "id,category\n1000,dup\n5,dup\n6,dup\n7,dup\n8,dup\n9,dup\n10,dup\n");
  f.config.probes.user_probes = (f.dir / "user.csv").string();
  const auto msg = error_of([&] { build_probe_suite(f.config, f.dataset, f.dir); });
  EXPECT_NE(msg.find("6 of 7 example ids are not in the training split"), std::string::npos) << msg;
  EXPECT_NE(msg.find("first: 5, 6, 7, 8, 9, ..."), std::string::npos) << msg;
  EXPECT_THROW(build_probe_suite(f.config, f.dataset, f.dir), DataError);
}

TEST(ProbeSuite, ScoreFileMustAlignWithTheDataset) {
  auto f = make_fixture("align");
  write_score_csv(f.dir / "short.csv", {1000, 1001}, {0.5, 0.5});
  f.config.probes.score_file = (f.dir / "short.csv").string();
  const auto msg = error_of([&] { build_probe_suite(f.config, f.dataset, f.dir); });
  EXPECT_NE(msg.find("598 of the 600 training examples have no score"), std::string::npos) << msg;
  EXPECT_THROW(build_probe_suite(f.config, f.dataset, f.dir), DataError);
}

/// Writes an IDX pair (images + labels) of `n` square images of size `s`.
void write_idx(const std::filesystem::path& dir, const std::string& prefix, int64_t n, int64_t s) {
  auto be32 = [](std::ofstream& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.put(static_cast<char>((v >> shift) & 0xff));
  };
  std::ofstream images(dir / (prefix + "-images-idx3-ubyte"), std::ios::binary);
  be32(images, 0x803);
  be32(images, static_cast<uint32_t>(n));
  be32(images, static_cast<uint32_t>(s));
  be32(images, static_cast<uint32_t>(s));
  for (int64_t i = 0; i < n * s * s; ++i) images.put(static_cast<char>((i * 37) % 256));
  std::ofstream labels(dir / (prefix + "-labels-idx1-ubyte"), std::ios::binary);
  be32(labels, 0x801);
  be32(labels, static_cast<uint32_t>(n));
  for (int64_t i = 0; i < n; ++i) labels.put(static_cast<char>(i % 3));
}

TEST(ProbeSuite, OodFromAnotherDatasetIsResizedToTheTrainingShape) {
  auto f = make_fixture("ood_dataset");
  const auto other = f.dir / "other";
  std::filesystem::create_directories(other);
  write_idx(other, "train", 40, 16);
  write_idx(other, "t10k", 5, 16);
  f.config.probes.ood_source = "dataset";
  f.config.probes.ood_format = "idx";
  f.config.probes.ood_path = other.string();
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  EXPECT_EQ(suite.images.sizes(), (std::vector<int64_t>{96, 1, 8, 8}));
  for (auto s : sources_of(suite, "ood")) EXPECT_EQ(s, -1);
  EXPECT_EQ(suite.removed.size(), 4U * 16U);  // ood no longer draws from the training split
  f.config.probes.fit_per_category = 40;
  const auto msg = error_of([&] { build_probe_suite(f.config, f.dataset, f.dir); });
  EXPECT_NE(msg.find("has 40 images but the ood category needs 46"), std::string::npos) << msg;
}

TEST(ProbeSuite, OodGlyphsNeedNoSourceImages) {
  auto f = make_fixture("ood_glyphs");  // the default ood source
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  EXPECT_EQ(suite.images.sizes(), (std::vector<int64_t>{96, 1, 8, 8}));
  for (auto s : sources_of(suite, "ood")) EXPECT_EQ(s, -1);
  EXPECT_EQ(suite.removed.size(), 4U * 16U);  // ood no longer draws from the training split
  const auto again = build_probe_suite(f.config, f.dataset, f.dir);
  EXPECT_TRUE(torch::equal(suite.images, again.images));
}

TEST(ProbeSuite, NoneSuiteAndPreviewGrids) {
  auto f = make_fixture("preview");
  const auto suite = build_probe_suite(f.config, f.dataset, f.dir);
  const auto written = write_probe_grids(suite, f.dataset.train.class_names, f.dir / "grids");
  ASSERT_EQ(written.size(), 6U);
  for (const auto& p : written) EXPECT_GT(std::filesystem::file_size(p), 100U) << p;
  EXPECT_NE(describe_suite(suite).find("mislabeled"), std::string::npos);
  f.config.probes.suite = "none";
  const auto empty = build_probe_suite(f.config, f.dataset, f.dir);
  EXPECT_EQ(empty.size(), 0);
  EXPECT_TRUE(empty.removed.empty());
  EXPECT_EQ(compose_trained_set(f.dataset.train, empty, false).train_set.size(), 600);
}

}  // namespace
}  // namespace mapd::probes
