#include "mapd/pipeline/pipeline.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <optional>

#include "mapd/config/loader.hpp"
#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/record/dynamics_store.hpp"

namespace mapd::pipeline {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A resumed run must train on exactly the examples it started with.
void check_same_examples(const RunLayout& run, const record::ExampleColumns& rebuilt) {
  const auto path = run.dynamics();
  MAPD_CHECK(std::filesystem::exists(path), IoError,
             "cannot resume " + run.dir().string() + ": " + path.string() +
                 " does not exist (the run stopped before its first epoch; start it again with mapd train)");
  const auto store = record::DynamicsStore::open_read(path);
  const auto& stored = store.examples();
  MAPD_CHECK(stored.id == rebuilt.id && stored.name == rebuilt.name && stored.label == rebuilt.label &&
                 stored.role == rebuilt.role,
             DataError,
             "cannot resume " + run.dir().string() +
                 ": the dataset or probe suite rebuilt from config.resolved.json (" +
                 std::to_string(rebuilt.size()) +
                 " examples) differs from the one recorded in dynamics.h5 (" + std::to_string(stored.size()) +
                 " examples); was the dataset changed?");
}

/// A resume continues the run dynamics.h5 describes: its config_json, view and dtype attributes
/// are written once, when the run starts, and every row must come from that one configuration. An
/// edited config.resolved.json that changes what is trained or recorded (train.epochs changes the
/// learning-rate schedule, record.view what a row measures) is refused before anything is loaded,
/// rather than mixing two runs under one description; issue 13 item 12.
void check_unchanged_config(const RunLayout& run, const config::RunConfig& config) {
  const auto path = run.dynamics();
  if (!std::filesystem::exists(path)) return;  // check_same_examples says what is wrong
  const auto recorded = nlohmann::json::parse(record::DynamicsStore::open_read(path).meta().config_json,
                                              nullptr, /*allow_exceptions=*/false);
  MAPD_CHECK(recorded.is_object(), DataError,
             fmt::format("cannot resume {}: the config_json attribute of {} is not a JSON object",
                         run.dir().string(), path.string()));
  const auto changed = config::changed_run_keys(recorded, config);
  std::string list;
  for (const auto& line : changed) list += "\n  " + line;
  MAPD_CHECK(
      changed.empty(), ConfigError,
      fmt::format("cannot resume {}: {} was changed since the run started, in keys that decide what is "
                  "trained and recorded:{}\ndynamics.h5 describes one configuration (its config_json, "
                  "view and dtype attributes), so its epochs cannot come from two. Put the values on the "
                  "left back to resume, or start a new run with the new values (mapd train -c {} "
                  "--run-dir NEW_DIR). Nothing was changed.",
                  run.dir().string(), run.config().string(), list, run.config().string()));
}

/// A classifier needs examples of two classes. One class is a fault of the data, not of the config
/// (it got the config exit code from the model factory; issue 13 item 13).
void check_two_classes(const data::ImageSet& train, const std::string& path) {
  const auto& label = train.examples.label;
  const bool one_class =
      !label.empty() && std::all_of(label.begin(), label.end(), [&](int64_t l) { return l == label[0]; });
  MAPD_CHECK(!one_class, DataError,
             fmt::format("{}: every one of the {} training examples has label {} ('{}'); mapd audits a "
                         "classifier and needs examples of at least 2 classes",
                         path, train.size(), label[0],
                         label[0] < train.num_classes() ? train.class_names[static_cast<size_t>(label[0])]
                                                        : std::to_string(label[0])));
}

void log_summary(const train::TrainSummary& summary) {
  log::get("pipeline")
      ->info("training done: {} epochs, test accuracy {}, {:.0f} img/s, {:.1f} s", summary.epochs_completed,
             summary.test_accuracy >= 0 ? fmt::format("{:.4f}", summary.test_accuracy) : "n/a",
             summary.images_per_second, summary.seconds);
}

train::TrainSummary prepare_and_train(const config::RunConfig& config, const RunLayout& run, bool resume,
                                      const std::shared_ptr<dist::Collective>& group) {
  set_compute_threads(config.train.threads);
  const auto prepared = prepare(config, run, group);
  if (resume) {
    check_same_examples(run, prepared->trained.examples);
  }
  const auto summary = train::train(config, prepared->train_inputs(), run, resume, group);
  log_summary(summary);
  return summary;
}

}  // namespace

