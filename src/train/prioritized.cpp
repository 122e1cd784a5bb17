#include "mapd/train/prioritized.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/rng.hpp"
#include "mapd/knn/classify.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/train/mode.hpp"
#include "mapd/train/trainer.hpp"

namespace mapd::train {
namespace {

using Clock = std::chrono::steady_clock;

/// Stream tags of the seeded draws (data::mix_seed purposes).
constexpr uint64_t kUniformDraw = 0x9f1e01;
constexpr uint64_t kBalanceDraw = 0x9f1e02;
constexpr uint64_t kRhoSplit = 0x9f1e03;
constexpr uint64_t kRhoModel = 0x9f1e04;

/// A fixed list of rows, in order, on one rank: what the probe pass loads.
class FixedRows final : public data::RowSampler {
 public:
  explicit FixedRows(std::vector<int64_t> rows) : rows_(std::move(rows)) {}
  [[nodiscard]] std::vector<int64_t> epoch_order(int64_t /*epoch*/) const override { return rows_; }
  [[nodiscard]] int64_t rows_per_epoch() const override { return static_cast<int64_t>(rows_.size()); }
  [[nodiscard]] data::Shard shard() const override { return {}; }

 private:
  std::vector<int64_t> rows_;
};

/// The rows of `set` in `rows` (ascending) as a training set of their own.
data::TrainingSet subset(const data::TrainingSet& set, const std::vector<int64_t>& rows) {
  data::TrainingSet out;
  out.base = set.base;
  out.augment_fixed = set.augment_fixed;
  std::vector<int64_t> fixed;
  for (const int64_t row : rows) {
    if (row < set.num_base()) {
      out.base_rows.push_back(set.base_rows[static_cast<size_t>(row)]);
    } else {
      fixed.push_back(row - set.num_base());
    }
    out.labels.push_back(set.labels[static_cast<size_t>(row)]);
  }
  if (!fixed.empty())
    out.fixed_images = set.fixed_images.index_select(0, torch::tensor(fixed, torch::kInt64));
  return out;
}

/// Seconds since `start`.
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// train.mode=prioritized: each epoch cuts a seeded permutation of the rows into candidate batches
/// of prioritized.candidates; per batch one no-grad pass in batch-statistics mode scores every
/// candidate (its loss is the row's recorded loss of the epoch: view "candidate"), the selector
/// ranks them, and one gradient step trains on the best prioritized.keep. For score=mapd the
/// clean and mislabeled probes are scored in the same mode every step, and each trajectory so far
/// (read back from dynamics.h5, as a resumed run reads it) is extended by the current loss.
class PrioritizedMode final : public TrainingMode {
 public:
  PrioritizedMode(const config::RunConfig& config, const data::TrainingSet& set, const torch::Device& device)
      : config_(config),
        options_(config.prioritized),
        set_(set),
        device_(device),
        classes_(data::class_count(set.labels, set.base != nullptr ? set.base->num_classes() : 0)),
        timed_(device.is_cpu()),
        loader_(set, candidate_options(config, set, device)) {}

  [[nodiscard]] std::string name() const override { return "prioritized"; }
  [[nodiscard]] std::string view() const override { return kCandidateView; }
  [[nodiscard]] int64_t steps_per_epoch() const override { return loader_.num_batches(); }

  void run_opened(const OpenEvent& event) override {
    loader_.exclude_rows(event.excluded);
    const auto& examples = event.store.examples();
    rows_ = examples.size();
    auto flipped = torch::zeros({rows_}, torch::kBool);
    auto training = torch::zeros({rows_}, torch::kBool);
    auto* flip = flipped.data_ptr<bool>();
    auto* train_row = training.data_ptr<bool>();
    const bool has_original = examples.original_label.size() == examples.label.size();
    for (int64_t i = 0; i < rows_; ++i) {
      const auto r = static_cast<size_t>(i);
      train_row[i] = examples.role[r] == static_cast<int8_t>(record::Role::kTrain);
      flip[i] = train_row[i] && has_original && examples.label[r] != examples.original_label[r];
      injected_noise_ = injected_noise_ || flip[i];
    }
    flipped_ = flipped.to(device_);
    training_ = training.to(device_);
    if (options_.score == "mapd") {
      choose_probes(event);
      history_ = torch::empty({rows_, event.start_epoch}, torch::kFloat32);
      if (event.start_epoch > 0)
        event.store.read_losses(0, rows_, 0, event.start_epoch, history_.data_ptr<float>());
      history_ = history_.to(device_);
    }
    if (options_.score == "rho") {
      const auto start = Clock::now();
      irreducible_ = irreducible_losses(config_, set_).to(device_);
      rho_seconds_ = seconds_since(start);
      log::get("train")->info(
          "prioritized (rho): irreducible losses of {} rows from two models of {} epochs in {:.1f} s", rows_,
          options_.rho_epochs, rho_seconds_);
    }
  }

