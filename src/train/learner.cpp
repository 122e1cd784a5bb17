#include "mapd/train/learner.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "mapd/core/error.hpp"
#include "mapd/train/data_parallel.hpp"

namespace mapd::train {

namespace F = torch::nn::functional;

EpochRecord::EpochRecord(int64_t num_examples, const torch::Device& device)
    : loss_(torch::empty({num_examples}, torch::TensorOptions().dtype(torch::kFloat32).device(device))),
      pred_(torch::empty({num_examples}, torch::TensorOptions().dtype(torch::kInt32).device(device))),
      margin_(torch::empty_like(loss_)),
      el2n_(torch::empty_like(loss_)) {
  reset();
}

void EpochRecord::reset() {
  loss_.fill_(std::numeric_limits<float>::quiet_NaN());
  pred_.fill_(-1);
  margin_.fill_(std::numeric_limits<float>::quiet_NaN());
  el2n_.fill_(std::numeric_limits<float>::quiet_NaN());
  rows_written_ = 0;
}

void EpochRecord::write(const torch::Tensor& indices, const torch::Tensor& loss, const torch::Tensor& pred,
                        const torch::Tensor& logits, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  const auto label_column = labels.unsqueeze(1);
  const auto given = logits.gather(1, label_column).squeeze(1);
  const auto others = logits.scatter(1, label_column, -std::numeric_limits<float>::infinity());
  auto margin = (given - others.amax(1)).clamp(-kMarginLimit, kMarginLimit);
  // One class: no other logit, so no margin (-inf clamps to the limit; say "undefined" instead).
  if (logits.size(1) < 2) margin.fill_(std::numeric_limits<float>::quiet_NaN());
  auto error = torch::softmax(logits, 1).scatter_add(1, label_column, -torch::ones_like(given).unsqueeze(1));
  loss_.index_copy_(0, indices, loss);
  pred_.index_copy_(0, indices, pred.to(torch::kInt32));
  margin_.index_copy_(0, indices, margin);
  el2n_.index_copy_(0, indices, error.norm(2, 1));
  rows_written_ += indices.size(0);
}

EpochRecord::Host EpochRecord::to_host() const {
  Host host;
  const auto n = static_cast<size_t>(loss_.size(0));
  auto loss = loss_.to(torch::kCPU).contiguous();
  auto true_prob = torch::exp(-loss).contiguous();
  auto pred = pred_.to(torch::kCPU).contiguous();
  auto margin = margin_.to(torch::kCPU).contiguous();
  auto el2n = el2n_.to(torch::kCPU).contiguous();
  host.loss.assign(loss.data_ptr<float>(), loss.data_ptr<float>() + n);
  host.true_prob.assign(true_prob.data_ptr<float>(), true_prob.data_ptr<float>() + n);
  host.pred.assign(pred.data_ptr<int32_t>(), pred.data_ptr<int32_t>() + n);
  host.margin.assign(margin.data_ptr<float>(), margin.data_ptr<float>() + n);
  host.el2n.assign(el2n.data_ptr<float>(), el2n.data_ptr<float>() + n);
  return host;
}

void EpochRecord::save(torch::serialize::OutputArchive& archive) const {
  archive.write("loss", loss_.to(torch::kCPU), /*is_buffer=*/true);
  archive.write("pred", pred_.to(torch::kCPU), /*is_buffer=*/true);
  archive.write("margin", margin_.to(torch::kCPU), /*is_buffer=*/true);
  archive.write("el2n", el2n_.to(torch::kCPU), /*is_buffer=*/true);
  archive.write("rows_written", c10::IValue(rows_written_));
}

void EpochRecord::load(torch::serialize::InputArchive& archive) {
  const auto restore = [&](const char* name, torch::Tensor& buffer) {
    torch::Tensor saved;
    archive.read(name, saved, /*is_buffer=*/true);
    MAPD_CHECK(saved.sizes() == buffer.sizes() && saved.scalar_type() == buffer.scalar_type(), IoError,
               fmt::format("the saved epoch record's '{}' has {} rows, the trained set {}", name,
                           saved.dim() == 1 ? saved.size(0) : -1, buffer.size(0)));
    buffer.copy_(saved);
  };
  restore("loss", loss_);
  restore("pred", pred_);
  restore("margin", margin_);
  restore("el2n", el2n_);
  c10::IValue value;
  archive.read("rows_written", value);
  rows_written_ = value.toInt();
}

EpochTotals EpochTotals::zeros(const torch::Device& device) {
  EpochTotals totals;
  totals.loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
  totals.correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  return totals;
}

double EpochTotals::mean_loss() const {
  return count > 0 ? loss_sum.item<double>() / static_cast<double>(count) : 0.0;
}

double EpochTotals::accuracy() const {
  return count > 0 ? static_cast<double>(correct.item<int64_t>()) / static_cast<double>(count) : 0.0;
}

namespace {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const config::OptimizerConfig& config,
                                                        const std::vector<torch::Tensor>& parameters) {
  if (config.name == "sgd") {
    return std::make_unique<torch::optim::SGD>(parameters, torch::optim::SGDOptions(config.lr)
                                                               .momentum(config.momentum)
                                                               .nesterov(config.nesterov)
                                                               .weight_decay(config.weight_decay));
  }
  if (config.name == "adamw") {
    return std::make_unique<torch::optim::AdamW>(parameters, torch::optim::AdamWOptions(config.lr)
                                                                 .betas({config.beta1, config.beta2})
                                                                 .eps(config.eps)
                                                                 .weight_decay(config.weight_decay));
  }
  throw ConfigError(
      fmt::format("optimizer.name: unknown optimizer '{}' (expected sgd or adamw)", config.name));
}

}  // namespace

