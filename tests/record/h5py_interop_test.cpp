// Reads files written by mapd with Debian's python3-h5py: the format must be usable without mapd.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mapd/record/assignment_store.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/record/stitched_dynamics.hpp"

#include "test_util.hpp"

namespace mapd::record {
namespace {

using testing::append_row;
using testing::make_examples;
using testing::make_meta;
using testing::make_row;
using testing::TempDir;

constexpr const char* kPython = "/usr/bin/python3";

bool have_h5py() {
  const std::string command = std::string(kPython) + " -c 'import h5py, numpy' > /dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

/// Runs `script` with /usr/bin/python3 and `args`; returns the exit status, output in `output`.
int run_python(const TempDir& dir, const std::string& script, const std::string& args, std::string* output) {
  const auto script_path = dir / "check.py";
  std::ofstream(script_path) << script;
  const auto log = dir / "python.log";
  const std::string command =
      std::string(kPython) + " " + script_path.string() + " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  *output = text.str();
  return status;
}

const char* const kDynamicsScript = R"PY(
import sys
import h5py
import numpy as np

path, raw, n, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
with h5py.File(path, "r") as f:
    loss = f["/epochs/loss"]
    assert loss.shape == (epochs, n), loss.shape
    assert loss.dtype == np.float16, loss.dtype
    assert loss.chunks == (1, n), loss.chunks
    assert loss.maxshape == (None, n), loss.maxshape
    want = np.fromfile(raw, dtype=np.float32).reshape(epochs, n)
    got = loss[...]
    # mapd rounds to nearest even exactly like numpy's float32 -> float16 cast.
    assert np.array_equal(got, want.astype(np.float16)), np.abs(got.astype(np.float32) - want).max()
    assert f["/epochs/true_prob"].dtype == np.float16
    pred = f["/epochs/pred"][...]
    assert pred.shape == (epochs, n) and pred.dtype.kind == "i", (pred.shape, pred.dtype)
    assert (pred[1] == (np.arange(n) + 1) % 10).all()
    assert int(f["/epochs/complete"][()]) == epochs
    role = f["/examples/role"][...]
    assert role.shape == (n,)
    assert (role[: n - 20] == 0).all() and (role[n - 20 :: 2] == 1).all() and (role[n - 19 :: 2] == 2).all(), role
    assert (f["/examples/id"][...] == 1000 + np.arange(n)).all()
    cats = f["/examples/probe_category"][...]
    assert (cats[: n - 20] == -1).all() and set(cats[n - 20 :].tolist()) == {0, 1}
    assert list(f["/examples"].attrs["category_names"]) == ["typical", "mislabeled"], f["/examples"].attrs["category_names"]
    assert len(f["/examples"].attrs["class_names"]) == 10
    assert f.attrs["view"] == "online", f.attrs["view"]
    assert f.attrs["dtype"] == "fp16"
    assert int(f.attrs["format_version"]) == 2
    assert (f["/examples/row"][...] == np.arange(n)).all()
    assert int(f.attrs["seed"]) == 1234
    assert f.attrs["config_json"].startswith("{")
    assert f.attrs["mapd_version"] == "0.1.0-test"
with h5py.File(sys.argv[5], "r") as f:
    chunks = f["/epochs/loss"].chunks
    assert chunks[0] == 1 and chunks[1] <= (1 << 20), chunks
    assert f["/epochs/loss"].dtype == np.float32
print("ok")
)PY";

TEST(H5pyInterop, PythonReadsDynamicsFile) {
  if (!have_h5py()) {
    GTEST_SKIP() << kPython << " with h5py and numpy is not installed (apt install python3-h5py)";
  }
  TempDir dir;
  const int64_t n = 300;
  const int64_t epochs = 3;
  const auto path = dir / "dynamics.h5";
  const auto raw = dir / "loss.f32";
  {
    DynamicsStore store = DynamicsStore::create(path, make_meta("fp16"), make_examples(n, 20));
    std::ofstream out(raw, std::ios::binary);
    for (int64_t e = 0; e < epochs; ++e) {
      append_row(store, e);
      const auto row = make_row(n, e);
      out.write(reinterpret_cast<const char*>(row.loss.data()),
                static_cast<std::streamsize>(n * sizeof(float)));
    }
  }
  // A row longer than the chunk cap (1M elements) is split into equal chunks.
  const auto large = dir / "large.h5";
  {
    DynamicsStore store = DynamicsStore::create(large, make_meta("fp32"), make_examples((1 << 20) + 10));
    append_row(store, 0);
  }
  std::string output;
  const int status = run_python(dir, kDynamicsScript,
                                path.string() + " " + raw.string() + " " + std::to_string(n) + " " +
                                    std::to_string(epochs) + " " + large.string(),
                                &output);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("ok"), std::string::npos) << output;
}

const char* const kStitchedScript = R"PY(
import sys
import h5py
import numpy as np

path, raw, n, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
want = np.fromfile(raw, dtype=np.float32).reshape(epochs, n)
with h5py.File(path, "r") as f:
    complete = int(f["/epochs/complete"][()])
    assert complete == epochs, complete
    for name in ("loss", "pred", "true_prob", "margin"):
        d = f["/epochs/" + name]
        assert d.is_virtual, name
        assert d.maxshape == (None, n), d.maxshape
        # Rank 0 holds one epoch more than every rank committed: readers take the committed rows.
        assert d.shape[1] == n and d.shape[0] >= complete, d.shape
        files = sorted({s.file_name for s in d.virtual_sources()})
        assert files == ["dynamics.rank-0.h5", "dynamics.rank-1.h5"], files
    loss = f["/epochs/loss"][:complete]
    assert loss.shape == (epochs, n) and loss.dtype == np.float16, (loss.shape, loss.dtype)
    assert np.array_equal(loss, want.astype(np.float16)), np.abs(loss.astype(np.float32) - want).max()
    assert np.array_equal(f["/epochs/margin"][:complete], (-want).astype(np.float16))
    pred = f["/epochs/pred"][:complete]
    for e in range(epochs):
        assert (pred[e] == (np.arange(n) + e) % 10).all(), pred[e]
    assert (f["/examples/id"][...] == 1000 + np.arange(n)).all()
    assert list(f["/ranks/first_column"][...]) == [0, n // 2, n]
print("ok")
)PY";

// dynamics.h5 of a data-parallel job: h5py sees one [epochs, N] dataset per signal (HDF5 virtual
// datasets over the rank files), also after the run directory moved and from another directory.
TEST(H5pyInterop, PythonReadsStitchedDynamicsAsOneDataset) {
  if (!have_h5py()) {
    GTEST_SKIP() << kPython << " with h5py and numpy is not installed (apt install python3-h5py)";
  }
  TempDir dir;
  const int64_t n = 50;
  const int64_t epochs = 3;
  const auto run = dir / "run";
  std::filesystem::create_directories(run);
  auto meta = make_meta("fp16");
  meta.signals = {SignalSpec{"margin", false}};
  const auto raw = dir / "loss.f32";
  {
    auto stitched = StitchedDynamics::create(run / "dynamics.h5", meta, make_examples(n, 10), 2);
    std::vector<DynamicsStore> parts;
    for (int64_t r = 0; r < 2; ++r) {
      parts.push_back(DynamicsStore::create(run / rank_file_name(r), meta,
                                            slice_columns(make_examples(n, 10), rank_columns(n, r, 2))));
    }
    std::ofstream out(raw, std::ios::binary);
    for (int64_t e = 0; e <= epochs; ++e) {
      const auto row = make_row(n, e);
      for (int64_t r = 0; r < 2; ++r) {
        if (e == epochs && r == 1) continue;  // the last epoch: only rank 0 committed it
        const auto b = rank_columns(n, r, 2);
        const auto cut = [&](const auto& v) { return std::vector(v.begin() + b.first, v.begin() + b.end); };
        auto margin = cut(row.loss);
        for (auto& v : margin) v = -v;
        parts[static_cast<size_t>(r)].append_epoch(cut(row.loss).data(), cut(row.pred).data(),
                                                   cut(row.true_prob).data(), {SignalRow{margin, {}}});
      }
      if (e < epochs) {
        stitched.commit(e + 1);
        out.write(reinterpret_cast<const char*>(row.loss.data()),
                  static_cast<std::streamsize>(n * sizeof(float)));
      }
    }
  }
  const auto moved = dir / "moved";
  std::filesystem::rename(run, moved);
  std::string output;
  const int status = run_python(dir, kStitchedScript,
                                (moved / "dynamics.h5").string() + " " + raw.string() + " " +
                                    std::to_string(n) + " " + std::to_string(epochs),
                                &output);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("ok"), std::string::npos) << output;
}

