#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "mapd/cli/commands.hpp"
#include "mapd/cli/pipeline.hpp"
#include "mapd/config/loader.hpp"
#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/knn/knn.hpp"
#include "mapd/probes/probe_suite.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/report/report.hpp"
#include "mapd/train/trainer.hpp"

namespace mapd::cli {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Everything built from the data before training; the dataset must outlive the training set,
/// which points into it.
struct Prepared {
  data::Dataset dataset;
  probes::ProbeSuite suite;
  probes::TrainedSet trained;
};

void prepare(const config::RunConfig& config, const std::filesystem::path& run_dir, Prepared& out) {
  auto logger = log::get("cli");
  const auto start = Clock::now();
  // A device this machine cannot give fails before the dataset is read and the pilot trained.
  (void)resolve_device(config.train.device);
  out.dataset = data::load_dataset(config.data, run_dir);
  logger->info("dataset {}: {} training examples, {} classes, {}x{}x{}{} ({:.1f} s)", out.dataset.name,
               out.dataset.train.size(), out.dataset.train.num_classes(), out.dataset.train.channels,
               out.dataset.train.height, out.dataset.train.width,
               out.dataset.test ? fmt::format(", {} test examples", out.dataset.test->size()) : std::string(),
               seconds_since(start));
  const auto probe_start = Clock::now();
  out.suite = probes::build_probe_suite(config, out.dataset, run_dir);
  out.trained = probes::compose_trained_set(out.dataset.train, out.suite, config.probes.augment);
  logger->info("probe suite: {} probes in {} categories, {} examples removed from training ({:.1f} s)",
               out.suite.size(), out.suite.category_names.size(), out.suite.removed.size(),
               seconds_since(probe_start));
}

train::TrainInputs inputs_of(const Prepared& prepared) {
  train::TrainInputs inputs;
  inputs.train_set = prepared.trained.train_set;
  inputs.examples = prepared.trained.examples;
  inputs.category_names = prepared.suite.category_names;
  inputs.class_names = prepared.dataset.train.class_names;
  inputs.test = prepared.dataset.test ? &*prepared.dataset.test : nullptr;
  return inputs;
}

// A resumed run must train on exactly the examples it started with.
void check_same_examples(const std::filesystem::path& run_dir, const record::ExampleColumns& rebuilt) {
  const auto path = run_dir / "dynamics.h5";
  MAPD_CHECK(std::filesystem::exists(path), IoError,
             "cannot resume " + run_dir.string() + ": " + path.string() +
                 " does not exist (the run stopped before its first epoch; start it again with mapd train)");
  const auto store = record::DynamicsStore::open_read(path);
  const auto& stored = store.examples();
  MAPD_CHECK(
      stored.id == rebuilt.id && stored.label == rebuilt.label && stored.role == rebuilt.role, DataError,
      "cannot resume " + run_dir.string() +
          ": the dataset or probe suite rebuilt from config.resolved.json (" +
          std::to_string(rebuilt.size()) + " examples) differs from the one recorded in dynamics.h5 (" +
          std::to_string(stored.size()) + " examples); was the dataset changed?");
}

void log_summary(const train::TrainSummary& summary) {
  log::get("cli")->info("training done: {} epochs, test accuracy {}, {:.0f} img/s, {:.1f} s",
                        summary.epochs_completed,
                        summary.test_accuracy >= 0 ? fmt::format("{:.4f}", summary.test_accuracy) : "n/a",
                        summary.images_per_second, summary.seconds);
}

}  // namespace

int train_command(const CommonOptions& options) {
  const RunContext context = prepare_run(options);
  set_compute_threads(context.config.train.threads);
  Prepared prepared;
  prepare(context.config, context.run_dir, prepared);
  log_summary(train::train(context.config, inputs_of(prepared), context.run_dir, /*resume=*/false));
  return 0;
}

int resume_command(const std::filesystem::path& run_dir, const std::string& log_level) {
  log::init(log_level);
  const auto config = config::resolve_run_config(run_dir, "resume", config::RunConfigFile::kRequired);
  log::attach_run_dir(run_dir);
  log::get("cli")->info("resuming {}", run_dir.string());
  set_compute_threads(config.train.threads);
  Prepared prepared;
  prepare(config, run_dir, prepared);
  check_same_examples(run_dir, prepared.trained.examples);
  log_summary(train::train(config, inputs_of(prepared), run_dir, /*resume=*/true));
  return 0;
}

int audit_command(const CommonOptions& options) {
  const auto start = Clock::now();
  const RunContext context = prepare_run(options);
  auto logger = log::get("cli");
  set_compute_threads(context.config.train.threads);
  {
    Prepared prepared;
    prepare(context.config, context.run_dir, prepared);
    log_summary(train::train(context.config, inputs_of(prepared), context.run_dir, /*resume=*/false));
  }
  const auto assigned = knn::assign_run(context.run_dir, context.config.knn);
  logger->info("assigned {} examples over {} epochs; probe self-test accuracy {:.4f}", assigned.queries,
               assigned.epochs_used, assigned.self_test_accuracy);
  if (context.config.report.enabled) {
    const auto page = report::generate_report(context.run_dir, context.config.report);
    logger->info("report: {}", page.index_html.string());
  }
  logger->info("audit finished in {:.1f} s: {}", seconds_since(start), context.run_dir.string());
  return 0;
}

void register_pipeline(CLI::App& app, CommonOptions& options, std::function<int()>& action) {
  auto* audit = app.add_subcommand(
      "audit",
      "the whole MAP-D audit: probes, training with recording, k-NN assignment and report/index.html");
  add_common_options(*audit, options, true);
  audit->callback([&] { action = [&] { return audit_command(options); }; });

  auto* train =
      app.add_subcommand("train", "train with probes and record per-example dynamics into a run directory");
  add_common_options(*train, options, true);
  train->callback([&] { action = [&] { return train_command(options); }; });

  auto* resume = app.add_subcommand("resume", "continue an interrupted run from its last committed epoch");
  resume->add_option("run_dir", options.run_dir, "run directory of the interrupted run")->required();
  resume->add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off");
  resume->callback([&] { action = [&] { return resume_command(options.run_dir, options.log_level); }; });
}

}  // namespace mapd::cli
