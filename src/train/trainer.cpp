#include "mapd/train/trainer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include "mapd/config/loader.hpp"
#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/metrics.hpp"
#include "mapd/core/version.hpp"
#include "mapd/data/dataset.hpp"
#include "mapd/record/stitched_dynamics.hpp"
#include "mapd/train/checkpoint.hpp"
#include "mapd/train/data_parallel.hpp"
#include "mapd/train/learner.hpp"
#include "mapd/train/signals.hpp"

#include "observers.hpp"
#include "step_checkpoint.hpp"

namespace mapd::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Per probe category c: the probes `host` predicts right ([2c]) and all its probes ([2c + 1]).
/// `host` holds the columns from `first_row` on (a data-parallel rank's block; the ranks' counts
/// then add up to the job's).
std::vector<double> probe_counts(const TrainInputs& inputs, const EpochRecord::Host& host,
                                 int64_t first_row) {
  const auto& ex = inputs.examples;
  int64_t categories = 0;
  for (const auto c : ex.probe_category) categories = std::max<int64_t>(categories, c + 1);
  std::vector<double> counts(static_cast<size_t>(2 * categories), 0.0);
  for (size_t i = 0; i < host.pred.size(); ++i) {
    const auto k = static_cast<size_t>(first_row) + i;
    if (k >= ex.role.size()) break;
    if (ex.role[k] == static_cast<int8_t>(record::Role::kTrain) || ex.probe_category[k] < 0) continue;
    const auto c = static_cast<size_t>(ex.probe_category[k]);
    counts[2 * c] += host.pred[i] == ex.label[k] ? 1.0 : 0.0;
    counts[2 * c + 1] += 1.0;
  }
  return counts;
}

/// Accuracy per probe category (by name) from probe_counts; categories without probes are left out.
nlohmann::json probe_accuracy(const TrainInputs& inputs, const std::vector<double>& counts) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t c = 0; 2 * c + 1 < counts.size(); ++c) {
    if (counts[2 * c + 1] == 0.0) continue;
    const std::string name = c < inputs.category_names.size() ? inputs.category_names[c] : std::to_string(c);
    out[name] = counts[2 * c] / counts[2 * c + 1];
  }
  return out;
}

/// How many classes `set` names: `class_names` when given, else its base dataset's class names.
int64_t named_classes(const data::TrainingSet& set, const std::vector<std::string>& class_names) {
  if (!class_names.empty()) return static_cast<int64_t>(class_names.size());
  return set.base != nullptr ? set.base->num_classes() : 0;
}

void check_inputs(const config::RunConfig& config, const TrainInputs& inputs) {
  const int64_t n = inputs.train_set.size();
  MAPD_CHECK(n > 0, DataError, "training set is empty: nothing to train on (check data.path and data.limit)");
  MAPD_ASSERT(
      inputs.examples.size() == n,
      fmt::format("trainer: /examples has {} rows but the training set has {}", inputs.examples.size(), n));
  MAPD_CHECK(
      !(config.record.view == "online" && config.data.drop_last), ConfigError,
      "record.view=online records losses from the training pass, which must see every example every epoch: "
      "set data.drop_last=false or record.view=eval");
  MAPD_CHECK(config.train.epochs > 0 && config.train.batch_size > 0, ConfigError,
             "train.epochs and train.batch_size must be positive");
}

/// A stop signal (under a StopSignalGuard of the caller) in epoch `epoch` of fit_and_score.
InterruptedError pilot_interrupted(int64_t epoch, int64_t epochs) {
  const int signal_number = StopSignalGuard::pending();
  return InterruptedError(
      fmt::format("{}: stopped in epoch {} of {} of the difficulty pilot (the short training run that ranks "
                  "examples for the probe suite, before the run's own first epoch); nothing of it was saved",
                  StopSignalGuard::describe(signal_number), epoch, epochs),
      signal_number);
}

}  // namespace

struct Trainer::Impl {
  Impl(const config::RunConfig& config_, const TrainInputs& inputs_, RunLayout run_)
      : config(config_),
        inputs(inputs_),
        run(std::move(run_)),
        run_dir(run.dir()),
        checkpoint_path(run.last_checkpoint()),
        // A data-parallel job's ranks record their columns into dynamics.rank-R.h5, which
        // dynamics.h5 stitches (record::StitchedDynamics); a job begun by an older mapd goes on
        // with rank 0 writing every row into dynamics.h5.
        dynamics_path(run.dynamics()),
        device(resolve_device(config.train.device)) {}

  /// Stop signals only set a flag from before the first file is touched to the end of the run.
  StopSignalGuard signals;
  const config::RunConfig config;
  const TrainInputs& inputs;
  const RunLayout run;
  const std::filesystem::path run_dir, checkpoint_path, dynamics_path;
  torch::Device device;
  std::optional<Learner> learner;
  std::shared_ptr<DataParallel> parallel;  ///< null in one process
  std::string config_json;