  [[nodiscard]] bool continues_mid_epoch() const override { return true; }

  void save_epoch_progress(torch::serialize::OutputArchive& archive) const override {
    archive.write("priority", priority_row_.to(torch::kCPU), /*is_buffer=*/true);
    archive.write("selected", selected_row_.to(torch::kCPU), /*is_buffer=*/true);
    archive.write("selected_flipped", selected_flipped_.to(torch::kCPU), /*is_buffer=*/true);
    archive.write("selected_train", selected_train_.to(torch::kCPU), /*is_buffer=*/true);
    archive.write("counts", torch::tensor({steps_, trained_, candidates_}, torch::kInt64),
                  /*is_buffer=*/true);
    archive.write(
        "seconds",
        torch::tensor({seconds_.candidates, seconds_.probes, seconds_.knn, seconds_.select, seconds_.step},
                      torch::kFloat64),
        /*is_buffer=*/true);
  }

  void load_epoch_progress(torch::serialize::InputArchive& archive) override {
    const auto read = [&](const char* key) {
      torch::Tensor t;
      archive.read(key, t, /*is_buffer=*/true);
      return t;
    };
    priority_row_ = read("priority").to(device_);
    selected_row_ = read("selected").to(device_);
    selected_flipped_ = read("selected_flipped").to(device_);
    selected_train_ = read("selected_train").to(device_);
    const auto counts = read("counts");
    steps_ = counts[0].item<int64_t>();
    trained_ = counts[1].item<int64_t>();
    candidates_ = counts[2].item<int64_t>();
    const auto seconds = read("seconds");
    seconds_ = {seconds[0].item<double>(), seconds[1].item<double>(), seconds[2].item<double>(),
                seconds[3].item<double>(), seconds[4].item<double>()};
  }

  EpochPass run_epoch(const EpochContext& ctx) override {
    // A continued epoch goes on with the state load_epoch_progress restored.
    if (ctx.continued == nullptr) start_epoch_state();
    auto pass =
        run_training_pass(ctx, loader_, ctx.record, {},
                          [&](const data::Batch& batch, int64_t step, double lr, EpochTotals& totals) {
                            return this->step(ctx, batch, step, lr, totals);
                          });
    pending_unreadable_ = rows_of(pass.unreadable);
    return pass;
  }

  std::vector<record::SignalRow> signal_rows() override {
    const auto priority = priority_row_.to(torch::kCPU).contiguous();
    const auto selected = selected_row_.to(torch::kInt32).to(torch::kCPU).contiguous();
    std::vector<record::SignalRow> rows(2);
    rows[0].values.assign(priority.data_ptr<float>(), priority.data_ptr<float>() + priority.numel());
    rows[1].classes.assign(selected.data_ptr<int32_t>(), selected.data_ptr<int32_t>() + selected.numel());
    flipped_count_ = selected_flipped_.item<int64_t>();
    train_count_ = selected_train_.item<int64_t>();
    return rows;
  }

