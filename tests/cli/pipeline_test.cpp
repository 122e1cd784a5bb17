// End-to-end: the real mapd binary through whole pipelines on a tiny dataset the test writes —
// audit outputs, label-noise detection, kill -9 / SIGTERM and resume (bitwise), exit codes,
// report on a partial run, inspect (issues 4 and 7, docs/user-guide.md §5-§6).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "mapd/record/dynamics_store.hpp"

#include "pipeline_fixtures.hpp"

namespace mapd::cli {
namespace {

using nlohmann::json;
using testing::read_lines;
using testing::read_text;
using testing::Result;
using testing::run_mapd;
namespace fsys = std::filesystem;

/// The line `mapd: error: ...` that main prints for an error ("" when there is none).
std::string error_line(const std::string& output) {
  const auto start = output.find("mapd: error: ");
  if (start == std::string::npos) return "";
  return output.substr(start, output.find('\n', start) - start);
}

/// A run directory under a per-test temp folder that holds the dataset and the config.
class PipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = testing::temp_dir(info->name());
    data_ = dir_ / "data";
    fsys::create_directories(data_);
  }
  void TearDown() override {
    if (!HasFailure()) fsys::remove_all(dir_);
  }

  /// The tiny dataset (`train_images` training images, 100 test images) and a config for it.
  /// `slow` makes each epoch long enough (~0.5 s) for a signal to land inside it.
  /// `data_keys` go inside the data section ("augment: {hflip: true}"), `extra` is appended as is.
  fsys::path write_config(int train_images, int epochs, bool slow = false, const std::string& extra = "",
                          const std::string& data_keys = "") {
    testing::write_pattern_idx(data_, "train", train_images, 1);
    testing::write_pattern_idx(data_, "t10k", 100, 2);
    auto path = dir_ / "tiny.yaml";
    std::ofstream(path) << "data: {format: idx, path: " << data_.string() << ", name: tiny, workers: 1"
                        << (data_keys.empty() ? "" : ", " + data_keys)
                        << "}\n"
                           "model: {arch: small_cnn, width: "
                        << (slow ? 32 : 8)
                        << "}\n"
                           "optimizer: {lr: 0.05}\n"
                           "train: {epochs: "
                        << epochs << ", batch_size: " << (slow ? 8 : 32)
                        << ", threads: 1}\n"
                           "probes: {fit_per_category: 10, val_per_category: 10, pilot_epochs: 1, "
                           "max_fraction: 0.3}\n"
                           "knn: {k: 5}\n"
                        << extra;
    return path;
  }

  fsys::path dir_;
  fsys::path data_;
};

std::string quoted(const fsys::path& path) { return "'" + path.string() + "'"; }

/// The JSON the report embeds in index.html (<script id="mapd-data">).
json report_data(const fsys::path& index_html) {
  const std::string html = read_text(index_html);
  const std::string open = "<script id=\"mapd-data\" type=\"application/json\">";
  const auto begin = html.find(open);
  if (begin == std::string::npos) return json();
  const auto start = begin + open.size();
  const auto end = html.find("</script>", start);
  return json::parse(html.substr(start, end - start));
}

void expect_bitwise_equal(const testing::Trajectories& a, const testing::Trajectories& b) {
  ASSERT_EQ(a.epochs, b.epochs);
  ASSERT_EQ(a.examples, b.examples);
  const auto bytes = a.loss.size() * sizeof(float);
  EXPECT_EQ(std::memcmp(a.loss.data(), b.loss.data(), bytes), 0) << "/epochs/loss differs";
  EXPECT_EQ(std::memcmp(a.true_prob.data(), b.true_prob.data(), bytes), 0) << "/epochs/true_prob differs";
  EXPECT_EQ(a.pred, b.pred) << "/epochs/pred differs";
  if (a.loss != b.loss) {
    for (size_t i = 0; i < a.loss.size(); ++i) {
      if (a.loss[i] != b.loss[i]) {
        ADD_FAILURE() << "first loss difference: example " << i / static_cast<size_t>(a.epochs) << " epoch "
                      << i % static_cast<size_t>(a.epochs) << ": " << a.loss[i] << " vs " << b.loss[i];
        break;
      }
    }
  }
}

