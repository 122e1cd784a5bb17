#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mapd/cli/assign_command.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/run_layout.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/record/assignment_store.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/report/report.hpp"

#include "../common/expect_error.hpp"
#include "synthetic_run.hpp"

namespace mapd::knn {
namespace {

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

  const auto lines = read_lines(RunLayout(dir_).assignments_csv());
  ASSERT_EQ(lines.size(), 1U + 2000U + 180U);
  EXPECT_EQ(lines[0],
            "id,label,assigned,max_prob,p_typical,p_mislabeled,p_atypical,score_typical,score_mislabeled,"
            "score_atypical,label_issue");

  record::AssignmentMeta meta;
  const auto cols = record::AssignmentStore::read(RunLayout(dir_).assignments_h5(), &meta);
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

  const auto st = nlohmann::json::parse(std::ifstream(RunLayout(dir_).selftest()));
  EXPECT_EQ(st["total"], 180);
  EXPECT_GT(st["accuracy"].get<double>(), 0.9);
  const auto det = nlohmann::json::parse(std::ifstream(RunLayout(dir_).detection()));
  EXPECT_GT(det["flipped"].get<int64_t>(), 200);
  for (const char* name : {"p_mislabeled", "score_mislabeled", "label_issue", "mean_loss", "last_loss",
                           "forgetting", "cartography_confidence", "cartography_correctness"}) {
    EXPECT_TRUE(det["rankings"].contains(name)) << name;
  }
  // The synthetic file records no margin or el2n: no AUM or EL2N ranking.
  EXPECT_FALSE(det["rankings"].contains("aum"));
  EXPECT_FALSE(det["rankings"].contains("el2n"));
  // Flipped labels stay misclassified longest: Cartography's confidence finds them too.
  EXPECT_GT(det["rankings"]["cartography_confidence"]["auroc"].get<double>(), 0.9);
  EXPECT_GT(det["rankings"]["label_issue"]["auroc"].get<double>(), 0.95);
  EXPECT_TRUE(det["argmax_mislabeled"].contains("precision"));
}

// A run that records margins: label_issue ranks -AUM, not the mean loss. Here the margin grows
// with the loss (the opposite of a real run), so the two rankings disagree completely.
TEST_F(AssignRun, LabelIssueRanksMinusAumWhenTheRunRecordsMargins) {
  const auto s = make_run(500, 30, 10, 12, 0.2, 2);
  {
    write_run(dir_, s, -1, [](float loss) { return loss; });
  }
  cli::CommonOptions options;
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  const auto det = nlohmann::json::parse(std::ifstream(RunLayout(dir_).detection()));
  const auto& r = det["rankings"];
  EXPECT_NE(r["label_issue"]["description"].get<std::string>().find(
                "percentile of the AUM (minus the mean margin)"),
            std::string::npos)
      << r.dump(2);
  EXPECT_GT(r["mean_loss"]["auroc"].get<double>(), 0.95);
  EXPECT_LT(r["label_issue"]["auroc"].get<double>(), 0.05);
  EXPECT_NEAR(r["label_issue"]["auroc"].get<double>(), r["aum"]["auroc"].get<double>(), 0.01);
  // The file without margins: the mean loss again.
  { write_run(dir_, s); }
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  const auto plain = nlohmann::json::parse(std::ifstream(RunLayout(dir_).detection()));
  EXPECT_GT(plain["rankings"]["label_issue"]["auroc"].get<double>(), 0.95);
  EXPECT_EQ(record::AssignmentStore::read_meta(RunLayout(dir_).assignments_h5()).label_issue_ranks,
            "0.99 * percentile of the mean loss over the epochs used + 0.01 * P(mislabeled)");
}

/// Mid-rank percentile of each of `v` among all of `v` (as PercentileRanking: share below plus half
/// the ties).
std::vector<double> midrank_percentiles(const std::vector<double>& v) {
  std::vector<double> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    double below = 0.0;
    double tied = 0.0;
    for (const double w : v) {
      below += w < v[i] ? 1.0 : 0.0;
      tied += w == v[i] ? 1.0 : 0.0;
    }
    out[i] = (below + 0.5 * tied) / static_cast<double>(v.size());
  }
  return out;
}

