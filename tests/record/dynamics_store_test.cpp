#include "mapd/record/dynamics_store.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/stitched_dynamics.hpp"

#include "../common/expect_error.hpp"
#include "h5_craft.hpp"
#include "test_util.hpp"

namespace mapd::record {
namespace {

using testing::append_row;
using testing::chunk_location;
using testing::EpochRow;
using testing::fp16_tolerance;
using testing::internal_error_of;
using testing::make_examples;
using testing::make_meta;
using testing::make_row;
using testing::plain_hdf5_open_works;
using testing::replace_dataset;
using testing::replace_with_unwritten_dataset;
using testing::TempDir;

/// Checks every committed value of `store` (epochs [0, epochs)) against make_row.
void expect_rows(const DynamicsStore& store, int64_t epochs, bool fp16) {
  const int64_t n = store.num_examples();
  std::vector<float> loss(static_cast<size_t>(n * epochs));
  std::vector<float> prob(static_cast<size_t>(n * epochs));
  std::vector<int32_t> pred(static_cast<size_t>(n * epochs));
  store.read_losses(0, n, 0, epochs, loss.data());
  store.read_true_probs(0, n, 0, epochs, prob.data());
  store.read_preds(0, n, 0, epochs, pred.data());
  for (int64_t e = 0; e < epochs; ++e) {
    const EpochRow row = make_row(n, e);
    for (int64_t i = 0; i < n; ++i) {
      const size_t at = static_cast<size_t>(i * epochs + e);
      const float want_loss = row.loss[static_cast<size_t>(i)];
      const float want_prob = row.true_prob[static_cast<size_t>(i)];
      if (fp16) {
        ASSERT_NEAR(loss[at], want_loss, fp16_tolerance(want_loss)) << "example " << i << " epoch " << e;
        ASSERT_NEAR(prob[at], want_prob, fp16_tolerance(want_prob)) << "example " << i << " epoch " << e;
      } else {
        ASSERT_EQ(loss[at], want_loss) << "example " << i << " epoch " << e;
        ASSERT_EQ(prob[at], want_prob) << "example " << i << " epoch " << e;
      }
      ASSERT_EQ(pred[at], row.pred[static_cast<size_t>(i)]) << "example " << i << " epoch " << e;
    }
  }
}

class DynamicsRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(DynamicsRoundTrip, ValuesMetaAndExamplesSurviveReopen) {
  const std::string dtype = GetParam();
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  const ExampleColumns examples = make_examples(257, 16);
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta(dtype, "eval"), examples);
    EXPECT_EQ(store.num_examples(), 257);
    EXPECT_EQ(store.complete_epochs(), 0);
    for (int64_t e = 0; e < 4; ++e) {
      append_row(store, e);
      EXPECT_EQ(store.complete_epochs(), e + 1);
    }
    expect_rows(store, 4, dtype == "fp16");  // the writer reads its own rows
  }
  const DynamicsStore store = DynamicsStore::open_read(path);
  EXPECT_EQ(store.complete_epochs(), 4);
  EXPECT_EQ(store.num_examples(), 257);
  const DynamicsMeta& meta = store.meta();
  const DynamicsMeta want = make_meta(dtype, "eval");
  EXPECT_EQ(meta.config_json, want.config_json);
  EXPECT_EQ(meta.mapd_version, want.mapd_version);
  EXPECT_EQ(meta.torch_version, want.torch_version);
  EXPECT_EQ(meta.view, "eval");
  EXPECT_EQ(meta.dtype, dtype);
  EXPECT_EQ(meta.seed, 1234);
  EXPECT_EQ(meta.format_version, 2);
  EXPECT_EQ(meta.category_names, want.category_names);
  EXPECT_EQ(meta.class_names, want.class_names);
  const ExampleColumns& got = store.examples();
  EXPECT_EQ(got.id, examples.id);
  EXPECT_EQ(got.label, examples.label);
  EXPECT_EQ(got.original_label, examples.original_label);
  EXPECT_EQ(got.role, examples.role);
  EXPECT_EQ(got.probe_category, examples.probe_category);
  EXPECT_EQ(got.source_index, examples.source_index);
  EXPECT_EQ(store.path(), path);
  expect_rows(store, 4, dtype == "fp16");
}

INSTANTIATE_TEST_SUITE_P(Dtypes, DynamicsRoundTrip, ::testing::Values("fp16", "fp32"));

TEST(DynamicsStore, Fp16RoundsToNearestAndKeepsSpecialValues) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: round to even gives 1. 65519 rounds down to the
  // largest half, 65504 (65520 would overflow to inf: append_epoch rejects it, see below).
  const std::vector<float> loss = {0.0F,
                                   -0.0F,
                                   1.0F,
                                   1.0F + 0.00048828125F,
                                   1.0F + 3 * 0.00048828125F,
                                   65504.0F,
                                   65519.0F,
                                   INFINITY,
                                   NAN,
                                   1e-7F,
                                   3.0e-5F,
                                   2.302585F};
  const auto n = static_cast<int64_t>(loss.size());
  const std::vector<float> want = {0.0F,
                                   -0.0F,
                                   1.0F,
                                   1.0F,
                                   1.0F + 4 * 0.00048828125F,
                                   65504.0F,
                                   65504.0F,
                                   INFINITY,
                                   NAN,
                                   1.1920928955078125e-07F,
                                   2.9981136322021484e-05F,
                                   2.302734375F};
  std::vector<int32_t> pred(loss.size(), 0);
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(n));
    store.append_epoch(loss.data(), pred.data(), loss.data());
  }
  const DynamicsStore store = DynamicsStore::open_read(path);
  std::vector<float> got(loss.size());
  store.read_losses(0, n, 0, 1, got.data());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << i;
    } else {
      EXPECT_EQ(got[i], want[i]) << "value " << loss[i];
      EXPECT_EQ(std::signbit(got[i]), std::signbit(want[i])) << i;
    }
  }
}