TEST_F(PipelineTest, AuditWritesEveryOutputOfTheRunDirectory) {
  constexpr int kEpochs = 4;
  const auto config = write_config(600, kEpochs);
  const auto run = dir_ / "run";
  const Result r = run_mapd("audit -c " + quoted(config) + " --run-dir " + quoted(run));
  ASSERT_EQ(r.exit_code, 0) << r.output;

  const auto resolved = json::parse(read_text(run / "config.resolved.json"));
  EXPECT_EQ(resolved["train"]["epochs"].get<int>(), kEpochs);
  EXPECT_EQ(resolved["knn"]["k"].get<int>(), 5);
  EXPECT_NE(read_text(run / "train.log").find("audit finished"), std::string::npos);

  const auto metrics = read_lines(run / "metrics.jsonl");
  ASSERT_EQ(metrics.size(), static_cast<size_t>(kEpochs));
  for (size_t e = 0; e < metrics.size(); ++e) {
    const auto m = json::parse(metrics[e]);
    EXPECT_TRUE(m.contains("loss")) << metrics[e];
  }
  // The classes are learnable: the loss falls.
  EXPECT_LT(json::parse(metrics.back())["loss"].get<double>(),
            json::parse(metrics.front())["loss"].get<double>());

  // dynamics.h5: [E, N] with N = training rows + probes, every role present.
  const auto store = record::DynamicsStore::open_read(run / "dynamics.h5");
  EXPECT_EQ(store.complete_epochs(), kEpochs);
  const auto& ex = store.examples();
  int64_t train = 0, fit = 0, val = 0;
  for (const int8_t role : ex.role) {
    train += role == static_cast<int8_t>(record::Role::kTrain) ? 1 : 0;
    fit += role == static_cast<int8_t>(record::Role::kProbeFit) ? 1 : 0;
    val += role == static_cast<int8_t>(record::Role::kProbeVal) ? 1 : 0;
  }
  const auto categories = static_cast<int64_t>(store.meta().category_names.size());
  EXPECT_EQ(categories, 6);
  EXPECT_EQ(fit, 10 * categories);
  EXPECT_EQ(val, 10 * categories);
  EXPECT_GT(train, 0);
  EXPECT_EQ(store.num_examples(), train + fit + val);
  const auto t = testing::read_trajectories(run / "dynamics.h5");
  for (const float v : t.loss) ASSERT_TRUE(std::isfinite(v));

  // assignments: one CSV row per training example, header as docs/user-guide.md §6.
  const auto csv = read_lines(run / "assignments.csv");
  ASSERT_FALSE(csv.empty());
  EXPECT_EQ(csv[0].rfind("id,label,assigned,max_prob,p_typical,", 0), 0U) << csv[0];
  EXPECT_EQ(static_cast<int64_t>(csv.size()) - 1, train + val);  // val probes are assigned too
  EXPECT_TRUE(fsys::exists(run / "assignments.h5"));
  const auto selftest = json::parse(read_text(run / "selftest.json"));
  EXPECT_TRUE(selftest.contains("accuracy"));

  // report/index.html with every section the template defines, and the run's numbers in it.
  const auto html = read_text(run / "report" / "index.html");
  ASSERT_FALSE(html.empty());
  for (const char* id : {"summary", "selftest", "trajectories", "assignments", "surfaced", "learning"}) {
    EXPECT_NE(html.find(std::string("<section id=\"") + id + "\""), std::string::npos) << id;
  }
  const auto page = report_data(run / "report" / "index.html");
  EXPECT_EQ(page["summary"]["epochs_committed"].get<int64_t>(), kEpochs);
  EXPECT_TRUE(page["summary"]["complete"].get<bool>());
  EXPECT_EQ(page["summary"]["examples"].get<int64_t>(), store.num_examples());
  for (const auto& category : store.meta().category_names) {
    EXPECT_TRUE(fsys::exists(run / "report" / (category + ".png"))) << category;
  }

  // inspect prints the shape and committed epochs.
  const Result inspect = run_mapd("inspect " + quoted(run / "dynamics.h5"));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  const std::string shape = "[" + std::to_string(kEpochs) + ", " + std::to_string(store.num_examples()) + "]";
  EXPECT_NE(inspect.output.find(shape), std::string::npos) << inspect.output;
  EXPECT_NE(inspect.output.find("committed epochs: " + std::to_string(kEpochs)), std::string::npos)
      << inspect.output;
}

/// The first field of a CSV line as mapd writes it (quoted when it holds a comma).
std::string first_csv_field(const std::string& line) {
  if (!line.empty() && line.front() == '"') return line.substr(1, line.find('"', 1) - 1);
  return line.substr(0, line.find(','));
}

