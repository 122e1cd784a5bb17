#include "mapd/train/trainer.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "mapd/config/loader.hpp"
#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"
#include "mapd/core/log.hpp"
#include "mapd/core/metrics.hpp"
#include "mapd/core/process.hpp"
#include "mapd/core/version.hpp"
#include "mapd/train/checkpoint.hpp"
#include "mapd/train/learner.hpp"
#include "mapd/train/schedule.hpp"
#include "mapd/train/signals.hpp"

#include "progress.hpp"

namespace mapd::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// data.workers = -1 (auto): images held in memory are batched in the training thread, since
/// worker threads would only compete with the compute threads for the cores (measured: 30-40%
/// fewer img/s with 2 workers on 2 cores); images decoded on demand get 2 workers.
int64_t loader_workers(const config::DataConfig& data, const data::TrainingSet& set) {
  if (data.workers >= 0) return data.workers;
  return set.base == nullptr || set.base->in_memory() ? 0 : 2;
}

/// data.resident: auto holds in-memory datasets up to resident_max_mb on a CUDA device.
bool resident_on_device(const config::DataConfig& data, const data::TrainingSet& set,
                        const torch::Device& device) {
  const bool in_memory = set.base == nullptr || set.base->in_memory();
  if (data.resident == "on") return true;
  if (data.resident == "off" || !device.is_cuda() || !in_memory) return false;
  const int64_t bytes = set.base == nullptr ? 0 : set.base->size() * set.base->image_bytes();
  return bytes <= data.resident_max_mb * 1024 * 1024;
}

data::LoaderOptions loader_options(const config::RunConfig& config, const data::TrainingSet& set,
                                   const torch::Device& device, bool training, int64_t seed) {
  data::LoaderOptions options;
  options.batch_size = training ? config.train.batch_size : 2 * config.train.batch_size;
  options.shuffle = training;
  options.drop_last = training && config.data.drop_last;
  options.augment = training;
  options.workers = loader_workers(config.data, set);
  options.prefetch = config.data.prefetch;
  options.seed = seed;
  options.device = device;
  options.resident = resident_on_device(config.data, set, device);
  options.augment_config = config.data.augment;
  options.channels = config.data.channels;
  return options;
}

