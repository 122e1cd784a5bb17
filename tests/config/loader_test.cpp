#include "mapd/config/loader.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "mapd/core/error.hpp"
#include "mapd/core/run_layout.hpp"

namespace mapd::config {
namespace {

namespace fsys = std::filesystem;

class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fsys::temp_directory_path() /
           ("mapd_config_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fsys::create_directories(dir_);
  }
  void TearDown() override { fsys::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  fsys::path dir_;
};

// Returns the ConfigError message of `fn`, failing the test when none is thrown.
template <class Fn>
std::string config_error(Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

TEST(ConfigDefaults, AreTheDefaultAudit) {
  const RunConfig c = resolve({}, {});
  EXPECT_EQ(c.data.format, "idx");
  EXPECT_EQ(c.data.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(c.model.arch, "small_cnn");
  EXPECT_EQ(c.knn.k, 20);
  EXPECT_EQ(c.probes.fit_per_category, 250);
  EXPECT_EQ(c.probes.val_per_category, 250);
  EXPECT_TRUE(validate(c).empty());
}

TEST_F(ConfigFiles, YamlAndJsonParseToTheSameConfig) {
  const auto yaml =
      write("a.yaml", "train:\n  epochs: 7\n  device: cpu\ndata:\n  augment:\n    hflip: true\n");
  const auto json =
      write("a.json", R"({"train": {"epochs": 7, "device": "cpu"}, "data": {"augment": {"hflip": true}}})");
  EXPECT_EQ(to_json(resolve({yaml}, {})), to_json(resolve({json}, {})));
  EXPECT_EQ(resolve({yaml}, {}).train.epochs, 7);
  EXPECT_TRUE(resolve({yaml}, {}).data.augment.hflip);
}

TEST_F(ConfigFiles, LaterFilesWinAndMergeDeeply) {
  const auto a = write("a.yaml", "train: {epochs: 7, batch_size: 64}\noptimizer: {lr: 0.2}\n");
  const auto b = write("b.yaml", "train: {epochs: 9}\n");
  const RunConfig c = resolve({a, b}, {});
  EXPECT_EQ(c.train.epochs, 9);
  EXPECT_EQ(c.train.batch_size, 64);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.2);
}

TEST_F(ConfigFiles, OverridesWinOverFiles) {
  const auto a = write("a.yaml", "train: {epochs: 7}\n");
  const RunConfig c = resolve({a}, {"train.epochs=3", "schedule.milestones=[2, 4]", "output.name=123",
                                    "knn.standardize=true", "optimizer.lr=1e-3"});
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_EQ(c.schedule.milestones, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(c.output.name, "123");  // string fields take the value verbatim
  EXPECT_TRUE(c.knn.standardize);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 1e-3);
}

TEST_F(ConfigFiles, ARunsConfigIsItsResolvedFileThenFilesThenOverrides) {
  const auto run = dir_ / "run";
  fsys::create_directories(run);
  std::ofstream(RunLayout(run).config()) << R"({"train": {"epochs": 7, "batch_size": 64}, "knn": {"k": 9}})";
  const auto extra = write("extra.yaml", "knn: {k: 11}\n");
  const RunConfig c =
      resolve_run_config(run, "assign", RunConfigFile::kRequired, {extra}, {"train.epochs=3"});
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_EQ(c.train.batch_size, 64);
  EXPECT_EQ(c.knn.k, 11);

  const auto message = config_error(
      [&] { resolve_run_config(run, "report", RunConfigFile::kOptional, {}, {"report.top_m=3"}); });
  EXPECT_NE(message.find("invalid configuration for mapd report"), std::string::npos) << message;
  EXPECT_NE(message.find("top_n"), std::string::npos) << message;

  const auto empty = dir_ / "empty";
  fsys::create_directories(empty);
  EXPECT_EQ(resolve_run_config(empty, "report", RunConfigFile::kOptional).train.epochs,
            RunConfig{}.train.epochs);
  EXPECT_EQ(config_error([&] { resolve_run_config(empty, "resume", RunConfigFile::kRequired); }),
            "mapd resume: no config.resolved.json in " + empty.string() + " (is it a mapd run directory?)");
  try {
    resolve_run_config(dir_ / "nope", "assign", RunConfigFile::kOptional);
    ADD_FAILURE() << "expected an IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("mapd assign: run directory"), std::string::npos) << e.what();
  }
}

TEST_F(ConfigFiles, TheOldFaissBackendNameReadsAsBlas) {
  EXPECT_EQ(resolve({}, {"knn.backend=faiss"}).knn.backend, "blas");
  EXPECT_EQ(resolve({}, {"knn.backend=blas"}).knn.backend, "blas");
  const auto message = config_error([] { resolve({}, {"knn.backend=blass"}); });
  EXPECT_NE(message.find("'blass' is not one of auto, blas, torch; did you mean 'blas'?"), std::string::npos)
      << message;
}

TEST_F(ConfigFiles, UnknownTopLevelKeySuggestsTheSection) {
  const auto bad = write("bad.yaml", "trian:\n  epochs: 3\n");
  const std::string message = config_error([&] { resolve({bad}, {}); });
  EXPECT_NE(message.find("'trian'"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'train'"), std::string::npos) << message;
}

TEST_F(ConfigFiles, UnknownNestedKeyNamesTheFullPath) {
  const auto bad = write("bad.yaml", "data:\n  augment:\n    hfilp: true\n");
  const std::string message = config_error([&] { resolve({bad}, {}); });
  EXPECT_NE(message.find("'data.augment.hfilp'"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'hflip'"), std::string::npos) << message;
}

TEST_F(ConfigFiles, KeyInTheWrongSectionPointsToTheRightOne) {
  const auto bad = write("bad.yaml", "train:\n  lr: 0.1\n");
  const std::string message = config_error([&] { resolve({bad}, {}); });
  EXPECT_NE(message.find("'train.lr'"), std::string::npos) << message;
  EXPECT_NE(message.find("optimizer.lr"), std::string::npos) << message;
}

TEST_F(ConfigFiles, AllProblemsAreReportedTogether) {
  const auto bad = write("bad.yaml", "trian: {}\nmodel: {arch: resnet19}\ntrain: {epochs: many}\n");
  const std::string message = config_error([&] { resolve({bad}, {}); });
  EXPECT_NE(message.find("3 problems"), std::string::npos) << message;
  EXPECT_NE(message.find("trian"), std::string::npos) << message;
  EXPECT_NE(message.find("model.arch: 'resnet19' is not one of"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'resnet18'"), std::string::npos) << message;
  EXPECT_NE(message.find("train.epochs: expected an integer, got string"), std::string::npos) << message;
}

TEST_F(ConfigFiles, WrongTypesAreRejected) {
  EXPECT_NE(config_error([&] {
              resolve({write("a.yaml", "train: {device: [1]}\n")}, {});
            }).find("train.device: expected a string"),
            std::string::npos);
  EXPECT_NE(config_error([&] {
              resolve({write("b.yaml", "knn: {standardize: 1}\n")}, {});
            }).find("knn.standardize: expected a boolean"),
            std::string::npos);
  EXPECT_NE(config_error([&] {
              resolve({write("c.yaml", "optimizer: {lr: fast}\n")}, {});
            }).find("optimizer.lr: expected a number"),
            std::string::npos);
  EXPECT_NE(
      config_error([&] { resolve({write("d.yaml", "train: 3\n")}, {}); }).find("train: expected a section"),
      std::string::npos);
  EXPECT_NE(config_error([&] {
              resolve({write("e.yaml", "schedule: {milestones: [1, x]}\n")}, {});
            }).find("schedule.milestones: expected a list of integers"),
            std::string::npos);
  EXPECT_NE(config_error([&] {
              resolve({write("f.yaml", "train: {epochs: 2.5}\n")}, {});
            }).find("train.epochs: expected an integer"),
            std::string::npos);
}

TEST_F(ConfigFiles, TopLevelMustBeAMapping) {
  EXPECT_NE(
      config_error([&] { resolve({write("a.yaml", "- 1\n- 2\n")}, {}); }).find("top level must be a mapping"),
      std::string::npos);
}

TEST_F(ConfigFiles, SyntaxErrorsNameFileAndLine) {
  const auto bad = write("bad.yaml", "train:\n  epochs: [1,\n");
  const std::string message = config_error([&] { resolve({bad}, {}); });
  EXPECT_NE(message.find("bad.yaml:"), std::string::npos) << message;
  EXPECT_NE(message.find("YAML syntax error"), std::string::npos) << message;
  const auto bad_json = write("bad.json", "{\"train\": ");
  EXPECT_NE(config_error([&] { resolve({bad_json}, {}); }).find("JSON syntax error"), std::string::npos);
}

TEST_F(ConfigFiles, MissingFileAndUnknownExtension) {
  EXPECT_NE(
      config_error([&] { resolve({(dir_ / "nope.yaml").string()}, {}); }).find("cannot read config file"),
      std::string::npos);
  EXPECT_NE(
      config_error([&] { resolve({write("a.toml", "x = 1\n")}, {}); }).find("unknown extension '.toml'"),
      std::string::npos);
}

TEST(ConfigOverrides, MalformedAssignment) {
  EXPECT_NE(config_error([] { resolve({}, {"train.epochs"}); }).find("expected key.path=value"),
            std::string::npos);
  EXPECT_NE(config_error([] { resolve({}, {"=3"}); }).find("expected key.path=value"), std::string::npos);
}

TEST(ConfigOverrides, UnknownKeySuggests) {
  const std::string message = config_error([] { resolve({}, {"train.epoch=3"}); });
  EXPECT_NE(message.find("did you mean 'train.epochs'"), std::string::npos) << message;
  const std::string moved = config_error([] { resolve({}, {"train.lr=3"}); });
  EXPECT_NE(moved.find("did you mean 'optimizer.lr'"), std::string::npos) << moved;
}

TEST(ConfigOverrides, SectionCannotBeSet) {
  EXPECT_NE(config_error([] { resolve({}, {"train=3"}); }).find("is a section"), std::string::npos);
}

TEST(ConfigOverrides, TypeChecked) {
  EXPECT_NE(config_error([] { resolve({}, {"train.epochs=abc"}); }).find("train.epochs: expected an integer"),
            std::string::npos);
  EXPECT_NE(config_error([] {
              resolve({}, {"data.augment.hflip=maybe"});
            }).find("data.augment.hflip: expected a boolean"),
            std::string::npos);
}

TEST(ConfigOverrides, BadOverridesAndBadValuesReportedTogether) {
  const std::string message = config_error([] { resolve({}, {"train.lr=3", "train.epochs=abc"}); });
  EXPECT_NE(message.find("train.lr"), std::string::npos) << message;
  EXPECT_NE(message.find("train.epochs: expected an integer"), std::string::npos) << message;
}

TEST(ConfigChoices, ValueOutsideChoicesSuggests) {
  const std::string message = config_error([] { resolve({}, {"record.view=onlne"}); });
  EXPECT_NE(message.find("record.view: 'onlne' is not one of online, eval"), std::string::npos) << message;
  EXPECT_NE(message.find("did you mean 'online'"), std::string::npos) << message;
}

// One negative test per range rule of validate().
struct RangeCase {
  const char* override_text;
  const char* expected;
};

class ConfigRanges : public ::testing::TestWithParam<RangeCase> {};

TEST_P(ConfigRanges, RejectsOutOfRangeValue) {
  const RangeCase& c = GetParam();
  const std::string message = config_error([&] { resolve({}, {c.override_text}); });
  EXPECT_NE(message.find(c.expected), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(
    EveryRule, ConfigRanges,
    ::testing::Values(
        RangeCase{"data.label_noise.rate=1.5", "data.label_noise.rate"},
        RangeCase{"data.label_noise.rate=-0.1", "data.label_noise.rate"},
        RangeCase{"data.limit=-1", "data.limit"}, RangeCase{"data.channels=2", "data.channels"},
        RangeCase{"data.image_size=2", "data.image_size"}, RangeCase{"data.workers=-2", "data.workers"},
        RangeCase{"data.prefetch=0", "data.prefetch"},
        RangeCase{"data.memory_budget_mb=-1", "data.memory_budget_mb"},
        RangeCase{"data.augment.crop_padding=-1", "data.augment.crop_padding"},
        RangeCase{"data.augment.rrc_scale_min=0", "data.augment.rrc_scale_min"},
        RangeCase{"data.augment.mean=[0.5]", "data.augment.mean and data.augment.std"},
        RangeCase{"model.width=0", "model.width"}, RangeCase{"optimizer.lr=0", "optimizer.lr"},
        RangeCase{"optimizer.momentum=1", "optimizer.momentum"},
        RangeCase{"optimizer.weight_decay=-1", "optimizer.weight_decay"},
        RangeCase{"schedule.warmup_epochs=-1", "schedule.warmup_epochs"},
        RangeCase{"schedule.milestones=[5, 2]", "schedule.milestones"},
        RangeCase{"train.epochs=0", "train.epochs"},
        RangeCase{"train.epochs=9223372036854775807", "train.epochs: must be <= 1000000"},
        RangeCase{"model.width=5000", "model.width: must be <= 4096"},
        RangeCase{"data.image_size=100000", "data.image_size: must be <= 4096"},
        RangeCase{"data.num_classes=1000000", "data.num_classes: must be <= 100000, got 1000000"},
        RangeCase{"train.batch_size=0", "train.batch_size"}, RangeCase{"train.threads=-1", "train.threads"},
        RangeCase{"probes.fit_per_category=0", "probes.fit_per_category"},
        RangeCase{"probes.val_per_category=-1", "probes.val_per_category"},
        RangeCase{"probes.corrupted_sigma=0", "probes.corrupted_sigma"},
        RangeCase{"probes.typical_pool=1.5", "probes.typical_pool"},
        RangeCase{"probes.atypical_floor=-1", "probes.atypical_floor"},
        RangeCase{"probes.ood_source=dataset", "probes.ood_path"},
        RangeCase{"probes.difficulty=file", "probes.score_file"},
        RangeCase{"probes.holdout_models=1", "probes.holdout_models"},
        RangeCase{"probes.holdout_epochs=0", "probes.holdout_epochs"},
        RangeCase{"probes.pilot_epochs=0", "probes.pilot_epochs"}, RangeCase{"knn.k=0", "knn.k"},
        RangeCase{"knn.epoch_begin=-1", "knn.epoch_begin"}, RangeCase{"knn.epoch_end=-2", "knn.epoch_end"},
        RangeCase{"knn.memory_budget_mb=1", "knn.memory_budget_mb"},
        RangeCase{"knn.block_size=-1", "knn.block_size"}, RangeCase{"report.top_n=0", "report.top_n"},
        RangeCase{"report.table_limit=-1", "report.table_limit"}));

TEST(ConfigNesterov, NeedsMomentum) {
  EXPECT_NE(config_error([] {
              resolve({}, {"optimizer.nesterov=true", "optimizer.momentum=0"});
            }).find("optimizer.nesterov"),
            std::string::npos);
}

TEST(ConfigLabelCorrection, OracleNeedsInjectedNoise) {
  // The oracle reads which labels injected noise changed: without noise it would correct nothing.
  const auto message = config_error([] {
    resolve({}, {"train.mode=label_correction", "label_correction.method=oracle"});
  });
  EXPECT_NE(message.find("label_correction.method: oracle"), std::string::npos) << message;
  EXPECT_NE(message.find("data.label_noise.rate > 0"), std::string::npos) << message;
  EXPECT_NO_THROW(resolve(
      {}, {"train.mode=label_correction", "label_correction.method=oracle", "data.label_noise.rate=0.4"}));
}

TEST(ConfigView, OnlineViewRefusesDropLast) {
  const auto message = config_error([] { resolve({}, {"record.view=online", "data.drop_last=true"}); });
  EXPECT_NE(message.find("record.view=online"), std::string::npos) << message;
  EXPECT_NE(message.find("data.drop_last=false"), std::string::npos) << message;
  EXPECT_NO_THROW(resolve({}, {"record.view=eval", "data.drop_last=true"}));
}

TEST(ConfigKnn, EpochRangeBeyondTrainingIsRefusedBeforeTraining) {
  // assign reads committed epochs only: a range past train.epochs failed after the whole training.
  const auto beyond = config_error([] { resolve({}, {"train.epochs=20", "knn.epoch_end=30"}); });
  EXPECT_NE(beyond.find("knn.epoch_end: 30 is beyond train.epochs = 20"), std::string::npos) << beyond;
  const auto empty = config_error([] { resolve({}, {"train.epochs=20", "knn.epoch_begin=20"}); });
  EXPECT_NE(empty.find("knn.epoch_begin: 20 leaves no epoch of train.epochs = 20"), std::string::npos)
      << empty;
  EXPECT_NO_THROW(resolve({}, {"train.epochs=20", "knn.epoch_begin=5", "knn.epoch_end=20"}));
}

// Issue 13 item 13: a key given twice silently took the last value.
TEST_F(ConfigFiles, DuplicateKeysAreNamedWithTheirLines) {
  const auto yaml = write("dup.yaml", "train:\n  epochs: 5\n  batch_size: 8\n  epochs: 50\n");
  const auto message = config_error([&] { resolve({yaml}, {}); });
  EXPECT_NE(message.find("dup.yaml:4: duplicate key 'train.epochs' (first given at line 2)"),
            std::string::npos)
      << message;
  const auto sections = write("sections.yaml", "train: {epochs: 5}\nknn: {k: 3}\ntrain: {batch_size: 8}\n");
  EXPECT_NE(config_error([&] { resolve({sections}, {}); }).find("duplicate key 'train'"), std::string::npos);
  const auto json_file = write("dup.json", R"({"train": {"epochs": 5, "epochs": 50}})");
  const auto json_message = config_error([&] { resolve({json_file}, {}); });
  EXPECT_NE(json_message.find("dup.json: duplicate key 'epochs'"), std::string::npos) << json_message;
  // The same key in two different mappings is fine.
  const auto fine = write("fine.json", R"({"train": {"epochs": 5}, "knn": {"epoch_end": 5}})");
  EXPECT_EQ(resolve({fine}, {}).train.epochs, 5);
}

// Issue 13 item 8: a 342-byte "billion laughs" YAML (nine levels of aliases, each listing the
// previous one nine times) expanded to 9^9 values and took more than 5 GB.
TEST_F(ConfigFiles, YamlAliasBombFailsFastWithAConfigError) {
  std::string text = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char level = 'b'; level <= 'i'; ++level) {
    const char previous = static_cast<char>(level - 1);
    text += fmt::format("{0}: &{0} [*{1},*{1},*{1},*{1},*{1},*{1},*{1},*{1},*{1}]\n", level, previous);
  }
  ASSERT_LT(text.size(), 400U);
  const auto bomb = write("bomb.yaml", text);
  const auto message = config_error([&] { resolve({bomb}, {}); });
  EXPECT_NE(message.find("bomb.yaml: the document expands to more than 100000 values"), std::string::npos)
      << message;
}

// Issue 13 item 8: deeply nested JSON overflowed the stack (segfault); YAML is bounded the same way.
TEST_F(ConfigFiles, DeepNestingIsAConfigErrorNotAStackOverflow) {
  const std::string deep_json = std::string(200000, '[') + std::string(200000, ']');
  const auto json_file = write("deep.json", "{\"train\": " + deep_json + "}");
  const auto json_message = config_error([&] { resolve({json_file}, {}); });
  EXPECT_NE(json_message.find("deep.json: nested deeper than 32 levels"), std::string::npos) << json_message;
  std::string deep_yaml;
  for (int level = 0; level < 40; ++level) {
    deep_yaml += std::string(static_cast<size_t>(level) * 2, ' ') + "k" + std::to_string(level) + ":\n";
  }
  const auto yaml_file = write("deep.yaml", deep_yaml);
  const auto yaml_message = config_error([&] { resolve({yaml_file}, {}); });
  EXPECT_NE(yaml_message.find("deep.yaml:34: 'k0.k1.k2"), std::string::npos) << yaml_message;
  EXPECT_NE(yaml_message.find("is nested deeper than 32 levels"), std::string::npos) << yaml_message;
}

// Issue 13 item 14 (found by tests/fuzz): a number beyond double's range escaped as
// nlohmann::json's out_of_range (JSON) or std::stod's (YAML), and bytes that are not UTF-8 failed
// only when the resolved config was written as JSON: internal errors instead of ConfigErrors.
TEST_F(ConfigFiles, NumberBeyondTheRangeOfDoubleIsAConfigError) {
  const auto json_file = write("big.json", "{\"optimizer\": {\"lr\": 1e400}}");
  const auto json_message = config_error([&] { resolve({json_file}, {}); });
  EXPECT_NE(json_message.find("big.json: JSON number out of range"), std::string::npos) << json_message;
  const auto yaml_file = write("big.yaml", "optimizer:\n  lr: 1e400\n");
  const auto yaml_message = config_error([&] { resolve({yaml_file}, {}); });
  EXPECT_NE(yaml_message.find("optimizer.lr: expected a number, got string \"1e400\""), std::string::npos)
      << yaml_message;
}

// Found by tests/fuzz under UBSan: a float for an integer key was cast to int64 before its range
// was checked (undefined for 1e200); an integer from 2^63 on wrapped to a negative value.
TEST_F(ConfigFiles, IntegerKeysRejectNumbersOutsideInt64) {
  const auto yaml_file = write("huge.yaml", "train:\n  epochs: 1e200\n");
  const auto yaml_message = config_error([&] { resolve({yaml_file}, {}); });
  EXPECT_NE(yaml_message.find("train.epochs: expected an integer, got number 1e+200"), std::string::npos)
      << yaml_message;
  const auto json_file = write("huge.json",
                               "{\"model\": {\"width\": 5.5e78}, \"knn\": {\"k\": -9.3e18}, "
                               "\"train\": {\"epochs\": 9223372036854775808}}");
  const auto json_message = config_error([&] { resolve({json_file}, {}); });
  EXPECT_NE(json_message.find("model.width: expected an integer, got number 5.5e+78"), std::string::npos)
      << json_message;
  EXPECT_NE(json_message.find("knn.k: expected an integer, got number -9.3e+18"), std::string::npos)
      << json_message;
  EXPECT_NE(json_message.find("train.epochs: expected an integer, got integer 9223372036854775808"),
            std::string::npos)
      << json_message;
}

TEST_F(ConfigFiles, TextThatIsNotUtf8IsAConfigErrorNamingTheKey) {
  const auto value = write("latin1.yaml", "train:\n  epochs: 3\ndata:\n  path: caf\xe9\n");
  const auto value_message = config_error([&] { resolve({value}, {}); });
  EXPECT_NE(value_message.find("latin1.yaml:4: the value of 'data.path' is not UTF-8 text"),
            std::string::npos)
      << value_message;
  const auto key = write("latin1-key.yaml", "train:\n  ep\xffochs: 3\n");
  const auto key_message = config_error([&] { resolve({key}, {}); });
  EXPECT_NE(key_message.find("latin1-key.yaml:2: a key in 'train' is not UTF-8 text"), std::string::npos)
      << key_message;
  const auto override_message = config_error([] { resolve({}, {"data.path=caf\xe9"}); });
  EXPECT_NE(override_message.find("--set data.path: the value is not UTF-8 text"), std::string::npos)
      << override_message;
}

// Issue 13 item 12: what a resume may change. Keys that decide what is trained or recorded are
// listed with both values; loader, thread, k-NN, report and output keys and the dataset's paths
// are not; a key the run's (older) mapd did not record is not compared.
TEST(ChangedRunKeys, ListsTheKeysThatDecideWhatIsRecorded) {
  RunConfig started;
  started.train.epochs = 5;
  nlohmann::json recorded = to_json(started);
  recorded["record"].erase("dtype");
  RunConfig now = started;
  now.train.epochs = 10;
  now.record.view = "eval";
  now.record.dtype = "fp32";
  now.train.threads = 3;
  now.data.workers = 4;
  now.data.path = "/elsewhere";
  now.knn.k = 3;
  now.report.top_n = 5;
  EXPECT_EQ(changed_run_keys(recorded, now),
            (std::vector<std::string>{"train.epochs: 5 -> 10", "record.view: \"online\" -> \"eval\""}));
  EXPECT_TRUE(changed_run_keys(to_json(started), started).empty());

  // Label correction fits the k-NN while training: there knn.k changes what is recorded.
  RunConfig correcting;
  correcting.train.mode = "label_correction";
  RunConfig other_k = correcting;
  other_k.knn.k = 7;
  other_k.label_correction.bootstrap = "hard";
  EXPECT_EQ(changed_run_keys(to_json(correcting), other_k),
            (std::vector<std::string>{"knn.k: 20 -> 7", "label_correction.bootstrap: \"soft\" -> \"hard\""}));
}

TEST(ClosestMatch, SuggestsOnlyCloseWords) {
  EXPECT_EQ(closest_match("mislabelled", {"typical", "mislabeled"}), "mislabeled");
  EXPECT_EQ(closest_match("zzz", {"typical", "mislabeled"}), "");
}

TEST(EditDistance, CountsSwapsAsOneEdit) {
  EXPECT_EQ(edit_distance("trian", "train"), 1u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(ConfigJson, RoundTrips) {
  RunConfig c;
  c.train.epochs = 11;
  c.data.augment.mean = {0.1, 0.2, 0.3};
  c.data.augment.std_dev = {1, 2, 3};
  EXPECT_EQ(to_json(from_json(to_json(c))), to_json(c));
}

}  // namespace
}  // namespace mapd::config
