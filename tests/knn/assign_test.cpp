#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mapd/cli/assign_command.hpp"
#include "mapd/core/error.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/record/assignment_store.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "../common/expect_error.hpp"

namespace mapd::knn {
namespace {

namespace fs = std::filesystem;
using record::Role;

/// Synthetic loss trajectories that mimic a noisy training run: typical examples are learnt fast,
/// atypical ones slowly, flipped labels stay high until memorised late.
struct Synthetic {
  record::ExampleColumns examples;
  std::vector<std::vector<float>> epochs;  ///< [epochs][N]
};

float trajectory(int kind, int64_t t, int64_t epochs, std::mt19937& gen) {
  std::uniform_real_distribution<float> u(0.0F, 1.0F);
  std::normal_distribution<float> noise(0.0F, 0.08F);
  const float x = static_cast<float>(t) / static_cast<float>(epochs);
  float v = 0.0F;
  switch (kind) {
    case 0:  // typical
      v = 2.3F * std::exp(-x * 12.0F);
      break;
    case 1:  // mislabeled: high, memorised near the end
      v = 3.2F / (1.0F + std::exp((x - 0.85F) * 12.0F));
      break;
    default:  // atypical: slow
      v = 2.3F * std::exp(-x * 3.5F);
      break;
  }
  return std::max(0.0F, v + noise(gen) + 0.1F * u(gen));
}

Synthetic make_run(int64_t train, int64_t per_category_fit, int64_t per_category_val, int64_t epochs,
                   double rate, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0F, 1.0F);
  Synthetic s;
  std::vector<int> kind;
  auto add = [&](int64_t id, int64_t label, int64_t original, Role role, int16_t category, int k) {
    s.examples.id.push_back(id);
    s.examples.label.push_back(label);
    s.examples.original_label.push_back(original);
    s.examples.role.push_back(static_cast<int8_t>(role));
    s.examples.probe_category.push_back(category);
    s.examples.source_index.push_back(id);
    kind.push_back(k);
  };
  for (int64_t i = 0; i < train; ++i) {
    const bool flip = u(gen) < rate;
    const int k = flip ? 1 : (u(gen) < 0.15F ? 2 : 0);
    add(i, flip ? (i + 1) % 10 : i % 10, i % 10, Role::kTrain, -1, k);
  }
  int64_t id = train;
  for (int16_t c = 0; c < 3; ++c) {
    for (int64_t i = 0; i < per_category_fit + per_category_val; ++i) {
      add(id, id % 10, id % 10, i < per_category_fit ? Role::kProbeFit : Role::kProbeVal, c, c);
      ++id;
    }
  }
  const auto n = s.examples.size();
  s.epochs.assign(static_cast<size_t>(epochs), std::vector<float>(static_cast<size_t>(n)));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < epochs; ++t) {
      s.epochs[static_cast<size_t>(t)][static_cast<size_t>(i)] =
          trajectory(kind[static_cast<size_t>(i)], t, epochs, gen);
    }
  }
  return s;
}

record::DynamicsMeta make_meta() {
  record::DynamicsMeta meta;
  meta.config_json = "{}";
  meta.dtype = "fp32";
  meta.category_names = {"typical", "mislabeled", "atypical"};
  for (int c = 0; c < 10; ++c) {
    meta.class_names.push_back("c" + std::to_string(c));
  }
  return meta;
}

record::DynamicsStore write_run(const fs::path& dir, const Synthetic& s, int64_t epochs_to_write = -1) {
  fs::create_directories(dir);
  auto store = record::DynamicsStore::create(dir / "dynamics.h5", make_meta(), s.examples);
  const auto n = static_cast<size_t>(s.examples.size());
  std::vector<int32_t> pred(n, 0);
  const auto epochs = epochs_to_write < 0 ? static_cast<int64_t>(s.epochs.size()) : epochs_to_write;
  for (int64_t t = 0; t < epochs; ++t) {
    store.append_epoch(s.epochs[static_cast<size_t>(t)].data(), pred.data(),
                       s.epochs[static_cast<size_t>(t)].data());
  }
  return store;
}

class AssignRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("mapd_knn_assign_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

TEST_F(AssignRun, WritesAssignmentsSelfTestAndDetection) {
  const auto s = make_run(2000, 60, 60, 30, 0.15, 1);
  { write_run(dir_, s); }
  cli::CommonOptions options;
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 20, out), 0);
  const std::string text = out.str();
  std::printf("%s", text.c_str());  // the detection numbers quoted in docs/detection.md
  EXPECT_NE(text.find("probe self-test: accuracy"), std::string::npos) << text;
  EXPECT_NE(text.find("label-noise detection"), std::string::npos) << text;

  const auto lines = read_lines(dir_ / kAssignmentsCsv);
  ASSERT_EQ(lines.size(), 1U + 2000U + 180U);
  EXPECT_EQ(lines[0],
            "id,label,assigned,max_prob,p_typical,p_mislabeled,p_atypical,score_typical,score_mislabeled,"
            "score_atypical,label_issue");

  record::AssignmentMeta meta;
  const auto cols = record::AssignmentStore::read(dir_ / kAssignmentsH5, &meta);
  ASSERT_EQ(cols.id.size(), 2180U);
  EXPECT_EQ(meta.k, 20);
  EXPECT_EQ(meta.epoch_end, 30);
  EXPECT_EQ(meta.category_names.size(), 3U);
  // Probabilities are vote shares in steps of 1/k and sum to one.
  for (size_t i = 0; i < cols.id.size(); ++i) {
    float sum = 0.0F;
    for (size_t c = 0; c < 3; ++c) {
      const float p = cols.prob[i * 3 + c];
      EXPECT_NEAR(p * 20.0F, std::round(p * 20.0F), 1e-4);
      sum += p;
    }
    EXPECT_NEAR(sum, 1.0F, 1e-5);
  }

  const auto st = nlohmann::json::parse(std::ifstream(dir_ / kSelfTestJson));
  EXPECT_EQ(st["total"], 180);
  EXPECT_GT(st["accuracy"].get<double>(), 0.9);
  const auto det = nlohmann::json::parse(std::ifstream(dir_ / kDetectionJson));
  EXPECT_GT(det["flipped"].get<int64_t>(), 200);
  for (const char* name : {"p_mislabeled", "score_mislabeled", "label_issue", "mean_loss", "last_loss"}) {
    EXPECT_TRUE(det["rankings"].contains(name)) << name;
  }
  EXPECT_GT(det["rankings"]["label_issue"]["auroc"].get<double>(), 0.95);
  EXPECT_TRUE(det["argmax_mislabeled"].contains("precision"));
}