  void add_metrics(nlohmann::json& line) const override {
    nlohmann::json p{{"score", options_.score},   {"class_balanced", options_.class_balanced},
                     {"gradient_steps", steps_},  {"examples_trained", trained_},
                     {"candidates", candidates_}, {"selected_probes", trained_ - train_count_}};
    if (injected_noise_) {
      p["selected_flipped_share"] =
          train_count_ > 0 ? static_cast<double>(flipped_count_) / static_cast<double>(train_count_) : 0.0;
    }
    if (timed_) {
      p["seconds"] = {{"candidate_forward", seconds_.candidates},
                      {"probe_forward", seconds_.probes},
                      {"knn", seconds_.knn},
                      {"select", seconds_.select},
                      {"gradient_step", seconds_.step}};
    }
    if (options_.score == "rho") p["irreducible_loss_seconds"] = rho_seconds_;
    line["prioritized"] = std::move(p);
  }

  void epoch_committed(const CommitEvent& event) override {
    if (options_.score != "mapd") return;
    // The committed losses as the file holds them (fp16 or fp32): a resumed run reads the same.
    auto column = torch::empty({rows_, 1}, torch::kFloat32);
    event.store.read_losses(0, rows_, event.epoch, event.epoch + 1, column.data_ptr<float>());
    history_ = torch::cat({history_, column.to(device_)}, 1);
    if (!pending_unreadable_.empty()) {
      drop_probes(pending_unreadable_);
      pending_unreadable_.clear();
    }
  }

 private:
  struct Seconds {
    double candidates = 0.0, probes = 0.0, knn = 0.0, select = 0.0, step = 0.0;
  };

  static data::LoaderOptions candidate_options(const config::RunConfig& config, const data::TrainingSet& set,
                                               const torch::Device& device) {
    auto options = loader_options(config, set, device, /*training=*/true, config.train.seed);
    options.batch_size = config.prioritized.candidates;
    options.drop_last = false;  // every row is a candidate once per epoch
    return options;
  }

  /// The probes score=mapd compares with: up to probes_per_category of the clean and of the
  /// mislabeled category (fit half first), without rows left out of training; their images,
  /// loaded once (probes are not augmented unless probes.augment).
  void choose_probes(const OpenEvent& event) {
    const auto& examples = event.store.examples();
    const auto& names = event.store.meta().category_names;
    const int64_t clean = knn::category_index(names, options_.clean_category, "prioritized.clean_category");
    const int64_t mislabeled =
        knn::category_index(names, options_.mislabeled_category, "prioritized.mislabeled_category");
    const auto roles = knn::without_rows(knn::split_by_role(examples, "the trained set"), event.excluded);
    std::vector<int64_t> rows;
    for (const int64_t category : {clean, mislabeled}) {
      int64_t taken = 0;
      for (const auto* half : {&roles.fit, &roles.val}) {
        for (const int64_t row : *half) {
          if (taken == options_.probes_per_category) break;
          if (examples.probe_category[static_cast<size_t>(row)] != category) continue;
          rows.push_back(row);
          ++taken;
        }
      }
      MAPD_CHECK(
          taken > 0, ConfigError,
          fmt::format("prioritized.score=mapd: the run has no probe of category '{}' to compare with "
                      "(set prioritized.{}_category, or a probe suite that has it)",
                      names[static_cast<size_t>(category)], category == clean ? "clean" : "mislabeled"));
    }
    std::sort(rows.begin(), rows.end());
    auto options = loader_options(config_, set_, device_, /*training=*/false, config_.train.seed);
    options.sampler = std::make_shared<FixedRows>(rows);
    options.batch_size = static_cast<int64_t>(rows.size());
    options.workers = 0;
    data::Loader loader(set_, options);
    loader.start_epoch(0);
    auto batch = loader.next();
    MAPD_CHECK(batch.has_value(), DataError, "prioritized.score=mapd: no probe image could be read");
    probes_ = *batch;
    probes_.labels = probes_.labels.to(device_);
    probes_.indices = probes_.indices.to(device_);
    probe_clean_ = probes_.indices.to(torch::kCPU).clone();
    auto* clean_flag = probe_clean_.data_ptr<int64_t>();
    for (int64_t i = 0; i < probe_clean_.numel(); ++i) {
      clean_flag[i] = examples.probe_category[static_cast<size_t>(clean_flag[i])] == clean ? 1 : 0;
    }
    probe_clean_ = probe_clean_.to(torch::kBool).to(device_);
  }