std::string first_indices(const torch::Tensor& indices, int64_t limit = 8) {
  auto cpu = indices.to(torch::kCPU).to(torch::kInt64).contiguous();
  std::string out;
  const int64_t n = std::min<int64_t>(cpu.numel(), limit);
  for (int64_t i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(cpu.data_ptr<int64_t>()[i]);
  if (cpu.numel() > n) out += fmt::format(", ... ({} in the batch)", cpu.numel());
  return out;
}

/// Checks batch losses for NaN/inf. On the CPU every step is checked at once; on CUDA the losses
/// of `check_every` steps are checked together (one host sync per window, not per step).
class DivergenceWatch {
 public:
  DivergenceWatch(const torch::Device& device, std::string context)
      : check_every_(device.is_cuda() ? 25 : 1), context_(std::move(context)) {}

  void add(int64_t epoch, int64_t step, const torch::Tensor& loss, const torch::Tensor& indices) {
    epoch_ = epoch;
    losses_.push_back(loss);
    indices_.push_back(indices);
    steps_.push_back(step);
    if (static_cast<int64_t>(losses_.size()) >= check_every_) check();
  }

  void check() {
    if (losses_.empty()) return;
    auto values = torch::stack(losses_).to(torch::kCPU);
    const auto finite = torch::isfinite(values);
    if (!finite.all().item<bool>()) {
      const auto bad = finite.logical_not().nonzero()[0][0].item<int64_t>();
      throw DivergedError(
          fmt::format("training diverged: the loss at epoch {} (0-based), step {} is {}; example indices of "
                      "that batch: {}. "
                      "{} Lower optimizer.lr, add schedule.warmup_epochs, or inspect these examples.",
                      epoch_, steps_[static_cast<size_t>(bad)], values[bad].item<float>(),
                      first_indices(indices_[bad]), context_));
    }
    losses_.clear();
    indices_.clear();
    steps_.clear();
  }

 private:
  int64_t check_every_;
  std::string context_;
  int64_t epoch_ = 0;
  std::vector<torch::Tensor> losses_, indices_;
  std::vector<int64_t> steps_;
};

struct EpochResult {
  EpochTotals totals;
  double train_seconds = 0.0;
  double lr = 0.0;
  bool stopped = false;
};

/// train.threads = 0 on the CPU: the thread count follows the CPUs other processes leave free
/// (process::CpuShareGovernor); a fixed train.threads is never changed. Null when not adaptive.
std::unique_ptr<process::CpuShareGovernor> thread_governor(const config::TrainConfig& train,
                                                           const torch::Device& device) {
  if (train.threads > 0 || !device.is_cpu()) return nullptr;
  return std::make_unique<process::CpuShareGovernor>(torch::get_num_threads());
}

/// One training epoch. Stops after the current batch when a stop signal is pending (`stopped`).
EpochResult train_epoch(Learner& learner, data::Loader& loader, const config::RunConfig& config,
                        int64_t epoch, int64_t epochs, EpochRecord* record, DivergenceWatch& watch,
                        detail::ProgressBar* bar, process::CpuShareGovernor* governor) {
  EpochResult result;
  result.totals = EpochTotals::zeros(learner.device());
  const int64_t steps = loader.num_batches();
  if (bar != nullptr) bar->start(epoch, epochs, steps);
  const auto start = Clock::now();
  loader.start_epoch(epoch);
  if (governor != nullptr) governor->restart();
  int64_t step = 0;
  while (auto batch = loader.next()) {
    result.lr = learning_rate(config.schedule, config.optimizer.lr, epoch, step, steps, epochs);
    auto loss = learner.train_step(*batch, result.lr, result.totals, record);
    watch.add(epoch, step, loss, batch->indices);
    if (bar != nullptr) bar->update(step, result.totals.count);
    if (governor != nullptr) {
      const auto before = static_cast<int64_t>(torch::get_num_threads());
      if (const int64_t threads = governor->after_step(); threads != before) {
        torch::set_num_threads(static_cast<int>(threads));
        log::get("train")->info(
            "compute threads {} -> {}: {}", before, threads,
            threads < before ? "other processes keep the CPUs busy" : "CPUs became free again");
      }
    }
    ++step;
    if (StopSignalGuard::pending() != 0) {
      result.stopped = true;
      break;
    }
  }
  watch.check();
  result.train_seconds = seconds_since(start);
  if (bar != nullptr) bar->clear();
  return result;
}

/// Rows whose value is not finite: unvisited rows are a loader bug; non-finite eval losses diverged.
void check_epoch_rows(const EpochRecord::Host& host, int64_t epoch, const std::string& context) {
  std::vector<int64_t> unvisited, non_finite;
  for (size_t i = 0; i < host.loss.size(); ++i) {
    if (host.pred[i] < 0) {
      unvisited.push_back(static_cast<int64_t>(i));
    } else if (!std::isfinite(host.loss[i])) {
      non_finite.push_back(static_cast<int64_t>(i));
    }
  }
  auto list = [](const std::vector<int64_t>& rows) {
    std::string out;
    for (size_t i = 0; i < std::min<size_t>(rows.size(), 8); ++i)
      out += (i ? ", " : "") + std::to_string(rows[i]);
    return rows.size() > 8 ? out + fmt::format(", ... ({} in all)", rows.size()) : out;
  };
  MAPD_CHECK(
      unvisited.empty(), Error,
      fmt::format("internal error: epoch {} left {} example(s) without a recorded loss (indices {}); the "
                  "loader must visit every row once per epoch",
                  epoch, unvisited.size(), list(unvisited)));
  MAPD_CHECK(
      non_finite.empty(), DivergedError,
      fmt::format("training diverged: epoch {} (0-based) gave a NaN/inf loss for {} example(s) (indices {}). "
                  "{} Lower optimizer.lr or add schedule.warmup_epochs.",
                  epoch, non_finite.size(), list(non_finite), context));
}

nlohmann::json probe_accuracy(const TrainInputs& inputs, const EpochRecord::Host& host) {
  std::map<int64_t, std::pair<int64_t, int64_t>> counts;  // category -> (correct, total)
  const auto& ex = inputs.examples;
  for (size_t i = 0; i < ex.role.size() && i < host.pred.size(); ++i) {
    if (ex.role[i] == static_cast<int8_t>(record::Role::kTrain) || ex.probe_category[i] < 0) continue;
    auto& [correct, total] = counts[ex.probe_category[i]];
    correct += host.pred[i] == ex.label[i] ? 1 : 0;
    ++total;
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [category, ct] : counts) {
    const auto c = static_cast<size_t>(category);
    const std::string name =
        c < inputs.category_names.size() ? inputs.category_names[c] : std::to_string(category);
    out[name] = static_cast<double>(ct.first) / static_cast<double>(ct.second);
  }
  return out;
}

}  // namespace