Learner::Learner(const config::RunConfig& config, int64_t in_channels, int64_t num_classes,
                 const torch::Device& device)
    : device_(device),
      amp_(parse_amp_mode(config.train.amp)),
      channels_last_(config.train.channels_last && device.is_cuda()),
      model_(models::make_model(config.model, in_channels, num_classes)),
      scaler_(device.is_cuda() && amp_ == AmpMode::kFp16),
      objective_(std::make_shared<CrossEntropyObjective>()),
      sync_(std::make_shared<LocalGradientSync>()) {
  model_->to(device_);
  if (channels_last_) {
    torch::NoGradGuard no_grad;
    for (auto& p : model_->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  parameters_ = model_->parameters();
  optimizer_ = make_optimizer(config.optimizer, parameters_);
}

torch::Tensor Learner::prepare(const torch::Tensor& images) const {
  auto x = images.device() == device_ ? images : images.to(device_, /*non_blocking=*/true);
  if (x.scalar_type() != torch::kFloat32) x = x.to(torch::kFloat32);
  return channels_last_ ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

torch::Tensor Learner::forward(const torch::Tensor& images) {
  AutocastGuard autocast(device_, amp_);
  return model_->forward(images);
}

torch::Tensor Learner::train_step(const data::Batch& batch, double lr, EpochTotals& totals,
                                  EpochRecord* record) {
  model_->train();
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
  auto labels = batch.labels.to(device_, /*non_blocking=*/true);
  auto indices = batch.indices.to(device_, /*non_blocking=*/true);
  auto images = prepare(batch.images);
  std::optional<Scores> reference;
  if (const auto mode = objective_->reference_pass()) {
    torch::NoGradGuard no_grad;
    if (*mode == ScoreMode::kEval) model_->eval();
    reference = forward_scores(images, labels, indices);
    model_->train();
  }
  const Scores* ref = reference ? &*reference : nullptr;
  auto logits = forward(objective_->inputs(images, labels, indices, ref));
  if (logits.scalar_type() != torch::kFloat32) logits = logits.to(torch::kFloat32);
  auto per_example = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  auto loss = objective_->loss(ObjectiveInput{logits, labels, indices, per_example, ref});

  for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();  // set_to_none, as in PyTorch 2.x
  scaler_.scale_loss(loss).backward();
  const bool finite = sync_->synchronize(parameters_, scaler_.unscale_and_check(parameters_), labels.size(0));
  if (finite) optimizer_->step();
  scaler_.update(finite);

  torch::NoGradGuard no_grad;
  auto per = ref != nullptr ? ref->cross_entropy : per_example.detach();
  auto recorded_logits = ref != nullptr ? ref->logits : logits.detach();
  auto pred = recorded_logits.argmax(1);
  totals.loss_sum.add_(per.sum());
  totals.correct.add_(pred.eq(labels).sum());
  totals.count += labels.size(0);
  if (record != nullptr) record->write(indices, per, pred, recorded_logits, labels);
  return loss.detach();
}

void Learner::idle_step(double lr) {
  MAPD_ASSERT(parallel_ != nullptr, "Learner::idle_step outside a data-parallel job");
  model_->train();
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
  for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();
  const bool finite = sync_->synchronize(parameters_, true, 0);
  if (finite) optimizer_->step();
  scaler_.update(finite);
}

Scores Learner::forward_scores(const torch::Tensor& images, torch::Tensor labels, torch::Tensor indices) {
  Scores out;
  out.labels = std::move(labels);
  out.indices = std::move(indices);
  auto logits = forward(images).to(torch::kFloat32);
  out.cross_entropy =
      F::cross_entropy(logits, out.labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  out.pred = logits.argmax(1);
  out.logits = std::move(logits);
  return out;
}

Scores Learner::score(const data::Batch& batch, ScoreMode mode) {
  torch::NoGradGuard no_grad;
  if (mode == ScoreMode::kEval) model_->eval();
  // kBatch: a train-mode forward moves the BatchNorm running statistics (and counters); put them back.
  std::vector<torch::Tensor> kept;
  if (mode == ScoreMode::kBatch) {
    for (const auto& buffer : model_->buffers()) kept.push_back(buffer.clone());
  }
  auto out = forward_scores(prepare(batch.images), batch.labels.to(device_, /*non_blocking=*/true),
                            batch.indices.to(device_, /*non_blocking=*/true));
  if (mode == ScoreMode::kBatch) {
    size_t i = 0;
    for (auto& buffer : model_->buffers()) buffer.copy_(kept[i++]);
  }
  model_->train();
  return out;
}

EpochTotals Learner::evaluate(data::Loader& loader, int64_t epoch, EpochRecord* record,
                              const std::function<bool()>& should_stop) {
  torch::NoGradGuard no_grad;
  model_->eval();  // once per pass, not per batch
  auto totals = EpochTotals::zeros(device_);
  loader.start_epoch(epoch);
  while (auto batch = loader.next()) {
    const auto s = forward_scores(prepare(batch->images), batch->labels.to(device_, /*non_blocking=*/true),
                                  batch->indices.to(device_, /*non_blocking=*/true));
    totals.loss_sum.add_(s.cross_entropy.sum());
    totals.correct.add_(s.pred.eq(s.labels).sum());
    totals.count += s.labels.size(0);
    if (record != nullptr) record->write(s.indices, s.cross_entropy, s.pred, s.logits, s.labels);
    if (should_stop && should_stop()) break;
  }
  model_->train();
  return totals;
}

void Learner::set_objective(std::shared_ptr<Objective> objective) {
  MAPD_ASSERT(objective != nullptr, "Learner::set_objective: null objective");
  objective_ = std::move(objective);
}

void Learner::set_gradient_sync(std::shared_ptr<GradientSync> sync) {
  MAPD_ASSERT(sync != nullptr, "Learner::set_gradient_sync: null sync");
  sync_ = std::move(sync);
}

void Learner::set_data_parallel(std::shared_ptr<DataParallel> parallel) {
  MAPD_ASSERT(parallel != nullptr, "Learner::set_data_parallel: null job");
  sync_ = parallel;
  parallel_ = std::move(parallel);
}

int64_t input_channels(const config::RunConfig& config, const data::TrainingSet& set) {
  if (config.data.channels > 0) return config.data.channels;
  if (set.base != nullptr && set.base->channels > 0) return set.base->channels;
  MAPD_ASSERT(set.fixed_images.defined() && set.fixed_images.dim() == 4,
              "training set has neither a base dataset nor fixed images: nothing to train on");
  return set.fixed_images.size(1);
}

}  // namespace mapd::train