train::TrainInputs Prepared::train_inputs() const {
  train::TrainInputs inputs;
  inputs.train_set = trained.train_set;
  inputs.examples = trained.examples;
  inputs.category_names = suite.category_names;
  inputs.class_names = dataset.train.class_names;
  inputs.test = dataset.test ? &*dataset.test : nullptr;
  return inputs;
}

std::unique_ptr<Prepared> prepare(const config::RunConfig& config, const RunLayout& run,
                                  const std::shared_ptr<dist::Collective>& group) {
  auto logger = log::get("pipeline");
  const auto start = Clock::now();
  // A device this machine cannot give fails before the dataset is read and the pilot trained.
  (void)resolve_device(config.train.device);
  auto out = std::make_unique<Prepared>();
  // Only the writer lists unreadable inputs in the run directory.
  out->dataset =
      data::load_dataset(config.data, run.writes_shared_files() ? run.dir() : std::filesystem::path());
  const auto& train = out->dataset.train;
  check_two_classes(train, config.data.path);
  logger->info(
      "dataset {}: {} training examples, {} classes, {}x{}x{}{} ({:.1f} s)", out->dataset.name, train.size(),
      train.num_classes(), train.channels, train.height, train.width,
      out->dataset.test ? fmt::format(", {} test examples", out->dataset.test->size()) : std::string(),
      seconds_since(start));
  const auto probe_start = Clock::now();
  // Rank 0 runs the difficulty pilot and caches its scores; the others wait, then read them, so that
  // every rank has the same probe suite (a pilot run twice need not give the same scores bitwise).
  if (group && !run.writes_shared_files()) group->barrier();
  out->suite = probes::build_probe_suite(config, out->dataset, run.dir());
  if (group && run.writes_shared_files()) group->barrier();
  out->trained = probes::compose_trained_set(out->dataset.train, out->suite, config.probes.augment);
  // The assignment needs knn.k fit probes: say so before training, not after it.
  const auto& roles = out->trained.examples.role;
  const auto fit = std::count(roles.begin(), roles.end(), static_cast<int8_t>(record::Role::kProbeFit));
  MAPD_CHECK(
      fit == 0 || config.knn.k <= fit, ConfigError,
      fmt::format("knn.k = {} but the probe suite has only {} fit-half probes ({} categories); use --set "
                  "knn.k=N with N <= {}, or more probes with probes.fit_per_category",
                  config.knn.k, fit, out->suite.category_names.size(), fit));
  logger->info("probe suite: {} probes in {} categories, {} examples removed from training ({:.1f} s)",
               out->suite.size(), out->suite.category_names.size(), out->suite.removed.size(),
               seconds_since(probe_start));
  return out;
}

namespace {

/// Refuses to start a new run in `run`'s directory when it holds a checkpoint (of a committed
/// epoch, or of an epoch stopped mid-way): starting over would truncate what it recorded.
void check_no_checkpoint(const RunLayout& run, const std::string& command) {
  for (const auto& checkpoint : {run.last_checkpoint(), run.step_checkpoint()}) {
    MAPD_CHECK(
        !std::filesystem::exists(checkpoint), ConfigError,
        fmt::format("{}: '{}' already holds a run (its checkpoint {} exists); continue it with `mapd resume "
                    "{}`, or choose another --run-dir (nothing was changed)",
                    command, run.dir().string(), checkpoint.string(), run.dir().string()));
  }
}

}  // namespace

RunLock create_run(const config::RunConfig& config, const RunLayout& run, const std::string& command) {
  fs::create_directories(run.dir());
  RunLock lock = RunLock::acquire(run, command);
  check_no_checkpoint(run, command);
  if (run.writes_shared_files()) {
    fs::write_file_atomic(run.config(), config::to_json(config).dump(2) + "\n");
  }
  log::attach_run_dir(run);
  log::get("pipeline")->info("run directory {}", run.dir().string());
  return lock;
}

void join_run(const RunLayout& run, const std::string& command) {
  fs::create_directories(run.dir());
  check_no_checkpoint(run, command);
  log::attach_run_dir(run);
  log::get("pipeline")
      ->info("run directory {} (rank {} of {})", run.dir().string(), run.rank(), run.world_size());
}

train::TrainSummary train_run(const config::RunConfig& config, const RunLayout& run,
                              const std::shared_ptr<dist::Collective>& group) {
  return prepare_and_train(config, run, /*resume=*/false, group);
}