TrainSummary train(const config::RunConfig& config, const TrainInputs& inputs,
                   const std::filesystem::path& run_dir, bool resume) {
  auto log = log::get("train");
  const auto& set = inputs.train_set;
  const int64_t n = set.size();
  const int64_t epochs = config.train.epochs;
  MAPD_CHECK(n > 0, DataError, "training set is empty: nothing to train on (check data.path and data.limit)");
  MAPD_CHECK(
      inputs.examples.size() == n, DataError,
      fmt::format("trainer: /examples has {} rows but the training set has {}", inputs.examples.size(), n));
  MAPD_CHECK(config.record.view == "online" || config.record.view == "eval", ConfigError,
             fmt::format("record.view: unknown view '{}' (expected online or eval)", config.record.view));
  MAPD_CHECK(
      !(config.record.view == "online" && config.data.drop_last), ConfigError,
      "record.view=online records losses from the training pass, which must see every example every epoch: "
      "set data.drop_last=false or record.view=eval");
  MAPD_CHECK(epochs > 0 && config.train.batch_size > 0, ConfigError,
             "train.epochs and train.batch_size must be positive");

  set_compute_threads(config.train.threads);
  const torch::Device device = resolve_device(config.train.device);
  seed_torch(static_cast<uint64_t>(config.train.seed));
  Learner learner(config, input_channels(config, set), class_count(set, inputs.class_names), device);
  const std::string config_json = config::to_json(config).dump();

  fs::create_directories(run_dir / "checkpoints");
  const auto checkpoint_path = run_dir / "checkpoints" / "last.pt";
  const auto dynamics_path = run_dir / "dynamics.h5";
  int64_t start_epoch = 0;
  std::optional<record::DynamicsStore> store;
  if (resume) {
    const auto info = load_checkpoint(checkpoint_path, learner.model(), learner.optimizer());
    learner.scaler().set_scale(info.loss_scale);
    if (info.config_json != config_json) {
      log->warn("the config differs from the one in {}; continuing with the given config",
                checkpoint_path.string());
    }
    start_epoch = info.epoch;
    store.emplace(record::DynamicsStore::open_append(dynamics_path, start_epoch));
    MAPD_CHECK(store->num_examples() == n, DataError,
               fmt::format("{} records {} examples but the training set now has {}: the data or probe config "
                           "changed since the run started",
                           dynamics_path.string(), store->num_examples(), n));
    MAPD_CHECK(
        store->complete_epochs() == start_epoch, IoError,
        fmt::format("{} has {} committed epochs but {} is at epoch {}; the run directory is inconsistent",
                    dynamics_path.string(), store->complete_epochs(), checkpoint_path.string(), start_epoch));
    log->info("resuming {} at epoch {}/{}", run_dir.string(), start_epoch, epochs);
  } else {
    record::DynamicsMeta meta;
    meta.config_json = config_json;
    meta.mapd_version = kVersion;
    meta.torch_version = torch_version();
    meta.view = config.record.view;
    meta.dtype = config.record.dtype;
    meta.seed = config.train.seed;
    meta.category_names = inputs.category_names;
    meta.class_names = inputs.class_names;
    store.emplace(record::DynamicsStore::create(dynamics_path, meta, inputs.examples));
  }

  TrainSummary summary;
  summary.epochs_completed = start_epoch;
  if (start_epoch >= epochs) {
    log->info("{} already has {} of {} epochs; nothing to do", run_dir.string(), start_epoch, epochs);
    return summary;
  }

  const bool eval_view = config.record.view == "eval";
  data::Loader train_loader(set, loader_options(config, set, device, true, config.train.seed));
  std::optional<data::Loader> eval_loader;
  if (eval_view) eval_loader.emplace(set, loader_options(config, set, device, false, config.train.seed));
  std::optional<data::TrainingSet> test_set;
  std::optional<data::Loader> test_loader;
  if (inputs.test != nullptr && inputs.test->size() > 0 && config.train.eval_test) {
    test_set = data::TrainingSet::from_image_set(*inputs.test);
    test_loader.emplace(*test_set, loader_options(config, *test_set, device, false, config.train.seed));
  }
  if (resume) MetricsWriter::keep_epochs_before(run_dir / "metrics.jsonl", start_epoch);
  MetricsWriter metrics(run_dir / "metrics.jsonl");
  log->info("training {} on {} examples ({} steps/epoch) on {}, {} threads, view={}, epochs {}..{}",
            config.model.arch, n, train_loader.num_batches(), device.str(), torch::get_num_threads(),
            config.record.view, start_epoch, epochs - 1);

  StopSignalGuard signals;
  const auto stop_requested = [] { return StopSignalGuard::pending() != 0; };
  const auto interrupted = [&](int64_t epoch, bool committed) {
    const int signal_number = StopSignalGuard::pending();
    const int64_t saved = committed ? epoch + 1 : epoch;
    return InterruptedError(
        fmt::format("{}: {}; {} complete epoch(s) are saved in {}; continue with `mapd resume {}`",
                    StopSignalGuard::describe(signal_number),
                    committed ? fmt::format("stopped after epoch {}", epoch)
                              : fmt::format("epoch {} was not finished and is discarded", epoch),
                    saved, run_dir.string(), run_dir.string()),
        signal_number);
  };
  EpochRecord record(n, device);
  DivergenceWatch watch(device, fmt::format("Epochs before it stay recorded in {}.", dynamics_path.string()));
  detail::ProgressBar bar;
  const auto governor = thread_governor(config.train, device);
  const auto run_start = Clock::now();
  double total_train_seconds = 0.0;
  int64_t total_images = 0;

  for (int64_t epoch = start_epoch; epoch < epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    record.reset();
    auto result = train_epoch(learner, train_loader, config, epoch, epochs, eval_view ? nullptr : &record,
                              watch, &bar, governor.get());
    if (result.stopped) throw interrupted(epoch, false);
    if (eval_view) {
      learner.evaluate(*eval_loader, epoch, &record, stop_requested);
      if (stop_requested()) throw interrupted(epoch, false);
    }
    double test_acc = -1.0, test_loss = -1.0;
    if (test_loader) {
      const auto totals = learner.evaluate(*test_loader, 0, nullptr, stop_requested);
      if (stop_requested()) throw interrupted(epoch, false);
      test_acc = totals.accuracy();
      test_loss = totals.mean_loss();
    }
    const auto host = record.to_host();
    check_epoch_rows(host, epoch,
                     fmt::format("Epochs before it stay recorded in {}.", dynamics_path.string()));
    MAPD_CHECK(record.rows_written() == n, Error,
               fmt::format("internal error: epoch {} recorded {} rows for {} examples (duplicates)", epoch,
                           record.rows_written(), n));

    const double loss = result.totals.mean_loss();
    const double acc = result.totals.accuracy();
    const double img_s =
        result.train_seconds > 0 ? static_cast<double>(result.totals.count) / result.train_seconds : 0;
    const double seconds = seconds_since(epoch_start);
    total_train_seconds += result.train_seconds;
    total_images += result.totals.count;
    nlohmann::json line = {{"epoch", epoch},
                           {"loss", loss},
                           {"acc", acc},
                           {"test_acc", test_acc},
                           {"test_loss", test_loss},
                           {"img_s", img_s},
                           {"seconds", seconds},
                           {"lr", result.lr},
                           {"view", config.record.view},
                           {"threads", torch::get_num_threads()}};
    line["probe_acc"] = probe_accuracy(inputs, host);
    // Commit order matters: the dynamics row, the metrics line, then the checkpoint that points
    // past both. A kill before the checkpoint redoes the epoch; resume drops its row and line.
    store->append_epoch(host.loss.data(), host.pred.data(), host.true_prob.data());
    metrics.write(line);
    save_checkpoint(checkpoint_path, learner.model(), learner.optimizer(),
                    CheckpointInfo{epoch + 1, config_json, learner.scaler().scale()});
    log->info(
        "epoch {}/{}  loss {:.4f}  acc {:.2f}%{}  lr {:.4g}  {:.0f} img/s  {:.1f} s", epoch + 1, epochs, loss,
        100.0 * acc,
        test_loader ? fmt::format("  test_loss {:.4f}  test_acc {:.2f}%", test_loss, 100.0 * test_acc) : "",
        result.lr, img_s, seconds);
    summary.epochs_completed = epoch + 1;
    summary.test_accuracy = test_acc;
    summary.test_loss = test_loss;
    if (stop_requested()) throw interrupted(epoch, true);
  }
  summary.seconds = seconds_since(run_start);
  summary.images_per_second =
      total_train_seconds > 0 ? static_cast<double>(total_images) / total_train_seconds : 0;
  return summary;
}

