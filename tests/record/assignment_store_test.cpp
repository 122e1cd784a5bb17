#include "mapd/record/assignment_store.hpp"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "../common/expect_error.hpp"
#include "h5_craft.hpp"
#include "test_util.hpp"

namespace mapd::record {
namespace {

using testing::internal_error_of;
using testing::make_examples;
using testing::make_meta;
using testing::TempDir;

AssignmentMeta make_assignment_meta() {
  AssignmentMeta meta;
  meta.category_names = {"typical", "atypical", "mislabeled"};
  meta.config_json = R"({"knn": {"k": 5}})";
  meta.mapd_version = "0.1.0-test";
  meta.k = 5;
  meta.epoch_begin = 2;
  meta.epoch_end = 9;
  meta.label_issue_ranks = "0.99 * percentile of the AUM (minus the mean margin) + 0.01 * P(mislabeled)";
  return meta;
}

/// Column values for rows [offset, offset + count) with C = 3 categories.
struct Rows {
  std::vector<int64_t> id, row, label;
  std::vector<int16_t> assigned;
  std::vector<float> max_prob, prob, score, label_issue;

  Rows(int64_t offset, int64_t count) {
    for (int64_t i = offset; i < offset + count; ++i) {
      id.push_back(500 + i);
      row.push_back(i);
      label.push_back(i % 7);
      assigned.push_back(static_cast<int16_t>(i % 3));
      max_prob.push_back(0.5F + 0.01F * static_cast<float>(i));
      for (int64_t c = 0; c < 3; ++c) {
        prob.push_back(static_cast<float>(i * 3 + c) / 100.0F);
        score.push_back(-static_cast<float>(i * 3 + c));
      }
      label_issue.push_back(static_cast<float>(i) * 0.25F);
    }
  }
  [[nodiscard]] AssignmentStore::Block block() const {
    AssignmentStore::Block b;
    b.count = static_cast<int64_t>(id.size());
    b.id = id.data();
    b.row = row.data();
    b.label = label.data();
    b.assigned = assigned.data();
    b.max_prob = max_prob.data();
    b.prob = prob.data();
    b.score = score.data();
    b.label_issue = label_issue.data();
    return b;
  }
};

TEST(AssignmentStore, RoundTripInBlocks) {
  TempDir dir;
  const auto path = dir / "assignments.h5";
  {
    AssignmentStore store = AssignmentStore::create(path, make_assignment_meta(), 10);
    store.write(6, Rows(6, 4).block());  // blocks may arrive in any order
    store.write(0, Rows(0, 6).block());
    store.close();
    store.close();  // idempotent
  }
  AssignmentMeta meta;
  const AssignmentStore::Columns got = AssignmentStore::read(path, &meta);
  const AssignmentMeta want_meta = make_assignment_meta();
  EXPECT_EQ(meta.category_names, want_meta.category_names);
  EXPECT_EQ(meta.config_json, want_meta.config_json);
  EXPECT_EQ(meta.mapd_version, want_meta.mapd_version);
  EXPECT_EQ(meta.format_version, 1);
  EXPECT_EQ(meta.k, 5);
  EXPECT_EQ(meta.epoch_begin, 2);
  EXPECT_EQ(meta.epoch_end, 9);
  EXPECT_EQ(meta.label_issue_ranks, want_meta.label_issue_ranks);
  const Rows want(0, 10);
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.row, want.row);
  EXPECT_EQ(got.label, want.label);
  EXPECT_EQ(got.assigned, want.assigned);
  EXPECT_EQ(got.max_prob, want.max_prob);
  EXPECT_EQ(got.prob, want.prob);
  EXPECT_EQ(got.score, want.score);
  EXPECT_EQ(got.label_issue, want.label_issue);
  EXPECT_NO_THROW(AssignmentStore::read(path, nullptr));
}

// A part of a sharded assignment learns its totals only after its last block: config_json is
// replaced before close, and read_meta reads it without the columns.
TEST(AssignmentStore, ConfigJsonIsReplacedBeforeCloseAndReadWithoutTheColumns) {
  TempDir dir;
  const auto path = dir / "part.h5";
  {
    AssignmentStore store = AssignmentStore::create(path, make_assignment_meta(), 4);
    store.write(0, Rows(0, 4).block());
    store.set_config_json(R"({"key": {"shard": 1}, "totals": {"queries": 4}})");
    store.set_config_json(R"({"key": {"shard": 2}, "totals": {"queries": 4}})");  // again: still one
    store.close();
    EXPECT_NE(internal_error_of([&] { store.set_config_json("{}"); }).find("closed"), std::string::npos);
  }
  const AssignmentMeta meta = AssignmentStore::read_meta(path);
  EXPECT_EQ(meta.config_json, R"({"key": {"shard": 2}, "totals": {"queries": 4}})");
  EXPECT_EQ(meta.k, 5);
  EXPECT_EQ(meta.category_names, make_assignment_meta().category_names);
  EXPECT_EQ(AssignmentStore::read(path, nullptr).id, Rows(0, 4).id);
  EXPECT_THROW(AssignmentStore::read_meta(dir / "missing.h5"), IoError);
}

// A file from before mapd recorded what /label_issue ranks reads with that left empty.
TEST(AssignmentStore, FileWithoutLabelIssueRanksReadsWithItEmpty) {
  TempDir dir;
  const auto path = dir / "assignments.h5";
  {
    AssignmentStore store = AssignmentStore::create(path, make_assignment_meta(), 4);
    store.write(0, Rows(0, 4).block());
    store.close();
  }
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  ASSERT_GE(H5Adelete(file, "label_issue_ranks"), 0);
  ASSERT_GE(H5Fclose(file), 0);
  AssignmentMeta meta;
  EXPECT_EQ(AssignmentStore::read(path, &meta).label_issue, Rows(0, 4).label_issue);
  EXPECT_EQ(meta.label_issue_ranks, "");
  EXPECT_EQ(meta.k, 5);
}

// Issue 13 item 10: text ids go into /name; a file without them has none.
TEST(AssignmentStore, TextIdsAreWrittenAsNames) {
  TempDir dir;
  const auto path = dir / "assignments.h5";
  const std::vector<std::string> names = {"img-0", "a,b", "", "\xC3\xA4"};
  {
    AssignmentStore store = AssignmentStore::create(path, make_assignment_meta(), 4);
    store.write(0, Rows(0, 4).block());
    EXPECT_NE(internal_error_of([&] { store.write_names({"one"}); }).find("1 names for 4 rows"),
              std::string::npos);
    store.write_names(names);
  }
  EXPECT_EQ(AssignmentStore::read(path, nullptr).name, names);
  const auto plain = dir / "plain.h5";
  AssignmentStore::create(plain, make_assignment_meta(), 0).close();
  EXPECT_TRUE(AssignmentStore::read(plain, nullptr).name.empty());
}

TEST(AssignmentStore, UnwrittenRowsAndColumnsKeepFillValues) {
  TempDir dir;
  const auto path = dir / "assignments.h5";
  {
    AssignmentStore store = AssignmentStore::create(path, make_assignment_meta(), 4);
    Rows rows(0, 2);
    AssignmentStore::Block block = rows.block();
    block.score = nullptr;  // optional columns
    block.label_issue = nullptr;
    store.write(0, block);
  }  // the destructor closes
  const AssignmentStore::Columns got = AssignmentStore::read(path, nullptr);
  ASSERT_EQ(got.id.size(), 4U);
  EXPECT_EQ(got.id[1], 501);
  EXPECT_EQ(got.id[2], -1);
  EXPECT_EQ(got.assigned[3], -1);
  EXPECT_TRUE(std::isnan(got.max_prob[2]));
  EXPECT_TRUE(std::isnan(got.score[0]));
  EXPECT_TRUE(std::isnan(got.label_issue[1]));
  EXPECT_FLOAT_EQ(got.prob[3], 0.03F);
}

TEST(AssignmentStore, EmptyFile) {
  TempDir dir;
  const auto path = dir / "assignments.h5";
  AssignmentStore::create(path, make_assignment_meta(), 0).close();
  const AssignmentStore::Columns got = AssignmentStore::read(path, nullptr);
  EXPECT_TRUE(got.id.empty());
  EXPECT_TRUE(got.prob.empty());
}

TEST(AssignmentStore, RowsOutsideTheFileAreAnInternalError) {
  TempDir dir;
  AssignmentStore store = AssignmentStore::create(dir / "a.h5", make_assignment_meta(), 5);
  auto message = internal_error_of([&] { store.write(3, Rows(3, 3).block()); });
  EXPECT_NE(message.find("AssignmentStore::write: rows [3, 6) outside [0, 5)"), std::string::npos) << message;
  EXPECT_NE(message.find("assignment_store.cpp:"), std::string::npos) << message;  // file and line
  message = internal_error_of([&] { store.write(-1, Rows(0, 1).block()); });
  EXPECT_NE(message.find("rows [-1, 0) outside [0, 5)"), std::string::npos) << message;
  store.close();
  message = internal_error_of([&] { store.write(0, Rows(0, 1).block()); });
  EXPECT_NE(message.find("the assignment file is closed"), std::string::npos) << message;
  message =
      internal_error_of([&] { (void)AssignmentStore::create(dir / "b.h5", make_assignment_meta(), -1); });
  EXPECT_NE(message.find("AssignmentStore::create: n must be >= 0, got -1"), std::string::npos) << message;
}

TEST(AssignmentStore, BadFilesAreIoErrors) {
  TempDir dir;
  MAPD_EXPECT_THROW_WITH(AssignmentStore::read(dir / "missing.h5", nullptr), IoError,
                         "missing.h5': no such file");
  const auto text = dir / "text.h5";
  std::ofstream(text) << "not hdf5";
  try {
    AssignmentStore::read(text, nullptr);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("text.h5"), std::string::npos) << e.what();
  }
  // A dynamics file is not an assignment file, and the other way round.
  const auto dynamics = dir / "dynamics.h5";
  DynamicsStore::create(dynamics, make_meta("fp16"), make_examples(5));
  try {
    AssignmentStore::read(dynamics, nullptr);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("not a mapd assignment file"), std::string::npos) << e.what();
  }
  const auto assignments = dir / "assignments.h5";
  AssignmentStore::create(assignments, make_assignment_meta(), 2).close();
  try {
    (void)DynamicsStore::open_read(assignments);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("not a mapd dynamics file"), std::string::npos) << e.what();
  }
  MAPD_EXPECT_THROW_WITH(AssignmentStore::create(dir / "no_dir" / "a.h5", make_assignment_meta(), 2), IoError,
                         "no_dir/a.h5");
}