TEST(DynamicsStore, ReadsSubRangesExampleMajor) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  DynamicsStore store = DynamicsStore::create(path, make_meta("fp32"), make_examples(50));
  for (int64_t e = 0; e < 5; ++e) {
    append_row(store, e);
  }
  // Examples [10, 13), epochs [1, 4): out[(i - 10) * 3 + (e - 1)].
  std::vector<float> out(9, -1.0F);
  store.read_losses(10, 13, 1, 4, out.data());
  std::vector<int32_t> preds(9, -1);
  store.read_preds(10, 13, 1, 4, preds.data());
  for (int64_t i = 10; i < 13; ++i) {
    for (int64_t e = 1; e < 4; ++e) {
      const EpochRow row = make_row(50, e);
      EXPECT_EQ(out[static_cast<size_t>((i - 10) * 3 + (e - 1))], row.loss[static_cast<size_t>(i)]);
      EXPECT_EQ(preds[static_cast<size_t>((i - 10) * 3 + (e - 1))], row.pred[static_cast<size_t>(i)]);
    }
  }
  // Empty ranges are fine and write nothing.
  store.read_losses(5, 5, 0, 5, out.data());
  store.read_losses(0, 50, 2, 2, out.data());
}

TEST(DynamicsStore, ReadingBeyondCommittedEpochsIsIoError) {
  TempDir dir;
  DynamicsStore store = DynamicsStore::create(dir / "d.h5", make_meta("fp16"), make_examples(8));
  std::vector<float> out(64);
  MAPD_EXPECT_THROW_WITH(store.read_losses(0, 8, 0, 1, out.data()), IoError, "only 0 epochs are committed");
  append_row(store, 0);
  append_row(store, 1);
  store.read_losses(0, 8, 0, 2, out.data());
  try {
    store.read_losses(0, 8, 0, 3, out.data());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("only 2 epochs are committed"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("d.h5"), std::string::npos) << e.what();
  }
  MAPD_EXPECT_THROW_WITH(store.read_losses(0, 9, 0, 1, out.data()), IoError,
                         "invalid read of examples [0, 9) epochs [0, 1)", "d.h5' (8 examples)");
  MAPD_EXPECT_THROW_WITH(store.read_losses(4, 2, 0, 1, out.data()), IoError, "examples [4, 2)");
  MAPD_EXPECT_THROW_WITH(store.read_losses(-1, 2, 0, 1, out.data()), IoError, "examples [-1, 2)");
  MAPD_EXPECT_THROW_WITH(store.read_preds(0, 8, 1, 0, nullptr), IoError, "epochs [1, 0)");
}

TEST(DynamicsStore, CommitMarkerCountsAppendedEpochs) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(20));
    EXPECT_EQ(DynamicsStore::open_read(path).complete_epochs(), 0);
    append_row(store, 0);
    EXPECT_EQ(DynamicsStore::open_read(path).complete_epochs(), 1);
    append_row(store, 1);
    append_row(store, 2);
  }
  EXPECT_EQ(DynamicsStore::open_read(path).complete_epochs(), 3);
}

TEST(DynamicsStore, OpenAppendTruncatesToCheckpointAndContinues) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp32"), make_examples(33, 4));
    for (int64_t e = 0; e < 5; ++e) {
      append_row(store, e);
    }
  }
  {
    DynamicsStore store = DynamicsStore::open_append(path, 3);
    EXPECT_EQ(store.complete_epochs(), 3);
    EXPECT_EQ(store.meta().dtype, "fp32");
    EXPECT_EQ(store.examples().id, make_examples(33, 4).id);
    std::vector<float> out(33 * 4);
    MAPD_EXPECT_THROW_WITH(store.read_losses(0, 33, 0, 4, out.data()), IoError,
                           "only 3 epochs are committed");
    // Epoch 3 is written again (a resumed run recomputes it); the new values replace the old.
    append_row(store, 3);
    EXPECT_EQ(store.complete_epochs(), 4);
  }
  {
    const DynamicsStore store = DynamicsStore::open_read(path);
    EXPECT_EQ(store.complete_epochs(), 4);
    expect_rows(store, 4, false);
  }
  // keep_epochs beyond the committed count keeps everything committed.
  {
    DynamicsStore store = DynamicsStore::open_append(path, 100);
    EXPECT_EQ(store.complete_epochs(), 4);
  }
  {
    DynamicsStore store = DynamicsStore::open_append(path, 0);
    EXPECT_EQ(store.complete_epochs(), 0);
    append_row(store, 0);
  }
  EXPECT_EQ(DynamicsStore::open_read(path).complete_epochs(), 1);
  const auto message = internal_error_of([&] { (void)DynamicsStore::open_append(path, -1); });
  EXPECT_NE(message.find("DynamicsStore::open_append: keep_epochs must be >= 0, got -1"), std::string::npos)
      << message;
  MAPD_EXPECT_THROW_WITH(DynamicsStore::open_append(dir / "missing.h5", 1), IoError, "missing.h5");
}

TEST(DynamicsStore, SwmrReaderInSameProcessSeesCommittedRows) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  DynamicsStore writer = DynamicsStore::create(path, make_meta("fp16"), make_examples(100, 10));
  DynamicsStore reader = DynamicsStore::open_read(path);
  EXPECT_EQ(reader.complete_epochs(), 0);
  EXPECT_EQ(reader.examples().id, writer.examples().id);
  for (int64_t e = 0; e < 3; ++e) {
    append_row(writer, e);
    EXPECT_EQ(reader.complete_epochs(), e + 1);
    expect_rows(reader, e + 1, true);
  }
  const auto message = internal_error_of([&] { reader.append_epoch(nullptr, nullptr, nullptr); });
  EXPECT_NE(message.find("it was opened read-only"), std::string::npos) << message;
}

/// Blocks until one byte arrives on `fd`; false on EOF.
bool wait_byte(int fd) {
  char byte = 0;
  return ::read(fd, &byte, 1) == 1;
}

void send_byte(int fd) {
  const char byte = 1;
  if (::write(fd, &byte, 1) != 1) {
    std::perror("write");
  }
}