/// Writes the difficulty pilot's files as the pilot does: `csv` verbatim, and a
/// difficulty_scores.json whose key names `method` and `models` models.
void write_pilot(const fs::path& dir, const std::string& csv, const std::string& method, int64_t models,
                 int64_t epochs = 12) {
  const RunLayout run(dir);
  std::ofstream(run.difficulty_scores_csv()) << csv;
  nlohmann::json meta;
  meta["key"] = {{"method", method}, {"holdout_models", models}, {"holdout_epochs", epochs}};
  std::ofstream(run.difficulty_scores_json()) << meta.dump(2);
}

// A run with the holdout pilot's out-of-sample probabilities (difficulty_scores.csv, 3 pairs of
// halves, as many epochs as the run): label_issue ranks the mean of the percentiles of -AUM and of
// 1 - p(label) among the train rows. A pilot of one pair or of under half the run's epochs, an
// in-sample pilot, or scores of other examples leave it on AUM.
TEST_F(AssignRun, LabelIssueMixesAumWithTheHoldoutPilotsOutOfSampleProbability) {
  const auto s = make_run(400, 30, 10, 12, 0.2, 5);
  const auto& ex = s.examples;
  {
    write_run(
        dir_, s, -1, [](float loss) { return 2.0F - loss; }, R"({"train": {"epochs": 12}})");
  }
  // Out-of-sample probabilities that see most flipped labels but disagree with the margins often:
  // every seventh flipped label looks clean, every fifth clean one looks flipped.
  std::vector<int64_t> train;
  std::vector<double> minus_aum;
  std::vector<double> holdout;
  std::string csv = "id,score\n";
  for (int64_t c = 0; c < ex.size(); ++c) {
    if (ex.role[static_cast<size_t>(c)] != static_cast<int8_t>(Role::kTrain)) continue;
    const bool flipped = ex.label[static_cast<size_t>(c)] != ex.original_label[static_cast<size_t>(c)];
    const bool seems_flipped = flipped ? c % 7 != 0 : c % 5 == 0;
    const double p = (seems_flipped ? 0.1 : 0.7) + 0.0005 * static_cast<double>(c % 400);
    double sum = 0.0;
    for (const auto& epoch : s.epochs) sum += 2.0F - epoch[static_cast<size_t>(c)];
    train.push_back(c);
    minus_aum.push_back(static_cast<float>(-sum / static_cast<double>(s.epochs.size())));
    holdout.push_back(p);
    csv += fmt::format("{},{:.9g}\n", ex.id[static_cast<size_t>(c)], p);
  }
  write_pilot(dir_, csv, "holdout", 6);
  cli::CommonOptions options;
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  const auto det = nlohmann::json::parse(std::ifstream(RunLayout(dir_).detection()));
  const auto& r = det["rankings"];
  ASSERT_TRUE(r.contains("holdout")) << r.dump(2);
  EXPECT_NE(r["label_issue"]["description"].get<std::string>().find("holdout"), std::string::npos);

  // label_issue = 0.99 * percentile(mean of the two percentiles) + 0.01 * P(mislabeled).
  std::vector<double> one_minus_p(holdout.size());
  for (size_t i = 0; i < holdout.size(); ++i) one_minus_p[i] = 1.0 - static_cast<float>(holdout[i]);
  const auto in_pct = midrank_percentiles(minus_aum);
  const auto out_pct = midrank_percentiles(one_minus_p);
  std::vector<double> mixed(train.size());
  for (size_t i = 0; i < mixed.size(); ++i) {
    mixed[i] = static_cast<float>(0.5 * (static_cast<float>(in_pct[i]) + static_cast<float>(out_pct[i])));
  }
  const auto expected = midrank_percentiles(mixed);
  record::AssignmentMeta meta;
  const auto cols = record::AssignmentStore::read(RunLayout(dir_).assignments_h5(), &meta);
  // assignments.h5 says what label_issue ranks, the pilot's size included (the report shows it).
  EXPECT_NE(meta.label_issue_ranks.find("-AUM over the epochs used and of the holdout pilot's 1 - p(label)"),
            std::string::npos)
      << meta.label_issue_ranks;
  EXPECT_NE(meta.label_issue_ranks.find("the holdout pilot of 6 models x 12 epochs"), std::string::npos)
      << meta.label_issue_ranks;
  const auto categories = meta.category_names.size();
  size_t checked = 0;
  for (size_t q = 0; q < cols.row.size(); ++q) {
    const auto at = std::find(train.begin(), train.end(), cols.row[q]);
    if (at == train.end()) continue;
    const auto i = static_cast<size_t>(at - train.begin());
    const double want = 0.99 * expected[i] + 0.01 * cols.prob[q * categories + 1];
    ASSERT_NEAR(cols.label_issue[q], want, 1e-5) << "train row " << cols.row[q];
    ++checked;
  }
  EXPECT_EQ(checked, train.size());
  // The synthetic margins alone separate the flipped labels; the mix costs a little of it here.
  EXPECT_LT(r["label_issue"]["auroc"].get<double>(), r["aum"]["auroc"].get<double>());
  EXPECT_GT(r["label_issue"]["auroc"].get<double>(), r["holdout"]["auroc"].get<double>());

  // What leaves label_issue on AUM: one pair of halves, an in-sample pilot, scores of other ids.
  const auto on_aum = [&](const std::string& why) {
    std::ostringstream log;
    ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, log), 0) << why;
    const auto again = nlohmann::json::parse(std::ifstream(RunLayout(dir_).detection()));
    EXPECT_FALSE(again["rankings"].contains("holdout")) << why;
    const auto ranks = record::AssignmentStore::read_meta(RunLayout(dir_).assignments_h5()).label_issue_ranks;
    EXPECT_EQ(ranks,
              "0.99 * percentile of the AUM (minus the mean margin) over the epochs used + 0.01 * "
              "P(mislabeled)")
        << why;
    EXPECT_NEAR(again["rankings"]["label_issue"]["auroc"].get<double>(),
                again["rankings"]["aum"]["auroc"].get<double>(), 0.01)
        << why;
  };
  write_pilot(dir_, csv, "holdout", 2);
  on_aum("2 models");
  write_pilot(dir_, csv, "holdout", 6, 5);
  on_aum("5 of the run's 12 epochs");
  write_pilot(dir_, csv, "learning_speed", 6);
  on_aum("learning_speed");
  std::string shifted = csv;
  shifted.replace(shifted.find("\n0,"), 3, "\n9999,");
  write_pilot(dir_, shifted, "holdout", 6);
  on_aum("another example's id");
  write_pilot(dir_, csv.substr(0, csv.size() / 2), "holdout", 6);
  on_aum("cut short");
}