  /// One process: dynamics.h5. A data-parallel job recorded per rank: this rank's file (its
  /// columns). A job recorded into one file: dynamics.h5 (rank 0 writes it, the others read).
  std::optional<record::DynamicsStore> store;
  /// Rank 0 of a job recorded per rank: dynamics.h5, stitching the rank files.
  std::optional<record::StitchedDynamics> stitched;
  /// Whether each rank records its columns [first_columns[rank], first_columns[rank + 1]) itself.
  bool per_rank = false;
  std::vector<int64_t> first_columns;
  /// The last epoch's record merge (exchange or all-reduce) in milliseconds (the epoch log line).
  double merge_ms = 0.0;
  std::unique_ptr<TrainingMode> mode;
  std::optional<data::TrainingSet> test_set;
  std::optional<data::Loader> test_loader;
  std::optional<MetricsWriter> metrics;
  std::optional<EpochRecord> record;
  std::optional<detail::DivergenceWatch> watch;
  std::optional<detail::ProgressObserver> progress;
  std::unique_ptr<detail::ThreadGovernor> governor;
  std::vector<TrainingObserver*> observers;  ///< the trainer's own, then add_observer's
  std::vector<TrainingObserver*> added;

  int64_t start_epoch = 0;
  int64_t next_epoch = 0;
  /// The pass of epoch start_epoch that a stop ended, restored from a step checkpoint: the first
  /// run_epoch continues it (the record already holds its rows).
  std::optional<EpochPass> continued;
  /// Whether dynamics.h5 records per_example_signals() (false in a resumed older run).
  bool per_example_recorded = true;
  /// Rows left out because their image could not be read, ascending (dynamics.h5: NaN, pred -1).
  std::vector<int64_t> excluded;
  TrainSummary summary;
  double total_train_seconds = 0.0;
  int64_t total_images = 0;

  /// bad_inputs.csv keeps the rows of the dataset load and those training left out before
  /// `start_epoch` (a redone epoch lists its unreadable images again).
  void trim_bad_inputs() const {
    if (!run.writes_shared_files()) return;
    auto listed = data::read_bad_inputs(run.bad_inputs());
    const auto before = listed.size();
    listed.erase(std::remove_if(listed.begin(), listed.end(),
                                [&](const data::BadInput& bad) { return bad.epoch >= start_epoch; }),
                 listed.end());
    if (listed.size() != before) data::write_bad_inputs(run.bad_inputs(), listed);
  }

  /// Lists `unreadable` in bad_inputs.csv after the rows already there.
  void append_bad_inputs(const std::vector<data::UnreadableRow>& unreadable) const {
    if (unreadable.empty() || !run.writes_shared_files()) return;
    auto listed = data::read_bad_inputs(run.bad_inputs());
    for (const auto& u : unreadable) listed.push_back(u.input);
    data::write_bad_inputs(run.bad_inputs(), listed);
  }