TEST(DynamicsStore, SwmrReaderInAnotherProcessFollowsWriter) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Writer: create, then append one epoch per request from the parent.
    ::close(to_parent[0]);
    ::close(to_child[1]);
    int code = 0;
    try {
      DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(5000, 100));
      send_byte(to_parent[1]);
      for (int64_t e = 0; wait_byte(to_child[0]); ++e) {
        append_row(store, e);
        send_byte(to_parent[1]);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "writer failed: %s\n", e.what());
      code = 1;
    }
    ::_exit(code);
  }
  ::close(to_parent[1]);
  ::close(to_child[0]);
  ASSERT_TRUE(wait_byte(to_parent[0]));
  {
    DynamicsStore reader = DynamicsStore::open_read(path);
    EXPECT_EQ(reader.complete_epochs(), 0);
    for (int64_t e = 0; e < 3; ++e) {
      send_byte(to_child[1]);
      ASSERT_TRUE(wait_byte(to_parent[0]));
      EXPECT_EQ(reader.complete_epochs(), e + 1);
      expect_rows(reader, e + 1, true);
    }
  }
  ::close(to_child[1]);  // EOF: the writer closes its file and exits
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ::close(to_parent[0]);
  EXPECT_EQ(DynamicsStore::open_read(path).complete_epochs(), 3);
}

/// After a writer was killed: every epoch it reported committed (`reported`, or one more it
/// committed before the kill landed) reads back, and a resumed writer continues the file.
void expect_resumable_after_kill(const std::filesystem::path& path, int64_t reported, bool fp16,
                                 const std::string& what) {
  SCOPED_TRACE(what);
  int64_t complete = 0;
  {
    const DynamicsStore store = DynamicsStore::open_read(path);
    complete = store.complete_epochs();
    EXPECT_GE(complete, reported);
    EXPECT_LE(complete, reported + 1);
    expect_rows(store, complete, fp16);
  }
  {
    DynamicsStore store = DynamicsStore::open_append(path, complete);
    EXPECT_EQ(store.complete_epochs(), complete);
    append_row(store, complete);
  }
  const DynamicsStore store = DynamicsStore::open_read(path);
  EXPECT_EQ(store.complete_epochs(), complete + 1);
  expect_rows(store, complete + 1, fp16);
}

/// Waits for the killed child `pid`; fails unless SIGKILL ended it.
void expect_killed(pid_t pid) {
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
}

fault::AppendStage kill_stage = fault::AppendStage::kRowsWritten;
int kill_delay_us = -1;  ///< < 0: kill at kill_stage; else that many microseconds after it
void kill_at_stage(fault::AppendStage stage) {
  if (stage != kill_stage) {
    return;
  }
  if (kill_delay_us < 0) {
    ::raise(SIGKILL);
  }
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::microseconds(kill_delay_us));
    ::raise(SIGKILL);
  }).detach();
}

/// Forks a writer of `n` examples that commits `before` epochs, then kills itself at `stage` of
/// the next append (`delay_us` later when >= 0). Returns its pid.
pid_t fork_writer_killed_at(const std::filesystem::path& path, const std::string& dtype, int64_t n,
                            int64_t before, fault::AppendStage stage, int delay_us) {
  const pid_t pid = ::fork();
  if (pid != 0) {
    return pid;
  }
  try {
    DynamicsStore store = DynamicsStore::create(path, make_meta(dtype), make_examples(n, 50));
    for (int64_t e = 0; e < before; ++e) {
      append_row(store, e);
    }
    kill_stage = stage;
    kill_delay_us = delay_us;
    fault::set_append_hook(kill_at_stage);
    append_row(store, before);
    ::pause();  // until a delayed kill lands
  } catch (const std::exception& e) {
    std::fprintf(stderr, "writer failed: %s\n", e.what());
  }
  ::_exit(1);
}

TEST(DynamicsStore, KilledAtEachStageOfAnAppendResumes) {
  // Deterministic kills inside append_epoch: after the rows are written, after they are synced,
  // and after the commit.
  const int64_t before = 3;
  const fault::AppendStage stages[] = {fault::AppendStage::kRowsWritten, fault::AppendStage::kRowsSynced,
                                       fault::AppendStage::kCommitted};
  for (const std::string dtype : {"fp16", "fp32"}) {
    for (const fault::AppendStage stage : stages) {
      TempDir dir;
      const auto path = dir / "dynamics.h5";
      const pid_t pid = fork_writer_killed_at(path, dtype, 60000, before, stage, -1);
      ASSERT_GE(pid, 0);
      ASSERT_NO_FATAL_FAILURE(expect_killed(pid));
      const int64_t committed = stage == fault::AppendStage::kCommitted ? before + 1 : before;
      const std::string what = dtype + ", stage " + std::to_string(static_cast<int>(stage));
      expect_resumable_after_kill(path, committed, dtype == "fp16", what);
      EXPECT_EQ(DynamicsStore::open_read(path).complete_epochs(), committed + 1) << what;
    }
  }
}

TEST(DynamicsStore, KilledWhileFlushingAnEpochResumes) {
  // SIGKILL a few microseconds after the rows are written, so that it lands inside the flush that
  // follows: HDF5 may have written the grown datasets and their chunk index but not the
  // superblock's end of allocated space. Resuming such a file once failed with "addr overflow"
  // (in 8 of 8 runs of this test).
  for (int attempt = 0; attempt < 40; ++attempt) {
    TempDir dir;
    const auto path = dir / "dynamics.h5";
    const int delay_us = (attempt % 5) * 4;
    const pid_t pid =
        fork_writer_killed_at(path, "fp16", 60000, 3, fault::AppendStage::kRowsWritten, delay_us);
    ASSERT_GE(pid, 0);
    ASSERT_NO_FATAL_FAILURE(expect_killed(pid));
    expect_resumable_after_kill(path, 3, true, "delay " + std::to_string(delay_us) + " us");
  }
}