// knn.signals: the atypical probes here have the typical probes' loss trajectories, so the loss
// alone cannot tell them apart; their recorded EL2N differs, and loss+el2n (the default) can. A run
// that recorded no EL2N is assigned on the loss alone, and assignments.h5 says which was used.
TEST_F(AssignRun, KnnSignalsAddTheRecordedEl2nToTheLossTrajectory) {
  auto s = make_run(400, 40, 40, 12, 0.0, 7);
  const auto& ex = s.examples;
  std::vector<size_t> typical;
  for (size_t i = 0; i < static_cast<size_t>(ex.size()); ++i) {
    if (ex.role[i] != static_cast<int8_t>(Role::kTrain) && ex.probe_category[i] == 0) typical.push_back(i);
  }
  std::vector<float> el2n(static_cast<size_t>(ex.size()), 0.2F);
  for (size_t i = 0, next = 0; i < static_cast<size_t>(ex.size()); ++i) {
    if (ex.role[i] == static_cast<int8_t>(Role::kTrain) || ex.probe_category[i] != 2) continue;
    const size_t twin = typical[next++ % typical.size()];
    for (auto& epoch : s.epochs) epoch[i] = epoch[twin] + 0.001F;  // a typical trajectory
    el2n[i] = 1.1F;
  }
  const auto selftest = [&](const std::string& signals, std::string* used) {
    cli::CommonOptions options;
    options.overrides = {"knn.signals=" + signals};
    std::ostringstream out;
    EXPECT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
    record::AssignmentMeta meta;
    record::AssignmentStore::read(RunLayout(dir_).assignments_h5(), &meta);
    *used = nlohmann::json::parse(meta.config_json)["knn"]["signals"].get<std::string>();
    return nlohmann::json::parse(std::ifstream(RunLayout(dir_).selftest()))["accuracy"].get<double>();
  };
  {
    write_run_signals(dir_, s, {{"el2n", [&](size_t i, float) { return el2n[i]; }}});
  }
  std::string used;
  EXPECT_LT(selftest("loss", &used), 0.85);  // typical and atypical probes split at random
  EXPECT_EQ(used, "loss");
  EXPECT_GT(selftest("loss+el2n", &used), 0.95);
  EXPECT_EQ(used, "loss+el2n");
  // No margin recorded: loss+el2n+margin compares what there is.
  EXPECT_GT(selftest("loss+el2n+margin", &used), 0.95);
  EXPECT_EQ(used, "loss+el2n");
  { write_run(dir_, s); }
  EXPECT_LT(selftest("loss+el2n", &used), 0.85);
  EXPECT_EQ(used, "loss");
}