  /// The state of a new epoch: no priority, nothing selected, no steps.
  void start_epoch_state() {
    const auto on = torch::TensorOptions().device(device_);
    priority_row_ = torch::full({rows_}, std::numeric_limits<float>::quiet_NaN(), on.dtype(torch::kFloat32));
    selected_row_ = torch::full({rows_}, -1, on.dtype(torch::kInt64));
    selected_flipped_ = torch::zeros({}, on.dtype(torch::kInt64));
    selected_train_ = torch::zeros({}, on.dtype(torch::kInt64));
    steps_ = 0;
    trained_ = 0;
    candidates_ = 0;
    seconds_ = {};
  }

  /// Leaves `rows` (unreadable from now on) out of the probes.
  void drop_probes(const std::vector<int64_t>& rows) {
    auto gone = torch::zeros({rows_}, torch::kBool);
    for (const int64_t row : rows) gone[row] = true;
    const auto keep = gone.to(device_).index_select(0, probes_.indices).logical_not().nonzero().squeeze(1);
    probes_.images = probes_.images.index_select(0, keep.to(probes_.images.device()));
    probes_.labels = probes_.labels.index_select(0, keep);
    probes_.indices = probes_.indices.index_select(0, keep);
    probe_clean_ = probe_clean_.index_select(0, keep);
  }

  /// The selector's priority of each candidate [B] float.
  torch::Tensor priority(const EpochContext& ctx, const Scores& candidates, int64_t step) {
    const auto& score = options_.score;
    const auto& loss = candidates.cross_entropy;
    if (score == "loss") return loss;
    if (score == "not_learned") return 1.0 - torch::exp(-loss);
    if (score == "rho") return loss - irreducible_.index_select(0, candidates.indices);
    if (score == "uniform") {
      const auto order = data::permutation(
          loss.size(0),
          data::mix_seed(data::mix_seed(static_cast<uint64_t>(config_.train.seed), kUniformDraw),
                         static_cast<uint64_t>(ctx.epoch), static_cast<uint64_t>(step)));
      return torch::tensor(order, torch::kInt64).to(torch::kFloat32).to(device_);
    }
    MAPD_ASSERT(score == "mapd", fmt::format("prioritized: unknown score '{}'", score));
    auto start = Clock::now();
    const auto probes = ctx.learner.score(probes_, ScoreMode::kBatch);
    if (timed_) seconds_.probes += seconds_since(start);
    start = Clock::now();
    const auto queries = torch::cat({history_.index_select(0, candidates.indices), loss.unsqueeze(1)}, 1);
    const auto references =
        torch::cat({history_.index_select(0, probes.indices), probes.cross_entropy.unsqueeze(1)}, 1);
    const auto p_clean = knn_clean_probability(queries, references, probe_clean_, config_.knn.k);
    auto out = mapd_priority(p_clean, torch::exp(-loss));
    if (timed_) seconds_.knn += seconds_since(start);
    return out;
  }

  StepOutcome step(const EpochContext& ctx, const data::Batch& batch, int64_t step, double lr,
                   EpochTotals& totals) {
    auto start = Clock::now();
    const auto candidates = ctx.learner.score(batch, ScoreMode::kBatch);
    if (ctx.record != nullptr)
      ctx.record->write(candidates.indices, candidates.cross_entropy, candidates.pred, candidates.logits,
                        candidates.labels);
    if (timed_) seconds_.candidates += seconds_since(start);
    const auto p = priority(ctx, candidates, step);
    start = Clock::now();
    const uint64_t seed =
        data::mix_seed(data::mix_seed(static_cast<uint64_t>(config_.train.seed), kBalanceDraw),
                       static_cast<uint64_t>(ctx.epoch), static_cast<uint64_t>(step));
    const auto keep =
        select_candidates(p, candidates.labels, options_.keep, options_.class_balanced, classes_, seed);
    data::Batch trained{batch.images.index_select(0, keep.to(batch.images.device())),
                        candidates.labels.index_select(0, keep), candidates.indices.index_select(0, keep)};
    if (timed_) seconds_.select += seconds_since(start);
    start = Clock::now();
    auto loss = ctx.learner.train_step(trained, lr, totals, nullptr);
    if (timed_) seconds_.step += seconds_since(start);
    {
      torch::NoGradGuard no_grad;
      priority_row_.index_copy_(0, candidates.indices, p.to(torch::kFloat32));
      selected_row_.index_fill_(0, candidates.indices, 0);
      selected_row_.index_fill_(0, trained.indices, 1);
      selected_flipped_.add_(flipped_.index_select(0, trained.indices).sum());
      selected_train_.add_(training_.index_select(0, trained.indices).sum());
    }
    ++steps_;
    trained_ += keep.size(0);
    candidates_ += candidates.indices.size(0);
    return StepOutcome{loss, trained};
  }

