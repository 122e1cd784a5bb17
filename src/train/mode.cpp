#include "mapd/train/mode.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "mapd/core/error.hpp"
#include "mapd/data/sampler.hpp"
#include "mapd/train/data_parallel.hpp"
#include "mapd/train/label_correction.hpp"
#include "mapd/train/prioritized.hpp"
#include "mapd/train/schedule.hpp"
#include "mapd/train/signals.hpp"

namespace mapd::train {
namespace {

/// data.workers = -1 (auto): images held in memory are batched in the training thread, since
/// worker threads would only compete with the compute threads for the cores (docs/benchmarks.md);
/// images decoded on demand get 2 workers.
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

/// train.mode=standard: one training pass over every row per epoch. record.view=online records
/// each row's loss from the step that trained it (so every row must be trained: no drop_last);
/// record.view=eval records it from an eval-mode pass over every row after the training pass.
class StandardMode final : public TrainingMode {
 public:
  StandardMode(const config::RunConfig& config, const data::TrainingSet& set, const torch::Device& device,
               data::Shard shard)
      : view_(config.record.view),
        train_loader_(set, loader_options(config, set, device, /*training=*/true, config.train.seed, shard)) {
    if (view_ == "eval") {
      eval_loader_.emplace(set, loader_options(config, set, device, /*training=*/false, config.train.seed));
    }
  }

  [[nodiscard]] std::string name() const override { return "standard"; }
  [[nodiscard]] std::string view() const override { return view_; }
  [[nodiscard]] int64_t steps_per_epoch() const override { return train_loader_.num_batches(); }

  [[nodiscard]] bool continues_mid_epoch() const override { return true; }

  void run_opened(const OpenEvent& event) override {
    train_loader_.exclude_rows(event.excluded);
    if (eval_loader_) eval_loader_->exclude_rows(event.excluded);
  }

  EpochPass run_epoch(const EpochContext& ctx) override {
    auto pass = run_training_pass(ctx, train_loader_, eval_loader_ ? nullptr : ctx.record);
    if (!pass.stopped && eval_loader_) record_eval_view(ctx, pass, train_loader_, *eval_loader_);
    return pass;
  }

