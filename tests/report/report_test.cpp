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

#include "../common/expect_error.hpp"
#include "synthetic_run.hpp"

namespace mapd::report {
namespace {

namespace stdfs = std::filesystem;
using testing::make_synthetic_run;
using testing::SyntheticRun;

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests: Name/Param
    dir_ = stdfs::temp_directory_path() / ("mapd_report_test_" + std::to_string(::getpid()) + "_" + name);
    stdfs::remove_all(dir_);
    stdfs::create_directories(dir_);
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  stdfs::path dir_;
};

std::string joined(const std::vector<std::string>& notes) {
  std::string out;
  for (const auto& n : notes) {
    out += n + "\n";
  }
  return out;
}

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
  MAPD_EXPECT_THROW_WITH((void)trajectory_stats(store, 2, {"a"}, bad), InternalError,
                         "group index 3 of row 0 outside [0, 1)");
  MAPD_EXPECT_THROW_WITH((void)trajectory_stats(store, 3, {"a"}, none),
                         IoError,  // beyond the committed epochs
                         "only 2 epochs are committed");
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
  MAPD_EXPECT_THROW_WITH((void)encode_png(std::vector<uint8_t>(5), 1, 4, 4, 8), DataError,
                         "image buffer of 5 bytes does not match 1x4x4");
}

