// The steps from trajectories to P(category), over any TrajectorySource (docs/architecture.md).
#include "mapd/knn/classify.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>

#include "mapd/config/loader.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"

namespace mapd::knn {

using record::Role;

int64_t find_category(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int64_t>(it - names.begin());
}

int64_t category_index(const std::vector<std::string>& names, const std::string& name,
                       const std::string& what) {
  const int64_t c = find_category(names, name);
  if (c >= 0) {
    return c;
  }
  std::string message = fmt::format("{}: no probe category '{}'", what, name);
  const std::string near = config::closest_match(name, names);
  if (!near.empty()) {
    message += fmt::format("; did you mean '{}'?", near);
  }
  message += names.empty() ? " The run has no probe categories."
                           : fmt::format(" The run's categories: {}.", fmt::join(names, ", "));
  throw ConfigError(message);
}

RowRoles split_by_role(const record::ExampleColumns& examples, const std::string& where) {
  RowRoles roles;
  for (int64_t r = 0; r < examples.size(); ++r) {
    const auto i = static_cast<size_t>(r);
    switch (static_cast<Role>(examples.role[i])) {
      case Role::kProbeFit:
        roles.fit.push_back(r);
        break;
      case Role::kProbeVal:
        roles.val.push_back(r);
        break;
      case Role::kTrain:
        roles.train.push_back(r);
        roles.injected_noise = roles.injected_noise || examples.label[i] != examples.original_label[i];
        break;
      default:
        throw DataError(fmt::format("{} row {} (id {}): unknown role {} (0 train, 1 probe_fit, 2 probe_val)",
                                    where, r, examples.id_text(r), static_cast<int>(examples.role[i])));
    }
  }
  return roles;
}

EpochRange epoch_range(const record::TrajectorySource& source, const config::KnnConfig& options) {
  const int64_t committed = source.complete_epochs();
  const std::string where = source.describe();
  EpochRange range{options.epoch_begin, options.epoch_end == 0 ? committed : options.epoch_end};
  MAPD_CHECK(committed > 0, DataError,
             fmt::format("{} has no committed epoch yet (/epochs/complete = 0); assign after the first epoch",
                         where));
  MAPD_CHECK(range.end <= committed, DataError,
             fmt::format("knn.epoch_end = {} but {} has only {} committed epochs; use --set knn.epoch_end=N "
                         "with N <= {} (0 = all committed epochs)",
                         range.end, where, committed, committed));
  MAPD_CHECK(range.begin < range.end, DataError,
             fmt::format("knn.epoch_begin = {} leaves no epoch: {} has {} committed epochs (range [{}, {}))",
                         range.begin, where, committed, range.begin, range.end));
  return range;
}

std::vector<float> read_loss_rows(const record::TrajectorySource& source, const std::vector<int64_t>& rows,
                                  EpochRange range) {
  const auto t = static_cast<size_t>(range.size());
  std::vector<float> out(rows.size() * t);
  size_t i = 0;
  while (i < rows.size()) {
    size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) {
      ++j;
    }
    source.read_losses(rows[i], rows[j - 1] + 1, range.begin, range.end, out.data() + i * t);
    i = j;
  }
  return out;
}

bool records_signal(const record::TrajectorySource& source, const std::string& name) {
  const auto& signals = source.meta().signals;
  return std::any_of(signals.begin(), signals.end(),
                     [&](const record::SignalSpec& s) { return s.name == name && !s.classes; });
}

Features features_of(const record::TrajectorySource& source, std::string* signals) {
  Features out;
  std::vector<std::string> missing;
  std::string used = "loss";
  size_t at = signals->find('+');
  while (at != std::string::npos) {
    const size_t next = signals->find('+', at + 1);
    std::string name = signals->substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    at = next;
    if (!records_signal(source, name)) {
      missing.push_back(name);
      continue;
    }
    used += "+" + name;
    out.extra.emplace_back([&source, name](int64_t begin, int64_t end, EpochRange range, float* values) {
      source.read_signal_values(name, begin, end, range.begin, range.end, values);
    });
    out.names.push_back(std::move(name));
  }
  if (!missing.empty()) {
    log::get("knn")->info("knn.signals = {}: {} records no {}; the k-NN compares {}", *signals,
                          source.describe(), fmt::join(missing, ", "), used);
  }
  *signals = used;
  return out;
}

