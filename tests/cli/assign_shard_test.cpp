// The sharded assignment through the real binary (issue 15 item 4): `mapd assign --shard I/N` in
// any order, then `--merge N`, gives exactly the outputs of one `mapd assign`; a finished part is
// skipped, a part for other options is redone, a missing or stale part stops the merge with its
// name, and a malformed --shard is a usage error.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "mapd/core/run_layout.hpp"
#include "mapd/record/assignment_store.hpp"

#include "../knn/synthetic_run.hpp"
#include "pipeline_fixtures.hpp"

namespace mapd::cli {
namespace {

using testing::read_text;
using testing::run_mapd;
namespace fsys = std::filesystem;

/// What `mapd assign` printed before its timing line (the self-test and detection tables).
std::string tables(const std::string& output) {
  const auto end = output.find("\nassigned ");
  return end == std::string::npos ? output : output.substr(0, end);
}

/// The `mapd: error: ...` line of an output ("" when there is none).
std::string error_line(const std::string& output) {
  const auto start = output.find("mapd: error: ");
  if (start == std::string::npos) return "";
  return output.substr(start, output.find('\n', start) - start);
}

/// A synthetic run with injected label noise (2,000 train rows, 3 probe categories, 30 epochs).
class AssignShardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    run_ = dir_ / "run";
    knn::write_run(run_, knn::make_run(2000, 60, 30, 30, 0.15, 11));
  }
  void TearDown() override {
    if (!HasFailure()) fsys::remove_all(dir_);
  }

  /// Runs `mapd assign RUN ARGS` and expects exit code 0.
  std::string assign(const std::string& args) {
    const auto r = run_mapd("assign " + run_.string() + " --log-level warn " + args);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }

  fsys::path dir_;
  fsys::path run_;
};

TEST_F(AssignShardTest, ThreePartsMergedEqualOneAssignment) {
  const RunLayout layout(run_);
  const auto whole_output = assign("-k 20");
  const auto whole_csv = read_text(layout.assignments_csv());
  const auto whole_selftest = read_text(layout.selftest());
  const auto whole_detection = read_text(layout.detection());
  record::AssignmentMeta whole_meta;
  const auto whole = record::AssignmentStore::read(layout.assignments_h5(), &whole_meta);
  for (const auto& path :
       {layout.assignments_csv(), layout.assignments_h5(), layout.selftest(), layout.detection()}) {
    fsys::remove(path);
  }

  // The tasks of an array run in any order.
  for (const char* shard : {"2/3", "0/3", "1/3"}) {
    const auto out = assign(std::string("-k 20 --shard ") + shard);
    EXPECT_NE(out.find(std::string("part ") + shard + ": assigned"), std::string::npos) << out;
  }
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(fsys::exists(layout.assign_part(i, 3))) << layout.assign_part(i, 3);
    EXPECT_FALSE(fsys::exists(RunLayout::temporary(layout.assign_part(i, 3))));
  }
  EXPECT_EQ(layout.assign_part(2, 3).filename(), "part-0002-of-0003.h5");
  EXPECT_FALSE(fsys::exists(layout.assignments_csv())) << "a part writes only its part";

  const auto merged_output = assign("-k 20 --merge 3");
  EXPECT_EQ(tables(merged_output), tables(whole_output));
  // The scores are computed in double per row whatever the block, so every value is the same, and
  // the CSV (six significant digits) is the same text.
  EXPECT_EQ(read_text(layout.assignments_csv()), whole_csv);
  EXPECT_EQ(read_text(layout.selftest()), whole_selftest);
  EXPECT_EQ(read_text(layout.detection()), whole_detection);
  record::AssignmentMeta merged_meta;
  const auto merged = record::AssignmentStore::read(layout.assignments_h5(), &merged_meta);
  EXPECT_EQ(merged.id, whole.id);
  EXPECT_EQ(merged.row, whole.row);
  EXPECT_EQ(merged.label, whole.label);
  EXPECT_EQ(merged.assigned, whole.assigned);
  EXPECT_EQ(merged.max_prob, whole.max_prob);
  EXPECT_EQ(merged.prob, whole.prob);
  EXPECT_EQ(merged.score, whole.score);
  EXPECT_EQ(merged.label_issue, whole.label_issue);
  EXPECT_EQ(merged_meta.config_json, whole_meta.config_json);
  EXPECT_EQ(merged_meta.k, 20);
  EXPECT_EQ(merged_meta.epoch_end, 30);

  // `mapd report` reads the merged outputs as it reads one assignment's.
  const auto report = run_mapd("report " + run_.string() + " --log-level warn");
  EXPECT_EQ(report.exit_code, 0) << report.output;
}