TEST_F(ReportTest, CollectsEverySectionFromTheRunDirectory) {
  const auto run = make_synthetic_run(dir_, 4, 4);
  config::ReportConfig options;
  options.top_n = 5;
  const ReportData page = collect_report_data(dir_, options);

  const auto& s = page.summary;
  EXPECT_EQ(s.dataset, "synthetic");
  EXPECT_EQ(s.data_format, "idx");
  EXPECT_EQ(s.epochs_committed, 4);
  EXPECT_EQ(s.epochs_configured, 4);
  EXPECT_TRUE(s.complete);
  EXPECT_NEAR(s.test_acc, 0.75, 1e-12);  // last complete metrics line
  EXPECT_NEAR(s.wall_seconds, 6.0, 1e-12);
  EXPECT_EQ(s.train_examples, 30);
  EXPECT_EQ(s.probe_examples, 10);
  EXPECT_EQ(s.injected_noise, 3);
  ASSERT_TRUE(s.pilot_below_chance.has_value());
  EXPECT_EQ((*s.pilot_below_chance)["share"], 0.1);
  EXPECT_EQ((*s.pilot_below_chance)["method"], "learning_speed");
  EXPECT_EQ(page.metrics.size(), 4U);  // the partial last line is skipped
  EXPECT_EQ(page.classes, (std::vector<std::string>{"even", "odd"}));
  EXPECT_EQ(page.categories, (std::vector<std::string>{"typical", "mislabeled"}));
  ASSERT_TRUE(page.selftest.has_value());
  EXPECT_EQ((*page.selftest)["accuracy"], 0.75);
  ASSERT_TRUE(page.detection.has_value());
  EXPECT_EQ((*page.detection)["rankings"]["p_mislabeled"]["auroc"], 0.93);
  EXPECT_FALSE(page.bad_inputs.present);
  // The fixture's partial last metrics line (a live run) is the only note.
  EXPECT_EQ(page.notes, (std::vector<std::string>{"metrics.jsonl: 1 unreadable line(s) skipped."}));

  // Groups: 2 probe categories, train, noisy + clean, 2 assigned categories.
  const auto& groups = page.trajectories.groups;
  EXPECT_EQ(page.trajectories.epochs, 4);
  ASSERT_EQ(groups.size(), 7U);
  EXPECT_EQ(groups[0].stats.name, "probe: typical");
  EXPECT_EQ(groups[0].kind, "probe");
  EXPECT_EQ(groups[0].stats.count, 5);
  EXPECT_EQ(groups[2].stats.name, "train (all)");
  EXPECT_EQ(groups[3].stats.name, "train: injected wrong label");
  EXPECT_EQ(groups[3].kind, "noise");
  EXPECT_EQ(groups[3].stats.count, 3);
  EXPECT_EQ(groups[4].stats.count, 27);
  EXPECT_EQ(groups[6].stats.name, "assigned: mislabeled");
  EXPECT_EQ(groups[6].kind, "assigned");
  // Train rows with P(mislabeled) > 0.5: rows 0..2 and 21..29.
  EXPECT_EQ(groups[6].stats.count, 12);
  EXPECT_EQ(groups[1].stats.median.size(), 4U);
  EXPECT_GT(groups[1].stats.median[3], groups[0].stats.median[3]);

  const auto& a = page.assignments;
  EXPECT_TRUE(a.available);
  EXPECT_EQ(a.k, 3);
  EXPECT_EQ(a.train_assigned, 30);
  EXPECT_EQ(a.overall, (std::vector<int64_t>{18, 12}));
  ASSERT_EQ(a.per_class.size(), 2U);
  int64_t total = 0;
  for (const auto& r : a.per_class) {
    for (const auto x : r) {
      total += x;
    }
  }
  EXPECT_EQ(total, 30);

  // Surfaced: top 5 of mislabeled are the three noisy rows (P = 1, score by row), then rows 29, 28.
  const auto& surfaced = page.surfaced;
  ASSERT_EQ(surfaced.size(), 3U);
  EXPECT_EQ(surfaced[1].category, "mislabeled");
  // Last, the likely label errors: the training rows by label_issue, highest first.
  EXPECT_EQ(surfaced[2].ranking, "label_issue");
  ASSERT_EQ(surfaced[2].examples.size(), 5U);
  for (size_t t = 1; t < surfaced[2].examples.size(); ++t) {
    EXPECT_GE(surfaced[2].examples[t - 1].prob, surfaced[2].examples[t].prob) << t;
    EXPECT_LT(surfaced[2].examples[t].row, SyntheticRun::kTrain);
  }
  EXPECT_FALSE(surfaced[2].examples[0].score.has_value());
  EXPECT_TRUE(surfaced[1].grid_file.empty());  // generate_report draws the grids
  const auto& top = surfaced[1].examples;
  ASSERT_EQ(top.size(), 5U);
  const std::vector<int64_t> rows = {2, 1, 0, 29, 28};
  for (size_t t = 0; t < top.size(); ++t) {
    EXPECT_EQ(top[t].row, rows[t]) << t;
    EXPECT_EQ(top[t].id, std::to_string(rows[t])) << t;  // IDX ids are positions
  }
  EXPECT_EQ(top[0].label_name, "odd");  // row 2: original 0 (even), injected label 1
  EXPECT_EQ(top[0].original_label, 0);
  EXPECT_FLOAT_EQ(top[0].prob, 1.0F);
  ASSERT_TRUE(top[0].score.has_value());
  EXPECT_EQ(top[0].losses.size(), 4U);
  EXPECT_NEAR(top[3].losses[0], run.loss[0][29], 1e-6);
  EXPECT_EQ(top[3].pred, run.pred[3][29]);
  // The pixels are the dataset's image of the example, uint8 [C, H, W].
  for (const auto& e : top) {
    ASSERT_TRUE(e.image.has_value()) << e.row << ": " << e.image_error;
    EXPECT_EQ(e.image->channels, 1);
    EXPECT_EQ(e.image->height, SyntheticRun::kSide);
    EXPECT_EQ(e.image->width, SyntheticRun::kSide);
    EXPECT_EQ(e.image->pixels, testing::synthetic_image(e.row, SyntheticRun::kSide)) << e.row;
    EXPECT_TRUE(e.image_error.empty());
  }
  for (const auto& t : surfaced[0].examples) {
    EXPECT_LT(t.row, SyntheticRun::kTrain) << "surfaced examples are training rows";
  }
}

