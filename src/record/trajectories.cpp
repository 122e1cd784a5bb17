#include "mapd/record/trajectories.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "mapd/core/error.hpp"

namespace mapd::record {

namespace {

/// Copies [begin, end) x [e0, e1) of the epoch-major `values` ([epochs, n]) example-major into `out`.
template <typename T>
void gather(const std::vector<T>& values, int64_t n, int64_t begin, int64_t end, int64_t e0, int64_t e1,
            T* out) {
  const int64_t t = e1 - e0;
  for (int64_t e = e0; e < e1; ++e) {
    const T* row = values.data() + e * n;
    for (int64_t i = begin; i < end; ++i) {
      out[(i - begin) * t + (e - e0)] = row[i];
    }
  }
}

}  // namespace

void fill_or_check_rows(ExampleColumns& examples, const std::string& where) {
  const int64_t n = examples.size();
  if (examples.row.empty()) {
    examples.row.resize(static_cast<size_t>(n));
    std::iota(examples.row.begin(), examples.row.end(), int64_t{0});
    return;
  }
  MAPD_CHECK(examples.row.size() == examples.id.size(), DataError,
             fmt::format("{}: /examples/row has {} entries for {} examples", where, examples.row.size(), n));
  std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = examples.row[static_cast<size_t>(i)];
    MAPD_CHECK(r >= 0 && r < n && seen[static_cast<size_t>(r)] == 0, DataError,
               fmt::format("{}: /examples/row[{}] = {} is {}; each row 0..{} must appear once", where, i, r,
                           r < 0 || r >= n ? "out of range" : "a repeat", n - 1));
    seen[static_cast<size_t>(r)] = 1;
  }
}

std::string ExampleColumns::id_text(int64_t i) const {
  const auto k = static_cast<size_t>(i);
  if (!name.empty() && !name[k].empty()) {
    return name[k];
  }
  return std::to_string(id[k]);
}

void check_column_lengths(const ExampleColumns& examples, const std::string& where) {
  const auto n = examples.id.size();
  MAPD_ASSERT(examples.label.size() == n && examples.original_label.size() == n &&
                  examples.role.size() == n && examples.probe_category.size() == n &&
                  examples.source_index.size() == n && (examples.name.empty() || examples.name.size() == n),
              fmt::format("{}: the example columns differ in length", where));
}

void TrajectorySource::read_signal_values(const std::string& name, int64_t /*begin*/, int64_t /*end*/,
                                          int64_t /*epoch_begin*/, int64_t /*epoch_end*/,
                                          float* /*out*/) const {
  throw DataError(
      fmt::format("{} holds no per-epoch signal '{}' (only loss, pred and true_prob)", describe(), name));
}

InMemoryTrajectories::InMemoryTrajectories(DynamicsMeta meta, ExampleColumns examples)
    : meta_(std::move(meta)), examples_(std::move(examples)) {
  check_column_lengths(examples_, "InMemoryTrajectories");
  fill_or_check_rows(examples_, describe());
}

void InMemoryTrajectories::append_epoch(const float* loss, const int32_t* pred, const float* true_prob) {
  const int64_t n = num_examples();
  loss_.insert(loss_.end(), loss, loss + n);
  pred_.insert(pred_.end(), pred, pred + n);
  true_prob_.insert(true_prob_.end(), true_prob, true_prob + n);
  ++epochs_;
}

void InMemoryTrajectories::truncate(int64_t epochs) {
  MAPD_ASSERT(epochs >= 0, "InMemoryTrajectories::truncate: negative epoch count");
  if (epochs >= epochs_) {
    return;
  }
  const auto keep = static_cast<size_t>(epochs * num_examples());
  loss_.resize(keep);
  pred_.resize(keep);
  true_prob_.resize(keep);
  epochs_ = epochs;
}

void InMemoryTrajectories::check_range(int64_t begin, int64_t end, int64_t epoch_begin,
                                       int64_t epoch_end) const {
  MAPD_CHECK(
      begin >= 0 && begin <= end && end <= num_examples() && epoch_begin >= 0 && epoch_begin <= epoch_end,
      IoError,
      fmt::format("invalid read of examples [{}, {}) epochs [{}, {}) from {} ({} examples)", begin, end,
                  epoch_begin, epoch_end, describe(), num_examples()));
  MAPD_CHECK(epoch_end <= epochs_, IoError,
             fmt::format("cannot read epochs [{}, {}) from {}: only {} epochs are committed", epoch_begin,
                         epoch_end, describe(), epochs_));
}

void InMemoryTrajectories::read_losses(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                                       float* out) const {
  check_range(begin, end, epoch_begin, epoch_end);
  gather(loss_, num_examples(), begin, end, epoch_begin, epoch_end, out);
}

void InMemoryTrajectories::read_true_probs(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                                           float* out) const {
  check_range(begin, end, epoch_begin, epoch_end);
  gather(true_prob_, num_examples(), begin, end, epoch_begin, epoch_end, out);
}

void InMemoryTrajectories::read_preds(int64_t begin, int64_t end, int64_t epoch_begin, int64_t epoch_end,
                                      int32_t* out) const {
  check_range(begin, end, epoch_begin, epoch_end);
  gather(pred_, num_examples(), begin, end, epoch_begin, epoch_end, out);
}

std::vector<int64_t> excluded_columns(const TrajectorySource& source, int64_t epoch, int64_t block) {
  MAPD_ASSERT(block > 0, "excluded_columns: non-positive block size");
  std::vector<int64_t> columns;
  const int64_t n = source.num_examples();
  std::vector<float> loss(static_cast<size_t>(std::min(n, block)));
  for (int64_t begin = 0; begin < n; begin += block) {
    const int64_t end = std::min(n, begin + block);
    source.read_losses(begin, end, epoch, epoch + 1, loss.data());
    for (int64_t c = begin; c < end; ++c) {
      if (std::isnan(loss[static_cast<size_t>(c - begin)])) columns.push_back(c);
    }
  }
  return columns;
}

}  // namespace mapd::record
