#include <unistd.h>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

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
  for (const char* id : {"notes", "summary", "selftest", "trajectories", "assignments", "surfaced", "table",
                         "learning", "datamap", "detection"}) {
    const std::regex filled(std::string("<section id=\"") + id + "\"[^>]*data-filled=\"true\"");
    EXPECT_EQ(count_matches(dom, filled), 1) << "section " << id << " was not filled";
  }
  // Charts: 2 in summary, 2 trajectories, 1 assignments, 3 surfaced (2 categories and the likely
  // label errors), 2 learning, 1 data map, 1 detection; each canvas is marked with the number of
  // points drawn.
  const int canvases = count_matches(dom, std::regex("<canvas"));
  const int drawn = count_matches(dom, std::regex("<canvas[^>]*data-rendered=\"[1-9][0-9]*\""));
  EXPECT_EQ(canvases, 12);
  EXPECT_EQ(drawn, canvases);
  // Surfaced image tiles with their ids; the self-test confusion matrix and detection table.
  EXPECT_EQ(count_matches(dom, std::regex("class=\"tile\" data-id=\"")), 24);
  EXPECT_EQ(count_matches(dom, std::regex("<img src=\"data:image/png;base64,")), 24);
  EXPECT_NE(dom.find("true \\ assigned"), std::string::npos);
  EXPECT_NE(dom.find("p_mislabeled"), std::string::npos);
  // What label_issue ranks, from assignments.h5's label_issue_ranks.
  EXPECT_NE(
      dom.find("label_issue (the likely label errors, the table's default order) ranks: 0.99 * percentile "
               "of the synthetic evidence + 0.01 * P(mislabeled)."),
      std::string::npos);
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
  // truth) join the 12 of the other sections, every one drawn.
  const int canvases = count_matches(dom, std::regex("<canvas"));
  EXPECT_EQ(canvases, 15);
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

// The test's side of the browsing-table check: appended to a copy of index.html, it drives the
// table through its real controls (clicks on headers and buttons, input and change events on the
// filters), records the ids shown after each step and the exported CSV, and writes them as JSON
// into <pre id="mapd-test-results"> for the DOM dump.
constexpr const char* kTableScript = R"JS(
<script>
(function () {
  var out = {};
  function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }
  function ids() { return all("#table-rows tbody td.id").map(function (td) { return td.textContent; }); }
  function fire(e, type) { e.dispatchEvent(new Event(type, { bubbles: true })); }
  function set(id, value, type) { var e = document.getElementById(id); e.value = value; fire(e, type); }
  function header(title) { return all("#table-rows th[data-col]").filter(function (th) { return th.textContent.replace(/ [▲▼]$/, "") === title; })[0]; }
  function row(id) { return all("#table-rows tbody tr").filter(function (tr) { return tr.querySelector("td.id").textContent === id; })[0]; }
  out.initial = ids();
  out.status = document.getElementById("table-status").textContent;
  out.given_cell = row("1").children[3].textContent;
  out.markup_elements = all("#table-rows b, #table-rows script").length;
  header("id").click(); out.id_ascending = ids();
  header("id").click(); out.id_descending = ids();
  header("P(typical)").click(); out.p_typical = ids().slice(0, 4);
  out.sorted_header = header("P(typical)").getAttribute("aria-sort");
  header("label_issue").click(); out.back_to_issue = ids().slice(0, 5);
  set("table-filter-category", "1", "change"); out.mislabeled = ids();
  set("table-filter-id", "2", "input"); out.mislabeled_id2 = ids();
  set("table-filter-id", "", "input"); set("table-filter-category", "", "change");
  set("table-filter-issue", "0.71", "input"); out.issue_071 = ids(); set("table-filter-issue", "", "input");
  set("table-filter-pcat", "0", "change"); set("table-filter-p", "0.88", "input"); out.p_typical_088 = ids();
  set("table-filter-p", "", "input"); set("table-filter-pcat", "", "change");
  set("table-filter-given", "0", "change"); out.given0 = ids().length; set("table-filter-given", "", "change");
  var d = document.getElementById("table-filter-disagree"); d.checked = true; fire(d, "change"); out.disagree = ids();
  d.checked = false; fire(d, "change");
  var noise = document.getElementById("table-filter-noise"); noise.checked = true; fire(noise, "change"); out.injected = ids();
  noise.checked = false; fire(noise, "change");
  set("table-page-size", "25", "change"); out.page1 = ids().length;
  document.getElementById("table-next").click(); out.page2 = ids(); out.page_label = document.getElementById("table-page").textContent;
  set("table-page-size", "50", "change");
  var box = row("0").querySelector("input.mark"); box.checked = true; fire(box, "change");
  out.default_target = row("0").querySelector("select.relabel").value;
  var remove = row("1").querySelector("select.relabel"); remove.value = "-1"; fire(remove, "change");
  var to = row("29").querySelector("select.relabel"); to.value = "0"; fire(to, "change");
  out.marked_rows = all("#table-rows tbody tr.marked").length;
  var m = document.getElementById("table-filter-marked"); m.checked = true; fire(m, "change"); out.marked_only = ids();
  m.checked = false; fire(m, "change");
  document.getElementById("table-export").click();
  out.csv = document.getElementById("table-export-csv").textContent;
  var link = document.getElementById("table-export-link");
  out.link = link.getAttribute("download") + " " + link.href.slice(0, 5);
  out.thumb = [row("0").querySelector(".thumb").getAttribute("data-sheet"), row("29").querySelector(".thumb").style.backgroundPosition];
  var pre = document.createElement("pre"); pre.id = "mapd-test-results"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>
)JS";