std::vector<float> read_feature_rows(const record::TrajectorySource& source, const std::vector<int64_t>& rows,
                                     EpochRange range, const Features& features) {
  if (features.extra.empty()) {
    return read_loss_rows(source, rows, range);
  }
  const auto t = static_cast<size_t>(range.size());
  const auto width = static_cast<size_t>(features.width(range));
  std::vector<float> out(rows.size() * width);
  std::vector<float> part;
  size_t i = 0;
  while (i < rows.size()) {
    size_t j = i + 1;
    while (j < rows.size() && rows[j] == rows[j - 1] + 1) {
      ++j;
    }
    part.resize((j - i) * t);
    for (size_t s = 0; s <= features.extra.size(); ++s) {
      if (s == 0) {
        source.read_losses(rows[i], rows[j - 1] + 1, range.begin, range.end, part.data());
      } else {
        features.extra[s - 1](rows[i], rows[j - 1] + 1, range, part.data());
      }
      for (size_t r = i; r < j; ++r) {
        std::copy_n(part.data() + (r - i) * t, t, out.data() + r * width + s * t);
      }
    }
    i = j;
  }
  return out;
}

FitSet make_fit_set(const record::TrajectorySource& source, const std::vector<int64_t>& fit_rows,
                    EpochRange range, const std::vector<int64_t>& categories, const Features& features) {
  const auto& ex = source.examples();
  const auto all = static_cast<int64_t>(source.meta().category_names.size());
  // Category index in the file -> index in the fit set (-1: left out).
  std::vector<int64_t> renumber(static_cast<size_t>(all), -1);
  if (categories.empty()) {
    for (int64_t c = 0; c < all; ++c) {
      renumber[static_cast<size_t>(c)] = c;
    }
  } else {
    for (size_t i = 0; i < categories.size(); ++i) {
      MAPD_ASSERT(categories[i] >= 0 && categories[i] < all, "make_fit_set: category index out of range");
      renumber[static_cast<size_t>(categories[i])] = static_cast<int64_t>(i);
    }
  }
  std::vector<int64_t> kept;
  FitSet fit;
  fit.dim = features.width(range);
  fit.num_categories = categories.empty() ? all : static_cast<int64_t>(categories.size());
  for (const int64_t r : fit_rows) {
    const int16_t c = ex.probe_category[static_cast<size_t>(r)];
    MAPD_CHECK(c >= 0 && c < all, DataError,
               fmt::format("{} row {} (id {}): probe_fit row with category {} outside [0, {})",
                           source.describe(), r, ex.id_text(r), c, all));
    const int64_t to = renumber[static_cast<size_t>(c)];
    if (to >= 0) {
      kept.push_back(r);
      fit.category.push_back(static_cast<int32_t>(to));
    }
  }
  MAPD_CHECK(!kept.empty(), DataError,
             fmt::format("{} has no fit-half probes{}", source.describe(),
                         categories.empty() ? std::string() : " in the categories asked for"));
  fit.x = read_feature_rows(source, kept, range, features);
  return fit;
}

PercentileRanking PercentileRanking::of_rows(const record::TrajectorySource& source,
                                             const std::vector<int64_t>& rows, EpochRange range,
                                             int64_t block_rows, int64_t max_sample) {
  MAPD_ASSERT(block_rows > 0 && max_sample > 0,
              "PercentileRanking::of_rows: non-positive block or sample size");
  const auto n = static_cast<int64_t>(rows.size());
  const int64_t stride = std::max<int64_t>(1, (n + max_sample - 1) / max_sample);
  const int64_t dim = range.size();
  PercentileRanking ranking;
  ranking.sorted_.reserve(static_cast<size_t>(n / stride + 1));
  std::vector<int64_t> block;
  for (int64_t begin = 0; begin < n; begin += block_rows * stride) {
    block.clear();
    for (int64_t i = begin; i < std::min(n, begin + block_rows * stride); i += stride) {
      block.push_back(rows[static_cast<size_t>(i)]);
    }
    const auto x = read_loss_rows(source, block, range);
    for (size_t i = 0; i < block.size(); ++i) {
      double sum = 0.0;
      for (int64_t t = 0; t < dim; ++t) {
        sum += x[i * static_cast<size_t>(dim) + static_cast<size_t>(t)];
      }
      ranking.sorted_.push_back(static_cast<float>(sum / static_cast<double>(dim)));
    }
  }
  std::sort(ranking.sorted_.begin(), ranking.sorted_.end());
  return ranking;
}