// Issue 13 item 10: a manifest with text ids (file names, UUIDs) was refused; grey images were
// decoded as 3 channels and resized to 32 x 32. Now the ids go through dynamics.h5, assignments and
// the report as written, and "as stored" means what the files hold.
TEST_F(PipelineTest, ManifestWithTextIdsIsAuditedUnderThoseIds) {
  const auto ids = testing::write_pattern_manifest(data_, 400, 1);
  const std::set<std::string> known(ids.begin(), ids.end());
  const auto config = dir_ / "manifest.yaml";
  std::ofstream(config) << "data: {format: manifest, path: " << (data_ / "manifest.csv").string()
                        << ", name: tiny, workers: 1}\n"
                           "model: {arch: small_cnn, width: 8}\noptimizer: {lr: 0.05}\n"
                           "train: {epochs: 3, batch_size: 32, threads: 1}\n"
                           "probes: {fit_per_category: 10, val_per_category: 10, pilot_epochs: 1, "
                           "max_fraction: 0.4}\nknn: {k: 5}\n";
  const auto run = dir_ / "run";
  const Result r = run_mapd("audit -c " + quoted(config) + " --run-dir " + quoted(run));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(read_text(run / "train.log").find("ids are text (such as 'img-000000')"), std::string::npos);
  EXPECT_NE(read_text(run / "train.log").find("28 x 28 (height x width)"), std::string::npos);

  const auto store = record::DynamicsStore::open_read(run / "dynamics.h5");
  const auto& ex = store.examples();
  ASSERT_EQ(ex.name.size(), ex.id.size());
  for (int64_t row = 0; row < ex.size(); ++row) {
    const auto k = static_cast<size_t>(row);
    if (ex.source_index[k] >= 0) {
      EXPECT_EQ(ex.name[k], ids[static_cast<size_t>(ex.source_index[k])]) << row;
      EXPECT_EQ(ex.id[k], ex.source_index[k]) << row;  // the integer id is the line index
    }
  }
  const auto csv = read_lines(run / "assignments.csv");
  ASSERT_GT(csv.size(), 1U);
  std::set<std::string> listed;
  size_t synthetic = 0;  // synthetic probes (random_input, ood sketches) have no id: -1, as always
  for (size_t i = 1; i < csv.size(); ++i) {
    const auto id = first_csv_field(csv[i]);
    if (id == "-1") {
      ++synthetic;
      continue;
    }
    EXPECT_EQ(known.count(id), 1U) << csv[i];
    listed.insert(id);
  }
  EXPECT_EQ(listed.size() + synthetic, csv.size() - 1);  // every other row its own id
  EXPECT_GT(listed.size(), 300U);
  const auto page = report_data(run / "report" / "index.html");
  int64_t surfaced = 0;
  for (const auto& group : page["surfaced"]) {
    for (const auto& e : group["examples"]) {
      EXPECT_EQ(known.count(e["id"].get<std::string>()), 1U) << e.dump();
      EXPECT_TRUE(e.contains("png")) << e.dump();  // the image is found by its text id
      ++surfaced;
    }
  }
  EXPECT_GT(surfaced, 0);
  EXPECT_EQ(read_text(run / "report" / "index.html").find("dataset changed"), std::string::npos);
  // The browsing table lists every training example under its text id, each with its thumbnail.
  const std::string rows = read_text(run / "report" / "table" / "rows.js");
  const auto open = rows.find('{');
  ASSERT_NE(open, std::string::npos) << rows.substr(0, 200);
  const auto table = json::parse(rows.substr(open, rows.rfind('}') + 1 - open));
  ASSERT_GT(table["id"].size(), 300U);
  for (const auto& id : table["id"]) EXPECT_EQ(known.count(id.get<std::string>()), 1U) << id;
  EXPECT_EQ(table["thumbs"]["image"], json(std::vector<int>(table["id"].size(), 1)));
  EXPECT_EQ(table["thumbs"]["side"], 28);  // the images' size, not enlarged
}

TEST_F(PipelineTest, AuditWithInjectedLabelNoiseWritesDetectionMetrics) {
  const auto config = write_config(600, 4, false, "");
  const auto run = dir_ / "run";
  const Result r =
      run_mapd("audit -c " + quoted(config) + " --set data.label_noise.rate=0.2 --run-dir " + quoted(run));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(fsys::exists(run / "detection.json")) << r.output;
  const auto detection = json::parse(read_text(run / "detection.json"));
  EXPECT_GT(detection["flipped"].get<int64_t>(), 0);
  for (const char* ranking : {"p_mislabeled", "mean_loss", "label_issue"}) {
    ASSERT_TRUE(detection["rankings"].contains(ranking)) << detection.dump(2);
    const double auroc = detection["rankings"][ranking]["auroc"].get<double>();
    EXPECT_GE(auroc, 0.0);
    EXPECT_LE(auroc, 1.0);
    EXPECT_TRUE(detection["rankings"][ranking].contains("average_precision"));
  }
  // Flipped labels of a learnable dataset stand out by their loss.
  EXPECT_GT(detection["rankings"]["mean_loss"]["auroc"].get<double>(), 0.8);
  const auto page = report_data(run / "report" / "index.html");
  EXPECT_FALSE(page["detection"].is_null());
}