torch::Tensor fit_and_score(const config::RunConfig& config, const data::TrainingSet& fit,
                            const data::TrainingSet& score, int64_t epochs, int64_t seed) {
  MAPD_CHECK(epochs > 0, ConfigError, fmt::format("fit_and_score: epochs must be positive, got {}", epochs));
  MAPD_CHECK(fit.size() > 0, DataError, "fit_and_score: the training subset is empty");
  set_compute_threads(config.train.threads);
  const torch::Device device = resolve_device(config.train.device);
  seed_torch(static_cast<uint64_t>(seed));
  const int64_t classes = std::max(class_count(fit, {}), class_count(score, {}));
  Learner learner(config, input_channels(config, fit), classes, device);
  data::Loader fit_loader(fit, loader_options(config, fit, device, true, seed));
  data::Loader score_loader(score, loader_options(config, score, device, false, seed));
  auto out = torch::empty({epochs, score.size()}, torch::kFloat32);
  EpochRecord record(score.size(), device);
  DivergenceWatch watch(device, "(fit_and_score: a short training run for difficulty scores.)");
  const auto governor = thread_governor(config.train, device);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    train_epoch(learner, fit_loader, config, epoch, epochs, nullptr, watch, nullptr, governor.get());
    if (score.size() == 0) continue;
    record.reset();
    learner.evaluate(score_loader, epoch, &record);
    const auto host = record.to_host();
    check_epoch_rows(host, epoch, "(fit_and_score)");
    std::copy(host.true_prob.begin(), host.true_prob.end(), out[epoch].data_ptr<float>());
  }
  return out;
}

}  // namespace mapd::train
