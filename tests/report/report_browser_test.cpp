#include <unistd.h>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "mapd/core/fs.hpp"
#include "mapd/report/report.hpp"

#include "synthetic_run.hpp"

// Loads report/index.html in headless Chromium (Debian's /usr/bin/chromium; this test installs
// nothing) and checks that every section was filled by the page's script, every chart drew its data
// and the screenshot is not blank.
namespace mapd::report {
namespace {

namespace stdfs = std::filesystem;

constexpr const char* kChromium = "/usr/bin/chromium";

std::string chromium_command(const stdfs::path& profile, const std::string& action, const stdfs::path& page) {
  return std::string("timeout 90 ") + kChromium +
         " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run"
         " --disable-background-networking --disable-component-update --disable-sync"
         " --disable-dev-shm-usage --hide-scrollbars --user-data-dir=" +
         profile.string() + " " + action + " file://" + page.string();
}

class ReportBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!stdfs::exists(kChromium)) {
      GTEST_SKIP() << kChromium << " is not installed (apt-get install chromium); skipping the browser test";
    }
    dir_ = stdfs::temp_directory_path() / ("mapd_report_browser_" + std::to_string(::getpid()));
    stdfs::remove_all(dir_);
    stdfs::create_directories(dir_);
  }
  void TearDown() override {
    // MAPD_KEEP_TEST_OUTPUT=1 keeps the page, DOM dump and screenshot for a look.
    if (!dir_.empty() && std::getenv("MAPD_KEEP_TEST_OUTPUT") == nullptr) {
      stdfs::remove_all(dir_);
    }
  }
  stdfs::path dir_;
};

int count_matches(const std::string& text, const std::regex& pattern) {
  return static_cast<int>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), pattern), std::sregex_iterator()));
}

/// The DOM of `page` after its scripts ran, dumped by headless Chromium (profile and logs under
/// `dir`, named by `name`).
std::string rendered_dom(const stdfs::path& dir, const std::string& name, const stdfs::path& page) {
  const auto dom_file = dir / (name + "-dom.html");
  const auto log_file = dir / (name + "-chromium.log");
  const std::string dump = chromium_command(dir / ("profile-" + name), "--dump-dom", page) + " > " +
                           dom_file.string() + " 2> " + log_file.string();
  const int status = std::system(dump.c_str());
  EXPECT_EQ(status, 0) << dump << "\n" << fs::read_file(log_file);
  return status == 0 ? fs::read_file(dom_file) : std::string();
}