TEST(AssignmentStore, DatasetsOfTheWrongShapeOrTypeAreDataErrors) {
  TempDir dir;
  const auto valid = dir / "valid.h5";
  AssignmentStore::create(valid, make_assignment_meta(), 4).close();  // C = 3
  hid_t fixed_string = H5Tcopy(H5T_C_S1);
  H5Tset_size(fixed_string, 4);
  struct Case {
    std::string dataset;
    std::vector<hsize_t> dims;
    hid_t type;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"/id", {4, 2}, H5T_STD_I64LE, {"shape [4, 2]", "expected shape [any]"}},
      {"/row", {5}, H5T_STD_I64LE, {"shape [5]", "expected shape [4]"}},
      {"/assigned", {4}, fixed_string, {"type string", "type integer"}},
      {"/max_prob", {4}, H5T_STD_I32LE, {"32-bit integer", "type float"}},
      {"/prob", {12}, H5T_IEEE_F32LE, {"shape [12]", "expected shape [4, 3]"}},
      {"/score", {4, 2}, H5T_IEEE_F32LE, {"shape [4, 2]", "expected shape [4, 3]"}},
      {"/label_issue", {}, H5T_IEEE_F32LE, {"[] (a scalar)", "expected shape [4]"}},
  };
  for (const auto& c : cases) {
    const auto path = dir / "assignments.h5";
    std::filesystem::copy_file(valid, path, std::filesystem::copy_options::overwrite_existing);
    ASSERT_NO_FATAL_FAILURE(testing::replace_dataset(path, c.dataset, c.dims, c.type)) << c.dataset;
    try {
      (void)AssignmentStore::read(path, nullptr);
      ADD_FAILURE() << c.dataset << ": no DataError";
    } catch (const DataError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("dataset '" + c.dataset + "'"), std::string::npos) << message;
      EXPECT_NE(message.find(path.string()), std::string::npos) << message;
      for (const auto& part : c.parts) {
        EXPECT_NE(message.find(part), std::string::npos) << "no '" << part << "' in: " << message;
      }
    }
  }
  H5Tclose(fixed_string);
}

TEST(AssignmentStore, ExampleCountBeyondWhatTheFileHoldsIsDataErrorNotAHugeAllocation) {
  // Found by tests/fuzz (issue 13 item 14): a 12 KB file whose /id claims 2^34 rows (a dataset
  // never written takes no space) made read allocate 128 GB per column: std::bad_alloc.
  TempDir dir;
  const auto path = dir / "assignments.h5";
  AssignmentStore::create(path, make_assignment_meta(), 4).close();
  ASSERT_NO_FATAL_FAILURE(
      testing::replace_with_unwritten_dataset(path, "/id", {hsize_t{1} << 34U}, H5T_STD_I64LE));
  MAPD_EXPECT_THROW_WITH((void)AssignmentStore::read(path, nullptr), DataError, "'/id' in HDF5 file",
                         "claims 17179869184 elements of 8 bytes");
}

}  // namespace
}  // namespace mapd::record
