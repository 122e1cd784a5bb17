#pragma once

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "mapd/config/config.hpp"
#include "mapd/data/loader.hpp"
#include "mapd/record/trajectories.hpp"

/// Prioritized training (train.mode=prioritized; docs/prioritized.md): every step scores a
/// candidate batch in one no-grad pass and takes a gradient step on its best-scoring share. The
/// MAP-D score mixes P(clean), from a k-NN over each candidate's trajectory extended by its
/// current loss against clean and mislabeled probes scored in the same pass, with how far the
/// network is from its label (`../shared/METHOD.md` §F.1). Baselines in the same loop: uniform,
/// loss, not_learned and RHO-LOSS.
namespace mapd::train {

class TrainingMode;

/// dynamics.h5's view of a prioritized run: each row's loss from the no-grad pass that scored it
/// as a candidate (BatchNorm with the candidate batch's statistics, running statistics untouched,
/// augmented as trained), once per epoch.
inline constexpr const char* kCandidateView = "candidate";

/// What a prioritized run records per example and epoch beside the loss: `priority`, the
/// selector's score of the example when it was a candidate, and `selected`, 1 when the gradient
/// step trained on it, else 0.
std::vector<record::SignalSpec> prioritized_signals();

/// P(clean) of each query [Q, D]: the share of its k nearest references [R, D] (Euclidean) that
/// are clean (`clean` [R] bool), uniform votes, k clamped to R; ties in distance go to the lower
/// reference index. All on one device; returns [Q] float.
torch::Tensor knn_clean_probability(const torch::Tensor& queries, const torch::Tensor& references,
                                    const torch::Tensor& clean, int64_t k);

/// The MAP-D priority (P(clean) + (1 - p(given label))) / 2, elementwise.
torch::Tensor mapd_priority(const torch::Tensor& p_clean, const torch::Tensor& p_label);

/// Positions (ascending, [keep] int64 on the device of `scores`) of the `keep` candidates with the
/// highest `scores` [B] (ties to the earlier position). `class_balanced`: `keep / classes` slots
/// per class, the remainder to classes drawn from `seed`; the best-scoring candidates of each
/// class fill its slots, and slots a class cannot fill go to the best-scoring candidates left.
/// `labels` [B] int64 in [0, classes).
torch::Tensor select_candidates(const torch::Tensor& scores, const torch::Tensor& labels, int64_t keep,
                                bool class_balanced, int64_t classes, uint64_t seed);

/// RHO-LOSS's irreducible loss of every row of `set` [N] float on the CPU: the rows are split in
/// two seeded halves, a fresh model of config.model is trained on each for prioritized.rho_epochs
/// epochs (train::fit_and_score), and a row's irreducible loss is the cross-entropy of its label
/// under the model that did not see it (RHO-LOSS without a holdout set: Mindermann et al. 2022).
torch::Tensor irreducible_losses(const config::RunConfig& config, const data::TrainingSet& set);

/// The train.mode=prioritized training mode over `set` on `device`.
std::unique_ptr<TrainingMode> make_prioritized_mode(const config::RunConfig& config,
                                                    const data::TrainingSet& set,
                                                    const torch::Device& device);

}  // namespace mapd::train
