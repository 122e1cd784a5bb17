#include "mapd/report/report.hpp"

#include <unistd.h>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "synthetic_run.hpp"

namespace mapd::report {
namespace {

namespace stdfs = std::filesystem;
using testing::make_synthetic_run;
using testing::SyntheticRun;

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = stdfs::temp_directory_path() / ("mapd_report_test_" + std::to_string(::getpid()) + "_" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    stdfs::remove_all(dir_);
    stdfs::create_directories(dir_);
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  stdfs::path dir_;
};

// numpy.quantile(values, q) with the default linear method, written independently (full sort).
double numpy_quantile(std::vector<float> values, double q) {
  std::sort(values.begin(), values.end());
  const double rank = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  const auto hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (rank - static_cast<double>(lo)) * (static_cast<double>(values[hi]) - values[lo]);
}

TEST(QuantileLinear, MatchesNumpyDefault) {
  std::vector<float> v = {4.0F, 1.0F, 3.0F, 2.0F};
  EXPECT_DOUBLE_EQ(quantile_linear(v, 0.25), 1.75);  // numpy.quantile([1,2,3,4], .25)
  EXPECT_DOUBLE_EQ(quantile_linear(v, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile_linear(v, 0.75), 3.25);
  EXPECT_DOUBLE_EQ(quantile_linear(v, 1.0), 4.0);
  std::vector<float> one = {7.0F};
  EXPECT_DOUBLE_EQ(quantile_linear(one, 0.25), 7.0);
  std::vector<float> none;
  EXPECT_TRUE(std::isnan(quantile_linear(none, 0.5)));
}

TEST_F(ReportTest, TrajectoryStatsExactQuantilesAndLearnedFractions) {
  const auto run = make_synthetic_run(dir_, 4, 4);
  const auto store = record::DynamicsStore::open_read(dir_ / "dynamics.h5");
  // Group 0: training rows; group 1: typical probes; group 2: rows 0..9 (also in group 0).
  const std::vector<std::string> names = {"train", "typical", "first ten"};
  const auto groups_of = [&](int64_t row, std::vector<int32_t>& g) {
    if (row < SyntheticRun::kTrain) {
      g.push_back(0);
    } else if (run.examples.probe_category[static_cast<size_t>(row)] == 0) {
      g.push_back(1);
    }
    if (row < 10) {
      g.push_back(2);
    }
  };
  StatsOptions small_blocks;
  small_blocks.block_values = 12;  // 3 rows per block: block boundaries inside every group
  const auto stats = trajectory_stats(store, 4, names, groups_of, small_blocks);
  ASSERT_EQ(stats.size(), 3U);
  EXPECT_EQ(stats[0].count, 30);
  EXPECT_EQ(stats[1].count, 5);
  EXPECT_EQ(stats[2].count, 10);
  for (int64_t e = 0; e < 4; ++e) {
    std::vector<float> train(run.loss[static_cast<size_t>(e)].begin(),
                             run.loss[static_cast<size_t>(e)].begin() + SyntheticRun::kTrain);
    std::vector<float> typical(run.loss[static_cast<size_t>(e)].begin() + SyntheticRun::kTrain,
                               run.loss[static_cast<size_t>(e)].begin() + SyntheticRun::kTrain + 5);
    const auto ue = static_cast<size_t>(e);
    EXPECT_NEAR(stats[0].median[ue], numpy_quantile(train, 0.5), 1e-6);
    EXPECT_NEAR(stats[0].q25[ue], numpy_quantile(train, 0.25), 1e-6);
    EXPECT_NEAR(stats[0].q75[ue], numpy_quantile(train, 0.75), 1e-6);
    EXPECT_NEAR(stats[1].median[ue], numpy_quantile(typical, 0.5), 1e-6);
    double sum = 0;
    for (float v : train) {
      sum += v;
    }
    EXPECT_NEAR(stats[0].mean[ue], sum / 30.0, 1e-5);
  }
  // Row r is first correct at epoch r % 5 (never within 4 epochs when r % 5 == 4); rows 0, 7, 14,
  // 21, 28 are wrong again at epoch 2.
  const auto correct = [](int64_t r, int64_t e) { return e >= r % 5 && !(r % 7 == 0 && e == 2); };
  for (int64_t e = 0; e < 4; ++e) {
    int64_t first = 0;
    int64_t good = 0;
    for (int64_t r = 0; r < SyntheticRun::kTrain; ++r) {
      bool any = false;
      bool all = true;
      for (int64_t x = 0; x < 4; ++x) {
        any = any || (x <= e && correct(r, x));
        all = all && (x < e || correct(r, x));
      }
      first += any ? 1 : 0;
      good += all ? 1 : 0;
    }
    EXPECT_NEAR(stats[0].first_learned[static_cast<size_t>(e)], first / 30.0, 1e-12) << "epoch " << e;
    EXPECT_NEAR(stats[0].learned_for_good[static_cast<size_t>(e)], good / 30.0, 1e-12) << "epoch " << e;
  }
  // One block holding everything gives the same numbers.
  const auto one_block = trajectory_stats(store, 4, names, groups_of);
  EXPECT_EQ(one_block[2].median, stats[2].median);
  EXPECT_EQ(one_block[0].learned_for_good, stats[0].learned_for_good);
}

TEST_F(ReportTest, TrajectoryStatsHistogramModeIsClose) {
  make_synthetic_run(dir_, 4, 4);
  const auto store = record::DynamicsStore::open_read(dir_ / "dynamics.h5");
  const auto groups_of = [](int64_t row, std::vector<int32_t>& g) {
    if (row < SyntheticRun::kTrain) {
      g.push_back(0);
    }
  };
  const auto exact = trajectory_stats(store, 4, {"train"}, groups_of);
  StatsOptions bounded;
  bounded.exact_limit = 0;  // force the histogram path
  const auto approx = trajectory_stats(store, 4, {"train"}, groups_of, bounded);
  ASSERT_TRUE(exact[0].exact);
  ASSERT_FALSE(approx[0].exact);
  for (size_t e = 0; e < 4; ++e) {
    // 30 values spread over [0.025, 3]: the histogram quantile lies within the neighbouring order
    // statistics, and the bins are 0.1% wide.
    EXPECT_NEAR(approx[0].median[e], exact[0].median[e], 0.05 * exact[0].median[e]) << e;
    EXPECT_NEAR(approx[0].q25[e], exact[0].q25[e], 0.1 * exact[0].q25[e]) << e;
    EXPECT_NEAR(approx[0].mean[e], exact[0].mean[e], 1e-9) << e;
  }
}

TEST_F(ReportTest, TrajectoryStatsRejectsZeroEpochsAndBadGroups) {
  make_synthetic_run(dir_, 2, 4);
  const auto store = record::DynamicsStore::open_read(dir_ / "dynamics.h5");
  const auto none = [](int64_t, std::vector<int32_t>&) {};
  try {
    (void)trajectory_stats(store, 0, {"a"}, none);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no committed epoch"), std::string::npos) << e.what();
  }
  const auto bad = [](int64_t, std::vector<int32_t>& g) { g.push_back(3); };
  EXPECT_THROW((void)trajectory_stats(store, 2, {"a"}, bad), InternalError);
  EXPECT_THROW((void)trajectory_stats(store, 3, {"a"}, none), IoError);  // beyond the committed epochs
}

TEST(ImageEncoding, PngAndBase64) {
  EXPECT_EQ(base64({}), "");
  EXPECT_EQ(base64({'M'}), "TQ==");
  EXPECT_EQ(base64({'M', 'a'}), "TWE=");
  EXPECT_EQ(base64({'M', 'a', 'n'}), "TWFu");
  std::vector<uint8_t> rgb(3 * 4 * 2, 0);
  rgb[0] = 255;  // red top-left pixel
  const auto png = encode_png(rgb, 3, 4, 2, 8);
  const cv::Mat decoded = cv::imdecode(png, cv::IMREAD_COLOR);
  ASSERT_EQ(decoded.rows, 8);
  ASSERT_EQ(decoded.cols, 4);
  EXPECT_EQ(decoded.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 255));  // BGR
  EXPECT_EQ(decoded.at<cv::Vec3b>(7, 3), cv::Vec3b(0, 0, 0));
  try {
    (void)encode_png(std::vector<uint8_t>(2 * 4 * 4), 2, 4, 4, 8);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("2 channels"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)encode_png(std::vector<uint8_t>(5), 1, 4, 4, 8), DataError);
}

TEST_F(ReportTest, CollectsEverySectionFromTheRunDirectory) {
  const auto run = make_synthetic_run(dir_, 4, 4);
  config::ReportConfig options;
  options.top_n = 5;
  const auto page = collect_report_data(dir_, options);

  const auto& s = page["summary"];
  EXPECT_EQ(s["dataset"], "synthetic");
  EXPECT_EQ(s["epochs_committed"], 4);
  EXPECT_TRUE(s["complete"].get<bool>());
  EXPECT_NEAR(s["test_acc"].get<double>(), 0.75, 1e-12);  // last complete metrics line
  EXPECT_NEAR(s["wall_seconds"].get<double>(), 6.0, 1e-12);
  EXPECT_EQ(s["train_examples"], 30);
  EXPECT_EQ(s["probe_examples"], 10);
  EXPECT_EQ(s["injected_noise"], 3);
  EXPECT_EQ(s["pilot_below_chance"]["share"], 0.1);
  EXPECT_EQ(s["pilot_below_chance"]["method"], "learning_speed");
  EXPECT_EQ(page["metrics"].size(), 4U);  // the partial last line is skipped
  EXPECT_EQ(page["classes"], (nlohmann::json{"even", "odd"}));
  EXPECT_EQ(page["selftest"]["accuracy"], 0.75);
  EXPECT_EQ(page["detection"]["rankings"]["p_mislabeled"]["auroc"], 0.93);

  // Groups: 2 probe categories, train, noisy + clean, 2 assigned categories.
  const auto& groups = page["trajectories"]["groups"];
  ASSERT_EQ(groups.size(), 7U);
  EXPECT_EQ(groups[0]["name"], "probe: typical");
  EXPECT_EQ(groups[0]["count"], 5);
  EXPECT_EQ(groups[2]["name"], "train (all)");
  EXPECT_EQ(groups[3]["name"], "train: injected wrong label");
  EXPECT_EQ(groups[3]["count"], 3);
  EXPECT_EQ(groups[4]["count"], 27);
  EXPECT_EQ(groups[6]["name"], "assigned: mislabeled");
  // Train rows with P(mislabeled) > 0.5: rows 0..2 and 21..29.
  EXPECT_EQ(groups[6]["count"], 12);
  EXPECT_EQ(groups[1]["median"].size(), 4U);
  EXPECT_GT(groups[1]["median"][3].get<double>(), groups[0]["median"][3].get<double>());

  const auto& a = page["assignments"];
  EXPECT_TRUE(a["available"].get<bool>());
  EXPECT_EQ(a["train_assigned"], 30);
  EXPECT_EQ(a["overall"], (nlohmann::json{18, 12}));
  int64_t total = 0;
  for (const auto& r : a["per_class"]) {
    for (const auto& x : r) {
      total += x.get<int64_t>();
    }
  }
  EXPECT_EQ(total, 30);

  // Surfaced: top 5 of mislabeled are the three noisy rows (P = 1, score by row), then rows 29, 28.
  const auto& surfaced = page["surfaced"];
  ASSERT_EQ(surfaced.size(), 2U);
  EXPECT_EQ(surfaced[1]["category"], "mislabeled");
  const auto& top = surfaced[1]["examples"];
  ASSERT_EQ(top.size(), 5U);
  EXPECT_EQ(top[0]["row"], 2);
  EXPECT_EQ(top[1]["row"], 1);
  EXPECT_EQ(top[2]["row"], 0);
  EXPECT_EQ(top[3]["row"], 29);
  EXPECT_EQ(top[4]["row"], 28);
  EXPECT_EQ(top[0]["id"], 1002);
  EXPECT_EQ(top[0]["label_name"], "odd");  // row 2: original 0 (even), injected label 1
  EXPECT_EQ(top[0]["original_label"], 0);
  EXPECT_TRUE(top[0].contains("png"));
  EXPECT_EQ(top[0]["losses"].size(), 4U);
  EXPECT_NEAR(top[3]["losses"][0].get<double>(), run.loss[0][29], 1e-6);
  EXPECT_EQ(top[3]["pred"], run.pred[3][29]);
  for (const auto& t : surfaced[0]["examples"]) {
    EXPECT_LT(t["row"].get<int64_t>(), SyntheticRun::kTrain) << "surfaced examples are training rows";
  }
}

TEST_F(ReportTest, WritesSelfContainedPageAndGrids) {
  make_synthetic_run(dir_, 4, 4);
  config::ReportConfig options;
  options.top_n = 6;
  const auto result = generate_report(dir_, options);
  EXPECT_EQ(result.index_html, dir_ / "report" / "index.html");
  EXPECT_EQ(result.epochs, 4);
  ASSERT_EQ(result.grids.size(), 2U);
  for (const auto& grid : result.grids) {
    const cv::Mat image = cv::imread(grid.string());
    ASSERT_FALSE(image.empty()) << grid;
    EXPECT_GT(image.cols, 300);
  }
  EXPECT_TRUE(stdfs::exists(dir_ / "report" / "mislabeled.png"));
  const std::string html = fs::read_file(result.index_html);
  for (const char* id :
       {"summary", "selftest", "trajectories", "assignments", "surfaced", "learning", "detection"}) {
    EXPECT_NE(html.find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_EQ(html.find("@MAPD_DATA@"), std::string::npos);
  EXPECT_EQ(html.find("/*@MAPD_CHART_LIBRARY@*/"), std::string::npos);
  EXPECT_NE(html.find("Chart.js"), std::string::npos);  // the library is inlined
  EXPECT_EQ(html.find("pixels_b64"), std::string::npos);
  // Offline: nothing is loaded from a URL.
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

TEST_F(ReportTest, LiveRunShowsCommittedEpochsAndSaysWhatIsMissing) {
  make_synthetic_run(dir_, 2, 6, /*with_assignments=*/false);
  const auto page = collect_report_data(dir_, config::ReportConfig{});
  EXPECT_EQ(page["trajectories"]["epochs"], 2);
  EXPECT_FALSE(page["summary"]["complete"].get<bool>());
  EXPECT_FALSE(page["assignments"]["available"].get<bool>());
  EXPECT_TRUE(page["surfaced"].empty());
  std::string notes;
  for (const auto& n : page["notes"]) {
    notes += n.get<std::string>() + "\n";
  }
  EXPECT_NE(notes.find("2 of 6 epochs are committed"), std::string::npos) << notes;
  EXPECT_NE(notes.find("assignments.h5 is missing"), std::string::npos) << notes;
  EXPECT_NE(notes.find("selftest.json is missing"), std::string::npos) << notes;
  EXPECT_NE(notes.find("detection.json is missing"), std::string::npos) << notes;
  // The page is still written.
  const auto result = generate_report(dir_, config::ReportConfig{});
  EXPECT_TRUE(stdfs::exists(result.index_html));
  EXPECT_TRUE(result.grids.empty());
}

TEST_F(ReportTest, StaleAssignmentsAreNamed) {
  make_synthetic_run(dir_, 4, 6);
  {
    auto store = record::DynamicsStore::open_append(dir_ / "dynamics.h5", 4);
    std::vector<float> loss(SyntheticRun::kRows, 0.5F);
    std::vector<int32_t> pred(SyntheticRun::kRows, 0);
    std::vector<float> prob(SyntheticRun::kRows, 0.6F);
    store.append_epoch(loss.data(), pred.data(), prob.data());
  }
  const auto page = collect_report_data(dir_, config::ReportConfig{});
  EXPECT_EQ(page["trajectories"]["epochs"], 5);
  EXPECT_EQ(page["surfaced"][0]["examples"][0]["losses"].size(), 5U);
  std::string notes;
  for (const auto& n : page["notes"]) {
    notes += n.get<std::string>() + "\n";
  }
  EXPECT_NE(notes.find("assignments.h5 used epochs [0, 4) but 5 epochs are committed"), std::string::npos)
      << notes;
}

TEST_F(ReportTest, MissingAndBrokenInputsAreNoted) {
  make_synthetic_run(dir_, 4, 4);
  stdfs::remove(dir_ / "metrics.jsonl");
  std::ofstream(dir_ / "selftest.json") << "{not json";
  const auto page = collect_report_data(dir_, config::ReportConfig{});
  std::string notes;
  for (const auto& n : page["notes"]) {
    notes += n.get<std::string>() + "\n";
  }
  EXPECT_NE(notes.find("metrics.jsonl is missing"), std::string::npos) << notes;
  EXPECT_NE(notes.find("selftest.json could not be parsed"), std::string::npos) << notes;
  EXPECT_TRUE(page["selftest"].is_null());
  EXPECT_TRUE(std::isnan(page["summary"]["test_acc"].get<double>()));
}

TEST_F(ReportTest, MissingDynamicsIsAnIoErrorNamingTheFile) {
  try {
    (void)generate_report(dir_, config::ReportConfig{});
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no dynamics.h5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir_.string()), std::string::npos) << e.what();
  }
}

TEST_F(ReportTest, UnreloadableDatasetStillGivesGridsWithIds) {
  make_synthetic_run(dir_, 4, 4);
  stdfs::remove_all(dir_ / "data");
  const auto page = collect_report_data(dir_, config::ReportConfig{});
  ASSERT_EQ(page["surfaced"].size(), 2U);
  EXPECT_FALSE(page["surfaced"][0]["examples"][0].contains("png"));
  std::string notes;
  for (const auto& n : page["notes"]) {
    notes += n.get<std::string>() + "\n";
  }
  EXPECT_NE(notes.find("could not be reloaded"), std::string::npos) << notes;
}

TEST_F(ReportTest, ChartLibraryLookupPrefersAssetsDir) {
  const auto lib = dir_ / "js" / "chart.umd.min.js";
  stdfs::create_directories(lib.parent_path());
  std::ofstream(lib) << "/* stub */";
  EXPECT_EQ(find_chart_library((dir_ / "js").string()), stdfs::weakly_canonical(lib));
  EXPECT_EQ(find_chart_library(lib.string()), stdfs::weakly_canonical(lib));
  // Without an assets_dir, Debian's libjs-chart.js at its system path.
  const auto found = find_chart_library("");
  EXPECT_EQ(found.parent_path(), stdfs::path("/usr/share/javascript/chart.js"));
  EXPECT_NE(fs::read_file(found).find("Chart.js v"), std::string::npos);
}

TEST_F(ReportTest, ChartLibraryInANamedPlaceThatLacksItIsAnError) {
  const auto nowhere = dir_ / "no-such-folder";
  try {
    (void)find_chart_library(nowhere.string());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(nowhere.string()), std::string::npos) << message;
    EXPECT_NE(message.find("libjs-chart.js"), std::string::npos) << message;
    EXPECT_NE(message.find("report.assets_dir"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace mapd::report
