// End-to-end: `mapd export` of a real audit, each format read by the reader its peer uses —
// numpy/h5py recomputation of the derived scores, Dataset Cartography's way of reading its
// training-dynamics files, and cleanlab itself on labels.npy / pred_probs.npy (issue 16 items 3-4).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "pipeline_fixtures.hpp"

namespace mapd::cli {
namespace {

using testing::read_lines;
using testing::Result;
using testing::run_mapd;
namespace fsys = std::filesystem;

std::string quoted(const fsys::path& path) { return "'" + path.string() + "'"; }

/// Runs `python script args...`; returns the exit status with the output in `output`.
int run_python(const std::string& python, const std::string& script, const std::string& args,
               std::string* output) {
  const std::string command =
      python + " " + quoted(fsys::path(MAPD_SOURCE_DIR) / "tests" / "cli" / script) + " " + args + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buffer[4096];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, got);
  return ::pclose(pipe);
}

/// One audited run with injected label noise, shared by the tests (a few seconds to make).
class ExportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = testing::temp_dir("export");
    const auto data = dir_ / "data";
    fsys::create_directories(data);
    testing::write_pattern_idx(data, "train", 500, 1);
    testing::write_pattern_idx(data, "t10k", 100, 2);
    const auto config = dir_ / "tiny.yaml";
    std::ofstream(config) << "data: {format: idx, path: " << data.string()
                          << ", name: tiny, workers: 1, label_noise: {rate: 0.2}}\n"
                             "model: {arch: small_cnn, width: 8}\n"
                             "optimizer: {lr: 0.05}\n"
                             "train: {epochs: 5, batch_size: 32, threads: 1}\n"
                             "probes: {fit_per_category: 10, val_per_category: 10, pilot_epochs: 1, "
                             "max_fraction: 0.3}\n"
                             "knn: {k: 5}\n"
                             "report: {enabled: false}\n";
    run_ = dir_ / "run";
    audit_ = run_mapd("audit -c " + quoted(config) + " --run-dir " + quoted(run_));
  }
  static void TearDownTestSuite() { fsys::remove_all(dir_); }

  void SetUp() override { ASSERT_EQ(audit_.exit_code, 0) << audit_.output; }

  static fsys::path dir_;
  static fsys::path run_;
  static Result audit_;
};
fsys::path ExportTest::dir_;
fsys::path ExportTest::run_;
Result ExportTest::audit_;

/// Training rows of the run: its examples.csv lines minus the header.
int64_t training_rows(const fsys::path& examples_csv) {
  return static_cast<int64_t>(read_lines(examples_csv).size()) - 1;
}

TEST_F(ExportTest, CsvAndCartographyMatchTheRecordedDynamics) {
  const Result csv = run_mapd("export " + quoted(run_) + " --format csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.output;
  EXPECT_NE(csv.output.find((run_ / "export" / "csv" / "examples.csv").string()), std::string::npos)
      << csv.output;
  const auto carto_dir = dir_ / "carto";
  const Result carto =
      run_mapd("export " + quoted(run_) + " --format cartography --out " + quoted(carto_dir));
  ASSERT_EQ(carto.exit_code, 0) << carto.output;
  const auto header = read_lines(run_ / "export" / "csv" / "examples.csv").front();
  EXPECT_EQ(header.rfind("id,label,original_label,predicted,category,label_issue,p_", 0), 0U) << header;
  EXPECT_NE(header.find(",mean_loss,forgetting_events,first_correct_epoch,aum,el2n,confidence,variability,"
                        "correctness"),
            std::string::npos)
      << header;

  std::string output;
  const int status =
      run_python("/usr/bin/python3", "export_check_dynamics.py",
                 quoted(run_) + " " + quoted(run_ / "export" / "csv") + " " + quoted(carto_dir), &output);
  EXPECT_EQ(status, 0) << output;
}

TEST_F(ExportTest, CleanlabReadsLabelsAndPredictedProbabilities) {
  const Result r = run_mapd("export " + quoted(run_) + " --format cleanlab");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = run_ / "export" / "cleanlab";
  for (const char* file : {"labels.npy", "pred_probs.npy", "ids.csv", "label_issues.csv"}) {
    EXPECT_TRUE(fsys::exists(out / file)) << file << "\n" << r.output;
  }
  EXPECT_NE(r.output.find("in-sample"), std::string::npos) << "the export says where pred_probs come from\n"
                                                           << r.output;
  const auto rows = static_cast<int64_t>(read_lines(out / "ids.csv").size()) - 1;
  EXPECT_GT(rows, 300);
  std::string output;
  const int status = run_python(MAPD_PEER_PYTHON, "export_check_cleanlab.py",
                                quoted(out) + " " + std::to_string(rows), &output);
  EXPECT_EQ(status, 0) << output;
}

TEST_F(ExportTest, UnknownFormatNamesTheClosestAndAMissingRunIsNamed) {
  const Result typo = run_mapd("export " + quoted(run_) + " --format cartograpy");
  EXPECT_EQ(typo.exit_code, 2) << typo.output;
  EXPECT_NE(typo.output.find("unknown format 'cartograpy'; did you mean 'cartography'?"), std::string::npos)
      << typo.output;
  const auto empty = dir_ / "not-a-run";
  fsys::create_directories(empty);
  const Result missing = run_mapd("export " + quoted(empty) + " --format csv");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("has no dynamics.h5"), std::string::npos) << missing.output;
}

}  // namespace
}  // namespace mapd::cli