TEST_F(AssignShardTest, AFinishedPartIsSkippedAndAPartForOtherOptionsIsRedone) {
  const RunLayout layout(run_);
  assign("-k 20 --shard 0/2");
  const auto part = layout.assign_part(0, 2);
  const auto written = fsys::last_write_time(part);
  const auto again = assign("-k 20 --shard 0/2");
  EXPECT_NE(again.find("part 0/2 already done"), std::string::npos) << again;
  EXPECT_EQ(fsys::last_write_time(part), written);
  // The memory budget and block size change no value: still done.
  EXPECT_NE(assign("-k 20 --shard 0/2 --set knn.block_size=37").find("already done"), std::string::npos);

  // Other epochs (a live run committed more, or knn.epoch_end): redone.
  const auto epochs = assign("-k 20 --shard 0/2 --set knn.epoch_end=12");
  EXPECT_NE(epochs.find("part 0/2: assigned"), std::string::npos) << epochs;
  EXPECT_NE(assign("-k 20 --shard 0/2 --set knn.epoch_end=12").find("already done"), std::string::npos);
  const auto other = assign("-k 7 --shard 0/2");
  EXPECT_NE(other.find("part 0/2: assigned"), std::string::npos) << other;
  assign("-k 20 --shard 1/2");
  // Part 0 is for k = 7 now: the merge with k = 20 names it and says how to redo it.
  const auto stale = run_mapd("assign " + run_.string() + " -k 20 --merge 2");
  EXPECT_EQ(stale.exit_code, 3) << stale.output;
  const auto line = error_line(stale.output);
  EXPECT_NE(line.find("part 0/2"), std::string::npos) << line;
  EXPECT_NE(line.find("part-0000-of-0002.h5"), std::string::npos) << line;
  EXPECT_NE(line.find("knn differ"), std::string::npos) << line;
  EXPECT_NE(line.find("--shard I/2"), std::string::npos) << line;
  EXPECT_EQ(line.find("part 1/2"), std::string::npos) << line;
  EXPECT_FALSE(fsys::exists(layout.assignments_csv()));
}

TEST_F(AssignShardTest, AMissingPartStopsTheMergeNamingIt) {
  const RunLayout layout(run_);
  assign("--shard 0/3");
  assign("--shard 2/3");
  const auto r = run_mapd("assign " + run_.string() + " --merge 3");
  EXPECT_EQ(r.exit_code, 3) << r.output;
  const auto line = error_line(r.output);
  EXPECT_NE(line.find("1 missing: part 1/3"), std::string::npos) << line;
  EXPECT_NE(line.find("part-0001-of-0003.h5"), std::string::npos) << line;
  EXPECT_NE(line.find("make it with `mapd assign " + run_.string() + " --shard 1/3`"), std::string::npos)
      << line;
  EXPECT_FALSE(fsys::exists(layout.assignments_h5()));
  // Parts of another split are other files: a merge of 2 finds none of them, and says what is there.
  const auto two = run_mapd("assign " + run_.string() + " --merge 2");
  EXPECT_EQ(two.exit_code, 3) << two.output;
  const auto two_line = error_line(two.output);
  EXPECT_NE(two_line.find("2 missing"), std::string::npos) << two_line;
  EXPECT_NE(two_line.find("--shard I/2` for each missing part I"), std::string::npos) << two_line;
  EXPECT_NE(two_line.find("did you mean --merge 3?"), std::string::npos) << two_line;
}

TEST_F(AssignShardTest, AMalformedShardIsAUsageErrorThatSaysTheForm) {
  for (const char* bad : {"3", "3/3", "a/b", "-1/3", "1/0", "1/2/3", "1 /2"}) {
    const auto r = run_mapd("assign " + run_.string() + " --shard '" + bad + "'");
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.output;
    EXPECT_NE(error_line(r.output).find("--shard"), std::string::npos) << bad << ": " << r.output;
  }
  const auto r = run_mapd("assign " + run_.string() + " --shard 3/3");
  EXPECT_NE(error_line(r.output).find("tasks are numbered 0 to N-1"), std::string::npos) << r.output;
  const auto form = run_mapd("assign " + run_.string() + " --shard x");
  EXPECT_NE(error_line(form.output).find("expected I/N"), std::string::npos) << form.output;
  const auto both = run_mapd("assign " + run_.string() + " --shard 0/2 --merge 2");
  EXPECT_EQ(both.exit_code, 2) << both.output;
  const auto zero = run_mapd("assign " + run_.string() + " --merge 0");
  EXPECT_EQ(zero.exit_code, 2) << zero.output;
  EXPECT_FALSE(fsys::exists(RunLayout(run_).assign_parts()));
}

}  // namespace
}  // namespace mapd::cli