/// Checks that the object header of each dataset `names` of `path`, and its raw data when
/// contiguous, lie within one 4,096-byte page.
void expect_within_pages(const std::filesystem::path& path, const std::vector<std::string>& names,
                         const std::string& what) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(file, 0) << what;
  const auto one_page = [](haddr_t first, hsize_t bytes) {
    return first / 4096 == (first + bytes - 1) / 4096;
  };
  for (const auto& name : names) {
    H5O_info_t info{};
    ASSERT_GE(H5Oget_info_by_name2(file, name.c_str(), &info, H5O_INFO_BASIC | H5O_INFO_HDR, H5P_DEFAULT), 0);
    EXPECT_EQ(info.hdr.nchunks, 1U) << name << ", " << what;
    EXPECT_TRUE(one_page(info.addr, info.hdr.space.total))
        << name << " (" << what << "): header at " << info.addr << ", " << info.hdr.space.total << " bytes";
    const hid_t ds = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
    const haddr_t data = H5Dget_offset(ds);
    if (data != HADDR_UNDEF) {
      EXPECT_TRUE(one_page(data, H5Dget_storage_size(ds))) << name << " (" << what << "): data at " << data;
    }
    H5Dclose(ds);
  }
  H5Fclose(file);
}

TEST(DynamicsStore, MetadataRewrittenByAnAppendNeverStraddlesAPage) {
  // SIGKILL can cut a write between two kernel pages. An append rewrites every dataset's object
  // header in place (the extent grows) and a commit the value of /epochs/complete; a header that
  // straddles a page could be left half new, half old, failing its checksum with the committed
  // epochs behind it (1 attempt in ~2,000 of the test above did, on /epochs/true_prob at offset
  // 3,900 of its page). The files are laid out in pages, so nothing small crosses one.
  const std::vector<std::string> series = {"/epochs/loss", "/epochs/pred", "/epochs/true_prob",
                                           "/epochs/complete"};
  for (const int64_t n : {60000, 37, 1000}) {
    TempDir dir;
    const auto path = dir / "dynamics.h5";
    {
      DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(n, 50));
      for (int64_t e = 0; e < 6; ++e) {
        append_row(store, e);
      }
    }
    expect_within_pages(path, series, "n = " + std::to_string(n));
  }
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  {
    StitchedDynamics stitched = StitchedDynamics::create(path, make_meta("fp32"), make_examples(1000, 50), 3);
    stitched.commit(1);
  }
  expect_within_pages(path, {"/epochs/complete"}, "stitched");
}

/// Runs `body` in a forked child that then kills itself; fails unless SIGKILL ended it.
template <typename Body>
void in_killed_child(Body body) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!body()) ::_exit(1);
    ::raise(SIGKILL);
  }
  ASSERT_NO_FATAL_FAILURE(expect_killed(pid));
}

TEST(DynamicsStore, KilledBeforeItsLastPagesWereWrittenResumes) {
  // A kill inside a flush can land after the superblock recorded a larger end of allocated space
  // and before the pages up to it were written (3 of 250 runs of the kill tests above): the file
  // is shorter than that end, and HDF5 refused to open it ("truncated file"). Made here on
  // purpose: the end of allocated space of a killed run's file is moved 8 KiB past its data (a
  // clean close writes zeros up to it), a writer opens it and is killed (the superblock is marked
  // "open for writing"), and the zeros are cut off.
  constexpr hsize_t kUnwritten = 8192;
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  const pid_t writer = fork_writer_killed_at(path, "fp16", 1000, 3, fault::AppendStage::kCommitted, -1);
  ASSERT_GE(writer, 0);
  ASSERT_NO_FATAL_FAILURE(expect_killed(writer));
  const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  hbool_t clear = true;
  ASSERT_GE(H5Pset(fapl, "clear_status_flags", &clear), 0);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  ASSERT_GE(file, 0);
  ASSERT_GE(H5Fincrement_filesize(file, kUnwritten), 0);
  ASSERT_GE(H5Fclose(file), 0);
  H5Pclose(fapl);
  const auto size = std::filesystem::file_size(path);
  ASSERT_NO_FATAL_FAILURE(
      in_killed_child([&] { return H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT) >= 0; }));
  std::filesystem::resize_file(path, size - kUnwritten);
  expect_resumable_after_kill(path, 4, true, "cut " + std::to_string(kUnwritten) + " bytes");
}

TEST(DynamicsStore, KillNineKeepsCommittedEpochs) {
  // The child appends epochs in a loop and reports each commit; SIGKILL lands at a different
  // point of the append each attempt. Every reported epoch must stay readable, and a resumed
  // writer must be able to continue the file.
  const int64_t n = 60000;
  for (int attempt = 0; attempt < 9; ++attempt) {
    const bool fp16 = attempt % 3 != 1;
    TempDir dir;
    const auto path = dir / "dynamics.h5";
    int to_parent[2];
    ASSERT_EQ(::pipe(to_parent), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(to_parent[0]);
      try {
        DynamicsStore store =
            DynamicsStore::create(path, make_meta(fp16 ? "fp16" : "fp32"), make_examples(n, 50));
        for (int64_t e = 0; e < 10000; ++e) {
          append_row(store, e);
          const int64_t committed = e + 1;
          if (::write(to_parent[1], &committed, sizeof committed) != sizeof committed) {
            ::_exit(2);
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer failed: %s\n", e.what());
        ::_exit(1);
      }
      ::_exit(0);
    }
    ::close(to_parent[1]);
    int64_t reported = 0;
    while (reported < 3 + attempt % 3) {
      ASSERT_EQ(::read(to_parent[0], &reported, sizeof reported), static_cast<ssize_t>(sizeof reported));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(450 * attempt));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    ASSERT_NO_FATAL_FAILURE(expect_killed(pid));
    // Commits the child made after the last report we read are fine too.
    int64_t later = 0;
    while (::read(to_parent[0], &later, sizeof later) == static_cast<ssize_t>(sizeof later)) {
      reported = later;
    }
    ::close(to_parent[0]);
    expect_resumable_after_kill(path, reported, fp16, "attempt " + std::to_string(attempt));
  }
}

/// Writes a valid file with a few epochs and returns its bytes.
std::string valid_file_bytes(const std::filesystem::path& path) {
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(500, 20));
    for (int64_t e = 0; e < 3; ++e) {
      append_row(store, e);
    }
  }
  std::string bytes(std::filesystem::file_size(path), '\0');
  std::ifstream in(path, std::ios::binary);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return bytes;
}

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// Opens and reads everything; must throw IoError (and nothing else, and not crash).
void expect_io_error_on_full_read(const std::filesystem::path& path, const std::string& what) {
  try {
    const DynamicsStore store = DynamicsStore::open_read(path);
    const int64_t n = store.num_examples();
    const int64_t epochs = store.complete_epochs();
    std::vector<float> out(static_cast<size_t>(n * epochs));
    store.read_losses(0, n, 0, epochs, out.data());
    ADD_FAILURE() << what << ": no IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos)
        << what << ": message does not name the file: " << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": unexpected exception " << e.what();
  }
}