  config::RunConfig config_;
  config::PrioritizedConfig options_;
  const data::TrainingSet& set_;
  torch::Device device_;
  int64_t classes_;
  bool timed_;  ///< per-part timings (CPU only: on CUDA they would need a sync per part)
  data::Loader loader_;
  int64_t rows_ = 0;
  bool injected_noise_ = false;
  torch::Tensor flipped_, training_;  ///< [N] bool on the device
  data::Batch probes_;                ///< score=mapd: the probes' images, labels and rows
  torch::Tensor probe_clean_;         ///< [P] bool: the probe is of the clean category
  torch::Tensor history_;             ///< score=mapd: [N, committed epochs] recorded losses
  torch::Tensor irreducible_;         ///< score=rho: [N] irreducible loss
  double rho_seconds_ = 0.0;
  std::vector<int64_t> pending_unreadable_;
  // The epoch in progress.
  torch::Tensor priority_row_, selected_row_, selected_flipped_, selected_train_;
  int64_t steps_ = 0, trained_ = 0, candidates_ = 0, flipped_count_ = 0, train_count_ = 0;
  Seconds seconds_;
};

}  // namespace

std::vector<record::SignalSpec> prioritized_signals() {
  return {record::SignalSpec{"priority", false}, record::SignalSpec{"selected", true}};
}

torch::Tensor knn_clean_probability(const torch::Tensor& queries, const torch::Tensor& references,
                                    const torch::Tensor& clean, int64_t k) {
  MAPD_ASSERT(queries.dim() == 2 && references.dim() == 2 && queries.size(1) == references.size(1),
              "knn_clean_probability: queries and references must be [Q, D] and [R, D]");
  MAPD_ASSERT(references.size(0) > 0 && clean.size(0) == references.size(0),
              "knn_clean_probability: needs references, one clean flag each");
  torch::NoGradGuard no_grad;
  k = std::min(k, references.size(0));
  // Exact pairwise distances (no matrix-product shortcut), so equal trajectories tie exactly.
  const auto distance = torch::cdist(queries.to(torch::kFloat32).unsqueeze(0),
                                     references.to(torch::kFloat32).unsqueeze(0), 2.0, /*compute_mode=*/2)
                            .squeeze(0);
  // The k nearest without sorting every row: all references closer than the k-th distance, then
  // the references at exactly that distance in index order until there are k. Which of several
  // tied references count is thereby fixed on every machine (a top-k alone leaves it open).
  const auto kth =
      std::get<0>(distance.topk(k, /*dim=*/1, /*largest=*/false, /*sorted=*/true)).slice(1, k - 1, k);
  const auto closer = distance < kth;
  const auto tied = distance == kth;
  const auto room = k - closer.sum(1, /*keepdim=*/true);
  const auto nearest = closer.logical_or(tied.logical_and(tied.cumsum(1) <= room));
  return nearest.to(torch::kFloat32).mul(clean.to(torch::kFloat32)).sum(1).div(static_cast<double>(k));
}

torch::Tensor mapd_priority(const torch::Tensor& p_clean, const torch::Tensor& p_label) {
  return (p_clean + (1.0 - p_label)) / 2.0;
}

torch::Tensor select_candidates(const torch::Tensor& scores, const torch::Tensor& labels, int64_t keep,
                                bool class_balanced, int64_t classes, uint64_t seed) {
  const int64_t b = scores.size(0);
  MAPD_ASSERT(keep >= 1 && labels.size(0) == b, "select_candidates: keep >= 1 and one label per score");
  const auto device = scores.device();
  if (keep >= b) return torch::arange(b, torch::TensorOptions().dtype(torch::kInt64).device(device));
  if (!class_balanced) {
    const auto order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
    return std::get<0>(order.slice(0, 0, keep).sort());
  }
  MAPD_ASSERT(classes >= 1, "select_candidates: class_balanced needs classes >= 1");
  const auto s = scores.to(torch::kFloat32).to(torch::kCPU).contiguous();
  const auto l = labels.to(torch::kInt64).to(torch::kCPU).contiguous();
  const auto* score = s.data_ptr<float>();
  const auto* label = l.data_ptr<int64_t>();
  // NaN ranks last (a strict weak order for the sort).
  auto key = [&](int64_t i) {
    return std::isnan(score[i]) ? -std::numeric_limits<float>::infinity() : score[i];
  };
  std::vector<int64_t> order(static_cast<size_t>(b));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return key(x) > key(y); });
  std::vector<int64_t> slots(static_cast<size_t>(classes), keep / classes);
  const auto extra = data::permutation(classes, seed);
  for (int64_t j = 0; j < keep % classes; ++j) ++slots[static_cast<size_t>(extra[static_cast<size_t>(j)])];
  std::vector<bool> taken(static_cast<size_t>(b), false);
  std::vector<int64_t> chosen;
  for (const int64_t i : order) {
    const int64_t c = label[i];
    if (c < 0 || c >= classes || slots[static_cast<size_t>(c)] == 0) continue;
    --slots[static_cast<size_t>(c)];
    taken[static_cast<size_t>(i)] = true;
    chosen.push_back(i);
  }
  for (const int64_t i : order) {
    if (static_cast<int64_t>(chosen.size()) == keep) break;
    if (taken[static_cast<size_t>(i)]) continue;
    chosen.push_back(i);
  }
  chosen.resize(static_cast<size_t>(keep));
  std::sort(chosen.begin(), chosen.end());
  return torch::tensor(chosen, torch::kInt64).to(device);
}

