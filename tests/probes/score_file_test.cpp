#include "mapd/probes/score_file.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"
#include "synthetic.hpp"

namespace mapd::probes {
namespace {

using testing::error_of;
using testing::temp_dir;
using testing::write_text;

constexpr const char* kPython = "/usr/bin/python3";

/// A float64 .npy written by hand (format version 1.0).
void write_npy(const std::filesystem::path& path, const std::vector<double>& values) {
  std::string header =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(values.size()) + ",), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const auto len = static_cast<uint16_t>(header.size());
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out << header;
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * 8));
}

TEST(ScoreFile, CsvIsMatchedById) {
  const auto dir = temp_dir("score_csv");
  write_text(dir / "s.csv", "id,score\n12,0.5\n10,0.25\n11,1e-3\n99,7\n");
  const auto s = read_score_file(dir / "s.csv", {10, 11, 12}, false);
  EXPECT_DOUBLE_EQ(s[0], 0.25);
  EXPECT_DOUBLE_EQ(s[1], 0.001);
  EXPECT_DOUBLE_EQ(s[2], 0.5);
}

// Issue 13 item 10: a dataset with text ids (a manifest's) names its rows by them; integer ids
// match however they are written ("010" is 10).
TEST(ScoreFile, CsvTextIdsAndIntegerIdsAsWritten) {
  const auto dir = temp_dir("score_csv_text");
  write_text(dir / "t.csv", "id,score\nimg-2,0.5\n\"a,b\",0.25\n010,1\n");
  const std::vector<std::string> names = {"a,b", "img-2", "010"};
  const auto t = read_score_file(dir / "t.csv", {0, 1, 2}, false, names);
  EXPECT_EQ(t, (std::vector<double>{0.25, 0.5, 1.0}));
  write_score_csv(dir / "round.csv", {0, 1, 2}, t, names);
  EXPECT_EQ(read_score_file(dir / "round.csv", {0, 1, 2}, false, names), t);
  write_text(dir / "i.csv", "id,score\n010,1\n11,2\n");
  EXPECT_EQ(read_score_file(dir / "i.csv", {10, 11}, false), (std::vector<double>{1.0, 2.0}));
  MAPD_EXPECT_THROW_WITH(read_score_file(dir / "t.csv", {10}, true), DataError, "t.csv:2",
                         "id 'img-2' is not an integer (the dataset's ids are integers)");
}

TEST(ScoreFile, CsvMissingIdsAreListed) {
  const auto dir = temp_dir("score_csv_missing");
  write_text(dir / "s.csv", "id,score\n10,0.5\n");
  const auto msg = error_of([&] { read_score_file(dir / "s.csv", {10, 11, 12}, false); });
  EXPECT_NE(msg.find("2 of the 3 training examples have no score (first ids: 11, 12)"), std::string::npos)
      << msg;
  write_text(dir / "bad.csv", "id,score\n10,abc\n");
  MAPD_EXPECT_THROW_WITH(read_score_file(dir / "bad.csv", {10}, false), DataError, "bad.csv:2", "'10,abc'");
  write_text(dir / "nan.csv", "id,score\n10,nan\n");
  MAPD_EXPECT_THROW_WITH(read_score_file(dir / "nan.csv", {10}, false), DataError, "nan.csv",
                         "example id 10 is not finite");
  write_text(dir / "hdr.csv", "example,value\n10,1\n");
  MAPD_EXPECT_THROW_WITH(read_score_file(dir / "hdr.csv", {10}, false), DataError, "hdr.csv:1",
                         "'id' and 'score'");
}

TEST(ScoreFile, CsvQuotingFollowsRfc4180AndAnUnterminatedQuoteNamesTheLine) {
  const auto dir = temp_dir("score_csv_quotes");
  write_text(dir / "q.csv", "\"id\",\"score\"\r\n\"10\", 0.5\r\n");
  EXPECT_DOUBLE_EQ(read_score_file(dir / "q.csv", {10}, false)[0], 0.5);
  write_text(dir / "u.csv", "id,score\n10,\"0.5\n");
  try {
    (void)read_score_file(dir / "u.csv", {10}, false);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("u.csv:2: field 2 has an unterminated quote"), std::string::npos)
        << e.what();
  }
}