TEST(DynamicsStore, TruncatedFileIsIoError) {
  TempDir dir;
  const std::string bytes = valid_file_bytes(dir / "valid.h5");
  for (const double fraction : {0.0, 0.001, 0.02, 0.1, 0.5, 0.9, 0.999}) {
    const auto size = static_cast<size_t>(static_cast<double>(bytes.size()) * fraction);
    const auto path = dir / ("truncated_" + std::to_string(size) + ".h5");
    write_bytes(path, bytes.substr(0, size));
    expect_io_error_on_full_read(path, "truncated to " + std::to_string(size) + " bytes");
  }
}

TEST(DynamicsStore, GarbageFileIsIoError) {
  TempDir dir;
  const auto text = dir / "notes.h5";
  write_bytes(text, "this is not an HDF5 file\n");
  expect_io_error_on_full_read(text, "text file");

  std::mt19937 rng(7);
  std::string noise(100000, '\0');
  for (auto& c : noise) {
    c = static_cast<char>(rng() & 0xff);
  }
  const auto random = dir / "random.h5";
  write_bytes(random, noise);
  expect_io_error_on_full_read(random, "random bytes");

  // A valid superblock followed by noise.
  std::string bytes = valid_file_bytes(dir / "valid.h5");
  for (size_t i = 200; i < bytes.size(); ++i) {
    bytes[i] = noise[i % noise.size()];
  }
  const auto damaged = dir / "damaged.h5";
  write_bytes(damaged, bytes);
  expect_io_error_on_full_read(damaged, "damaged after the superblock");

  try {
    (void)DynamicsStore::open_read(dir / "missing.h5");
    ADD_FAILURE() << "missing file: no IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.h5"), std::string::npos) << e.what();
  }
}

TEST(DynamicsStore, CreateRejectsBadArguments) {
  TempDir dir;
  MAPD_EXPECT_THROW_WITH(DynamicsStore::create(dir / "a.h5", make_meta("fp16"), make_examples(0)), DataError,
                         "a.h5", "empty training set (0 examples)");
  MAPD_EXPECT_THROW_WITH(DynamicsStore::create(dir / "b.h5", make_meta("bf16"), make_examples(4)),
                         ConfigError, "record.dtype is 'bf16'");
  ExampleColumns ragged = make_examples(4);
  ragged.label.pop_back();
  const auto message =
      internal_error_of([&] { (void)DynamicsStore::create(dir / "c.h5", make_meta("fp16"), ragged); });
  EXPECT_NE(message.find("DynamicsStore::create: the example columns differ in length"), std::string::npos)
      << message;
  try {
    (void)DynamicsStore::create(dir / "no_such_dir" / "d.h5", make_meta("fp16"), make_examples(4));
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_dir/d.h5"), std::string::npos) << e.what();
  }
}

TEST(DynamicsStore, MovedStoreKeepsWorking) {
  TempDir dir;
  DynamicsStore store = DynamicsStore::create(dir / "d.h5", make_meta("fp32"), make_examples(10));
  DynamicsStore moved = std::move(store);
  append_row(moved, 0);
  DynamicsStore assigned = DynamicsStore::open_read(dir / "d.h5");
  assigned = std::move(moved);
  append_row(assigned, 1);
  EXPECT_EQ(assigned.complete_epochs(), 2);
}

/// Calls `action` and expects a DataError whose message holds each of `parts` and the file name.
template <typename Action>
void expect_data_error(Action action, const std::filesystem::path& path,
                       const std::vector<std::string>& parts, const std::string& what) {
  try {
    action();
    ADD_FAILURE() << what << ": no DataError";
  } catch (const DataError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.filename().string()), std::string::npos) << what << ": " << message;
    for (const auto& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << what << ": no '" << part << "' in: " << message;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": unexpected exception " << e.what();
  }
}

TEST(DynamicsStore, CommitMarkerStoredAsAnArrayIsDataError) {
  // /epochs/complete as an int64 array was once read with H5S_ALL into one int64_t: a stack
  // overwrite (inspect, assign and report crashed).
  TempDir dir;
  const std::string bytes = valid_file_bytes(dir / "valid.h5");
  const auto path = dir / "dynamics.h5";
  write_bytes(path, bytes);
  replace_dataset(path, "/epochs/complete", {65536}, H5T_STD_I64LE);
  const std::vector<std::string> parts = {"/epochs/complete", "[65536]", "[] (a scalar)"};
  expect_data_error([&] { (void)DynamicsStore::open_read(path); }, path, parts, "open_read");
  expect_data_error([&] { (void)DynamicsStore::open_append(path, 3); }, path, parts, "open_append");

  write_bytes(path, bytes);
  replace_dataset(path, "/epochs/complete", {}, H5T_IEEE_F64LE);
  expect_data_error([&] { (void)DynamicsStore::open_read(path); }, path,
                    {"/epochs/complete", "64-bit float", "type integer"}, "float marker");
}

TEST(DynamicsStore, CommitMarkerBeyondWhatTheFileHoldsIsIoErrorAtOnce) {
  // Datasets grown to 10^9 unallocated rows with the marker at 10^9: `mapd inspect` read fill
  // values for minutes. A committed row takes at least 2 bytes per example and series.
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  write_bytes(path, valid_file_bytes(dir / "valid.h5"));
  {
    const hsize_t rows = 1000000000;
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    for (const char* name : {"/epochs/loss", "/epochs/pred", "/epochs/true_prob"}) {
      const hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
      const hsize_t extent[2] = {rows, 500};
      ASSERT_GE(H5Dset_extent(ds, extent), 0) << name;
      H5Dclose(ds);
    }
    const hid_t complete = H5Dopen2(file, "/epochs/complete", H5P_DEFAULT);
    const auto value = static_cast<int64_t>(rows);
    ASSERT_GE(H5Dwrite(complete, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value), 0);
    H5Dclose(complete);
    H5Fclose(file);
  }
  const auto start = std::chrono::steady_clock::now();
  MAPD_EXPECT_THROW_WITH((void)DynamicsStore::open_read(path), IoError,
                         "/epochs/complete = 1000000000 committed epochs of 500 examples need at least");
  MAPD_EXPECT_THROW_WITH((void)DynamicsStore::open_append(path, 5), IoError, "the file is damaged");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 5.0);
}