TEST_F(ReportTest, PageDataHasWhatTheTemplateReads) {
  make_synthetic_run(dir_, 4, 4);
  config::ReportConfig options;
  options.top_n = 5;
  auto data = collect_report_data(dir_, options);
  data.surfaced[1].grid_file = "mislabeled.png";
  const auto page = to_json(data);

  // Top-level keys read by assets/report/template.html.
  for (const char* key : {"run_dir", "generated", "categories", "classes", "config", "metrics", "summary",
                          "bad_inputs", "selftest", "detection", "assignments", "trajectories", "surfaced",
                          "probe_previews", "notes", "data_map"}) {
    EXPECT_TRUE(page.contains(key)) << key;
  }
  // The data map: one point [variability, confidence, correctness, flipped, id] per training
  // example (few here), the flipped ones (rows 0-2) marked; no margins recorded, so AUM is null.
  const auto& map = page["data_map"];
  ASSERT_TRUE(map.is_object()) << map.dump();
  EXPECT_EQ(map["epochs"], 4);
  EXPECT_EQ(map["examples"], SyntheticRun::kTrain);
  ASSERT_EQ(map["points"].size(), static_cast<size_t>(SyntheticRun::kTrain));
  int flipped = 0;
  for (const auto& point : map["points"]) {
    ASSERT_EQ(point.size(), 5U);
    EXPECT_GE(point[1].get<double>(), 0.0);
    EXPECT_LE(point[1].get<double>(), 1.0);
    EXPECT_GE(point[0].get<double>(), 0.0);
    flipped += point[3].get<int>();
  }
  EXPECT_EQ(flipped, 3);
  EXPECT_TRUE(map["median_aum"].is_null());
  EXPECT_FALSE(map["median_forgetting"].is_null());
  const auto& s = page["summary"];
  for (const char* key : {"dataset",
                          "data_format",
                          "data_path",
                          "model",
                          "train_mode",
                          "epochs_committed",
                          "epochs_configured",
                          "complete",
                          "test_acc",
                          "test_loss",
                          "train_acc",
                          "img_per_s",
                          "wall_seconds",
                          "examples",
                          "train_examples",
                          "probe_examples",
                          "injected_noise",
                          "label_noise_rate",
                          "view",
                          "dtype",
                          "seed",
                          "mapd_version",
                          "torch_version",
                          "pilot_below_chance"}) {
    EXPECT_TRUE(s.contains(key)) << "summary." << key;
  }
  EXPECT_EQ(s["dataset"], "synthetic");
  EXPECT_EQ(s["epochs_configured"], 4);
  EXPECT_TRUE(s["complete"].get<bool>());
  EXPECT_EQ(s["pilot_below_chance"]["method"], "learning_speed");
  EXPECT_EQ(page["metrics"].size(), 4U);
  EXPECT_EQ(page["metrics"][3]["test_acc"], 0.75);
  EXPECT_EQ(page["classes"], (nlohmann::json{"even", "odd"}));
  EXPECT_EQ(page["selftest"]["accuracy"], 0.75);
  EXPECT_EQ(page["detection"]["rankings"]["p_mislabeled"]["auroc"], 0.93);
  EXPECT_EQ(page["bad_inputs"],
            (nlohmann::json{{"present", false}, {"count", 0}, {"rows", nlohmann::json::array()}}));

  const auto& groups = page["trajectories"]["groups"];
  EXPECT_EQ(page["trajectories"]["epochs"], 4);
  ASSERT_EQ(groups.size(), 7U);
  for (const char* key : {"name", "kind", "count", "exact", "q25", "median", "q75", "mean", "first_learned",
                          "learned_for_good"}) {
    EXPECT_TRUE(groups[0].contains(key)) << "group." << key;
  }
  EXPECT_EQ(groups[3]["name"], "train: injected wrong label");
  EXPECT_EQ(groups[3]["kind"], "noise");
  EXPECT_EQ(groups[1]["median"].size(), 4U);

  const auto& a = page["assignments"];
  EXPECT_TRUE(a["available"].get<bool>());
  EXPECT_EQ(a["overall"], (nlohmann::json{18, 12}));
  for (const char* key : {"categories", "k", "epoch_begin", "epoch_end", "train_assigned", "per_class"}) {
    EXPECT_TRUE(a.contains(key)) << "assignments." << key;
  }
  EXPECT_EQ(a["label_issue_ranks"], "0.99 * percentile of the synthetic evidence + 0.01 * P(mislabeled)");

  const auto& surfaced = page["surfaced"];
  ASSERT_EQ(surfaced.size(), 3U);
  EXPECT_EQ(surfaced[2]["ranking"], "label_issue");
  EXPECT_EQ(surfaced[1]["ranking"], "");
  EXPECT_EQ(surfaced[1]["category"], "mislabeled");
  EXPECT_EQ(surfaced[1]["grid_file"], "mislabeled.png");
  EXPECT_FALSE(surfaced[0].contains("grid_file"));
  const auto& top = surfaced[1]["examples"];
  ASSERT_EQ(top.size(), 5U);
  EXPECT_EQ(top[0]["row"], 2);
  EXPECT_EQ(top[0]["id"], "2");  // ids are text in the page (a dataset may have text ids)
  EXPECT_EQ(top[0]["label_name"], "odd");
  EXPECT_EQ(top[0]["original_label"], 0);
  for (const char* key : {"row", "id", "label", "label_name", "original_label", "pred", "pred_name",
                          "assigned", "prob", "score"}) {
    EXPECT_TRUE(top[0].contains(key)) << "example." << key;
  }
  EXPECT_EQ(top[0]["losses"].size(), 4U);
  EXPECT_EQ(top[0]["image"], (nlohmann::json{{"channels", 1}, {"height", 8}, {"width", 8}}));
  EXPECT_FALSE(top[0].contains("pixels_b64"));
  EXPECT_FALSE(top[0].contains("image_error"));
  // The thumbnail: the example's image as a 64-pixel PNG, in base64.
  ASSERT_TRUE(top[0]["png"].is_string());
  const auto thumbnail = encode_png(data.surfaced[1].examples[0].image->pixels, 1, 8, 8, 64);
  EXPECT_EQ(top[0]["png"], base64(thumbnail));
  const cv::Mat decoded = cv::imdecode(thumbnail, cv::IMREAD_GRAYSCALE);
  EXPECT_EQ(decoded.rows, 64);
  EXPECT_EQ(decoded.at<uint8_t>(0, 0), testing::synthetic_image(2, 8)[0]);
  EXPECT_TRUE(page["probe_previews"].is_array());
  EXPECT_EQ(page["notes"], (nlohmann::json{"metrics.jsonl: 1 unreadable line(s) skipped."}));
}