TEST(ScoreFile, NpyIsAlignedWithTheStoredOrder) {
  const auto dir = temp_dir("score_npy");
  write_npy(dir / "s.npy", {0.1, 0.2, 0.3, 0.4});
  const auto s = read_score_file(dir / "s.npy", {0, 1, 2, 3}, false);
  EXPECT_EQ(s, (std::vector<double>{0.1, 0.2, 0.3, 0.4}));
  // A subset (data.limit): ids index the array.
  const auto sub = read_score_file(dir / "s.npy", {3, 1}, true);
  EXPECT_EQ(sub, (std::vector<double>{0.4, 0.2}));
}

TEST(ScoreFile, LengthMismatchNamesBothLengths) {
  const auto dir = temp_dir("score_len");
  write_npy(dir / "s.npy", {0.1, 0.2, 0.3});
  MAPD_EXPECT_THROW_WITH(read_score_file(dir / "s.npy", {0, 1, 2, 3, 4}, false), DataError,
                         "holds 3 scores but the training split has 5 examples");
  MAPD_EXPECT_THROW_WITH(read_score_file(dir / "s.npy", {0, 7}, true), DataError, "holds 3 scores",
                         "example id 7 has no score");
}

TEST(ScoreFile, H5IsRefusedWithAConversionHint) {
  const auto msg = error_of([] { read_score_file("scores.h5", {0}, false); });
  EXPECT_NE(msg.find("convert the scores to .npy or CSV"), std::string::npos) << msg;
}

TEST(ScoreFile, WriteAndReadBack) {
  const auto dir = temp_dir("score_rt");
  write_score_csv(dir / "s.csv", {5, 6}, {0.125, -3.5});
  EXPECT_EQ(read_score_file(dir / "s.csv", {6, 5}, false), (std::vector<double>{-3.5, 0.125}));
}

TEST(ScoreFile, NpzFromNumpyStoredAndCompressed) {
  if (!std::filesystem::exists(kPython)) GTEST_SKIP() << "no " << kPython;
  const auto dir = temp_dir("score_npz");
  const std::string script =
      "import numpy as np\n"
      "np.savez('" +
      (dir / "plain.npz").string() +
      "', labels=np.arange(5), scores=np.linspace(0, 1, 5).astype(np.float32))\n"
      "np.savez_compressed('" +
      (dir / "packed.npz").string() +
      "', scores=np.arange(5, dtype=np.int64) * 2)\n"
      "np.savez('" +
      (dir / "two.npz").string() +
      "', a=np.zeros(5), b=np.ones(5))\n"
      "np.save('" +
      (dir / "big.npy").string() + "', np.arange(5, dtype='>f8'))\n";
  write_text(dir / "make.py", script);
  if (std::system((std::string(kPython) + " " + (dir / "make.py").string() + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "numpy is not available to " << kPython;
  }
  const std::vector<int64_t> ids{0, 1, 2, 3, 4};
  const auto plain = read_score_file(dir / "plain.npz", ids, false);
  EXPECT_NEAR(plain[1], 0.25, 1e-7);
  EXPECT_EQ(read_score_file(dir / "packed.npz", ids, false), (std::vector<double>{0, 2, 4, 6, 8}));
  EXPECT_EQ(read_score_file(dir / "big.npy", ids, false), (std::vector<double>{0, 1, 2, 3, 4}));
  const auto msg = error_of([&] { read_score_file(dir / "two.npz", ids, false); });
  EXPECT_NE(msg.find("members: a, b"), std::string::npos) << msg;
  EXPECT_EQ(read_npz(dir / "two.npz", "b").values, (std::vector<double>(5, 1.0)));
}

}  // namespace
}  // namespace mapd::probes