 private:
  std::string view_;
  data::Loader train_loader_;
  std::optional<data::Loader> eval_loader_;
};

}  // namespace

std::vector<int64_t> rows_of(const std::vector<data::UnreadableRow>& unreadable) {
  std::vector<int64_t> rows;
  rows.reserve(unreadable.size());
  for (const auto& u : unreadable) rows.push_back(u.row);
  return rows;
}

void record_eval_view(const EpochContext& ctx, EpochPass& pass, data::Loader& train_loader,
                      data::Loader& eval_loader) {
  // A row unreadable in one pass is left out of the other from this epoch on.
  eval_loader.exclude_rows(rows_of(pass.unreadable));
  ctx.learner.evaluate(eval_loader, ctx.epoch, ctx.record, &EpochContext::stop_requested);
  pass.stopped = EpochContext::stop_requested();
  auto more = eval_loader.take_unreadable();
  train_loader.exclude_rows(rows_of(more));
  pass.unreadable.insert(pass.unreadable.end(), more.begin(), more.end());
  std::sort(pass.unreadable.begin(), pass.unreadable.end(),
            [](const auto& a, const auto& b) { return a.row < b.row; });
}

double EpochContext::learning_rate(int64_t step, int64_t steps) const {
  return train::learning_rate(config.schedule, config.optimizer.lr, epoch, step, steps, epochs);
}

void EpochContext::epoch_started(int64_t steps) const {
  for (auto* observer : observers) observer->epoch_started(epoch, steps);
}

bool EpochContext::batch_done(const BatchEvent& event) const {
  for (auto* observer : observers) observer->batch_done(event);
  return !stop_requested();
}

void EpochContext::pass_done() const {
  for (auto* observer : observers) observer->pass_done(epoch);
}

bool EpochContext::stop_requested() { return StopSignalGuard::pending() != 0; }

namespace {

/// Starts `loader` on ctx.epoch and returns the pass to add to: zeroed totals at step 0, or the
/// stopped pass ctx.continued from its step and batch on (the rows found unreadable before the stop
/// stay out; the batches before are not read again).
EpochPass begin_pass(const EpochContext& ctx, data::Loader& loader) {
  if (ctx.continued == nullptr) {
    EpochPass pass;
    pass.totals = EpochTotals::zeros(ctx.learner.device());
    loader.start_epoch(ctx.epoch);
    return pass;
  }
  EpochPass pass = *ctx.continued;
  pass.stopped = false;
  loader.exclude_rows(rows_of(pass.unreadable));
  loader.start_epoch(ctx.epoch, pass.batches_done);
  return pass;
}

/// Ends a pass begun by begin_pass: the rows the loader could not read join `pass.unreadable`
/// (ascending), and the pass's wall time since `start` its train_seconds.
void end_pass(EpochPass& pass, data::Loader& loader, std::chrono::steady_clock::time_point start) {
  auto more = loader.take_unreadable();
  pass.unreadable.insert(pass.unreadable.end(), more.begin(), more.end());
  std::sort(pass.unreadable.begin(), pass.unreadable.end(),
            [](const auto& a, const auto& b) { return a.row < b.row; });
  pass.train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// run_training_pass of one rank of a data-parallel job: before each step the ranks agree on
/// whether any still has a batch (a rank without one joins with none), on a stop signal and on
/// whether the previous step diverged anywhere; a step's observers hear of it after that agreement,
/// so that a diverged loss fails every rank alike (DivergedError) and a stop stops them after the
/// same step.
EpochPass run_data_parallel_pass(const EpochContext& ctx, data::Loader& loader, EpochRecord* record,
                                 const std::function<void(int64_t)>& before_step, DataParallel& parallel) {
  using Clock = std::chrono::steady_clock;
  const int64_t steps = parallel.max(loader.num_batches());
  ctx.epoch_started(steps);
  const auto start = Clock::now();
  EpochPass pass = begin_pass(ctx, loader);
  struct Done {
    int64_t step = 0;
    data::Batch batch;
    torch::Tensor loss;
    double lr = 0.0;
  };
  std::optional<Done> done;  // the last step, told to the observers after the next agreement
  bool diverged = false;
  for (int64_t step = pass.steps_done;; ++step) {
    // Where a stop before this step continues: the batch taken next is not trained then.
    pass.steps_done = step;
    pass.batches_done = loader.batches_taken();
    auto batch = loader.next();
    const auto agreed = parallel.agree(batch.has_value(), StopSignalGuard::pending(), diverged);
    if (done) {
      // Its "stop requested" is this rank's alone; the agreement above decides for the job.
      (void)ctx.batch_done(
          BatchEvent{ctx.epoch, done->step, steps, done->batch, done->loss, done->lr, pass.totals});
      done.reset();
    }
    if (agreed.diverged_rank >= 0) {
      // The rank whose loss diverged has thrown from its divergence watch with the batch's examples.
      throw DivergedError(fmt::format(
          "training diverged on rank {} of {} at epoch {} (0-based), step {}: its loss is not finite; its "
          "log (train.log for rank 0, else train.rank-R.log) names the batch's examples. Lower "
          "optimizer.lr, add schedule.warmup_epochs, or inspect these examples.",
          agreed.diverged_rank, parallel.size(), ctx.epoch, step - 1));
    }
    if (agreed.stop_signal != 0) {
      StopSignalGuard::adopt(agreed.stop_signal);
      pass.stopped = true;
      break;
    }
    if (!agreed.any_batch) {
      pass.batches_done = loader.batches_taken();
      break;
    }
    pass.lr = ctx.learning_rate(step, steps);
    if (!batch) {
      ctx.learner.idle_step(pass.lr);
      diverged = false;
      continue;
    }
    if (before_step) before_step(step);
    auto loss = ctx.learner.train_step(*batch, pass.lr, pass.totals, record);
    diverged = !torch::isfinite(loss).item<bool>();
    done = Done{step, std::move(*batch), std::move(loss), pass.lr};
  }
  ctx.pass_done();
  end_pass(pass, loader, start);
  return pass;
}

}  // namespace

EpochPass run_training_pass(const EpochContext& ctx, data::Loader& loader, EpochRecord* record,
                            const std::function<void(int64_t)>& before_step,
                            const StepFunction& step_function) {
  using Clock = std::chrono::steady_clock;
  if (DataParallel* parallel = ctx.learner.data_parallel()) {
    MAPD_ASSERT(!step_function, "run_training_pass: a step function in a data-parallel job");
    return run_data_parallel_pass(ctx, loader, record, before_step, *parallel);
  }
  const int64_t steps = loader.num_batches();
  ctx.epoch_started(steps);
  const auto start = Clock::now();
  EpochPass pass = begin_pass(ctx, loader);
  int64_t step = pass.steps_done;
  while (auto batch = loader.next()) {
    pass.lr = ctx.learning_rate(step, steps);
    if (before_step) before_step(step);
    const auto outcome =
        step_function ? step_function(*batch, step, pass.lr, pass.totals)
                      : StepOutcome{ctx.learner.train_step(*batch, pass.lr, pass.totals, record), *batch};
    const bool go_on = ctx.batch_done(
        BatchEvent{ctx.epoch, step, steps, outcome.trained, outcome.loss, pass.lr, pass.totals});
    ++step;
    if (!go_on) {
      pass.stopped = true;
      break;
    }
  }
  pass.steps_done = step;
  pass.batches_done = loader.batches_taken();
  ctx.pass_done();
  end_pass(pass, loader, start);
  return pass;
}

std::unique_ptr<TrainingMode> make_training_mode(const config::RunConfig& config,
                                                 const data::TrainingSet& set, const torch::Device& device,
                                                 data::Shard shard) {
  MAPD_CHECK(config.record.view == "online" || config.record.view == "eval", ConfigError,
             fmt::format("record.view: unknown view '{}' (expected online or eval)", config.record.view));
  check_data_parallel(config, shard.world_size);
  if (config.train.mode == "standard") return std::make_unique<StandardMode>(config, set, device, shard);
  if (config.train.mode == "label_correction") return make_label_correction_mode(config, set, device);
  if (config.train.mode == "prioritized") return make_prioritized_mode(config, set, device);
  throw ConfigError(
      fmt::format("train.mode: unknown mode '{}' (expected standard, label_correction or prioritized)",
                  config.train.mode));
}

std::vector<record::SignalSpec> recorded_signals(const config::RunConfig& config) {
  std::vector<record::SignalSpec> signals = per_example_signals();
  std::vector<record::SignalSpec> own;
  if (config.train.mode == "label_correction") own = label_correction_signals();
  if (config.train.mode == "prioritized") own = prioritized_signals();
  signals.insert(signals.end(), own.begin(), own.end());
  return signals;
}

std::vector<record::SignalSpec> per_example_signals() {
  return {record::SignalSpec{"margin", false}, record::SignalSpec{"el2n", false}};
}

std::string recorded_view(const config::RunConfig& config) {
  return config.train.mode == "prioritized" ? std::string(kCandidateView) : config.record.view;
}

data::LoaderOptions loader_options(const config::RunConfig& config, const data::TrainingSet& set,
                                   const torch::Device& device, bool training, int64_t seed,
                                   data::Shard shard) {
  data::LoaderOptions options;
  options.batch_size = training ? config.train.batch_size : 2 * config.train.batch_size;
  if (training && shard.world_size > 1) {
    check_data_parallel(config, shard.world_size);
    options.batch_size = config.train.batch_size / shard.world_size;
    options.sampler = std::make_shared<data::PermutationSampler>(set.size(), /*shuffle=*/true, seed, shard);
  }
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

}  // namespace mapd::train