TEST_F(ReportBrowserTest, EverySectionRendersInHeadlessChromium) {
  const auto run_dir = dir_ / "run";
  testing::make_synthetic_run(run_dir, 5, 5);
  config::ReportConfig options;
  options.top_n = 8;
  const auto result = generate_report(run_dir, options);

  const std::string dom = rendered_dom(dir_, "run", result.index_html);
  ASSERT_FALSE(dom.empty());

  EXPECT_NE(dom.find("data-mapd-rendered=\"ok\""), std::string::npos)
      << "the page script did not finish; body: " << dom.substr(0, 2000);
  for (const char* id : {"notes", "summary", "selftest", "trajectories", "assignments", "surfaced",
                         "learning", "datamap", "detection"}) {
    const std::regex filled(std::string("<section id=\"") + id + "\"[^>]*data-filled=\"true\"");
    EXPECT_EQ(count_matches(dom, filled), 1) << "section " << id << " was not filled";
  }
  // Charts: 2 in summary, 2 trajectories, 1 assignments, 2 surfaced, 2 learning, 1 data map, 1
  // detection; each canvas is marked with the number of points drawn.
  const int canvases = count_matches(dom, std::regex("<canvas"));
  const int drawn = count_matches(dom, std::regex("<canvas[^>]*data-rendered=\"[1-9][0-9]*\""));
  EXPECT_EQ(canvases, 11);
  EXPECT_EQ(drawn, canvases);
  // Surfaced image tiles with their ids; the self-test confusion matrix and detection table.
  EXPECT_EQ(count_matches(dom, std::regex("class=\"tile\" data-id=\"")), 16);
  EXPECT_EQ(count_matches(dom, std::regex("<img src=\"data:image/png;base64,")), 16);
  EXPECT_NE(dom.find("true \\ assigned"), std::string::npos);
  EXPECT_NE(dom.find("p_mislabeled"), std::string::npos);
  EXPECT_EQ(dom.find("<p class=\"err\">"), std::string::npos) << "the page reported a script error";

  const auto shot = dir_ / "shot.png";
  const std::string screenshot =
      chromium_command(dir_ / "profile-shot", "--window-size=1280,2400 --screenshot=" + shot.string(),
                       result.index_html) +
      " > " + (dir_ / "chromium-shot.log").string() + " 2>&1";
  ASSERT_EQ(std::system(screenshot.c_str()), 0) << screenshot << "\n"
                                                << fs::read_file(dir_ / "chromium-shot.log");
  const cv::Mat image = cv::imread(shot.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty()) << "no screenshot at " << shot;
  EXPECT_EQ(image.cols, 1280);
  cv::Scalar mean;
  cv::Scalar stddev;
  cv::meanStdDev(image, mean, stddev);
  EXPECT_GT(stddev[0] + stddev[1] + stddev[2], 10.0) << "the screenshot is (nearly) a single colour";
  std::set<uint32_t> colours;
  for (int y = 0; y < image.rows; y += 3) {
    for (int x = 0; x < image.cols; x += 3) {
      const auto& p = image.at<cv::Vec3b>(y, x);
      colours.insert((uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2]);
    }
  }
  EXPECT_GT(colours.size(), 50U) << "too few colours: charts and images did not render";
}

TEST_F(ReportBrowserTest, LabelCorrectionSectionRendersForALabelCorrectionRunOnly) {
  const auto run_dir = dir_ / "run";
  testing::make_synthetic_run(run_dir, 5, 5, true, testing::SyntheticData::kIdx, /*label_correction=*/true);
  config::ReportConfig options;
  options.top_n = 8;
  const auto result = generate_report(run_dir, options);
  const std::string dom = rendered_dom(dir_, "run", result.index_html);
  ASSERT_FALSE(dom.empty());
  EXPECT_NE(dom.find("data-mapd-rendered=\"ok\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_EQ(count_matches(dom, std::regex("<section id=\"correction\"[^>]*data-filled=\"true\"")), 1);
  // The three label-correction charts (accuracy and B, the B histogram, targets against the
  // truth) join the 11 of the other sections, every one drawn.
  const int canvases = count_matches(dom, std::regex("<canvas"));
  EXPECT_EQ(canvases, 14);
  EXPECT_EQ(count_matches(dom, std::regex("<canvas[^>]*data-rendered=\"[1-9][0-9]*\"")), canvases);
  EXPECT_NE(dom.find("flipped labels restored"), std::string::npos);
  EXPECT_NE(dom.find("3 of 3 (100.0%)"), std::string::npos);
  EXPECT_EQ(dom.find("<p class=\"err\">"), std::string::npos) << "the page reported a script error";

  // A standard run: the section is there but hidden, and says why in its state.
  const auto standard = dir_ / "standard";
  testing::make_synthetic_run(standard, 3, 3);
  const auto page = generate_report(standard, options);
  const std::string dom2 = rendered_dom(dir_, "standard", page.index_html);
  ASSERT_FALSE(dom2.empty());
  std::smatch tag;
  ASSERT_TRUE(std::regex_search(dom2, tag, std::regex("<section id=\"correction\"[^>]*>")));
  EXPECT_NE(tag.str().find("display: none"), std::string::npos) << tag.str();
  EXPECT_NE(tag.str().find("data-filled=\"absent\""), std::string::npos) << tag.str();
}

}  // namespace
}  // namespace mapd::report
