// The real mapd binary on good and bad configs: output and exit codes (README.md, Commands;
// docs/user-guide.md §5).
#include "mapd/cli/cli.hpp"

#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"

#include "pipeline_fixtures.hpp"

namespace mapd::cli {
namespace {

namespace fsys = std::filesystem;

using testing::Result;
using testing::run_mapd;

fsys::path temp_dir(const std::string& name) {
  auto dir = fsys::temp_directory_path() / ("mapd_cli_test_" + name + "_" + std::to_string(::getpid()));
  fsys::remove_all(dir);
  fsys::create_directories(dir);
  return dir;
}

const std::string kReference = std::string(MAPD_SOURCE_DIR) + "/configs/reference.yaml";

TEST(Binary, ConfigPrintsResolvedJsonWithOverride) {
  const Result r = run_mapd("config -c " + kReference + " --set train.epochs=3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto json = nlohmann::json::parse(r.output);
  EXPECT_EQ(json["train"]["epochs"].get<int>(), 3);
  EXPECT_EQ(json["knn"]["k"].get<int>(), 20);
}

TEST(Binary, MisspelledSectionExitsTwoAndSuggests) {
  const auto dir = temp_dir("bad");
  std::ofstream(dir / "bad.yaml") << "trian: {epochs: 3}\n";
  const Result r = run_mapd("config -c " + (dir / "bad.yaml").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("trian"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean 'train'"), std::string::npos) << r.output;
  fsys::remove_all(dir);
}

TEST(Binary, ModeFlagIsCheckedLikeTheConfigKeyBeforeAnythingIsWritten) {
  const auto dir = temp_dir("mode");
  Result r = run_mapd("train --mode label-corection --run-dir " + (dir / "run").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("train.mode: 'label_corection'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean 'label_correction'"), std::string::npos) << r.output;
  r = run_mapd("audit --mode label-correction --set label_correction.warmup_epochs=30 --run-dir " +
               (dir / "run").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("label_correction.warmup_epochs: 30 leaves no correction epoch"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fsys::exists(dir / "run"));
  fsys::remove_all(dir);
}

TEST(Binary, VersionNamesLibTorchAndCuda) {
  const Result r = run_mapd("--version");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("mapd "), std::string::npos);
  EXPECT_NE(r.output.find("LibTorch 2.11.0"), std::string::npos) << r.output;
  // The wheel's LibTorch: built with CUDA 13 and cuDNN 9, whether or not this machine has a GPU.
  EXPECT_NE(r.output.find("built with CUDA 13."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(", cuDNN 9."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(mapd::cuda_available() ? "GPU: " : "GPU: none visible"), std::string::npos)
      << r.output;
}

TEST(Binary, CudaDeviceWithoutAGpuIsAClearConfigError) {
  if (mapd::cuda_available()) GTEST_SKIP() << "a GPU is visible here";
  const auto dir = temp_dir("no_gpu");
  // Before any data is read: the data path does not even exist.
  const Result r = run_mapd("train --run-dir " + (dir / "run").string() + " --set data.path=" +
                            (dir / "no-such-data").string() + " --set train.device=cuda");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("train.device: 'cuda' was asked for, but no CUDA device is visible"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("use train.device=cpu or auto"), std::string::npos) << r.output;
  fsys::remove_all(dir);
}

TEST(Binary, ConfigRejectsWhatTrainingWouldRejectLater) {
  // Semantic checks live in config validation: `mapd config` refuses an online view with
  // drop_last before any data is read, with the way out in the message.
  const Result r = run_mapd("config --set record.view=online --set data.drop_last=true");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("data.drop_last=false or record.view=eval"), std::string::npos) << r.output;
  EXPECT_EQ(run_mapd("config --set record.view=eval --set data.drop_last=true").exit_code, 0);
}

TEST(Binary, AssignRefusesANonPositiveK) {
  // -k 0 and -k -1 were taken as "not given" (k = 20 from the config), silently.
  const Result zero = run_mapd("assign /nonexistent-run -k 0");
  EXPECT_EQ(zero.exit_code, 2) << zero.output;
  EXPECT_NE(zero.output.find("-k 0: the number of neighbours must be >= 1"), std::string::npos)
      << zero.output;
  EXPECT_EQ(run_mapd("assign /nonexistent-run -k -1").exit_code, 2);
}

TEST(Binary, UnknownOptionAndSubcommandExitTwo) {
  EXPECT_EQ(run_mapd("--frobnicate").exit_code, 2);
  EXPECT_EQ(run_mapd("frobnicate").exit_code, 2);
  EXPECT_EQ(run_mapd("config --set train.epochs").exit_code, 2);
}

TEST(Binary, BadLogLevelExitsTwo) {
  const Result r = run_mapd("--log-level loud config");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown log level 'loud'"), std::string::npos) << r.output;
}

TEST(Binary, HelpExitsZero) {
  const Result r = run_mapd("--help");
  EXPECT_EQ(r.exit_code, 0);
  // Every subcommand and the options every command takes are listed.
  for (const char* entry :
       {"\n  config ", "\n  audit ", "\n  train ", "\n  resume ", "\n  assign ", "\n  report ", "\n  probes ",
        "\n  data ", "\n  inspect ", "--run-dir", "--log-level", "--version"}) {
    EXPECT_NE(r.output.find(entry), std::string::npos) << entry << " missing in:\n" << r.output;
  }
}

TEST(InProcess, ConfigCommandPrintsJson) {
  CommonOptions options;
  options.overrides = {"train.epochs=4"};
  std::ostringstream out;
  EXPECT_EQ(config_command(options, /*reference=*/false, out), 0);
  EXPECT_EQ(nlohmann::json::parse(out.str())["train"]["epochs"].get<int>(), 4);
}

TEST(InProcess, PrepareRunWritesResolvedConfig) {
  const auto dir = temp_dir("prepare");
  CommonOptions options;
  options.overrides = {"train.epochs=2"};
  options.run_dir = (dir / "run").string();
  const RunContext context = prepare_run(options, "mapd train");
  EXPECT_EQ(context.config.train.epochs, 2);
  std::ifstream in(dir / "run" / "config.resolved.json");
  const auto saved = nlohmann::json::parse(in);
  EXPECT_EQ(saved["train"]["epochs"].get<int>(), 2);
  EXPECT_TRUE(fsys::exists(dir / "run" / "train.log"));
  fsys::remove_all(dir);
}

TEST(InProcess, DefaultRunDirUsesConfigStem) {
  CommonOptions options;
  options.config_files = {"configs/cifar10.yaml"};
  config::RunConfig config;
  const auto dir = default_run_dir(options, config);
  EXPECT_EQ(dir.parent_path(), fsys::path("runs"));
  EXPECT_EQ(dir.filename().string().rfind("cifar10-", 0), 0u) << dir;
}

}  // namespace
}  // namespace mapd::cli