TEST_F(AssignRun, BlockSizeDoesNotChangeTheOutput) {
  const auto s = make_run(500, 30, 10, 12, 0.2, 2);
  { write_run(dir_, s); }
  cli::CommonOptions options;
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  const auto whole = read_lines(RunLayout(dir_).assignments_csv());
  options.overrides = {"knn.block_size=37"};
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  EXPECT_EQ(read_lines(RunLayout(dir_).assignments_csv()), whole);
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
  (void)record::AssignmentStore::read(RunLayout(dir_).assignments_h5(), &meta);
  EXPECT_EQ(meta.epoch_end, 4);
  EXPECT_FALSE(fs::exists(RunLayout(dir_).detection()));  // no injected noise
}

std::string joined_lines(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

/// 300 train rows over 10 epochs of which train row 4 and the first probe_fit row (300) were
/// unreadable from epoch 6 on: NaN to the end.
Synthetic run_with_rows_left_out(double noise) {
  auto s = make_run(300, 25, 5, 10, noise, 6);
  for (size_t t = 6; t < 10; ++t) {
    s.epochs[t][4] = std::nanf("");
    s.epochs[t][300] = std::nanf("");
  }
  return s;
}

TEST_F(AssignRun, SkipsRowsLeftOutDuringTrainingAndStillRejectsAnInfiniteLoss) {
  auto s = run_with_rows_left_out(0.0);
  { write_run(dir_, s); }
  cli::CommonOptions options;
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  record::AssignmentMeta meta;
  const auto cols = record::AssignmentStore::read(RunLayout(dir_).assignments_h5(), &meta);
  ASSERT_EQ(cols.id.size(), 300U - 1U + 15U);  // 299 train rows and the 15 val probes
  EXPECT_EQ(std::count(cols.id.begin(), cols.id.end(), 4), 0);
  EXPECT_EQ(read_lines(RunLayout(dir_).assignments_csv()).size(), 1U + 314U);
  // Epochs before the failure hold row 4 like any other.
  options.overrides = {"knn.epoch_end=6"};
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  EXPECT_EQ(record::AssignmentStore::read(RunLayout(dir_).assignments_h5(), &meta).id.size(), 315U);

  // +/-inf is no exclusion: the run diverged (or the file was crafted).
  s.epochs[9][7] = std::numeric_limits<float>::infinity();
  fs::remove_all(dir_);
  { write_run(dir_, s); }
  options.overrides = {};
  try {
    cli::assign_command(options, dir_.string(), 5, out);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("row 7 (id 7): non-finite loss inf at epoch 9"), std::string::npos)
        << e.what();
  }
}