train::TrainSummary resume_run(const RunLayout& run, const std::shared_ptr<dist::Collective>& group) {
  const auto config = config::resolve_run_config(run.dir(), "resume", config::RunConfigFile::kRequired);
  std::optional<RunLock> lock;
  if (run.writes_shared_files()) lock.emplace(RunLock::acquire(run, "mapd resume"));
  log::attach_run_dir(run);
  // Every rank sees the same files: the writer holds the lock before anyone decides how to resume.
  if (group) group->barrier();
  if (!std::filesystem::exists(run.last_checkpoint()) && !std::filesystem::exists(run.step_checkpoint())) {
    log::get("pipeline")
        ->info("resuming {}: no epoch was committed before it stopped, so it starts again from epoch 0",
               run.dir().string());
    return prepare_and_train(config, run, /*resume=*/false, group);
  }
  check_unchanged_config(run, config);
  log::get("pipeline")->info("resuming {}", run.dir().string());
  return prepare_and_train(config, run, /*resume=*/true, group);
}

AuditSummary audit_run(const config::RunConfig& config, const RunLayout& run,
                       const std::shared_ptr<dist::Collective>& group) {
  const auto start = Clock::now();
  auto logger = log::get("pipeline");
  AuditSummary summary;
  summary.train = train_run(config, run, group);
  if (!run.writes_shared_files()) {
    logger->info("rank {} of {}: training done; rank 0 assigns and reports", run.rank(), run.world_size());
    return summary;
  }
  summary.assign = knn::assign_run(run.dir(), config.knn);
  logger->info("assigned {} examples over {} epochs; probe self-test accuracy {:.4f}", summary.assign.queries,
               summary.assign.epochs_used, summary.assign.self_test_accuracy);
  if (config.report.enabled) {
    summary.report = report::generate_report(run.dir(), config.report);
    logger->info("report: {}", summary.report->index_html.string());
  }
  summary.seconds = seconds_since(start);
  logger->info("audit finished in {:.1f} s: {}", summary.seconds, run.dir().string());
  return summary;
}

report::PredictedProbabilities predict_training_examples(const RunLayout& run,
                                                         const std::vector<std::string>& overrides) {
  const auto config =
      config::resolve_run_config(run.dir(), "export", config::RunConfigFile::kRequired, {}, overrides);
  const auto checkpoint = run.last_checkpoint();
  MAPD_CHECK(std::filesystem::exists(checkpoint), IoError,
             fmt::format("{} has no checkpoint ({}): no epoch was committed, so there is no model to predict "
                         "with",
                         run.dir().string(), checkpoint.string()));
  const auto store = record::DynamicsStore::open_read(run.dynamics());
  const auto& ex = store.examples();
  const auto dataset = data::load_dataset(config.data, std::filesystem::path());
  const auto& train = dataset.train;
  data::TrainingSet set;
  set.base = &train;
  for (int64_t c = 0; c < ex.size(); ++c) {
    const auto i = static_cast<size_t>(c);
    if (ex.role[i] != static_cast<int8_t>(record::Role::kTrain)) continue;
    const int64_t source = ex.source_index[i];
    const bool same = source >= 0 && source < train.size() &&
                      train.examples.id[static_cast<size_t>(source)] == ex.id[i] &&
                      train.examples.label[static_cast<size_t>(source)] == ex.label[i];
    MAPD_CHECK(same, DataError,
               fmt::format("{}: example {} (label {}) of dynamics.h5 is not in the dataset that "
                           "config.resolved.json reads now ({}); was the dataset changed?",
                           run.dir().string(), ex.id_text(c), ex.label[i], config.data.path));
    set.base_rows.push_back(source);
    set.labels.push_back(ex.label[i]);
  }
  const int64_t classes = data::class_count(ex.label, static_cast<int64_t>(store.meta().class_names.size()));
  const auto start = Clock::now();
  auto probs = train::predict_probabilities(config, set, classes, checkpoint);
  // Rows the loader could not read stay NaN: uniform, which no peer mistakes for a prediction.
  const auto unread = probs.isnan().any(1);
  const auto missing = unread.sum().item<int64_t>();
  if (missing > 0) {
    probs.index_put_({unread}, 1.0F / static_cast<float>(classes));
    log::get("pipeline")
        ->warn("{} training example(s) could not be read: uniform predicted probabilities", missing);
  }
  report::PredictedProbabilities out;
  out.classes = classes;
  out.probs.assign(probs.data_ptr<float>(), probs.data_ptr<float>() + probs.numel());
  out.source = fmt::format(
      "softmax of the model of the last committed epoch ({}, epoch {}) in eval mode, over the training "
      "examples it was trained on (in-sample), {} examples in {:.1f} s",
      checkpoint.filename().string(), store.complete_epochs(), set.size(), seconds_since(start));
  return out;
}

}  // namespace mapd::pipeline