TEST(DynamicsStore, ExampleCountBeyondWhatTheFileHoldsIsDataErrorNotAHugeAllocation) {
  // Found by tests/fuzz (issue 13 item 14): a 14 KB file whose /examples/id claims 2^34 examples
  // (a dataset never written takes no space) made open_read allocate 128 GB for the example
  // columns: std::bad_alloc, "internal error".
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  write_bytes(path, valid_file_bytes(dir / "valid.h5"));
  replace_with_unwritten_dataset(path, "/examples/id", {hsize_t{1} << 34U}, H5T_STD_I64LE);
  MAPD_EXPECT_THROW_WITH((void)DynamicsStore::open_read(path), DataError, "'/examples/id' in HDF5 file",
                         "claims 17179869184 elements of 8 bytes");
  MAPD_EXPECT_THROW_WITH((void)DynamicsStore::open_append(path, 1), DataError,
                         "claims 17179869184 elements of 8 bytes");
}

TEST(DynamicsStore, RowColumnThatIsNotEveryRowOnceIsDataError) {
  const TempDir dir;
  const auto path = dir / "dynamics.h5";
  ExampleColumns examples = make_examples(12);
  {
    auto store = DynamicsStore::create(path, make_meta("fp32", "online"), examples);
    const std::vector<float> loss(12, 0.5F);
    const std::vector<int32_t> pred(12, 1);
    store.append_epoch(loss.data(), pred.data(), loss.data());
  }
  EXPECT_EQ(DynamicsStore::open_read(path).examples().row[11], 11);
  replace_dataset(path, "/examples/row", {12}, H5T_STD_I64LE);  // all rows 0
  try {
    (void)DynamicsStore::open_read(path);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/examples/row[1] = 0 is a repeat"), std::string::npos) << e.what();
  }
  examples.row = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12};
  try {
    (void)DynamicsStore::create(dir / "other.h5", make_meta("fp32", "online"), examples);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/examples/row[11] = 12 is out of range"), std::string::npos)
        << e.what();
  }
}

TEST(DynamicsStore, DatasetsOfTheWrongShapeOrTypeAreDataErrors) {
  TempDir dir;
  const std::string bytes = valid_file_bytes(dir / "valid.h5");  // fp16, 500 examples, 3 epochs
  hid_t fixed_string = H5Tcopy(H5T_C_S1);
  H5Tset_size(fixed_string, 8);
  struct Case {
    std::string dataset;
    std::vector<hsize_t> dims;
    hid_t type;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"/examples/id", {500, 2}, H5T_STD_I64LE, {"[500, 2]", "expected shape [any]"}},
      {"/examples/label", {500, 2}, H5T_STD_I64LE, {"[500, 2]", "expected shape [500]"}},
      {"/examples/label", {499}, H5T_STD_I64LE, {"[499]", "expected shape [500]"}},
      {"/examples/role", {500}, fixed_string, {"type string", "type integer"}},
      {"/examples/probe_category", {}, H5T_STD_I16LE, {"[] (a scalar)", "expected shape [500]"}},
      {"/epochs/loss", {3, 500}, H5T_IEEE_F32LE, {"32-bit float", "16-bit float"}},
      {"/epochs/loss", {1500}, H5T_NATIVE_UINT16, {"[1500]", "[any, 500]"}},
      {"/epochs/pred", {3, 500}, H5T_IEEE_F32LE, {"type 32-bit float", "16 or 32-bit integer"}},
      {"/epochs/true_prob", {3, 499}, H5T_NATIVE_UINT16, {"[3, 499]", "[any, 500]"}},
  };
  for (const auto& c : cases) {
    const std::string what = c.dataset + " " + c.parts.front();
    const auto path = dir / "dynamics.h5";
    write_bytes(path, bytes);
    ASSERT_NO_FATAL_FAILURE(replace_dataset(path, c.dataset, c.dims, c.type)) << what;
    std::vector<std::string> parts = c.parts;
    parts.push_back("dataset '" + c.dataset + "'");
    expect_data_error([&] { (void)DynamicsStore::open_read(path); }, path, parts, what + " (read)");
    expect_data_error([&] { (void)DynamicsStore::open_append(path, 3); }, path, parts, what + " (append)");
  }
  H5Tclose(fixed_string);
}

// Issue 13 item 10: a dataset's text ids (a manifest's file names, UUIDs) are kept verbatim in
// /examples/name, through reopening and appending; a file without them has none.
TEST(DynamicsStore, TextIdsSurviveReopenAndAppend) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  ExampleColumns examples = make_examples(40, 4);
  for (int64_t i = 0; i < examples.size(); ++i) {
    examples.name.push_back(i == 39 ? std::string()
                                    : "bild-\xC3\xA4-" + std::to_string(i) + (i == 3 ? ",x\"y" : ""));
  }
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp32"), examples);
    append_row(store, 0);
  }
  {
    DynamicsStore store = DynamicsStore::open_append(path, 1);
    EXPECT_EQ(store.examples().name, examples.name);
    append_row(store, 1);
  }
  {
    const DynamicsStore store = DynamicsStore::open_read(path);
    EXPECT_EQ(store.complete_epochs(), 2);
    EXPECT_EQ(store.examples().name, examples.name);
    EXPECT_EQ(store.examples().id_text(3), "bild-\xC3\xA4-3,x\"y");
    EXPECT_EQ(store.examples().id_text(39), "1039");  // a synthetic probe has no text id
  }
  // A file written without text ids reads with none, and ids are their own text.
  const auto plain = dir / "plain.h5";
  (void)DynamicsStore::create(plain, make_meta("fp32"), make_examples(10));
  const DynamicsStore without = DynamicsStore::open_read(plain);
  EXPECT_TRUE(without.examples().name.empty());
  EXPECT_EQ(without.examples().id_text(2), "1002");
  // A /examples/name of the wrong length or type is refused like any other column.
  hid_t fixed_string = H5Tcopy(H5T_C_S1);
  H5Tset_size(fixed_string, 8);
  ASSERT_NO_FATAL_FAILURE(replace_dataset(path, "/examples/name", {39}, fixed_string));
  expect_data_error([&] { (void)DynamicsStore::open_read(path); }, path, {"[39]", "expected shape [40]"},
                    "short /examples/name");
  ASSERT_NO_FATAL_FAILURE(replace_dataset(path, "/examples/name", {40}, H5T_STD_I64LE));
  expect_data_error([&] { (void)DynamicsStore::open_read(path); }, path,
                    {"type 64-bit integer", "type string"}, "integer /examples/name");
  H5Tclose(fixed_string);
}