// The sharded assignment leaves out the same rows: parts of any split, merged, are the whole
// assignment (tests/cli/assign_shard_test.cpp checks the rest through the binary).
// The run records margins, so every part ranks label_issue by the same -AUM sample as the whole.
TEST_F(AssignRun, PartsOfARunWithRowsLeftOutMergeIntoTheWholeAssignment) {
  const auto s = run_with_rows_left_out(0.2);
  {
    write_run(dir_, s, -1, [](float loss) { return 2.0F - loss; });
  }
  cli::CommonOptions options;
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out), 0);
  const RunLayout layout(dir_);
  const auto whole = read_lines(layout.assignments_csv());
  const auto whole_detection = read_lines(layout.detection());
  EXPECT_NE(joined_lines(whole_detection).find("percentile of the AUM"), std::string::npos);
  for (const int64_t count : {1, 2, 7}) {
    fs::remove(layout.assignments_csv());
    int64_t queries = 0;
    for (int64_t i = count - 1; i >= 0; --i) {
      cli::AssignTask task;
      task.shard = Shard{i, count};
      ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out, task), 0);
      queries += record::AssignmentStore::read(layout.assign_part(i, count), nullptr).id.size();
    }
    EXPECT_EQ(queries, 314);
    cli::AssignTask merge;
    merge.merge = count;
    ASSERT_EQ(cli::assign_command(options, dir_.string(), 5, out, merge), 0);
    EXPECT_EQ(read_lines(layout.assignments_csv()), whole) << count << " parts";
    EXPECT_EQ(read_lines(layout.detection()), whole_detection) << count << " parts";
  }
  EXPECT_THROW(assign_part(dir_, config::KnnConfig{}, Shard{2, 2}), ConfigError);
  EXPECT_EQ(cli::parse_shard("6/7").index, 6);
  EXPECT_THROW(cli::parse_shard("7/7"), ConfigError);
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

// format_version 1 files (no /examples/row) are read with rows 0..N-1: assignments and report as
// from the same run written in version 2.
TEST_F(AssignRun, AVersion1FileAssignsAndReportsAsBefore) {
  if (std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with h5py not available";
  }
  const auto s = make_run(300, 25, 10, 6, 0.1, 11);
  { write_run(dir_, s); }
  std::ostringstream out;
  ASSERT_EQ(cli::assign_command(cli::CommonOptions{}, dir_.string(), 5, out), 0);
  const auto version2 = read_lines(RunLayout(dir_).assignments_csv());
  const std::string cmd = "/usr/bin/python3 -c \"import h5py; f=h5py.File('" +
                          (dir_ / "dynamics.h5").string() +
                          "','r+'); del f['/examples/row']; f.attrs['format_version']=1; f.close()\"";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto store = record::DynamicsStore::open_read(dir_ / "dynamics.h5");
  EXPECT_EQ(store.meta().format_version, 1);
  ASSERT_EQ(store.examples().row.size(), s.examples.id.size());
  EXPECT_EQ(store.examples().row[17], 17);
  ASSERT_EQ(cli::assign_command(cli::CommonOptions{}, dir_.string(), 5, out), 0);
  EXPECT_EQ(read_lines(RunLayout(dir_).assignments_csv()), version2);
  const auto page = report::generate_report(dir_, config::ReportConfig{});
  EXPECT_TRUE(fs::exists(page.index_html)) << page.index_html;
  EXPECT_EQ(page.epochs, 6);
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