TEST_F(PipelineTest, KillNineDuringEpochThreeThenResumeMatchesAnUninterruptedRunBitwise) {
  constexpr int kEpochs =
      8;  // margin: the kill after epoch 2 must land before the run ends, even on a loaded machine
  // Augmentation draws from the loader's RNG, which the checkpoint must restore exactly.
  const auto config =
      write_config(800, kEpochs, /*slow=*/true, "", "augment: {crop_padding: 2, hflip: true}");
  const auto full = dir_ / "full";
  const auto killed = dir_ / "killed";
  const Result reference = run_mapd("train -c " + quoted(config) + " --run-dir " + quoted(full));
  ASSERT_EQ(reference.exit_code, 0) << reference.output;

  const pid_t pid = testing::spawn_mapd({"train", "-c", config.string(), "--run-dir", killed.string()},
                                        dir_ / "killed.out");
  ASSERT_GT(pid, 0);
  const bool reached = testing::wait_for_epochs(killed / "dynamics.h5", 2, pid);
  ::kill(pid, SIGKILL);
  const int code = testing::wait_exit(pid);
  ASSERT_TRUE(reached) << "training ended before committing 2 epochs: " << read_text(dir_ / "killed.out");
  ASSERT_EQ(code, 128 + SIGKILL) << read_text(dir_ / "killed.out");
  const int64_t kept = testing::committed_epochs(killed / "dynamics.h5");
  ASSERT_GE(kept, 2);
  ASSERT_LT(kept, kEpochs) << "kill -9 landed after the run finished; epochs are too short";

  // The README's h5py line reads the killed run (issue 13 item 13), when h5py is installed.
  if (std::system("/usr/bin/python3 -c 'import h5py' > /dev/null 2>&1") == 0) {
    const auto script = dir_ / "readme.py";
    std::ofstream(script) << "import sys, h5py\n"
                             "p = sys.argv[1]\n"
                             "loss = h5py.File(p, \"r\", swmr=True)[\"epochs/loss\"][:]\n"
                             "complete = int(h5py.File(p, \"r\", swmr=True)[\"epochs/complete\"][()])\n"
                             "print(loss.shape[0] >= complete, complete)\n";
    const auto out = dir_ / "readme.out";
    const std::string command = "/usr/bin/python3 " + quoted(script) + " " + quoted(killed / "dynamics.h5") +
                                " > " + quoted(out) + " 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << read_text(out);
    EXPECT_EQ(read_text(out), "True " + std::to_string(kept) + "\n");
  }
  // The killed run is readable: inspect and report show the committed epochs only.
  const Result inspect = run_mapd("inspect " + quoted(killed / "dynamics.h5"));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("committed epochs: " + std::to_string(kept)), std::string::npos)
      << inspect.output;
  const Result report = run_mapd("report " + quoted(killed));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const auto page = report_data(killed / "report" / "index.html");
  ASSERT_TRUE(page.is_object()) << "no embedded report data";
  EXPECT_EQ(page["summary"]["epochs_committed"].get<int64_t>(), kept);
  EXPECT_FALSE(page["summary"]["complete"].get<bool>());
  EXPECT_NE(page["notes"].dump().find("Training is not finished"), std::string::npos) << page["notes"].dump();

  const Result resume = run_mapd("resume " + quoted(killed));
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_EQ(read_lines(killed / "metrics.jsonl").size(), static_cast<size_t>(kEpochs));
  const auto a = testing::read_trajectories(full / "dynamics.h5");
  const auto b = testing::read_trajectories(killed / "dynamics.h5");
  ASSERT_EQ(a.epochs, kEpochs);
  expect_bitwise_equal(a, b);
  const auto ea = record::DynamicsStore::open_read(full / "dynamics.h5").examples();
  const auto eb = record::DynamicsStore::open_read(killed / "dynamics.h5").examples();
  EXPECT_EQ(ea.id, eb.id);
  EXPECT_EQ(ea.label, eb.label);
  EXPECT_EQ(ea.role, eb.role);
}

