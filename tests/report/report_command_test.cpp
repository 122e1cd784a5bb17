#include "mapd/cli/report_command.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"

#include "../common/expect_error.hpp"
#include "synthetic_run.hpp"

namespace mapd::cli {
namespace {

namespace stdfs = std::filesystem;

class ReportCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = stdfs::temp_directory_path() / ("mapd_report_cmd_" + std::to_string(::getpid()) + "_" +
                                           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    stdfs::remove_all(dir_);
  }
  void TearDown() override { stdfs::remove_all(dir_); }
  stdfs::path dir_;
};

TEST_F(ReportCommandTest, WritesTheReportWithOverrides) {
  report::testing::make_synthetic_run(dir_, 3, 3);
  CommonOptions options;
  options.overrides = {"report.top_n=3"};
  EXPECT_EQ(report_command(dir_.string(), options), 0);
  const std::string html = fs::read_file(dir_ / "report" / "index.html");
  EXPECT_NE(html.find("\"category\":\"mislabeled\""), std::string::npos);
  // top_n = 3: three surfaced rows per category and three likely label errors (each has a
  // "losses" array).
  size_t count = 0;
  for (size_t pos = 0; (pos = html.find("\"losses\":", pos)) != std::string::npos; ++pos) {
    ++count;
  }
  EXPECT_EQ(count, 9U);
  EXPECT_TRUE(stdfs::exists(dir_ / "report" / "typical.png"));
}

TEST_F(ReportCommandTest, RunDirFromOptionWhenNoPositional) {
  report::testing::make_synthetic_run(dir_, 2, 2, /*with_assignments=*/false);
  CommonOptions options;
  options.run_dir = dir_.string();
  EXPECT_EQ(report_command("", options), 0);
  EXPECT_TRUE(stdfs::exists(dir_ / "report" / "index.html"));
}

TEST_F(ReportCommandTest, BadArgumentsAreNamed) {
  CommonOptions options;
  MAPD_EXPECT_THROW_WITH(report_command("", options), ConfigError, "mapd report RUN_DIR");
  try {
    report_command((dir_ / "nope").string(), options);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  report::testing::make_synthetic_run(dir_, 2, 2, false);
  options.overrides = {"report.top_m=3"};
  try {
    report_command(dir_.string(), options);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("top_n"), std::string::npos)
        << "did-you-mean expected: " << e.what();
  }
  options.overrides = {"report.top_n=0"};
  MAPD_EXPECT_THROW_WITH(report_command(dir_.string(), options), ConfigError, "report.top_n: must be >= 1");
}

}  // namespace
}  // namespace mapd::cli