  /// `excluded` with the rows of `unreadable`, ascending.
  [[nodiscard]] std::vector<int64_t> excluded_with(const std::vector<data::UnreadableRow>& unreadable) const {
    auto rows = excluded;
    for (const auto& u : unreadable) rows.push_back(u.row);
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  /// Whether this process writes the run's files (one process, or rank 0 of a job).
  [[nodiscard]] bool writer() const { return run.writes_shared_files(); }

  /// A stop signal this process or (in a data-parallel job) any rank received, or 0; after it,
  /// every rank has it pending.
  [[nodiscard]] int agreed_stop() const {
    if (!parallel) return StopSignalGuard::pending();
    const int signal_number = parallel->agree(false, StopSignalGuard::pending()).stop_signal;
    if (signal_number != 0) StopSignalGuard::adopt(signal_number);
    return signal_number;
  }

  /// In a data-parallel job: the rows of `host` that no rank recorded and that are not excluded yet
  /// were unreadable on some rank; those of other ranks join `unreadable` (this rank's own), so
  /// that every rank knows the job's. Their path is known to the rank that failed (its log).
  void add_unreadable_of_other_ranks(const EpochRecord::Host& host, int64_t epoch,
                                     std::vector<data::UnreadableRow>& unreadable) const {
    std::vector<int64_t> own;
    own.reserve(unreadable.size());
    for (const auto& u : unreadable) own.push_back(u.row);
    std::sort(own.begin(), own.end());
    for (int64_t i = 0; i < static_cast<int64_t>(host.pred.size()); ++i) {
      if (host.pred[static_cast<size_t>(i)] >= 0 || std::binary_search(excluded.begin(), excluded.end(), i) ||
          std::binary_search(own.begin(), own.end(), i)) {
        continue;
      }
      unreadable.push_back({i, data::BadInput{inputs.examples.id_text(i),
                                              "could not be read on another rank (its "
                                              "train.rank-R.log names the file)",
                                              epoch}});
    }
    std::sort(unreadable.begin(), unreadable.end(),
              [](const auto& a, const auto& b) { return a.row < b.row; });
  }

  [[nodiscard]] std::string kept_context() const {
    return fmt::format("Epochs before it stay recorded in {}.", dynamics_path.string());
  }

  [[nodiscard]] InterruptedError interrupted(int64_t epoch, bool committed) const {
    const int signal_number = StopSignalGuard::pending();
    const int64_t saved = committed ? epoch + 1 : epoch;
    return InterruptedError(
        fmt::format("{}: {}; {} complete epoch(s) are saved in {}; continue with `mapd resume {}`",
                    StopSignalGuard::describe(signal_number),
                    committed ? fmt::format("stopped after epoch {}", epoch)
                              : fmt::format("epoch {} was not finished and is discarded", epoch),
                    saved, run_dir.string(), run_dir.string()),
        signal_number);
  }

  /// What a checkpoint of the model and optimizer now says besides them: `epoch` (committed
  /// epochs; for a step checkpoint the epoch in progress, with `steps` of it trained).
  [[nodiscard]] CheckpointInfo checkpoint_info(int64_t epoch, int64_t steps = 0) {
    auto& scaler = learner->scaler();
    return CheckpointInfo{epoch, config_json, scaler.scale(), scaler.clean_steps(), steps, run.world_size()};
  }

  /// Removes the step checkpoint (step.pt first: without it the parts are never used) and every
  /// rank's part, also those of a job of another size.
  void remove_step_checkpoints() const {
    std::error_code ignored;
    std::filesystem::remove(run.step_checkpoint(), ignored);
    for (const auto& entry : std::filesystem::directory_iterator(run.checkpoints(), ignored)) {
      if (entry.path().filename().string().rfind("step.", 0) == 0)
        std::filesystem::remove(entry.path(), ignored);
    }
  }

  /// After a stop signal ended epoch `epoch` (`pass` is how far it got; in a data-parallel job
  /// every rank is here with the same steps): writes the step checkpoint, each rank its part and
  /// then rank 0 step.pt, and returns the InterruptedError saying where the run stopped. A mode
  /// that cannot continue an epoch mid-way discards it.
  [[nodiscard]] InterruptedError stop_mid_epoch(int64_t epoch, const EpochPass& pass) {
    if (!mode->continues_mid_epoch()) {
      log::get("train")->warn("train.mode={} cannot continue an epoch mid-way: epoch {} will be redone",
                              mode->name(), epoch + 1);
      return interrupted(epoch, false);
    }
    // The step.pt of an earlier stop in this epoch no longer matches the parts written now.
    if (writer()) remove_step_checkpoints();
    if (parallel) parallel->barrier();
    // An eval view's rows come from the pass after training, which the continued epoch redoes.
    const bool keep_record = mode->view() != "eval";
    detail::save_step_part(run.step_checkpoint_part(run.rank()),
                           detail::StepPosition{epoch, pass.steps_done, run.rank(), run.world_size()}, pass,
                           keep_record ? &*record : nullptr, *mode);
    if (parallel) parallel->barrier();
    if (writer()) {
      save_checkpoint(run.step_checkpoint(), learner->model(), learner->optimizer(),
                      checkpoint_info(epoch, pass.steps_done));
    }
    if (parallel) parallel->barrier();
    const int signal_number = StopSignalGuard::pending();
    return InterruptedError(
        fmt::format("{}: stopped after step {} of {} of epoch {}/{}, saved in {}; {} complete epoch(s) are "
                    "saved in {}; `mapd resume {}` continues from that step",
                    StopSignalGuard::describe(signal_number), pass.steps_done, mode->steps_per_epoch(),
                    epoch + 1, config.train.epochs, run.step_checkpoint().string(), epoch, run_dir.string(),
                    run_dir.string()),
        signal_number);
  }

  /// With `resume`: loads the step checkpoint of epoch start_epoch (the next one to commit) into
  /// the model and optimizer and returns its info; a step checkpoint of another epoch is stale and
  /// removed. Without `resume` (a new run), every step checkpoint is removed. In a data-parallel
  /// job rank 0 decides for every rank, and a step checkpoint of another number of ranks is refused.
  std::optional<CheckpointInfo> open_step_checkpoint(bool resume) {
    const auto path = run.step_checkpoint();
    std::optional<CheckpointInfo> found;
    if (resume && std::filesystem::exists(path)) found = read_checkpoint_info(path);
    bool use = found && found->epoch == start_epoch;
    if (parallel) use = parallel->max(writer() && use ? 1 : 0) == 1;
    if (!use) {
      if (found && writer()) {
        log::get("train")->warn(
            "{} (after step {} of epoch {}) does not continue epoch {}, the next one to train (epochs up to "
            "{} "
            "are committed); removed",
            path.string(), found->steps, found->epoch + 1, start_epoch + 1, start_epoch);
      }
      if (parallel) parallel->barrier();  // every rank has looked before rank 0 removes
      if (writer()) remove_step_checkpoints();
      return std::nullopt;
    }
    if (!found) found = read_checkpoint_info(path);
    MAPD_CHECK(
        found->world_size == run.world_size(), ConfigError,
        fmt::format("{} continues epoch {} of a job of {} ranks, and this job has {}: resume it with {} "
                    "ranks, or delete {}/step*.pt to redo that epoch from its start",
                    path.string(), found->epoch + 1, found->world_size, run.world_size(), found->world_size,
                    run.checkpoints().string()));
    // Every rank fails alike when one lacks its part (load_step_part names it).
    const auto part = run.step_checkpoint_part(run.rank());
    const int64_t missing = std::filesystem::exists(part) ? 0 : 1;
    MAPD_CHECK(
        (parallel ? parallel->max(missing) : missing) == 0, IoError,
        fmt::format("{} continues epoch {} after step {}, but {}: delete {}/step*.pt to redo that epoch "
                    "from its start",
                    path.string(), found->epoch + 1, found->steps,
                    missing != 0 ? fmt::format("this rank's part {} is missing", part.string())
                                 : std::string("the part of another rank is missing (its log names it)"),
                    run.checkpoints().string()));
    const auto info = load_checkpoint(path, learner->model(), learner->optimizer());
    learner->scaler().set_scale(info.loss_scale, info.loss_scale_clean_steps);
    log::get("train")->info("continuing epoch {} after step {} ({})", info.epoch + 1, info.steps,
                            path.string());
    return info;
  }

  /// This rank's columns when recording per rank.
  [[nodiscard]] int64_t first_column() const { return per_rank ? first_columns[run.rank()] : 0; }

  [[nodiscard]] record::DynamicsMeta new_meta() const {
    record::DynamicsMeta meta;
    meta.config_json = config_json;
    meta.mapd_version = kVersion;
    meta.torch_version = torch_version();
    meta.view = recorded_view(config);
    meta.dtype = config.record.dtype;
    meta.seed = config.train.seed;
    meta.category_names = inputs.category_names;
    meta.class_names = inputs.class_names;
    meta.signals = recorded_signals(config);
    return meta;
  }

  /// A resumed run's record with no epoch beyond `start_epoch`. Per rank: rank 0 trims dynamics.h5
  /// first (it then counts no epoch a rank file lacks), then every rank its own file.
  void reopen_record() {
    if (!per_rank) {
      store.emplace(writer() ? record::DynamicsStore::open_append(dynamics_path, start_epoch)
                             : record::DynamicsStore::open_read(dynamics_path));
      return;
    }
    if (writer()) {
      stitched.emplace(record::StitchedDynamics::open_append(dynamics_path, start_epoch));
      MAPD_CHECK(
          stitched->complete_epochs() == start_epoch, IoError,
          fmt::format("{} counts {} epochs every rank committed but {} is at epoch {}; the run directory "
                      "is inconsistent",
                      dynamics_path.string(), stitched->complete_epochs(), checkpoint_path.string(),
                      start_epoch));
    }
    parallel->barrier();
    store.emplace(record::DynamicsStore::open_append(run.rank_dynamics(), start_epoch));
  }

  /// In a job recorded per rank: the rows unreadable on other ranks (gathered from every rank)
  /// join `unreadable` (this rank's own), so that every rank knows the job's. Their path is known
  /// to the rank that failed (its log).
  void add_unreadable_of_all_ranks(int64_t epoch, std::vector<data::UnreadableRow>& unreadable) const {
    std::vector<int64_t> own;
    own.reserve(unreadable.size());
    for (const auto& u : unreadable) own.push_back(u.row);
    std::sort(own.begin(), own.end());
    auto all = parallel->gather_rows(own);
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    for (const int64_t row : all) {
      if (std::binary_search(own.begin(), own.end(), row) ||
          std::binary_search(excluded.begin(), excluded.end(), row)) {
        continue;
      }
      unreadable.push_back({row, data::BadInput{inputs.examples.id_text(row),
                                                "could not be read on another rank (its "
                                                "train.rank-R.log names the file)",
                                                epoch}});
    }
    std::sort(unreadable.begin(), unreadable.end(),
              [](const auto& a, const auto& b) { return a.row < b.row; });
  }

  void open_store(bool resume) {
    auto log = log::get("train");
    const int64_t n =
        per_rank ? first_columns[run.rank() + 1] - first_columns[run.rank()] : inputs.train_set.size();
    if (resume) {
      // A run stopped in its first epoch has only its step checkpoint (open_step_checkpoint).
      if (!std::filesystem::exists(checkpoint_path) && std::filesystem::exists(run.step_checkpoint())) {
        start_epoch = 0;
      } else {
        const auto info = load_checkpoint(checkpoint_path, learner->model(), learner->optimizer());
        learner->scaler().set_scale(info.loss_scale, info.loss_scale_clean_steps);
        if (info.config_json != config_json) {
          log->warn("the config differs from the one in {}; continuing with the given config",
                    checkpoint_path.string());
        }
        start_epoch = info.epoch;
      }
      reopen_record();
      MAPD_CHECK(
          store->num_examples() == n, DataError,
          fmt::format("{} records {} examples but the training set now has {}{}: the data or probe config "
                      "changed since the run started",
                      store->path().string(), store->num_examples(), n,
                      per_rank ? " in this rank's block" : ""));
      MAPD_CHECK(
          store->complete_epochs() == start_epoch, IoError,
          fmt::format("{} has {} committed epochs but {} is at epoch {}; the run directory is inconsistent",
                      store->path().string(), store->complete_epochs(), checkpoint_path.string(),
                      start_epoch));
      auto expected = recorded_signals(config);
      const auto& found = store->meta().signals;
      const auto names = [](const std::vector<record::SignalSpec>& signals) {
        std::string text;
        for (const auto& s : signals) text += (text.empty() ? "" : ", ") + s.name;
        return text.empty() ? std::string("none") : text;
      };
      const auto common = per_example_signals().size();
      if (names(found) != names(expected) &&
          names(found) == names({expected.begin() + static_cast<std::ptrdiff_t>(common), expected.end()})) {
        // Started by a mapd that did not record margin and el2n yet: go on without them.
        per_example_recorded = false;
        log->info(
            "{} was started before mapd recorded margin and el2n; the resumed epochs record "
            "neither (AUM and EL2N need a new run)",
            dynamics_path.string());
      } else {
        MAPD_CHECK(names(found) == names(expected), ConfigError,
                   fmt::format("{} records the extra signals {} but train.mode={} records {}: the run was "
                               "started with another mode; resume it with its own config",
                               dynamics_path.string(), names(found), config.train.mode, names(expected)));
      }
      // Rows left out before stay out: their last committed loss is NaN (per rank: in some
      // rank's block; every rank learns all of them).
      if (start_epoch > 0) excluded = record::excluded_columns(*store, start_epoch - 1);
      if (per_rank) {
        for (auto& row : excluded) row += first_column();
        excluded = parallel->gather_rows(excluded);
        std::sort(excluded.begin(), excluded.end());
      }
      log->info("resuming {} at epoch {}/{}", run_dir.string(), start_epoch, config.train.epochs);
    } else if (per_rank) {
      if (writer()) {
        stitched.emplace(
            record::StitchedDynamics::create(dynamics_path, new_meta(), inputs.examples, run.world_size()));
      }
      const record::ColumnBlock block{first_columns[run.rank()], first_columns[run.rank() + 1]};
      store.emplace(record::DynamicsStore::create(run.rank_dynamics(), new_meta(),
                                                  record::slice_columns(inputs.examples, block)));
    } else if (!writer()) {
      store.emplace(record::DynamicsStore::open_read(dynamics_path));
    } else {
      store.emplace(record::DynamicsStore::create(dynamics_path, new_meta(), inputs.examples));
    }
  }
};

Trainer::Trainer(const config::RunConfig& config, const TrainInputs& inputs, RunLayout run,
                 std::shared_ptr<dist::Collective> group) {
  check_inputs(config, inputs);
  MAPD_ASSERT(group == nullptr ? run.world_size() == 1
                               : run.rank() == group->rank() && run.world_size() == group->size(),
              fmt::format("Trainer: the run layout is rank {} of {}, the process group {}", run.rank(),
                          run.world_size(),
                          group ? fmt::format("rank {} of {}", group->rank(), group->size()) : "absent"));
  set_compute_threads(config.train.threads);
  impl_ = std::make_unique<Impl>(config, inputs, std::move(run));
  auto& d = *impl_;
  seed_torch(static_cast<uint64_t>(config.train.seed));
  d.learner.emplace(
      config, input_channels(config, inputs.train_set),
      data::class_count(inputs.train_set.labels, named_classes(inputs.train_set, inputs.class_names)),
      d.device);
  d.config_json = config::to_json(config).dump();
  if (group) {
    d.parallel = std::make_shared<DataParallel>(
        std::move(group), static_cast<int64_t>(config.dist.bucket_mb * 1024.0 * 1024.0));
    d.learner->set_data_parallel(d.parallel);
    d.parallel->broadcast_module(d.learner->model());
  }
}

Trainer::~Trainer() = default;

int64_t Trainer::open(bool resume) {
  auto& d = *impl_;
  MAPD_ASSERT(!d.store, "Trainer::open called twice");
  const auto& config = d.config;
  const auto& set = d.inputs.train_set;
  fs::create_directories(d.run.checkpoints());
  // In a data-parallel job rank 0 creates (or trims) dynamics.h5 once no rank reads the run's files
  // any more, and the others open it after that.
  if (d.parallel) {
    d.parallel->barrier();
    // A new job records per rank; a resumed one as it began (a dynamics.h5 of an older mapd that
    // holds every row itself goes on that way).
    const int64_t recorded =
        d.parallel->max(resume && d.writer() ? record::StitchedDynamics::recorded_ranks(d.dynamics_path) : 0);
    MAPD_CHECK(
        !resume || recorded == 0 || recorded == d.run.world_size(), ConfigError,
        fmt::format("{} stitches the files of a job of {} ranks, and this job has {}: resume it with {} "
                    "ranks (each rank goes on with its own dynamics.rank-R.h5)",
                    d.dynamics_path.string(), recorded, d.run.world_size(), recorded));
    d.per_rank = !resume || recorded > 0;
    if (d.per_rank) {
      for (int64_t r = 0; r < d.run.world_size(); ++r) {
        d.first_columns.push_back(record::rank_columns(set.size(), r, d.run.world_size()).first);
      }
      d.first_columns.push_back(set.size());
    }
  }
  if (d.per_rank) {
    d.open_store(resume);  // every rank at once (the record is opened in agreed steps)
  } else {
    if (d.writer()) d.open_store(resume);
    if (d.parallel) d.parallel->barrier();
    if (!d.writer()) d.open_store(resume);
  }
  const auto step = d.open_step_checkpoint(resume);
  if (d.parallel) d.parallel->broadcast_module(d.learner->model());  // resumed: the same checkpoint
  d.trim_bad_inputs();
  d.next_epoch = d.start_epoch;
  d.summary.epochs_completed = d.start_epoch;
  if (d.start_epoch >= config.train.epochs) {
    log::get("train")->info("{} already has {} of {} epochs; nothing to do", d.run_dir.string(),
                            d.start_epoch, config.train.epochs);
    return d.start_epoch;
  }

  d.mode = make_training_mode(config, set, d.device, data::Shard{d.run.rank(), d.run.world_size()});
  // The test pass is rank 0's (its numbers go into metrics.jsonl).
  if (d.inputs.test != nullptr && d.inputs.test->size() > 0 && config.train.eval_test && d.writer()) {
    d.test_set = data::TrainingSet::from_image_set(*d.inputs.test);
    d.test_loader.emplace(
        *d.test_set, loader_options(config, *d.test_set, d.device, /*training=*/false, config.train.seed));
  }
  // A new run keeps no line of an earlier attempt; a resumed one those of its committed epochs.
  if (d.writer()) {
    MetricsWriter::keep_epochs_before(d.run.metrics(), d.start_epoch);
    d.metrics.emplace(d.run.metrics());
  }
  log::get("train")->info(
      "training {} on {} examples ({} steps/epoch) on {}, {} threads, mode={}, view={}, "
      "epochs {}..{}{}",
      config.model.arch, set.size(), d.mode->steps_per_epoch(), d.device.str(), torch::get_num_threads(),
      d.mode->name(), d.mode->view(), d.start_epoch, config.train.epochs - 1,
      d.parallel ? fmt::format(", rank {} of {} (batches of {})", d.run.rank(), d.run.world_size(),
                               config.train.batch_size / d.run.world_size())
                 : std::string());

  d.record.emplace(set.size(), d.device);
  d.watch.emplace(d.device, d.kept_context());
  d.progress.emplace(config.train.epochs);
  d.governor = detail::thread_governor(config.train, d.device);
  d.observers = {&*d.watch, &*d.progress};
  if (d.governor) d.observers.push_back(d.governor.get());
  d.observers.insert(d.observers.end(), d.added.begin(), d.added.end());

  const OpenEvent event{d.start_epoch, resume, *d.store, d.excluded};
  d.mode->run_opened(event);
  for (auto* observer : d.added) observer->run_opened(event);
  if (step) {
    MAPD_ASSERT(
        d.mode->continues_mid_epoch(),
        fmt::format("a step checkpoint for train.mode={}, which cannot continue an epoch", d.mode->name()));
    d.continued = detail::load_step_part(
        d.run.step_checkpoint_part(d.run.rank()),
        detail::StepPosition{d.start_epoch, step->steps, d.run.rank(), d.run.world_size()}, *d.record,
        *d.mode, d.device);
  }
  return d.start_epoch;
}

EpochResult Trainer::run_epoch(int64_t epoch) {
  auto& d = *impl_;
  MAPD_ASSERT(d.mode != nullptr, "Trainer::run_epoch before open() or after the last epoch");
  MAPD_ASSERT(epoch == d.next_epoch,
              fmt::format("Trainer::run_epoch({}) but epoch {} is next", epoch, d.next_epoch));
  const auto start = Clock::now();
  EpochResult result;
  result.epoch = epoch;
  if (!d.continued) d.record->reset();  // a continued epoch's record holds the rows trained before
  const EpochContext ctx{epoch,
                         d.config.train.epochs,
                         d.config,
                         *d.learner,
                         &*d.record,
                         d.observers,
                         d.continued ? &*d.continued : nullptr};
  result.pass = d.mode->run_epoch(ctx);
  d.continued.reset();
  // In a data-parallel job the ranks stop together below (a pass that one rank's eval view ended
  // early has made the stop pending there).
  if (!d.parallel && result.pass.stopped) throw d.stop_mid_epoch(epoch, result.pass);
  if (d.test_loader && !result.pass.stopped) {
    const auto totals = d.learner->evaluate(*d.test_loader, 0, nullptr, &EpochContext::stop_requested);
    if (!d.parallel && EpochContext::stop_requested()) throw d.stop_mid_epoch(epoch, result.pass);
    result.test_accuracy = totals.accuracy();
    result.test_loss = totals.mean_loss();
  }
  if (d.parallel && d.agreed_stop() != 0) throw d.stop_mid_epoch(epoch, result.pass);
  result.record = d.record->to_host();
  if (d.parallel) {
    const auto merge_start = Clock::now();
    const bool exactly_once = d.mode->view() == "online";
    if (d.per_rank) {
      // Each rank gets the rows of its own block from the ranks that trained them.
      result.record = d.parallel->exchange_record(result.record, d.first_columns, exactly_once);
      d.merge_ms = 1000.0 * seconds_since(merge_start);
      d.parallel->merge_totals(result.pass.totals);
      d.add_unreadable_of_all_ranks(epoch, result.pass.unreadable);
    } else {
      d.parallel->merge_record(result.record, exactly_once);
      d.merge_ms = 1000.0 * seconds_since(merge_start);
      d.parallel->merge_totals(result.pass.totals);
      d.add_unreadable_of_other_ranks(result.record, epoch, result.pass.unreadable);
    }
  }
  auto& signals = result.record.signals;
  if (d.per_example_recorded) {
    signals.push_back(record::SignalRow{result.record.margin, {}});
    signals.push_back(record::SignalRow{result.record.el2n, {}});
  }
  for (auto& row : d.mode->signal_rows()) signals.push_back(std::move(row));
  MAPD_ASSERT(!d.per_rank || signals.size() == d.store->meta().signals.size(),
              "Trainer: a mode with its own signals in a job recorded per rank");
  const auto excluded = d.excluded_with(result.pass.unreadable);
  detail::check_epoch_rows(result.record, epoch, d.kept_context(), excluded, d.first_column());
  const int64_t expected = d.inputs.train_set.size() - static_cast<int64_t>(excluded.size());
  MAPD_ASSERT(
      d.parallel || d.record->rows_written() == expected,
      fmt::format("epoch {} recorded {} rows for {} examples ({} excluded as unreadable; duplicates); the "
                  "training mode must record every row once per epoch",
                  epoch, d.record->rows_written(), expected, excluded.size()));
  result.seconds = seconds_since(start);
  return result;
}

void Trainer::commit_epoch(const EpochResult& result) {
  auto& d = *impl_;
  MAPD_ASSERT(result.epoch == d.next_epoch,
              fmt::format("Trainer::commit_epoch({}) but epoch {} is next", result.epoch, d.next_epoch));
  const auto& config = d.config;
  const auto& pass = result.pass;
  const double loss = pass.totals.mean_loss();
  const double acc = pass.totals.accuracy();
  const double img_s =
      pass.train_seconds > 0 ? static_cast<double>(pass.totals.count) / pass.train_seconds : 0;
  d.total_train_seconds += pass.train_seconds;
  d.total_images += pass.totals.count;
  nlohmann::json line = {{"epoch", result.epoch},
                         {"loss", loss},
                         {"acc", acc},
                         {"test_acc", result.test_accuracy},
                         {"test_loss", result.test_loss},
                         {"img_s", img_s},
                         {"seconds", result.seconds},
                         {"lr", pass.lr},
                         {"view", d.mode->view()},
                         {"threads", torch::get_num_threads()}};
  auto counts = probe_counts(d.inputs, result.record, d.first_column());
  if (d.per_rank) d.parallel->sum(counts);  // each rank counted its block
  line["probe_acc"] = probe_accuracy(d.inputs, counts);
  d.mode->add_metrics(line);
  auto log = log::get("train");
  if (d.parallel) {
    // Before anything of the epoch is written: ranks that drifted apart fail the job here.
    const uint64_t checksum = d.parallel->check_identical(d.learner->model().parameters(), result.epoch);
    log->info("epoch {}/{}: parameters bit-identical on all {} ranks (checksum {:016x})", result.epoch + 1,
              config.train.epochs, d.parallel->size(), checksum);
  }
  // Commit order matters: the dynamics row, the metrics line, then the checkpoint that points
  // past both. A kill before the checkpoint redoes the epoch; resume drops its row and line.
  const auto& host = result.record;
  const auto write_start = Clock::now();
  double write_ms = 0.0;
  if (d.per_rank) {
    // Every rank commits its columns; dynamics.h5 counts the epoch once all have.
    d.store->append_epoch(host.loss.data(), host.pred.data(), host.true_prob.data(), host.signals);
    write_ms = 1000.0 * seconds_since(write_start);
    d.parallel->barrier();
    if (d.writer()) {
      d.stitched->commit(result.epoch + 1);
      d.metrics->write(line);
      d.append_bad_inputs(pass.unreadable);
      save_checkpoint(d.checkpoint_path, d.learner->model(), d.learner->optimizer(),
                      d.checkpoint_info(result.epoch + 1));
      d.remove_step_checkpoints();  // the epoch they continue is committed
    }
    d.parallel->barrier();  // the epoch is committed for every rank
  } else {
    if (d.writer()) {
      d.store->append_epoch(host.loss.data(), host.pred.data(), host.true_prob.data(), host.signals);
      write_ms = 1000.0 * seconds_since(write_start);
      d.metrics->write(line);
      d.append_bad_inputs(pass.unreadable);
      save_checkpoint(d.checkpoint_path, d.learner->model(), d.learner->optimizer(),
                      d.checkpoint_info(result.epoch + 1));
      d.remove_step_checkpoints();  // the epoch they continue is committed
    }
    if (d.parallel) {
      d.parallel->barrier();  // the epoch is committed for every rank once rank 0 has written it
      if (!d.writer()) d.store->refresh();
    }
  }
  log->info("epoch {}/{}  loss {:.4f}  acc {:.2f}%{}  lr {:.4g}  {:.0f} img/s  {:.1f} s{}", result.epoch + 1,
            config.train.epochs, loss, 100.0 * acc,
            d.test_loader ? fmt::format("  test_loss {:.4f}  test_acc {:.2f}%", result.test_loss,
                                        100.0 * result.test_accuracy)
                          : "",
            pass.lr, img_s, result.seconds,
            d.parallel ? fmt::format("  (record: merge {:.2f} ms, write {:.2f} ms)", d.merge_ms, write_ms)
                       : std::string());
  d.excluded = d.excluded_with(pass.unreadable);
  d.next_epoch = result.epoch + 1;
  d.summary.epochs_completed = d.next_epoch;
  d.summary.test_accuracy = result.test_accuracy;
  d.summary.test_loss = result.test_loss;
  const CommitEvent event{result.epoch, host, line, *d.store};
  d.mode->epoch_committed(event);
  for (auto* observer : d.added) observer->epoch_committed(event);
}

TrainSummary Trainer::run(bool resume) {
  auto& d = *impl_;
  const auto start = Clock::now();
  for (int64_t epoch = open(resume); epoch < d.config.train.epochs; ++epoch) {
    commit_epoch(run_epoch(epoch));
    if (d.agreed_stop() != 0) throw d.interrupted(epoch, true);
    if (epoch + 1 == d.config.train.epochs) {
      const FinishEvent event{*d.store, d.run, d.excluded};
      d.mode->run_finished(event);
      for (auto* observer : d.added) observer->run_finished(event);
    }
  }
  d.summary.seconds = seconds_since(start);
  d.summary.images_per_second =
      d.total_train_seconds > 0 ? static_cast<double>(d.total_images) / d.total_train_seconds : 0;
  return d.summary;
}

void Trainer::add_observer(TrainingObserver* observer) {
  MAPD_ASSERT(observer != nullptr, "Trainer::add_observer: null observer");
  MAPD_ASSERT(!impl_->store, "Trainer::add_observer after open()");
  impl_->added.push_back(observer);
}

Learner& Trainer::learner() { return *impl_->learner; }

TrainingMode& Trainer::mode() {
  MAPD_ASSERT(impl_->mode != nullptr, "Trainer::mode before open()");
  return *impl_->mode;
}

TrainSummary train(const config::RunConfig& config, const TrainInputs& inputs, const RunLayout& run,
                   bool resume, std::shared_ptr<dist::Collective> group) {
  return Trainer(config, inputs, run, std::move(group)).run(resume);
}

torch::Tensor fit_and_score(const config::RunConfig& config, const data::TrainingSet& fit,
                            const data::TrainingSet& score, int64_t epochs, int64_t seed) {
  // The difficulty estimators validate both (probes.*_epochs >= 1, enough examples) before calling.
  MAPD_ASSERT(epochs > 0, fmt::format("fit_and_score: epochs must be positive, got {}", epochs));
  MAPD_ASSERT(fit.size() > 0, "fit_and_score: the training subset is empty");
  set_compute_threads(config.train.threads);
  const torch::Device device = resolve_device(config.train.device);
  seed_torch(static_cast<uint64_t>(seed));
  const int64_t classes = std::max(data::class_count(fit.labels, named_classes(fit, {})),
                                   data::class_count(score.labels, named_classes(score, {})));
  Learner learner(config, input_channels(config, fit), classes, device);
  data::Loader fit_loader(fit, loader_options(config, fit, device, /*training=*/true, seed));
  data::Loader score_loader(score, loader_options(config, score, device, /*training=*/false, seed));
  auto out = torch::empty({epochs, score.size()}, torch::kFloat32);
  EpochRecord record(score.size(), device);
  detail::DivergenceWatch watch(device, "(fit_and_score: a short training run for difficulty scores.)");
  const auto governor = detail::thread_governor(config.train, device);
  std::vector<TrainingObserver*> observers{&watch};
  if (governor) observers.push_back(governor.get());
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const auto pass = run_training_pass(EpochContext{epoch, epochs, config, learner, nullptr, observers},
                                        fit_loader, nullptr);
    if (pass.stopped) throw pilot_interrupted(epoch, epochs);
    if (score.size() == 0) continue;
    record.reset();
    learner.evaluate(score_loader, epoch, &record, &EpochContext::stop_requested);
    if (EpochContext::stop_requested()) throw pilot_interrupted(epoch, epochs);
    auto host = record.to_host();
    const auto excluded = score_loader.excluded_rows();
    detail::check_epoch_rows(host, epoch, "(fit_and_score)", excluded);
    // A row whose image cannot be read was never learned: probability 0 keeps the scores finite.
    for (const int64_t row : excluded) host.true_prob[static_cast<size_t>(row)] = 0.0F;
    std::copy(host.true_prob.begin(), host.true_prob.end(), out[epoch].data_ptr<float>());
  }
  return out;
}

torch::Tensor predict_probabilities(const config::RunConfig& config, const data::TrainingSet& set,
                                    int64_t classes, const std::filesystem::path& checkpoint) {
  set_compute_threads(config.train.threads);
  const torch::Device device = resolve_device(config.train.device);
  Learner learner(config, input_channels(config, set), classes, device);
  (void)load_checkpoint(checkpoint, learner.model(), learner.optimizer());
  data::Loader loader(set, loader_options(config, set, device, /*training=*/false, config.train.seed));
  auto out = torch::full({set.size(), classes}, std::numeric_limits<float>::quiet_NaN(), torch::kFloat32);
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const auto scores = learner.score(*batch, ScoreMode::kEval);
    out.index_copy_(0, scores.indices.to(torch::kCPU), torch::softmax(scores.logits, 1).to(torch::kCPU));
  }
  return out;
}

}  // namespace mapd::train