// Issue 13 item 15: the attack campaign's kill chains, kept. Training is killed (SIGKILL or
// SIGTERM) at a moment drawn from a seeded generator, then `mapd resume` is killed the same way,
// kFaults times in a row; after every kill the committed epochs must equal an uninterrupted run's
// bitwise, and the last resume must finish it. A moment is drawn from [0, start-up + 1 epoch] of
// the uninterrupted run's timing, so kills fall from start-up (before the run directory exists,
// while dynamics.h5 is reopened) to the middle of epochs, and the chain moves a few epochs a try.
TEST_F(PipelineTest, KillsAtRandomMomentsThenResumesMatchAnUninterruptedRunBitwise) {
  constexpr int kEpochs = 16;
  constexpr int kFaults = 10;
  const auto config =
      write_config(400, kEpochs, /*slow=*/true, "", "augment: {crop_padding: 2, hflip: true}");
  const auto full = dir_ / "full";
  const auto start = std::chrono::steady_clock::now();
  const Result reference =
      run_mapd("train -c " + quoted(config) + " --set probes.suite=none --run-dir " + quoted(full));
  const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(reference.exit_code, 0) << reference.output;
  const auto expected = testing::read_trajectories(full / "dynamics.h5");
  ASSERT_EQ(expected.epochs, kEpochs);
  double training = 0.0;
  for (const auto& line : read_lines(full / "metrics.jsonl"))
    training += json::parse(line)["seconds"].get<double>();
  const double epoch_seconds = training / kEpochs;
  const double horizon = std::max(0.0, wall.count() - training) + epoch_seconds;
  std::printf("uninterrupted: %.3f s, %.3f s per epoch; horizon %.3f s\n", wall.count(), epoch_seconds,
              horizon);

  const auto run = dir_ / "faulty";
  std::mt19937 draw(13);  // the moments and signals are the same on every run of the test
  std::uniform_real_distribution<double> fraction(0.0, 1.0);
  for (int fault = 0; fault < kFaults; ++fault) {
    // A kill before config.resolved.json was written leaves nothing to resume: train again.
    const bool started = fsys::exists(run / "config.resolved.json");
    const std::vector<std::string> command =
        started
            ? std::vector<std::string>{"resume", run.string()}
            : std::vector<std::string>{
                  "train", "-c", config.string(), "--set", "probes.suite=none", "--run-dir", run.string()};
    const auto delay = std::chrono::milliseconds(static_cast<int64_t>(1000.0 * horizon * fraction(draw)));
    const int signal_number = fraction(draw) < 0.75 ? SIGKILL : SIGTERM;
    const auto log = dir_ / ("fault_" + std::to_string(fault) + ".out");
    const pid_t pid = testing::spawn_mapd(command, log);
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(delay);
    ::kill(pid, signal_number);
    const int code = testing::wait_exit(pid);
    const std::string moment = "fault " + std::to_string(fault) + " (" + command[0] + ", signal " +
                               std::to_string(signal_number) + " after " + std::to_string(delay.count()) +
                               " ms): " + read_text(log);
    ASSERT_TRUE(code == 0 || code == 128 + SIGKILL || code == 128 + SIGTERM)
        << "exit " << code << ", " << moment;
    const int64_t kept = testing::committed_epochs(run / "dynamics.h5");
    std::printf("fault %d: %s, signal %d after %lld ms: exit %d, %lld committed epochs\n", fault,
                command[0].c_str(), signal_number, static_cast<long long>(delay.count()), code,
                static_cast<long long>(kept));
    if (kept <= 0) continue;
    auto got = testing::read_trajectories(run / "dynamics.h5");
    ASSERT_EQ(got.examples, expected.examples) << moment;
    const auto prefix = [&](const std::vector<float>& v) {
      std::vector<float> out;
      for (int64_t i = 0; i < expected.examples; ++i) {
        out.insert(out.end(), v.begin() + i * expected.epochs, v.begin() + i * expected.epochs + kept);
      }
      return out;
    };
    const auto want_loss = prefix(expected.loss);
    ASSERT_EQ(std::memcmp(got.loss.data(), want_loss.data(), want_loss.size() * sizeof(float)), 0)
        << "committed epochs differ from the uninterrupted run after " << moment;
  }
  // On a loaded machine every kill can land before the run directory exists: then train from scratch.
  const Result last =
      fsys::exists(run / "config.resolved.json")
          ? run_mapd("resume " + quoted(run))
          : run_mapd("train -c " + quoted(config) + " --set probes.suite=none --run-dir " + quoted(run));
  ASSERT_EQ(last.exit_code, 0) << last.output;
  expect_bitwise_equal(expected, testing::read_trajectories(run / "dynamics.h5"));
}

