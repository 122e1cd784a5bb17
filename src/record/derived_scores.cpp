#include "mapd/record/derived_scores.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "mapd/core/error.hpp"
#include "mapd/record/dynamics_store.hpp"

namespace mapd::record {

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

bool records_values(const DynamicsStore& store, const std::string& name) {
  const auto& signals = store.meta().signals;
  return std::any_of(signals.begin(), signals.end(),
                     [&](const SignalSpec& s) { return s.name == name && !s.classes; });
}

/// Mean over the finite values of `values[0, count)`; NaN when there is none.
float finite_mean(const float* values, int64_t count) {
  double sum = 0.0;
  int64_t n = 0;
  for (int64_t e = 0; e < count; ++e) {
    if (std::isfinite(values[e])) {
      sum += values[e];
      ++n;
    }
  }
  return n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : kNaN;
}

}  // namespace

DerivedScores derive_scores(const DynamicsStore& store, const DerivedOptions& options) {
  MAPD_ASSERT(
      options.block > 0 && options.early_epochs >= 0,
      fmt::format("derive_scores: block {} and early_epochs {}", options.block, options.early_epochs));
  DerivedScores out;
  const int64_t committed = store.complete_epochs();
  MAPD_CHECK(
      committed > 0, DataError,
      fmt::format("{} has no committed epoch yet: there is nothing to derive scores from", store.describe()));
  const int64_t e0 = options.epoch_begin;
  const int64_t e1 = options.epoch_end < 0 ? committed : options.epoch_end;
  MAPD_CHECK(e0 >= 0 && e0 < e1 && e1 <= committed, IoError,
             fmt::format("derived scores over epochs [{}, {}) but {} has {} committed epochs", e0, e1,
                         store.describe(), committed));
  const int64_t epochs = e1 - e0;
  out.epoch_begin = e0;
  out.epochs = epochs;
  out.early_epochs =
      options.early_epochs > 0 ? std::min(options.early_epochs, epochs) : std::max<int64_t>(1, epochs / 5);
  out.has_margin = records_values(store, "margin");
  out.has_el2n = records_values(store, "el2n");

  const auto& ex = store.examples();
  for (int64_t i = 0; i < ex.size(); ++i) {
    if (ex.role[static_cast<size_t>(i)] == static_cast<int8_t>(Role::kTrain)) out.column.push_back(i);
  }
  const auto n = static_cast<size_t>(out.size());
  out.forgetting.assign(n, 0);
  out.first_correct.assign(n, -1);
  out.last_pred.assign(n, -1);
  for (auto* v : {&out.aum, &out.el2n, &out.confidence, &out.variability, &out.correctness, &out.mean_loss})
    v->assign(n, kNaN);

  // Training rows are contiguous runs of columns in practice (probes follow them); read the
  // column range [first, last] of each block of entries and skip the probe columns inside it.
  std::vector<float> loss, prob, margin, el2n;
  std::vector<int32_t> pred;
  for (size_t start = 0; start < n; start += static_cast<size_t>(options.block)) {
    const size_t stop = std::min(n, start + static_cast<size_t>(options.block));
    const int64_t begin = out.column[start];
    const int64_t end = out.column[stop - 1] + 1;
    const auto cells = static_cast<size_t>((end - begin) * epochs);
    loss.resize(cells);
    prob.resize(cells);
    pred.resize(cells);
    store.read_losses(begin, end, e0, e1, loss.data());
    store.read_true_probs(begin, end, e0, e1, prob.data());
    store.read_preds(begin, end, e0, e1, pred.data());
    if (out.has_margin) {
      margin.resize(cells);
      store.read_signal_values("margin", begin, end, e0, e1, margin.data());
    }
    if (out.has_el2n) {
      el2n.resize(cells);
      store.read_signal_values("el2n", begin, end, e0, e1, el2n.data());
    }
    for (size_t k = start; k < stop; ++k) {
      const auto offset = static_cast<size_t>((out.column[k] - begin) * epochs);
      const int64_t label = ex.label[static_cast<size_t>(out.column[k])];
      const float* l = loss.data() + offset;
      const float* p = prob.data() + offset;
      const int32_t* c = pred.data() + offset;
      int64_t recorded = 0;
      int64_t correct = 0;
      double sum_p = 0.0;
      double sum_loss = 0.0;
      int previous = -1;  // -1: no recorded epoch yet; 0 wrong; 1 right
      for (int64_t e = 0; e < epochs; ++e) {
        if (c[e] < 0 || !std::isfinite(l[e])) continue;  // not recorded in this epoch
        const int now = c[e] == label ? 1 : 0;
        if (previous == 1 && now == 0) ++out.forgetting[k];
        if (now == 1 && out.first_correct[k] < 0) out.first_correct[k] = static_cast<int32_t>(e0 + e);
        previous = now;
        out.last_pred[k] = c[e];
        ++recorded;
        correct += now;
        sum_p += p[e];
        sum_loss += l[e];
      }
      if (recorded == 0) continue;
      const auto r = static_cast<double>(recorded);
      const double mean_p = sum_p / r;
      double squares = 0.0;  // second pass: no cancellation when p hardly moves
      for (int64_t e = 0; e < epochs; ++e) {
        if (c[e] >= 0 && std::isfinite(l[e])) squares += (p[e] - mean_p) * (p[e] - mean_p);
      }
      out.confidence[k] = static_cast<float>(mean_p);
      out.variability[k] = static_cast<float>(std::sqrt(squares / r));
      out.correctness[k] = static_cast<float>(static_cast<double>(correct) / r);
      out.mean_loss[k] = static_cast<float>(sum_loss / r);
      if (out.has_margin) out.aum[k] = finite_mean(margin.data() + offset, epochs);
      if (out.has_el2n) out.el2n[k] = finite_mean(el2n.data() + offset, out.early_epochs);
    }
  }
  return out;
}

}  // namespace mapd::record