torch::Tensor irreducible_losses(const config::RunConfig& config, const data::TrainingSet& set) {
  const int64_t n = set.size();
  MAPD_CHECK(n >= 2, DataError, "prioritized.score=rho: needs at least 2 examples to split in halves");
  const auto seed = static_cast<uint64_t>(config.train.seed);
  const auto order = data::permutation(n, data::mix_seed(seed, kRhoSplit));
  std::vector<int64_t> half_a(order.begin(), order.begin() + n / 2);
  std::vector<int64_t> half_b(order.begin() + n / 2, order.end());
  std::sort(half_a.begin(), half_a.end());
  std::sort(half_b.begin(), half_b.end());
  const auto a = subset(set, half_a);
  const auto b = subset(set, half_b);
  const int64_t epochs = config.prioritized.rho_epochs;
  auto out = torch::empty({n}, torch::kFloat32);
  auto fill = [&](const data::TrainingSet& fit, const data::TrainingSet& held_out,
                  const std::vector<int64_t>& rows, uint64_t part) {
    const auto p =
        fit_and_score(config, fit, held_out, epochs,
                      static_cast<int64_t>(data::mix_seed(seed, kRhoModel, part) >> 1))[epochs - 1];
    // The cross-entropy of the label from its probability; a probability that underflowed to 0
    // (an image that could not be read counts as never learned) is capped at -log(1e-12).
    const auto loss = -torch::log(p.clamp_min(1e-12F));
    out.index_copy_(0, torch::tensor(rows, torch::kInt64), loss);
  };
  fill(b, a, half_a, 0);
  fill(a, b, half_b, 1);
  return out;
}

std::unique_ptr<TrainingMode> make_prioritized_mode(const config::RunConfig& config,
                                                    const data::TrainingSet& set,
                                                    const torch::Device& device) {
  return std::make_unique<PrioritizedMode>(config, set, device);
}

}  // namespace mapd::train