TEST(DynamicsStore, KilledWhileReopeningForAppendStaysReadableAndResumable) {
  // `mapd resume` killed inside open_append, before SWMR writing starts, leaves the superblock
  // marked "open for writing" in a way that neither a plain nor an SWMR reader accepts (h5py
  // neither), though the data is intact.
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(3000, 40));
    for (int64_t e = 0; e < 4; ++e) {
      append_row(store, e);
    }
  }
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      kill_stage = fault::AppendStage::kReopened;
      kill_delay_us = -1;
      fault::set_append_hook(kill_at_stage);
      DynamicsStore store = DynamicsStore::open_append(path, 3);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "resume failed: %s\n", e.what());
    }
    ::_exit(1);
  }
  ASSERT_NO_FATAL_FAILURE(expect_killed(pid));
  EXPECT_FALSE(plain_hdf5_open_works(path)) << "the kill did not leave the file marked open";
  {
    const DynamicsStore store = DynamicsStore::open_read(path);
    EXPECT_EQ(store.complete_epochs(), 3);  // the kill came after open_append dropped epoch 3
    expect_rows(store, 3, true);
  }
  EXPECT_FALSE(plain_hdf5_open_works(path)) << "a reader must not change the file";
  {
    DynamicsStore store = DynamicsStore::open_append(path, 3);
    EXPECT_EQ(store.complete_epochs(), 3);
    append_row(store, 3);
  }
  EXPECT_TRUE(plain_hdf5_open_works(path)) << "open_append must clear the mark";
  const DynamicsStore store = DynamicsStore::open_read(path);
  EXPECT_EQ(store.complete_epochs(), 4);
  expect_rows(store, 4, true);
}

TEST(DynamicsStore, FileHeldByALiveNonSwmrWriterIsIoError) {
  // The "open for writing" mark of a live writer (which holds HDF5's file lock) is not stale: a
  // reader must not read past it.
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  (void)valid_file_bytes(path);
  int to_parent[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(to_parent[0]);
    const hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    const char opened = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl) >= 0 ? 1 : 0;
    if (::write(to_parent[1], &opened, 1) != 1) {
      ::_exit(2);
    }
    ::pause();
    ::_exit(0);
  }
  ::close(to_parent[1]);
  char opened = 0;
  ASSERT_EQ(::read(to_parent[0], &opened, 1), 1);
  ::close(to_parent[0]);
  ASSERT_EQ(opened, 1);
  try {
    (void)DynamicsStore::open_read(path);
    ADD_FAILURE() << "no IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("open for writing"), std::string::npos) << e.what();
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_NO_FATAL_FAILURE(expect_killed(pid));
  // Now the mark is stale.
  EXPECT_EQ(DynamicsStore::open_read(path).complete_epochs(), 3);
}

TEST(DynamicsStore, TruncatedFileOfAKilledRunIsIoErrorNotZeros) {
  // A killed run's file is opened as an SWMR reader, for which HDF5 skips its end-of-file check:
  // cut inside a committed row, it once read as zeros. A closed file cut the same way was rejected.
  for (const std::string dtype : {"fp16", "fp32"}) {
    for (const char* dataset : {"/epochs/loss", "/epochs/true_prob"}) {
      const std::string what = dtype + " " + dataset;
      TempDir dir;
      const auto path = dir / "dynamics.h5";
      const pid_t pid = fork_writer_killed_at(path, dtype, 60000, 4, fault::AppendStage::kCommitted, -1);
      ASSERT_GE(pid, 0);
      ASSERT_NO_FATAL_FAILURE(expect_killed(pid));
      haddr_t address = HADDR_UNDEF;
      hsize_t size = 0;
      ASSERT_NO_FATAL_FAILURE(chunk_location(path, dataset, 4, &address, &size));
      ASSERT_NE(address, HADDR_UNDEF);
      std::filesystem::resize_file(path, address + size / 2);
      try {
        const DynamicsStore store = DynamicsStore::open_read(path);
        const int64_t n = store.num_examples();
        const int64_t epochs = store.complete_epochs();
        std::vector<float> out(static_cast<size_t>(n * epochs), -1.0F);
        store.read_losses(0, n, 0, epochs, out.data());
        store.read_true_probs(0, n, 0, epochs, out.data());
        ADD_FAILURE() << what << ": no IoError; " << epochs << " epochs read, last value " << out.back();
      } catch (const IoError& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find(path.string()), std::string::npos) << what << ": " << message;
        EXPECT_NE(message.find("truncated"), std::string::npos) << what << ": " << message;
      } catch (const std::exception& e) {
        ADD_FAILURE() << what << ": unexpected exception " << e.what();
      }
      // A resume opens it without HDF5's end-of-file check too (a paged file's last pages are
      // allocated before they are written): it must not continue past the cut either.
      try {
        (void)DynamicsStore::open_append(path, 5);
        ADD_FAILURE() << what << ": open_append gave no IoError";
      } catch (const IoError& e) {
        EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << what << ": " << e.what();
      }
    }
  }
}