TEST_F(ReportTest, WritesSelfContainedPageAndGrids) {
  make_synthetic_run(dir_, 4, 4);
  config::ReportConfig options;
  options.top_n = 6;
  const auto result = generate_report(dir_, options);
  EXPECT_EQ(result.index_html, dir_ / "report" / "index.html");
  EXPECT_EQ(result.epochs, 4);
  ASSERT_EQ(result.grids.size(), 3U);  // typical, mislabeled, label_issue
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

// Issue 13 item 11: "<!--<script>" in data.name blanked the whole page (the data block swallowed the
// rest of it); the page's data must hold no markup and still carry the name.
TEST_F(ReportTest, MarkupInNamesStaysInsideTheDataBlock) {
  make_synthetic_run(dir_, 3, 3);
  const auto config_path = dir_ / "config.resolved.json";
  auto cfg = nlohmann::json::parse(fs::read_file(config_path));
  const std::string evil = "evil<!--<script>&</script>name";
  cfg["data"]["name"] = evil;
  fs::write_file_atomic(config_path, cfg.dump(2));
  const auto result = generate_report(dir_, config::ReportConfig{});
  const std::string html = fs::read_file(result.index_html);
  const std::string open = "<script id=\"mapd-data\" type=\"application/json\">";
  const auto begin = html.find(open);
  ASSERT_NE(begin, std::string::npos);
  const auto start = begin + open.size();
  const auto end = html.find("</script>", start);
  ASSERT_NE(end, std::string::npos);
  const std::string block = html.substr(start, end - start);
  EXPECT_EQ(block.find('<'), std::string::npos);
  EXPECT_EQ(block.find('>'), std::string::npos);
  const auto page = nlohmann::json::parse(block);
  EXPECT_NE(page.dump().find(nlohmann::json(evil).dump()), std::string::npos) << "the name is kept";
}

TEST_F(ReportTest, LiveRunShowsCommittedEpochsAndSaysWhatIsMissing) {
  make_synthetic_run(dir_, 2, 6, /*with_assignments=*/false);
  const auto data = collect_report_data(dir_, config::ReportConfig{});
  EXPECT_EQ(data.trajectories.epochs, 2);
  EXPECT_FALSE(data.summary.complete);
  EXPECT_FALSE(data.assignments.available);
  EXPECT_TRUE(data.surfaced.empty());
  EXPECT_FALSE(data.selftest.has_value());
  const auto page = to_json(data);
  EXPECT_EQ(page["assignments"], (nlohmann::json{{"available", false}}));
  EXPECT_TRUE(page["selftest"].is_null());
  EXPECT_TRUE(page["detection"].is_null());
  const std::string notes = joined(data.notes);
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
  const auto data = collect_report_data(dir_, config::ReportConfig{});
  EXPECT_EQ(data.trajectories.epochs, 5);
  EXPECT_EQ(data.surfaced[0].examples[0].losses.size(), 5U);
  const std::string notes = joined(data.notes);
  EXPECT_NE(notes.find("assignments.h5 used epochs [0, 4) but 5 epochs are committed"), std::string::npos)
      << notes;
}

TEST_F(ReportTest, MissingAndBrokenInputsAreNoted) {
  make_synthetic_run(dir_, 4, 4);
  stdfs::remove(dir_ / "metrics.jsonl");
  std::ofstream(dir_ / "selftest.json") << "{not json";
  const auto data = collect_report_data(dir_, config::ReportConfig{});
  const std::string notes = joined(data.notes);
  EXPECT_NE(notes.find("metrics.jsonl is missing"), std::string::npos) << notes;
  EXPECT_NE(notes.find("selftest.json could not be parsed"), std::string::npos) << notes;
  EXPECT_FALSE(data.selftest.has_value());
  EXPECT_TRUE(std::isnan(data.summary.test_acc));
  EXPECT_EQ(to_json(data)["summary"]["test_acc"].dump(), "null");  // NaN is written as null
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
  const auto data = collect_report_data(dir_, config::ReportConfig{});
  ASSERT_EQ(data.surfaced.size(), 3U);
  EXPECT_FALSE(data.surfaced[0].examples[0].image.has_value());
  EXPECT_FALSE(to_json(data)["surfaced"][0]["examples"][0].contains("png"));
  const std::string notes = joined(data.notes);
  EXPECT_NE(notes.find("could not be reloaded"), std::string::npos) << notes;
}

// Issue 13 item 5: a row inserted into the CSV manifest after training moves every later example
// one position on. The report must not draw another example's image for a recorded one: it checks
// the id (and original label) at the recorded position, leaves the changed ones out and says so.
class ReportManifestTest : public ReportTest, public ::testing::WithParamInterface<testing::SyntheticData> {};

TEST_P(ReportManifestTest, RowInsertedAfterTrainingDrawsNoWrongImage) {
  const auto run = make_synthetic_run(dir_, 4, 4, true, GetParam());
  config::ReportConfig options;
  options.top_n = 5;  // typical: rows 3..7; mislabeled: rows 2, 1, 0, 29, 28; label_issue: 0, 1, 2, 29, 28
  // Row r of the synthetic run is dataset example r, whose image is synthetic_image(r).
  const auto expect_right_images = [](const ReportData& data) {
    int64_t drawn = 0;
    for (const auto& group : data.surfaced) {
      for (const auto& e : group.examples) {
        if (e.image) {
          ++drawn;
          EXPECT_EQ(e.image->pixels, testing::synthetic_image(e.row, SyntheticRun::kSide))
              << "row " << e.row << " (id " << e.id << ") shows another example's image";
        }
      }
    }
    return drawn;
  };
  const auto before = collect_report_data(dir_, options);
  EXPECT_EQ(expect_right_images(before), 15);
  for (const auto& group : before.surfaced) {  // ids as the manifest writes them (issue 13 item 10)
    for (const auto& e : group.examples) {
      EXPECT_EQ(e.id, testing::synthetic_id_text(GetParam(), e.row, e.row));
    }
  }
  EXPECT_EQ(joined(before.notes).find("dataset changed"), std::string::npos) << joined(before.notes);

  testing::write_manifest(dir_ / "data", GetParam(), /*insert_at=*/10);
  const auto after = collect_report_data(dir_, options);
  EXPECT_EQ(expect_right_images(after), 11);  // rows 28 and 29 moved (in two groups)
  for (const auto& group : after.surfaced) {
    for (const auto& e : group.examples) {
      EXPECT_EQ(e.image.has_value(), e.row < 10) << e.row;
      if (e.row >= 10) {
        EXPECT_NE(e.image_error.find("the dataset changed since training"), std::string::npos)
            << e.image_error;
      }
    }
  }
  const std::string notes = joined(after.notes);
  EXPECT_NE(notes.find("The dataset changed since training: 4 of 15 surfaced examples"), std::string::npos)
      << notes;

  // The page says it too.
  const auto result = generate_report(dir_, options);
  ASSERT_EQ(result.grids.size(), 3U);
  const std::string html = fs::read_file(result.index_html);
  EXPECT_NE(html.find("The dataset changed since training: 4 of 15"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Manifests, ReportManifestTest,
                         ::testing::Values(testing::SyntheticData::kManifestWithIds,
                                           testing::SyntheticData::kManifest,
                                           testing::SyntheticData::kManifestWithTextIds),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case testing::SyntheticData::kManifestWithIds:
                               return "WithIdColumn";
                             case testing::SyntheticData::kManifestWithTextIds:
                               return "WithTextIds";
                             default:
                               return "LineNumberIds";
                           }
                         });

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

namespace mapd::report {
namespace {

TEST_F(ReportTest, LabelCorrectionRunGetsItsSectionFromTheRecordedTargets) {
  // Rows 0..2 (flipped) and row 3 (clean) get B = 0.9 and the other label as target from epoch
  // 2 on; the other 26 training rows B = 0.05 and their given label.
  make_synthetic_run(dir_, 4, 4, true, testing::SyntheticData::kIdx, /*label_correction=*/true);
  const auto page = collect_report_data(dir_, config::ReportConfig{});
  ASSERT_TRUE(page.label_correction.has_value());
  const auto& lc = *page.label_correction;
  ASSERT_EQ(lc.weight_histogram.size(), 4U);
  EXPECT_EQ(lc.weight_histogram[0], (std::vector<int64_t>{30, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(lc.weight_histogram[3], (std::vector<int64_t>{26, 0, 0, 0, 0, 0, 0, 0, 0, 4}));
  EXPECT_DOUBLE_EQ(lc.mean_weight[0], 0.0);
  EXPECT_NEAR(lc.mean_weight[2], (4 * 0.9 + 26 * 0.05) / 30.0, 1e-6);
  EXPECT_DOUBLE_EQ(lc.relabelled[1], 0.0);
  EXPECT_DOUBLE_EQ(lc.relabelled[2], 4.0 / 30.0);
  EXPECT_EQ(lc.restored, (std::vector<double>{0.0, 0.0, 1.0, 1.0}));
  EXPECT_DOUBLE_EQ(lc.clean_changed[3], 1.0 / 27.0);
  EXPECT_TRUE(lc.corrected_file);
  EXPECT_EQ(lc.corrected_rows, 30);
  EXPECT_EQ(lc.corrected_changed, 4);
  EXPECT_EQ(lc.corrected_restored, 3);
  EXPECT_EQ(lc.corrected_clean_changed, 1);
  const auto data = to_json(page);
  EXPECT_EQ(data["label_correction"]["corrected_restored"], 3);
  EXPECT_EQ(data["label_correction"]["weight_histogram"].size(), 4U);

  // A standard run has no such section.
  const auto other = dir_ / "standard";
  make_synthetic_run(other, 2, 2);
  EXPECT_FALSE(collect_report_data(other, config::ReportConfig{}).label_correction.has_value());
  EXPECT_TRUE(to_json(collect_report_data(other, config::ReportConfig{}))["label_correction"].is_null());
}

// Issue 16 item 5: the browsing table holds every assigned training row, label_issue descending
// (ties in assignments.h5 order), with the prediction of the last epoch and P per category.
TEST_F(ReportTest, BrowsingTableListsTrainingRowsByLabelIssue) {
  const auto run = make_synthetic_run(dir_, 3, 3);
  const auto data = collect_report_data(dir_, config::ReportConfig{});
  ASSERT_TRUE(data.table.has_value());
  const auto& t = *data.table;
  EXPECT_EQ(t.total, SyntheticRun::kTrain);
  EXPECT_EQ(t.size(), SyntheticRun::kTrain);
  EXPECT_EQ(t.left_out(), 0);
  std::vector<int64_t> expected = {0, 1, 2};  // label_issue 1, then r / 40 for row r
  for (int64_t r = SyntheticRun::kTrain - 1; r >= 3; --r) expected.push_back(r);
  EXPECT_EQ(t.row, expected);
  ASSERT_EQ(t.prob.size(), 2 * expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto r = static_cast<size_t>(expected[i]);
    EXPECT_EQ(t.id[i], std::to_string(r));
    EXPECT_EQ(t.label[i], run.examples.label[r]);
    EXPECT_EQ(t.pred[i], run.pred.back()[r]) << "row " << r;
    EXPECT_EQ(t.prob[2 * i + 1], run.prob[2 * r + 1]) << "row " << r;  // training rows come first
    EXPECT_FLOAT_EQ(t.label_issue[i], run.prob[2 * r + 1]);
  }
  EXPECT_TRUE(std::any_of(t.pred.begin(), t.pred.end(), [&](int32_t p) { return p >= 0; }));
  EXPECT_EQ(joined(data.notes).find("browsing table"), std::string::npos);
}

TEST_F(ReportTest, BrowsingTableLimitKeepsTheHighestLabelIssueAndSaysHowManyAreLeftOut) {
  make_synthetic_run(dir_, 3, 3);
  config::ReportConfig options;
  options.table_limit = 5;
  const auto data = collect_report_data(dir_, options);
  ASSERT_TRUE(data.table.has_value());
  EXPECT_EQ(data.table->row, (std::vector<int64_t>{0, 1, 2, 29, 28}));
  EXPECT_EQ(data.table->total, 30);
  EXPECT_EQ(data.table->left_out(), 25);
  const std::string notes = joined(data.notes);
  EXPECT_NE(
      notes.find("lists the 5 training examples with the highest label_issue of 30 (report.table_limit = 5); "
                 "25 are left out"),
      std::string::npos)
      << notes;
  const auto page = to_json(data);
  EXPECT_EQ(page["table"]["shown"], 5);
  EXPECT_EQ(page["table"]["left_out"], 25);

  options.table_limit = 0;  // no table: no rows.js, and a table of an earlier report is removed
  const auto first = generate_report(dir_, config::ReportConfig{});
  EXPECT_TRUE(stdfs::exists(first.table_dir / "rows.js"));
  const auto off = generate_report(dir_, options);
  EXPECT_TRUE(off.table_dir.empty());
  EXPECT_FALSE(stdfs::exists(dir_ / "report" / "table"));
  EXPECT_TRUE(collect_report_data(dir_, options).table == std::nullopt);

  make_synthetic_run(dir_ / "unassigned", 3, 3, /*with_assignments=*/false);
  EXPECT_FALSE(collect_report_data(dir_ / "unassigned", config::ReportConfig{}).table.has_value());
}

// rows.js: a script that sets window.MAPD_TABLE; every value from the data (class names here) is
// kept, none as markup. The thumbnail sheets hold each row's image at its tile.
TEST_F(ReportTest, BrowsingTableScriptAndThumbnailSheets) {
  const std::vector<std::string> classes = {"<b>even</b>", "odd</script>&\"q\""};
  const auto run = make_synthetic_run(dir_, 3, 3, true, testing::SyntheticData::kIdx, false, classes);
  const auto result = generate_report(dir_, config::ReportConfig{});
  ASSERT_EQ(result.table_dir, dir_ / "report" / "table");
  const std::string script = fs::read_file(result.table_dir / "rows.js");
  const std::string prefix = "window.MAPD_TABLE = ";
  ASSERT_EQ(script.rfind(prefix, 0), 0U) << script.substr(0, 80);
  ASSERT_GE(script.size(), prefix.size() + 2);
  EXPECT_EQ(script.substr(script.size() - 2), ";\n");
  const std::string body = script.substr(prefix.size(), script.size() - prefix.size() - 2);
  EXPECT_EQ(body.find_first_of("<>&"), std::string::npos);
  const auto table = nlohmann::json::parse(body);
  EXPECT_EQ(table["classes"], nlohmann::json(classes));
  EXPECT_EQ(table["categories"], (nlohmann::json{"typical", "mislabeled"}));
  EXPECT_EQ(table["total"], 30);
  ASSERT_EQ(table["id"].size(), 30U);
  EXPECT_EQ(table["id"][3], 29);  // integer ids stay numbers
  EXPECT_EQ(table["label_issue"][3], 0.725);
  EXPECT_EQ(table["p"][0][3], 0.275);
  EXPECT_EQ(table["original"][0], run.examples.original_label[0]);  // injected noise: the original labels
  const std::string html = fs::read_file(result.index_html);
  EXPECT_NE(html.find("<script src=\"table/rows.js\"></script>"), std::string::npos);
  EXPECT_NE(html.find(table["generated"].dump()), std::string::npos)
      << "rows.js names the page it belongs to";

  const auto& thumbs = table["thumbs"];
  ASSERT_TRUE(thumbs.is_object());
  EXPECT_EQ(thumbs["sheets"], (nlohmann::json{"table/thumbs-00000.png"}));
  EXPECT_EQ(thumbs["image"], nlohmann::json(std::vector<int>(30, 1)));
  const cv::Mat sheet =
      cv::imread((dir_ / "report" / "table" / "thumbs-00000.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(sheet.channels(), 1);                          // grey images, grey sheet
  const int side = static_cast<int>(SyntheticRun::kSide);  // 8-pixel images are not enlarged
  EXPECT_EQ(thumbs["side"], side);
  const int columns = static_cast<int>(BrowsingTable::kSheetColumns);
  ASSERT_EQ(sheet.cols, columns * side);
  ASSERT_EQ(sheet.rows, 2 * side);  // 30 tiles: two lines of 16
  for (int i = 0; i < 30; ++i) {
    const auto row = table["row"][static_cast<size_t>(i)].get<int64_t>();
    const auto image = testing::synthetic_image(row, SyntheticRun::kSide);
    for (int y = 0; y < side; ++y) {
      for (int x = 0; x < side; ++x) {
        const auto want =
            image[(static_cast<size_t>(y) * static_cast<size_t>(side)) + static_cast<size_t>(x)];
        ASSERT_EQ(sheet.at<uint8_t>((i / columns) * side + y, (i % columns) * side + x), want)
            << "tile " << i << " (row " << row << ") at " << x << "," << y;
      }
    }
  }

  // Thumbnails off: no sheets, and the table says so.
  config::ReportConfig no_thumbs;
  no_thumbs.table_thumbnails = false;
  (void)generate_report(dir_, no_thumbs);
  EXPECT_FALSE(stdfs::exists(dir_ / "report" / "table" / "thumbs-00000.png"));
  const std::string plain = fs::read_file(dir_ / "report" / "table" / "rows.js");
  EXPECT_NE(plain.find("\"thumbs\":null"), std::string::npos);
}

// As for the surfaced examples: a row whose recorded id is no longer at its recorded position
// gets no thumbnail (not another example's image), and the page says how many.
TEST_F(ReportTest, BrowsingTableDrawsNoThumbnailForAnExampleThatMoved) {
  make_synthetic_run(dir_, 3, 3, true, testing::SyntheticData::kManifestWithIds);
  testing::write_manifest(dir_ / "data", testing::SyntheticData::kManifestWithIds, /*insert_at=*/10);
  auto data = collect_report_data(dir_, config::ReportConfig{});
  write_table_thumbnails(data, dir_ / "report");
  const auto& t = *data.table;
  ASSERT_EQ(t.image.size(), 30U);
  for (int64_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t.image[static_cast<size_t>(i)], t.row[static_cast<size_t>(i)] < 10 ? 1 : 0)
        << "row " << t.row[static_cast<size_t>(i)];
  }
  const std::string notes = joined(data.notes);
  EXPECT_NE(
      notes.find("20 of 30 rows of the browsing table have no thumbnail; the first: the dataset changed "
                 "since training"),
      std::string::npos)
      << notes;
  const cv::Mat sheet =
      cv::imread((dir_ / "report" / "table" / "thumbs-00000.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_FALSE(sheet.empty());
  const int side = static_cast<int>(t.thumbnail_side);
  EXPECT_EQ(sheet.at<uint8_t>(side / 2, 3 * side + side / 2), 128) << "row 29 (tile 3) is left grey";
}

}  // namespace
}  // namespace mapd::report