PercentileRanking PercentileRanking::of_values(const ColumnValues& values, const std::vector<int64_t>& rows,
                                               int64_t block_rows, int64_t max_sample) {
  MAPD_ASSERT(block_rows > 0 && max_sample > 0,
              "PercentileRanking::of_values: non-positive block or sample size");
  const auto n = static_cast<int64_t>(rows.size());
  const int64_t stride = std::max<int64_t>(1, (n + max_sample - 1) / max_sample);
  PercentileRanking ranking;
  ranking.sorted_.reserve(static_cast<size_t>(n / stride + 1));
  std::vector<float> buffer;
  // Sampled rows in column order, read a column block at a time.
  for (int64_t i = 0; i < n;) {
    const int64_t begin = rows[static_cast<size_t>(i)];
    const int64_t end = begin + block_rows;
    buffer.resize(static_cast<size_t>(block_rows));
    int64_t last = begin;
    for (int64_t j = i; j < n && rows[static_cast<size_t>(j)] < end; j += stride)
      last = rows[static_cast<size_t>(j)];
    values(begin, last + 1, buffer.data());
    for (; i < n && rows[static_cast<size_t>(i)] <= last; i += stride) {
      const float value = buffer[static_cast<size_t>(rows[static_cast<size_t>(i)] - begin)];
      if (std::isfinite(value)) ranking.sorted_.push_back(value);  // NaN would break the order
    }
  }
  std::sort(ranking.sorted_.begin(), ranking.sorted_.end());
  return ranking;
}

int64_t PercentileRanking::bytes_for(int64_t rows, int64_t max_sample) {
  const int64_t stride = std::max<int64_t>(1, (rows + max_sample - 1) / max_sample);
  return (rows / stride + 1) * static_cast<int64_t>(sizeof(float));
}

float PercentileRanking::percentile(float value) const {
  if (sorted_.empty()) {
    return 0.5F;
  }
  const auto lo = std::lower_bound(sorted_.begin(), sorted_.end(), value);
  const auto hi = std::upper_bound(lo, sorted_.end(), value);
  const double below = static_cast<double>(lo - sorted_.begin());
  const double tied = static_cast<double>(hi - lo);
  return static_cast<float>((below + 0.5 * tied) / static_cast<double>(sorted_.size()));
}

float BlockScores::prob(int64_t query, int64_t category) const {
  return prediction.prob[static_cast<size_t>(query * categories + category)];
}

float BlockScores::score(int64_t query, int64_t category) const {
  return prediction.score[static_cast<size_t>(query * categories + category)];
}

BlockScores score_block(const TrajectoryKnn& knn, const PercentileRanking& ranking, int64_t mislabeled,
                        const float* x, int64_t n, int64_t dim, const float* evidence, int64_t loss_dim) {
  const int64_t losses = loss_dim > 0 ? loss_dim : dim;
  MAPD_ASSERT(losses <= dim, "score_block: more losses than values per row");
  BlockScores out;
  out.prediction = knn.predict(x, n);
  out.categories = n > 0 ? static_cast<int64_t>(out.prediction.prob.size()) / n : 0;
  out.mean_loss.resize(static_cast<size_t>(n));
  out.label_issue.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float* traj = x + i * dim;
    double sum = 0.0;
    for (int64_t t = 0; t < losses; ++t) {
      sum += traj[t];
    }
    const auto mean_loss = static_cast<float>(sum / static_cast<double>(losses));
    const float p_mis = mislabeled >= 0 ? out.prob(i, mislabeled) : 0.0F;
    // The evidence (AUM, else the mean loss) ranks flipped labels best of every signal measured
    // (docs/detection.md); P(mislabeled) only orders examples whose evidence is close.
    out.mean_loss[static_cast<size_t>(i)] = mean_loss;
    const float ranked = evidence != nullptr ? evidence[i] : mean_loss;
    out.label_issue[static_cast<size_t>(i)] =
        (1.0F - kIssueVoteWeight) * ranking.percentile(ranked) + kIssueVoteWeight * p_mis;
  }
  return out;
}