std::string unescape_text(std::string text) {
  for (const auto& [entity, c] :
       {std::pair<std::string, std::string>{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}}) {
    for (size_t pos = 0; (pos = text.find(entity, pos)) != std::string::npos; pos += c.size()) {
      text.replace(pos, entity.size(), c);
    }
  }
  return text;
}

// Issue 16 item 5: sort, filter, mark and export in the browsing table, in headless Chromium.
TEST_F(ReportBrowserTest, TableSortsFiltersAndExportsARelabelCsv) {
  const auto run_dir = dir_ / "run";
  // Class names with markup and CSV specials; 3 epochs: rows r % 7 == 0 and r % 5 in {3, 4} are
  // predicted wrong at the last one.
  const auto run = testing::make_synthetic_run(run_dir, 3, 3, true, testing::SyntheticData::kIdx, false,
                                               {"<b>even</b>", "odd,\"q\""});
  const auto result = generate_report(run_dir, config::ReportConfig{});
  std::string html = fs::read_file(result.index_html);
  const auto end = html.rfind("</body>");
  ASSERT_NE(end, std::string::npos);
  html.insert(end, kTableScript);
  const auto page = result.index_html.parent_path() / "index-test.html";  // next to table/
  fs::write_file_atomic(page, html);

  const std::string dom = rendered_dom(dir_, "table", page);
  ASSERT_FALSE(dom.empty());
  EXPECT_NE(dom.find("data-mapd-rendered=\"ok\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_EQ(count_matches(dom, std::regex("<section id=\"table\"[^>]*data-filled=\"true\"")), 1);
  const std::string open = "<pre id=\"mapd-test-results\">";
  const auto begin = dom.find(open);
  ASSERT_NE(begin, std::string::npos) << "the interaction script did not finish";
  const auto close = dom.find("</pre>", begin);
  const auto out =
      nlohmann::json::parse(unescape_text(dom.substr(begin + open.size(), close - begin - open.size())));

  using Ids = std::vector<std::string>;
  const auto ids = [](std::initializer_list<int> rows) {
    Ids list;
    for (const int r : rows) list.push_back(std::to_string(r));
    return list;
  };
  const auto range = [](int from, int to, int step) {
    Ids list;
    for (int r = from; step > 0 ? r <= to : r >= to; r += step) list.push_back(std::to_string(r));
    return list;
  };
  // Default: label_issue descending (rows 0..2 have 1, row r >= 3 has r / 40), ties by file order.
  Ids by_issue = ids({0, 1, 2});
  for (const auto& id : range(29, 3, -1)) by_issue.push_back(id);
  EXPECT_EQ(out["initial"].get<Ids>(), by_issue);
  EXPECT_EQ(out["status"], "rows 1–30 of 30 filtered (30 in the table)");
  EXPECT_EQ(out["given_cell"], "<b>even</b>") << "a class name is shown as text";
  EXPECT_EQ(out["markup_elements"], 0);
  // Sorting: by id up, then down; by P(typical) = 1 - label_issue, highest first; back.
  EXPECT_EQ(out["id_ascending"].get<Ids>(), range(0, 29, 1));
  EXPECT_EQ(out["id_descending"].get<Ids>(), range(29, 0, -1));
  EXPECT_EQ(out["p_typical"].get<Ids>(), ids({3, 4, 5, 6}));
  EXPECT_EQ(out["sorted_header"], "descending");
  EXPECT_EQ(out["back_to_issue"].get<Ids>(), ids({0, 1, 2, 29, 28}));
  // Filters: category mislabeled (P(mislabeled) > 0.5: rows 0..2, 21..29), with "2" in the id; a
  // label_issue and a P threshold; a given label; given != predicted.
  Ids mislabeled = ids({0, 1, 2});
  for (const auto& id : range(29, 21, -1)) mislabeled.push_back(id);
  EXPECT_EQ(out["mislabeled"].get<Ids>(), mislabeled);
  Ids with_2 = ids({2});
  for (const auto& id : range(29, 21, -1)) with_2.push_back(id);
  EXPECT_EQ(out["mislabeled_id2"].get<Ids>(), with_2);
  EXPECT_EQ(out["issue_071"].get<Ids>(), ids({0, 1, 2, 29}));
  EXPECT_EQ(out["p_typical_088"].get<Ids>(), ids({4, 3}));
  EXPECT_EQ(out["given0"], 14);  // label 0: row 1 (flipped) and the even rows from 4
  Ids disagree;
  for (const auto& id : by_issue) {
    const auto r = static_cast<size_t>(std::stoi(id));
    if (run.pred.back()[r] != run.examples.label[r]) disagree.push_back(id);
  }
  EXPECT_EQ(disagree.size(), 15U);
  EXPECT_EQ(out["disagree"].get<Ids>(), disagree);
  EXPECT_EQ(out["injected"].get<Ids>(), ids({0, 1, 2}));  // the rows whose label the run flipped
  // Pages of 25.
  EXPECT_EQ(out["page1"], 25);
  EXPECT_EQ(out["page2"].get<Ids>(), ids({7, 6, 5, 4, 3}));
  EXPECT_EQ(out["page_label"], "page 2 of 2");
  // Marks: row 0 ticked (relabel to its prediction, class 0), row 1 removed, row 29 relabelled to 0.
  EXPECT_EQ(run.pred.back()[0], 0);
  EXPECT_EQ(out["default_target"], "0");
  EXPECT_EQ(out["marked_rows"], 3);
  EXPECT_EQ(out["marked_only"].get<Ids>(), ids({0, 1, 29}));
  EXPECT_EQ(out["csv"],
            "id,given_label,new_label,action,label_issue,category,given_class,new_class\n"
            "0,1,0,relabel,1,mislabeled,\"odd,\"\"q\"\"\",<b>even</b>\n"
            "1,0,,remove,1,mislabeled,<b>even</b>,\n"
            "29,1,0,relabel,0.725,mislabeled,\"odd,\"\"q\"\"\",<b>even</b>\n");
  EXPECT_EQ(out["link"], "relabel.csv blob:");
  // Thumbnails: row 0 is tile 0 of the first sheet, row 29 (fourth in table order) tile 3.
  EXPECT_EQ(out["thumb"][0], "table/thumbs-00000.png");
  EXPECT_EQ(out["thumb"][1], "-96px 0px");
  EXPECT_EQ(dom.find("<p class=\"err\">"), std::string::npos) << "the page reported a script error";

  // The marks outlive the page: the report itself, opened again in the same browser profile.
  const std::string again = rendered_dom(dir_, "table", result.index_html);
  EXPECT_NE(again.find("3 marks restored from an earlier visit"), std::string::npos);
  EXPECT_EQ(count_matches(again, std::regex("<tr data-index=\"[0-9]+\" class=\"marked\"")), 3);

  // Beyond report.table_limit: the rows with the highest label_issue, and how many are left out.
  config::ReportConfig limited;
  limited.table_limit = 5;
  const auto small = generate_report(run_dir, limited);
  const std::string cut = rendered_dom(dir_, "limited", small.index_html);
  EXPECT_NE(
      cut.find("The table holds the 5 training examples with the highest label_issue of 30; 25 are left out "
               "(report.table_limit = 5)."),
      std::string::npos);
  EXPECT_EQ(count_matches(cut, std::regex("<td class=\"l id\"")), 5);
}

}  // namespace
}  // namespace mapd::report
