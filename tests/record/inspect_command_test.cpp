// `mapd inspect`: the handler in-process and the real binary.
#include "mapd/cli/inspect_command.hpp"

#include <sys/wait.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/dynamics_store.hpp"

#include "../common/expect_error.hpp"
#include "test_util.hpp"

namespace mapd::cli {
namespace {

using record::testing::append_row;
using record::testing::make_examples;
using record::testing::make_meta;
using record::testing::TempDir;

std::filesystem::path write_dynamics(const TempDir& dir) {
  auto path = dir / "dynamics.h5";
  record::DynamicsStore store = record::DynamicsStore::create(path, make_meta("fp16"), make_examples(40, 8));
  append_row(store, 0);
  append_row(store, 1);
  return path;
}

TEST(InspectCommand, PrintsDynamicsSummary) {
  TempDir dir;
  const auto path = write_dynamics(dir);
  std::ostringstream out;
  EXPECT_EQ(inspect_command(path.string(), out), 0);
  const std::string text = out.str();
  EXPECT_NE(text.find("shape: [2, 40]"), std::string::npos) << text;
  EXPECT_NE(text.find("committed epochs: 2"), std::string::npos) << text;
  EXPECT_NE(text.find("view: online, dtype: fp16"), std::string::npos) << text;
  EXPECT_NE(text.find("role train"), std::string::npos) << text;
  EXPECT_NE(text.find("category mislabeled"), std::string::npos) << text;
}

TEST(InspectCommand, MissingFileIsIoError) {
  TempDir dir;
  std::ostringstream out;
  MAPD_EXPECT_THROW_WITH(inspect_command((dir / "nope.h5").string(), out), IoError, "nope.h5': no such file");
}

TEST(InspectCommand, BinaryPrintsSummaryAndExitsWithIoErrorCode) {
  if (!std::filesystem::exists(MAPD_BINARY)) {
    GTEST_SKIP() << "the mapd binary is not built: " << MAPD_BINARY;
  }
  TempDir dir;
  const auto path = write_dynamics(dir);
  const auto log = dir / "out.txt";
  const std::string command =
      std::string(MAPD_BINARY) + " inspect " + path.string() + " > " + log.string() + " 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0);
  std::stringstream text;
  text << std::ifstream(log).rdbuf();
  EXPECT_NE(text.str().find("committed epochs: 2"), std::string::npos) << text.str();

  std::ofstream(dir / "garbage.h5") << "garbage";
  const std::string bad =
      std::string(MAPD_BINARY) + " inspect " + (dir / "garbage.h5").string() + " > " + log.string() + " 2>&1";
  const int status = std::system(bad.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 4);  // ExitCode::kIoError
}

}  // namespace
}  // namespace mapd::cli