TEST(DynamicsStore, Fp16LossBeyondItsRangeIsDataErrorAndWritesNothing) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  const int64_t n = 100;
  DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(n, 10));
  append_row(store, 0);
  EpochRow row = make_row(n, 1);
  row.loss[17] = 70000.0F;
  row.loss[3] = 1.0e6F;
  row.loss[40] = 65520.0F;  // the first value that rounds to infinity
  try {
    store.append_epoch(row.loss.data(), row.pred.data(), row.true_prob.data());
    FAIL() << "no DataError";
  } catch (const DataError& e) {
    const std::string message = e.what();
    for (const std::string& part :
         std::vector<std::string>{"epoch 1", "3 of 100", "/epochs/loss", "65504", "1000000",
                                  "example index 3", "id 1003", "record.dtype=fp32", path.string()}) {
      EXPECT_NE(message.find(part), std::string::npos) << "no '" << part << "' in: " << message;
    }
  }
  EXPECT_EQ(store.complete_epochs(), 1);
  // Values up to 65504 (and those rounding down to it) fit.
  row.loss[17] = 65504.0F;
  row.loss[3] = 65519.0F;
  row.loss[40] = std::numeric_limits<float>::infinity();  // a real infinity stays infinity
  store.append_epoch(row.loss.data(), row.pred.data(), row.true_prob.data());
  EXPECT_EQ(store.complete_epochs(), 2);
  std::vector<float> loss(static_cast<size_t>(n * 2));
  store.read_losses(0, n, 0, 2, loss.data());
  EXPECT_EQ(loss[17 * 2 + 1], 65504.0F);
  EXPECT_EQ(loss[3 * 2 + 1], 65504.0F);
  EXPECT_TRUE(std::isinf(loss[40 * 2 + 1]));
  EXPECT_NEAR(loss[5 * 2 + 1], row.loss[5], fp16_tolerance(row.loss[5]));

  // fp32 stores such losses exactly.
  DynamicsStore wide = DynamicsStore::create(dir / "wide.h5", make_meta("fp32"), make_examples(n, 10));
  row.loss[3] = 1.0e6F;
  wide.append_epoch(row.loss.data(), row.pred.data(), row.true_prob.data());
  std::vector<float> wide_loss(static_cast<size_t>(n));
  wide.read_losses(0, n, 0, 1, wide_loss.data());
  EXPECT_EQ(wide_loss[3], 1.0e6F);
}

}  // namespace
}  // namespace mapd::record

namespace mapd::record {
namespace {

/// Rows of the two extra signals of epoch `e`: a value in [0, 1] and a class index.
std::vector<SignalRow> signal_rows(int64_t n, int64_t e) {
  std::vector<SignalRow> rows(2);
  for (int64_t i = 0; i < n; ++i) {
    rows[0].values.push_back(static_cast<float>((i * 7 + e * 3) % 16) / 16.0F);
    rows[1].classes.push_back(static_cast<int32_t>((i + e) % 4));
  }
  return rows;
}

TEST(DynamicsStore, ExtraSignalsAreCommittedTruncatedAndReadWithTheEpoch) {
  for (const std::string dtype : {"fp16", "fp32"}) {
    SCOPED_TRACE(dtype);
    TempDir dir;
    const auto path = dir / "dynamics.h5";
    auto meta = make_meta(dtype);
    meta.signals = {SignalSpec{"bootstrap_weight", false}, SignalSpec{"target", true}};
    const int64_t n = 21;
    {
      DynamicsStore store = DynamicsStore::create(path, meta, make_examples(n, 4));
      for (int64_t e = 0; e < 4; ++e) {
        const auto row = make_row(n, e);
        store.append_epoch(row.loss.data(), row.pred.data(), row.true_prob.data(), signal_rows(n, e));
      }
    }
    {
      // A resume drops the signals' rows beyond the checkpoint with the others'.
      DynamicsStore store = DynamicsStore::open_append(path, 2);
      ASSERT_EQ(store.meta().signals.size(), 2U);
      EXPECT_FALSE(store.meta().signals[0].classes);
      EXPECT_TRUE(store.meta().signals[1].classes);
      std::vector<float> out(static_cast<size_t>(n) * 3);
      MAPD_EXPECT_THROW_WITH(store.read_signal_values("bootstrap_weight", 0, n, 0, 3, out.data()), IoError,
                             "only 2 epochs are committed");
      const auto row = make_row(n, 2);
      store.append_epoch(row.loss.data(), row.pred.data(), row.true_prob.data(), signal_rows(n, 2));
    }
    const DynamicsStore store = DynamicsStore::open_read(path);
    ASSERT_EQ(store.complete_epochs(), 3);
    expect_rows(store, 3, dtype == "fp16");
    std::vector<float> weight(static_cast<size_t>(n) * 3);
    std::vector<int32_t> target(weight.size());
    store.read_signal_values("bootstrap_weight", 0, n, 0, 3, weight.data());
    store.read_signal_classes("target", 0, n, 0, 3, target.data());
    for (int64_t e = 0; e < 3; ++e) {
      const auto rows = signal_rows(n, e);
      for (int64_t i = 0; i < n; ++i) {
        const auto at = static_cast<size_t>(i * 3 + e);
        EXPECT_EQ(weight[at], rows[0].values[static_cast<size_t>(i)]);  // sixteenths are exact in fp16
        EXPECT_EQ(target[at], rows[1].classes[static_cast<size_t>(i)]);
      }
    }
    MAPD_EXPECT_THROW_WITH(store.read_signal_values("target", 0, n, 0, 1, weight.data()), DataError,
                           "no value signal 'target' (its extra signals: bootstrap_weight, target)");
    MAPD_EXPECT_THROW_WITH(store.read_signal_classes("margin", 0, n, 0, 1, target.data()), DataError,
                           "no class signal 'margin'");
  }
}

TEST(DynamicsStore, AFileWithoutExtraSignalsHasNone) {
  TempDir dir;
  const auto path = dir / "dynamics.h5";
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp32"), make_examples(5, 2));
    append_row(store, 0);
  }
  const DynamicsStore store = DynamicsStore::open_read(path);
  EXPECT_TRUE(store.meta().signals.empty());
  std::vector<float> out(5);
  MAPD_EXPECT_THROW_WITH(store.read_signal_values("bootstrap_weight", 0, 5, 0, 1, out.data()), DataError,
                         "its extra signals: none");
}

}  // namespace
}  // namespace mapd::record
