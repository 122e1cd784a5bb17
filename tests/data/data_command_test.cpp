#include "mapd/cli/data_command.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"

#include "../common/expect_error.hpp"
#include "fixtures.hpp"

namespace mapd::cli {
namespace {

namespace stdfs = std::filesystem;

stdfs::path folder_fixture(const stdfs::path& dir) {
  auto root = dir / "images";
  data::testing::write_image(root / "cat" / "a.png", 40, 30, 1);
  data::testing::write_image(root / "cat" / "b.jpg", 20, 50, 2);
  data::testing::write_image(root / "dog" / "c.png", 16, 16, 3, true);
  data::testing::write_image(root / "dog" / "d.jpg", 64, 64, 4);
  data::testing::truncate_half(root / "dog" / "d.jpg");
  return root;
}

TEST(DataCommand, PrintsSummaryAndWritesPreviewAndBadInputs) {
  const auto dir = data::testing::temp_dir("data_command");
  const auto root = folder_fixture(dir);
  CommonOptions options;
  options.overrides = {"data.format=folder", "data.path=" + root.string(), "data.image_size=16"};
  options.run_dir = (dir / "run").string();
  std::ostringstream out;
  EXPECT_EQ(data_command(options, out), 0);
  log::detach_run_dir();
  const auto text = out.str();
  EXPECT_NE(text.find("train: 3 examples"), std::string::npos) << text;
  EXPECT_NE(text.find("image shape: 3 x 16 x 16"), std::string::npos) << text;
  EXPECT_NE(text.find("classes: 2"), std::string::npos) << text;
  EXPECT_NE(text.find("bad inputs: 1"), std::string::npos) << text;
  EXPECT_NE(text.find("d.jpg"), std::string::npos) << text;
  EXPECT_TRUE(stdfs::file_size(dir / "run" / "data_preview.png") > 100);
  const auto preview = cv::imread((dir / "run" / "data_preview.png").string());
  EXPECT_EQ(preview.rows, 2 * (48 + 4) + 4);
  EXPECT_NE(fs::read_file(dir / "run" / "bad_inputs.csv").find("d.jpg"), std::string::npos);
}

TEST(DataCommand, MissingDatasetIsDataError) {
  const auto dir = data::testing::temp_dir("data_command_missing");
  CommonOptions options;
  options.overrides = {"data.path=" + (dir / "nothing").string()};
  options.run_dir = (dir / "run").string();
  std::ostringstream out;
  MAPD_EXPECT_THROW_WITH(data_command(options, out), DataError, (dir / "nothing").string(),
                         "train-images-idx3-ubyte");
  log::detach_run_dir();
}

TEST(DataCommand, RealBinaryExitCodes) {
  const auto dir = data::testing::temp_dir("data_command_binary");
  const auto root = folder_fixture(dir);
  const std::string bin = MAPD_BINARY;
  const auto ok = std::system((bin + " data --set data.format=folder --set data.path=" + root.string() +
                               " --run-dir " + (dir / "ok").string() + " > /dev/null 2>&1")
                                  .c_str());
  EXPECT_EQ(WEXITSTATUS(ok), 0);
  EXPECT_TRUE(stdfs::exists(dir / "ok" / "data_preview.png"));
  const auto bad = std::system((bin + " data --set data.path=" + (dir / "none").string() + " --run-dir " +
                                (dir / "bad").string() + " > /dev/null 2>&1")
                                   .c_str());
  EXPECT_EQ(WEXITSTATUS(bad), 3);
}

}  // namespace
}  // namespace mapd::cli