TEST_F(PipelineTest, SigtermExits143KeepsTheLastCompleteEpochAndResumeCompletes) {
  constexpr int kEpochs = 10;  // room for a live report before the signal
  const auto config = write_config(1000, kEpochs, /*slow=*/true);
  const auto run = dir_ / "run";
  const pid_t pid =
      testing::spawn_mapd({"train", "-c", config.string(), "--run-dir", run.string()}, dir_ / "run.out");
  ASSERT_GT(pid, 0);
  const bool reached = testing::wait_for_epochs(run / "dynamics.h5", 1, pid);
  // `mapd report` reads the live run (SWMR) and shows its committed epochs.
  const Result live = run_mapd("report " + quoted(run));
  ::kill(pid, SIGTERM);
  const int code = testing::wait_exit(pid);
  const std::string out = read_text(dir_ / "run.out");
  ASSERT_TRUE(reached) << out;
  ASSERT_EQ(code, 128 + SIGTERM) << out;
  EXPECT_NE(out.find("SIGTERM"), std::string::npos) << out;
  ASSERT_EQ(live.exit_code, 0) << live.output;
  const auto page = report_data(run / "report" / "index.html");
  ASSERT_TRUE(page.is_object()) << "no embedded report data";
  EXPECT_GE(page["summary"]["epochs_committed"].get<int64_t>(), 1);
  EXPECT_FALSE(page["summary"]["complete"].get<bool>());
  const int64_t kept = testing::committed_epochs(run / "dynamics.h5");
  ASSERT_GE(kept, 1);
  ASSERT_LT(kept, kEpochs);
  // The last complete epoch is kept everywhere: dynamics rows, metrics lines, checkpoint.
  EXPECT_EQ(static_cast<int64_t>(read_lines(run / "metrics.jsonl").size()), kept);
  EXPECT_TRUE(fsys::exists(run / "checkpoints" / "last.pt"));

  const Result resume = run_mapd("resume " + quoted(run));
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  EXPECT_EQ(testing::committed_epochs(run / "dynamics.h5"), kEpochs);
  EXPECT_EQ(read_lines(run / "metrics.jsonl").size(), static_cast<size_t>(kEpochs));
  const auto t = testing::read_trajectories(run / "dynamics.h5");
  for (const float v : t.loss) ASSERT_TRUE(std::isfinite(v));
}

// Issue 14: a prioritized run (the real binary, score=mapd with noise) stopped by SIGTERM resumes
// bitwise as an uninterrupted run, and its dynamics.h5 (view "candidate") audits like any run.
TEST_F(PipelineTest, PrioritizedRunSurvivesSigtermResumesBitwiseAndIsAudited) {
  constexpr int kEpochs = 10;
  const auto config = write_config(1000, kEpochs, /*slow=*/true,
                                   "prioritized: {candidates: 40, keep: 8, probes_per_category: 10}\n",
                                   "label_noise: {rate: 0.3}");
  const auto full = dir_ / "full";
  const auto run = dir_ / "run";
  const Result reference =
      run_mapd("train --mode prioritized -c " + quoted(config) + " --run-dir " + quoted(full));
  ASSERT_EQ(reference.exit_code, 0) << reference.output;
  const pid_t pid = testing::spawn_mapd(
      {"train", "--mode", "prioritized", "-c", config.string(), "--run-dir", run.string()}, dir_ / "run.out");
  ASSERT_GT(pid, 0);
  const bool reached = testing::wait_for_epochs(run / "dynamics.h5", 2, pid);
  ::kill(pid, SIGTERM);
  const int code = testing::wait_exit(pid);
  ASSERT_TRUE(reached) << read_text(dir_ / "run.out");
  ASSERT_EQ(code, 128 + SIGTERM) << read_text(dir_ / "run.out");
  const int64_t kept = testing::committed_epochs(run / "dynamics.h5");
  ASSERT_GE(kept, 2);
  ASSERT_LT(kept, kEpochs) << "SIGTERM landed after the run finished; epochs are too short";
  const Result resume = run_mapd("resume " + quoted(run));
  ASSERT_EQ(resume.exit_code, 0) << resume.output;
  expect_bitwise_equal(testing::read_trajectories(full / "dynamics.h5"),
                       testing::read_trajectories(run / "dynamics.h5"));
  const auto a = read_lines(full / "metrics.jsonl");
  const auto b = read_lines(run / "metrics.jsonl");
  ASSERT_EQ(a.size(), static_cast<size_t>(kEpochs));
  ASSERT_EQ(b.size(), a.size());
  for (size_t e = 0; e < a.size(); ++e) {
    const auto ma = json::parse(a[e]), mb = json::parse(b[e]);
    EXPECT_EQ(ma["test_acc"], mb["test_acc"]) << e;
    EXPECT_EQ(ma["prioritized"]["selected_flipped_share"], mb["prioritized"]["selected_flipped_share"]) << e;
    EXPECT_EQ(ma["prioritized"]["examples_trained"], mb["prioritized"]["examples_trained"]) << e;
  }
  EXPECT_EQ(record::DynamicsStore::open_read(run / "dynamics.h5").meta().view, "candidate");

  // The audit of the prioritized run: assignment of every example, then the report.
  const Result assign = run_mapd("assign " + quoted(run));
  ASSERT_EQ(assign.exit_code, 0) << assign.output;
  const auto csv = read_lines(run / "assignments.csv");
  ASSERT_GT(csv.size(), 1U);
  EXPECT_EQ(csv[0].rfind("id,label,assigned,max_prob,p_typical,", 0), 0U) << csv[0];
  const Result report = run_mapd("report " + quoted(run));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const auto page = report_data(run / "report" / "index.html");
  ASSERT_TRUE(page.is_object());
  EXPECT_TRUE(page["summary"]["complete"].get<bool>());
}