const char* const kAssignmentScript = R"PY(
import sys
import h5py
import numpy as np

with h5py.File(sys.argv[1], "r") as f:
    assert list(f.attrs["category_names"]) == ["typical", "mislabeled", "ood"]
    assert int(f.attrs["k"]) == 20
    assert f["/prob"].shape == (4, 3) and f["/prob"].dtype == np.float32
    assert (f["/assigned"][...] == [0, 2, 1, -1]).all(), f["/assigned"][...]
    assert np.isnan(f["/max_prob"][3])
    assert (f["/id"][...] == [10, 11, 12, -1]).all()
print("ok")
)PY";

TEST(H5pyInterop, PythonReadsAssignmentFile) {
  if (!have_h5py()) {
    GTEST_SKIP() << kPython << " with h5py and numpy is not installed (apt install python3-h5py)";
  }
  TempDir dir;
  const auto path = dir / "assignments.h5";
  AssignmentMeta meta;
  meta.category_names = {"typical", "mislabeled", "ood"};
  meta.config_json = "{}";
  {
    AssignmentStore store = AssignmentStore::create(path, meta, 4);
    const std::vector<int64_t> id = {10, 11, 12};
    const std::vector<int64_t> row = {0, 1, 2};
    const std::vector<int16_t> assigned = {0, 2, 1};
    const std::vector<float> max_prob = {0.9F, 0.6F, 0.5F};
    const std::vector<float> prob = {0.9F, 0.05F, 0.05F, 0.2F, 0.2F, 0.6F, 0.25F, 0.5F, 0.25F};
    AssignmentStore::Block block;
    block.count = 3;
    block.id = id.data();
    block.row = row.data();
    block.label = row.data();
    block.assigned = assigned.data();
    block.max_prob = max_prob.data();
    block.prob = prob.data();
    store.write(0, block);
    store.close();
  }
  std::string output;
  EXPECT_EQ(run_python(dir, kAssignmentScript, path.string(), &output), 0) << output;
}

}  // namespace
}  // namespace mapd::record