TEST_F(AssignRun, BlockSizeDoesNotChangeTheOutput) {
  const auto s = make_run(500, 30, 10, 12, 0.2, 2);
  { write_run(dir_, s); }
  cli::CommonOptions options;
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  const auto whole = read_lines(dir_ / kAssignmentsCsv);
  options.overrides = {"knn.block_size=37"};
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  EXPECT_EQ(read_lines(dir_ / kAssignmentsCsv), whole);
}

TEST_F(AssignRun, BudgetBelowWhatTheProcessHoldsIsAConfigErrorWithTheNumbers) {
  const auto s = make_run(300, 25, 5, 10, 0.0, 5);
  { write_run(dir_, s); }
  cli::CommonOptions options;
  options.overrides = {"knn.memory_budget_mb=16"};  // less than this test process already holds
  std::ostringstream out;
  try {
    cli::assign_command(options, dir_.string(), 5, out);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("knn.memory_budget_mb = 16 is too small"), std::string::npos) << what;
    EXPECT_NE(what.find("the process already holds"), std::string::npos) << what;
    EXPECT_NE(what.find("N >= "), std::string::npos) << what;
  }
}

TEST_F(AssignRun, LiveRunUsesCommittedEpochsOnly) {
  const auto s = make_run(300, 25, 5, 10, 0.0, 3);
  auto writer = write_run(dir_, s, 4);  // the writer stays open, as in a running training
  cli::CommonOptions options;
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  record::AssignmentMeta meta;
  (void)record::AssignmentStore::read(dir_ / kAssignmentsH5, &meta);
  EXPECT_EQ(meta.epoch_end, 4);
  EXPECT_FALSE(fs::exists(dir_ / kDetectionJson));  // no injected noise
}

TEST_F(AssignRun, RejectsMoreEpochsThanCommitted) {
  const auto s = make_run(100, 25, 5, 6, 0.0, 4);
  { write_run(dir_, s); }
  cli::CommonOptions options;
  options.overrides = {"knn.epoch_end=9"};
  std::ostringstream out;
  try {
    cli::assign_command(options, dir_.string(), std::nullopt, out);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("knn.epoch_end = 9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("only 6 committed epochs"), std::string::npos) << e.what();
  }
}

TEST_F(AssignRun, RejectsKLargerThanTheFitSet) {
  const auto s = make_run(100, 4, 2, 6, 0.0, 5);
  { write_run(dir_, s); }
  std::ostringstream out;
  try {
    cli::assign_command(cli::CommonOptions{}, dir_.string(), 20, out);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("knn.k = 20"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("only 12 fit-half probes"), std::string::npos) << e.what();
  }
}

TEST_F(AssignRun, RejectsARunWithoutProbes) {
  auto s = make_run(100, 0, 0, 6, 0.0, 6);
  { write_run(dir_, s); }
  std::ostringstream out;
  try {
    cli::assign_command(cli::CommonOptions{}, dir_.string(), std::nullopt, out);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no fit-half probes (100 examples: 100 train"), std::string::npos)
        << e.what();
  }
}

TEST_F(AssignRun, RejectsAnUnknownFormatVersion) {
  if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with h5py not available";
  }
  const auto s = make_run(50, 25, 5, 3, 0.0, 7);
  { write_run(dir_, s); }
  const std::string cmd = "/usr/bin/python3 -c \"import h5py; f=h5py.File('" +
                          (dir_ / "dynamics.h5").string() +
                          "','r+'); f.attrs['format_version']=99; f.close()\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ostringstream out;
  try {
    cli::assign_command(cli::CommonOptions{}, dir_.string(), 5, out);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("format_version 99"), std::string::npos) << e.what();
  }
}

TEST_F(AssignRun, RejectsAMissingRunDirectory) {
  std::ostringstream out;
  MAPD_EXPECT_THROW_WITH(cli::assign_command(cli::CommonOptions{}, (dir_ / "nope").string(), 5, out), IoError,
                         (dir_ / "nope").string() + "' does not exist");
  MAPD_EXPECT_THROW_WITH(cli::assign_command(cli::CommonOptions{}, "", 5, out), ConfigError,
                         "mapd assign RUN_DIR");
}

}  // namespace
}  // namespace mapd::knn