// Issue 13 item 12: SIGTERM or SIGINT during the difficulty pilot killed the process without a
// word. The pilot stops after its batch with a message and the signal's exit code, 128 + N.
TEST_F(PipelineTest, SignalDuringTheDifficultyPilotStopsWithAMessage) {
  const auto config = write_config(600, 2, /*slow=*/true);
  for (const int signal_number : {SIGTERM, SIGINT}) {
    const auto run = dir_ / ("run_" + std::to_string(signal_number));
    const auto log = dir_ / ("run_" + std::to_string(signal_number) + ".out");
    const pid_t pid =
        testing::spawn_mapd({"train", "-c", config.string(), "--set", "probes.difficulty=learning_speed",
                             "--set", "probes.pilot_epochs=500", "--run-dir", run.string()},
                            log);
    ASSERT_GT(pid, 0);
    const bool started = testing::wait_for_text(log, "pilot run of 500 epochs", pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // inside a batch of the pilot
    ::kill(pid, signal_number);
    const int code = testing::wait_exit(pid);
    const std::string out = read_text(log);
    ASSERT_TRUE(started) << out;
    EXPECT_EQ(code, 128 + signal_number) << out;
    EXPECT_NE(error_line(out).find("of the difficulty pilot"), std::string::npos) << out;
    EXPECT_NE(error_line(out).find("`mapd resume " + run.string() + "` starts the run again from epoch 0"),
              std::string::npos)
        << out;
    EXPECT_FALSE(fsys::exists(run / "dynamics.h5"));
  }
}

TEST_F(PipelineTest, HugeLearningRateExitsFiveNamingEpochAndStep) {
  const auto config = write_config(300, 3);
  // Without probes the main trainer (not the pilot run) is the one that diverges.
  const Result r =
      run_mapd("train -c " + quoted(config) + " --set optimizer.lr=1e6 --set probes.suite=none --run-dir " +
               quoted(dir_ / "run"));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  // The error line itself (not any log line) names the epoch, the step, the batch and the remedy.
  const std::regex diverged(
      R"(^mapd: error: training diverged: the loss at epoch \d+ \(0-based\), step \d+ is .*; )"
      R"(example indices of that batch: \d+.*Lower optimizer\.lr)");
  EXPECT_TRUE(std::regex_search(error_line(r.output), diverged)) << r.output;
  // The pilot run of the difficulty estimator diverges the same way.
  const Result pilot =
      run_mapd("train -c " + quoted(config) + " --set optimizer.lr=1e6 --run-dir " + quoted(dir_ / "pilot"));
  EXPECT_EQ(pilot.exit_code, 5) << pilot.output;
  EXPECT_TRUE(std::regex_search(error_line(pilot.output), diverged)) << pilot.output;
}

TEST_F(PipelineTest, DataFolderWithoutIdxFilesExitsThreeNamingThePath) {
  const auto config = write_config(100, 1);
  const auto empty = dir_ / "no_idx_here";
  fsys::create_directories(empty);
  const Result r = run_mapd("audit -c " + quoted(config) + " --set data.path=" + empty.string() +
                            " --run-dir " + quoted(dir_ / "run"));
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find(empty.string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train-images-idx3-ubyte"), std::string::npos) << r.output;
}

/// IDX files of `labels.size()` blank `side` x `side` images with these labels.
void write_idx(const fsys::path& dir, const std::string& split, const std::vector<uint8_t>& labels,
               int side) {
  std::vector<uint8_t> images;
  std::vector<uint8_t> label_file;
  for (const uint32_t word : {0x803U, static_cast<uint32_t>(labels.size()), static_cast<uint32_t>(side),
                              static_cast<uint32_t>(side)}) {
    testing::put_be32(images, word);
  }
  images.resize(images.size() + labels.size() * static_cast<size_t>(side * side), 100);
  testing::put_be32(label_file, 0x801);
  testing::put_be32(label_file, static_cast<uint32_t>(labels.size()));
  label_file.insert(label_file.end(), labels.begin(), labels.end());
  std::ofstream(dir / (split + "-images-idx3-ubyte"), std::ios::binary)
      .write(reinterpret_cast<const char*>(images.data()), static_cast<std::streamsize>(images.size()));
  std::ofstream(dir / (split + "-labels-idx1-ubyte"), std::ios::binary)
      .write(reinterpret_cast<const char*>(label_file.data()),
             static_cast<std::streamsize>(label_file.size()));
}

// Issue 13 item 13: a single-class dataset and an empty IDX file exited 2 (a config error), and an
// IDX test set of another image size was accepted (test accuracy 0%). They are data errors: exit 3,
// with the path.
TEST_F(PipelineTest, DataThatCannotTrainAClassifierExitsThree) {
  const auto config = write_config(100, 1);
  const auto audit = [&](const fsys::path& data) {
    return run_mapd("audit -c " + quoted(config) + " --set data.path=" + data.string() + " --run-dir " +
                    quoted(dir_ / ("run_" + data.filename().string())));
  };
  const auto one_class = dir_ / "one_class";
  fsys::create_directories(one_class);
  write_idx(one_class, "train", std::vector<uint8_t>(20, 3), 28);
  Result r = audit(one_class);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(
      error_line(r.output).find(one_class.string() + ": every one of the 20 training examples has label 3"),
      std::string::npos)
      << r.output;
  const auto empty = dir_ / "empty";
  fsys::create_directories(empty);
  write_idx(empty, "train", {}, 28);
  r = audit(empty);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(error_line(r.output).find(empty.string() + ": the training set holds no examples"),
            std::string::npos)
      << r.output;
  const auto small_test = dir_ / "small_test";
  fsys::create_directories(small_test);
  testing::write_pattern_idx(small_test, "train", 100, 1);
  write_idx(small_test, "t10k", {0, 1, 2, 3}, 14);
  r = audit(small_test);
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(
      error_line(r.output).find("has images of 1x14x14 (channels x height x width) but the training set"),
      std::string::npos)
      << r.output;
}

// Issue 13 item 12: a resume after config.resolved.json was edited (record.view, train.epochs)
// continued with a generic warning and left dynamics.h5 describing another configuration. It is
// refused, naming each changed key with both values; keys that do not change what is recorded
// (train.threads, knn.*) may change.
TEST_F(PipelineTest, ResumeWithAnEditedConfigIsRefusedNamingTheKeys) {
  const auto config = write_config(200, 2);
  const auto run = dir_ / "run";
  const Result trained =
      run_mapd("train -c " + quoted(config) + " --set probes.suite=none --run-dir " + quoted(run));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const auto resolved_path = run / "config.resolved.json";
  const json original = json::parse(read_text(resolved_path));
  const auto dynamics_before = read_text(run / "dynamics.h5");
  json edited = original;
  edited["train"]["epochs"] = 4;
  edited["record"]["view"] = "eval";
  std::ofstream(resolved_path) << edited.dump(2);
  const Result refused = run_mapd("resume " + quoted(run));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("was changed since the run started"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("train.epochs: 2 -> 4"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("record.view: \"online\" -> \"eval\""), std::string::npos) << refused.output;
  EXPECT_EQ(read_text(run / "dynamics.h5"), dynamics_before);
  edited = original;
  edited["train"]["threads"] = 2;
  edited["knn"]["k"] = 3;
  std::ofstream(resolved_path) << edited.dump(2);
  const Result resumed = run_mapd("resume " + quoted(run));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
}

TEST_F(PipelineTest, BadConfigKeyExitsTwoBeforeCreatingARun) {
  const auto config = write_config(100, 1, false, "knn_extra: 1\n");
  const Result r = run_mapd("audit -c " + quoted(config) + " --run-dir " + quoted(dir_ / "run"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("knn_extra"), std::string::npos) << r.output;
  const Result set =
      run_mapd("train -c " + quoted(config) + " --set train.epohcs=2 --run-dir " + quoted(dir_ / "run2"));
  EXPECT_EQ(set.exit_code, 2) << set.output;
  EXPECT_NE(set.output.find("did you mean 'train.epochs'"), std::string::npos) << set.output;
  EXPECT_FALSE(fsys::exists(dir_ / "run2" / "dynamics.h5"));
}

TEST_F(PipelineTest, AssignAndResumeOnARunDirectoryWithoutDynamicsFailClearly) {
  const auto run = dir_ / "run";
  fsys::create_directories(run);
  const Result assign = run_mapd("assign " + quoted(run));
  EXPECT_NE(assign.exit_code, 0) << assign.output;
  EXPECT_NE(assign.output.find("dynamics.h5"), std::string::npos) << assign.output;
  const Result report = run_mapd("report " + quoted(run));
  EXPECT_NE(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("dynamics.h5"), std::string::npos) << report.output;
  const Result resume = run_mapd("resume " + quoted(run));
  EXPECT_EQ(resume.exit_code, 2) << resume.output;
  EXPECT_NE(resume.output.find("config.resolved.json"), std::string::npos) << resume.output;
}

}  // namespace
}  // namespace mapd::cli