BlockTotals assign_blocks(const record::TrajectorySource& source, const TrajectoryKnn& knn,
                          const PercentileRanking& ranking, int64_t mislabeled, EpochRange range,
                          ColumnRange columns, int64_t block_columns, const std::vector<int64_t>& excluded,
                          const std::function<void(const QueryBlock&)>& sink, const ColumnValues& evidence,
                          const Features& features) {
  MAPD_ASSERT(block_columns > 0, "assign_blocks: non-positive block size");
  MAPD_ASSERT(0 <= columns.begin && columns.begin <= columns.end && columns.end <= source.num_examples(),
              fmt::format("assign_blocks: columns [{}, {}) outside [0, {})", columns.begin, columns.end,
                          source.num_examples()));
  const auto& ex = source.examples();
  const int64_t n = columns.end;
  const int64_t dim = features.width(range);
  const int64_t epochs = range.size();
  BlockTotals totals;
  std::vector<float> buffer(static_cast<size_t>(block_columns * dim));
  std::vector<float> signal(features.extra.empty() ? 0 : static_cast<size_t>(block_columns * epochs));
  QueryBlock block;
  block.dim = dim;
  block.loss_dim = epochs;
  block.x.resize(static_cast<size_t>(block_columns * dim));
  std::vector<float> column_evidence(evidence ? static_cast<size_t>(block_columns) : 0);
  std::vector<float> query_evidence;
  for (int64_t begin = columns.begin; begin < n; begin += block_columns) {
    const int64_t end = std::min(n, begin + block_columns);
    if (features.extra.empty()) {
      source.read_losses(begin, end, range.begin, range.end, buffer.data());
    } else {
      // Column-major per signal as read; interleaved into rows of [losses, signal 1, ...].
      for (size_t s = 0; s <= features.extra.size(); ++s) {
        if (s == 0) {
          source.read_losses(begin, end, range.begin, range.end, signal.data());
        } else {
          features.extra[s - 1](begin, end, range, signal.data());
        }
        for (int64_t c = 0; c < end - begin; ++c) {
          std::copy_n(signal.data() + c * epochs, epochs,
                      buffer.data() + c * dim + static_cast<int64_t>(s) * epochs);
        }
      }
    }
    if (evidence) evidence(begin, end, column_evidence.data());
    block.columns.clear();
    query_evidence.clear();
    for (int64_t r = begin; r < end; ++r) {
      if (!is_query(ex, r, excluded)) {
        continue;
      }
      const float* src = buffer.data() + (r - begin) * dim;
      std::copy(src, src + dim, block.x.data() + block.size() * dim);
      block.columns.push_back(r);
      if (evidence) query_evidence.push_back(column_evidence[static_cast<size_t>(r - begin)]);
    }
    if (block.columns.empty()) {
      continue;
    }
    check_finite(source, block.x.data(), block.columns.data(), block.size(), dim, range.begin, features,
                 epochs);
    block.scores = score_block(knn, ranking, mislabeled, block.x.data(), block.size(), dim,
                               evidence ? query_evidence.data() : nullptr, epochs);
    totals.queries += block.size();
    totals.boundary_ties += block.scores.prediction.boundary_ties;
    totals.rescanned += block.scores.prediction.rescanned;
    sink(block);
  }
  return totals;
}

bool is_query(const record::ExampleColumns& examples, int64_t r, const std::vector<int64_t>& excluded) {
  return static_cast<Role>(examples.role[static_cast<size_t>(r)]) != Role::kProbeFit &&
         !std::binary_search(excluded.begin(), excluded.end(), r);
}

RowRoles without_rows(const RowRoles& roles, const std::vector<int64_t>& excluded) {
  const auto kept = [&](const std::vector<int64_t>& rows) {
    std::vector<int64_t> out;
    std::set_difference(rows.begin(), rows.end(), excluded.begin(), excluded.end(), std::back_inserter(out));
    return out;
  };
  RowRoles out = roles;
  out.fit = kept(roles.fit);
  out.train = kept(roles.train);
  out.val = kept(roles.val);
  return out;
}

void check_finite(const record::TrajectorySource& source, const float* x, const int64_t* rows, int64_t n,
                  int64_t dim, int64_t epoch_begin, const Features& features, int64_t epochs) {
  const int64_t per_signal = epochs > 0 ? epochs : dim;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < dim; ++t) {
      const float v = x[i * dim + t];
      if (!std::isfinite(v)) {
        const auto r = static_cast<size_t>(rows[i]);
        const auto s = static_cast<size_t>(t / per_signal);
        const std::string signal =
            s == 0 ? "loss" : (s <= features.names.size() ? features.names[s - 1] : "value");
        throw DataError(
            fmt::format("{} row {} (id {}): non-finite {} {} at epoch {}; the run diverged there — "
                        "assign an earlier epoch range with --set knn.epoch_end=N",
                        source.describe(), r, source.examples().id_text(rows[i]), signal, v,
                        epoch_begin + t % per_signal));
      }
    }
  }
}

}  // namespace mapd::knn
