#include "mapd/data/loader.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <iterator>
#include <map>
#include <mutex>
#include <numeric>
#include <thread>

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/augment.hpp"

namespace mapd::data {

TrainingSet TrainingSet::from_image_set(const ImageSet& images) {
  TrainingSet set;
  set.base = &images;
  set.base_rows.resize(static_cast<size_t>(images.size()));
  std::iota(set.base_rows.begin(), set.base_rows.end(), 0);
  set.labels = images.examples.label;
  return set;
}

std::pair<std::vector<double>, std::vector<double>> channel_stats(const ImageSet& images,
                                                                  int64_t max_examples) {
  const int64_t n = images.size();
  const int64_t c = images.channels;
  const int64_t plane = images.height * images.width;
  std::vector<double> sum(c, 0.0);
  std::vector<double> sq(c, 0.0);
  const int64_t take = std::max<int64_t>(1, std::min(n, max_examples));
  std::vector<uint8_t> buf(static_cast<size_t>(images.image_bytes()));
  int64_t used = 0;
  for (int64_t k = 0; k < take && n > 0; ++k) {
    const int64_t i = k * n / take;
    try {
      images.read(i, buf.data());
    } catch (const DataError&) {
      continue;
    }
    ++used;
    for (int64_t ch = 0; ch < c; ++ch) {
      for (int64_t p = 0; p < plane; ++p) {
        const double v = buf[ch * plane + p] / 255.0;
        sum[ch] += v;
        sq[ch] += v * v;
      }
    }
  }
  std::vector<double> mean(c, 0.0);
  std::vector<double> std_dev(c, 1.0);
  const double count = static_cast<double>(std::max<int64_t>(1, used * plane));
  for (int64_t ch = 0; ch < c; ++ch) {
    mean[ch] = sum[ch] / count;
    std_dev[ch] = std::sqrt(std::max(1e-12, sq[ch] / count - mean[ch] * mean[ch]));
  }
  return {mean, std_dev};
}

/// A batch on the CPU before the device step (augmentation on CUDA happens in next()).
struct PendingBatch {
  Batch batch;
  std::vector<uint8_t> apply;
  int64_t index = 0;
};

struct Loader::Impl {
  const TrainingSet& set;
  LoaderOptions options;
  int64_t channels = 0;  // output channels
  int64_t height = 0;
  int64_t width = 0;
  torch::Tensor fixed;          // fixed rows converted to `channels`, CPU float (on the device when resident)
  torch::Tensor resident_base;  // [M, C, H, W] uint8 on the device: every image of *set.base (resident)
  std::vector<double> mean;
  std::vector<double> std_dev;
  bool augment = false;

  int64_t epoch = -1;
  std::vector<int64_t> order;
  int64_t batches = 0;

  std::mutex mutex;
  std::condition_variable changed;
  std::map<int64_t, PendingBatch> ready;
  int64_t next_claim = 0;
  int64_t next_deliver = 0;
  bool stop = false;
  std::exception_ptr error;
  std::vector<std::thread> workers;
  /// 1 for a row left out of the epochs started from now on; written only between epochs, so the
  /// workers read it without a lock.
  std::vector<uint8_t> excluded;
  std::vector<int64_t> failed;            // rows whose decode failed this epoch (under `mutex`)
  std::vector<UnreadableRow> unreadable;  // not yet taken by take_unreadable (under `mutex`)

  Impl(const TrainingSet& s, LoaderOptions o)
      : set(s), options(std::move(o)), excluded(static_cast<size_t>(s.size()), 0) {}

  [[nodiscard]] bool is_excluded(int64_t row) const { return excluded[static_cast<size_t>(row)] != 0; }

  /// Base row `row` could not be decoded this epoch: it leaves its batch and every later epoch.
  void leave_out(int64_t row, const DataError& error) {
    const int64_t source = set.base_rows[row];
    std::lock_guard<std::mutex> lock(mutex);
    failed.push_back(row);
    unreadable.push_back(
        {row, BadInput{set.base->examples.source.at(static_cast<size_t>(source)), error.what(), epoch}});
    log::get("data")->warn("{}; example row {} is left out of training from epoch {} on", error.what(), row,
                           epoch);
  }

  /// Makes this epoch's failed rows excluded (no worker may run).
  void merge_failed() {
    for (const int64_t row : failed) excluded[static_cast<size_t>(row)] = 1;
    failed.clear();
  }

  [[nodiscard]] int64_t num_base() const { return set.base == nullptr ? 0 : set.num_base(); }

  [[nodiscard]] int64_t count_batches() const {
    const int64_t n = options.sampler->rows_per_epoch();
    const int64_t bs = options.batch_size;
    return options.drop_last ? n / bs : (n + bs - 1) / bs;
  }

  /// An empty batch `b` of `size` rows (augmentation flags to be set).
  static PendingBatch pending_batch(int64_t b, int64_t size) {
    PendingBatch out;
    out.index = b;
    out.apply.resize(static_cast<size_t>(size));
    return out;
  }

  /// A batch gathered on the device from the resident images. Index lists are built on the host
  /// (from the host copy of the order) and sent with the batch, so nothing waits on the device.
  PendingBatch build_resident(int64_t b) {
    const int64_t begin = b * options.batch_size;
    const int64_t end = std::min<int64_t>(begin + options.batch_size, static_cast<int64_t>(order.size()));
    const int64_t nb = num_base();
    std::vector<int64_t> rows;
    std::copy_if(order.begin() + begin, order.begin() + end, std::back_inserter(rows),
                 [&](int64_t row) { return !is_excluded(row); });
    const auto size = static_cast<int64_t>(rows.size());
    PendingBatch out = pending_batch(b, size);
    if (size == 0) return out;
    std::vector<int64_t> labels(static_cast<size_t>(size));
    std::vector<int64_t> base_pos;
    std::vector<int64_t> base_src;
    std::vector<int64_t> fixed_pos;
    std::vector<int64_t> fixed_src;
    for (int64_t k = 0; k < size; ++k) {
      const int64_t row = rows[static_cast<size_t>(k)];
      labels[static_cast<size_t>(k)] = set.labels[row];
      if (row < nb) {
        base_pos.push_back(k);
        base_src.push_back(set.base_rows[row]);
        out.apply[k] = options.augment ? 1 : 0;
      } else {
        fixed_pos.push_back(k);
        fixed_src.push_back(row - nb);
        out.apply[k] = options.augment && set.augment_fixed ? 1 : 0;
      }
    }
    const auto to_device = [&](const std::vector<int64_t>& v) {
      return torch::tensor(v, torch::kLong).to(options.device, /*non_blocking=*/true);
    };
    torch::Tensor images;
    if (fixed_pos.empty()) {
      images = convert_channels(
          resident_base.index_select(0, to_device(base_src)).to(torch::kFloat).mul_(1.0F / 255.0F), channels);
    } else {
      images =
          torch::empty({size, channels, height, width}, torch::dtype(torch::kFloat).device(options.device));
      if (!base_pos.empty()) {
        images.index_copy_(
            0, to_device(base_pos),
            convert_channels(
                resident_base.index_select(0, to_device(base_src)).to(torch::kFloat).mul_(1.0F / 255.0F),
                channels));
      }
      images.index_copy_(0, to_device(fixed_pos), fixed.index_select(0, to_device(fixed_src)));
    }
    out.batch.images = images;
    out.batch.labels = to_device(labels);
    out.batch.indices = to_device(rows);
    finish(out);
    return out;
  }

  /// A batch assembled on the host. Excluded rows are skipped and rows whose decode fails are left
  /// out, so the batch may be smaller than its slice of the order (or empty).
  PendingBatch build(int64_t b) {
    const int64_t begin = b * options.batch_size;
    const int64_t end = std::min<int64_t>(begin + options.batch_size, static_cast<int64_t>(order.size()));
    const int64_t size = end - begin;
    const int64_t nb = num_base();
    PendingBatch out = pending_batch(b, size);
    auto labels = torch::empty({size}, torch::kLong);
    auto indices = torch::empty({size}, torch::kLong);
    auto* lp = labels.data_ptr<int64_t>();
    auto* ip = indices.data_ptr<int64_t>();
    std::vector<int64_t> fixed_pos;
    std::vector<int64_t> fixed_src;
    torch::Tensor base_u8;
    uint8_t* bp = nullptr;
    int64_t bytes = 0;
    if (nb > 0) {
      base_u8 = torch::zeros({size, set.base->channels, set.base->height, set.base->width}, torch::kByte);
      bp = base_u8.data_ptr<uint8_t>();
      bytes = set.base->image_bytes();
    }
    bool any_base = false;
    int64_t kept = 0;  // rows of the batch so far
    for (int64_t k = begin; k < end; ++k) {
      const int64_t row = order[k];
      if (is_excluded(row)) continue;
      if (row < nb) {
        try {
          set.base->read(set.base_rows[row], bp + kept * bytes);
        } catch (const DataError& e) {
          leave_out(row, e);
          continue;
        }
        any_base = true;
        out.apply[kept] = options.augment ? 1 : 0;
      } else {
        fixed_pos.push_back(kept);
        fixed_src.push_back(row - nb);
        out.apply[kept] = options.augment && set.augment_fixed ? 1 : 0;
      }
      ip[kept] = row;
      lp[kept] = set.labels[row];
      ++kept;
    }
    out.apply.resize(static_cast<size_t>(kept));
    if (kept == 0) return out;
    if (kept < size) {
      labels = labels.narrow(0, 0, kept);
      indices = indices.narrow(0, 0, kept);
      if (base_u8.defined()) base_u8 = base_u8.narrow(0, 0, kept);
    }
    torch::Tensor images;
    if (any_base) {
      images = convert_channels(base_u8.to(torch::kFloat).mul_(1.0F / 255.0F), channels);
    } else {
      images = torch::empty({kept, channels, height, width}, torch::kFloat);
    }
    if (!fixed_pos.empty()) {
      const auto pos = torch::tensor(fixed_pos, torch::kLong);
      const auto src = torch::tensor(fixed_src, torch::kLong);
      images.index_copy_(0, pos, fixed.index_select(0, src));
    }
    out.batch.labels = labels;
    out.batch.indices = indices;
    out.batch.images = images;
    if (!options.device.is_cuda()) {
      finish(out);
    } else {
      out.batch.images = out.batch.images.pin_memory();
      out.batch.labels = out.batch.labels.pin_memory();
      out.batch.indices = out.batch.indices.pin_memory();
    }
    return out;
  }

  /// Device step: transfer (CUDA), augmentation and normalisation on the batch's device.
  void finish(PendingBatch& p) {
    auto& batch = p.batch;
    if (options.device.is_cuda() && !options.resident) {
      batch.images = batch.images.to(options.device, /*non_blocking=*/true);
      batch.labels = batch.labels.to(options.device, /*non_blocking=*/true);
      batch.indices = batch.indices.to(options.device, /*non_blocking=*/true);
    }
    if (augment && std::any_of(p.apply.begin(), p.apply.end(), [](uint8_t a) { return a != 0; })) {
      const auto plan = draw_augmentation(
          options.augment_config, batch.images.size(0), height, width,
          augment_seed(options.seed, epoch, p.index, options.sampler->shard().rank), p.apply);
      batch.images = apply_augmentation(batch.images, plan, options.augment_config);
    }
    if (options.augment_config.normalize) {
      batch.images = normalize(batch.images, mean, std_dev);
    }
  }

  void work() {
    while (true) {
      int64_t b = 0;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] {
          return stop || next_claim >= batches || next_claim < next_deliver + options.prefetch;
        });
        if (stop || next_claim >= batches) {
          return;
        }
        b = next_claim++;
      }
      PendingBatch built;
      std::exception_ptr failure;
      try {
        built = build(b);
      } catch (...) {
        failure = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (failure) {
          if (!error) {
            error = failure;
          }
        } else {
          ready.emplace(b, std::move(built));
        }
      }
      changed.notify_all();
    }
  }

  /// Batch `next_deliver`, built here without workers, else waited for from them (rethrows a
  /// worker's error).
  PendingBatch take_built() {
    if (workers.empty()) return build(next_deliver);
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return error || ready.count(next_deliver) > 0; });
    if (ready.count(next_deliver) == 0) {
      std::rethrow_exception(error);
    }
    return std::move(ready.extract(next_deliver).mapped());
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    changed.notify_all();
    for (auto& t : workers) {
      t.join();
    }
    workers.clear();
    ready.clear();
    error = nullptr;
    stop = false;
  }
};

Loader::Loader(const TrainingSet& set, LoaderOptions options)
    : impl_(std::make_unique<Impl>(set, std::move(options))) {
  auto& s = *impl_;
  MAPD_CHECK(s.options.batch_size >= 1, ConfigError, "loader: batch_size must be >= 1");
  if (s.options.sampler == nullptr) {
    s.options.sampler = std::make_shared<PermutationSampler>(s.set.size(), s.options.shuffle, s.options.seed);
  }
  MAPD_CHECK(s.options.prefetch >= 1, ConfigError, "data.prefetch: must be >= 1");
  MAPD_CHECK(s.options.workers >= 0, ConfigError, "data.workers: must be >= 0");
  const int64_t nb = s.num_base();
  const int64_t fixed_rows = s.set.fixed_images.defined() ? s.set.fixed_images.size(0) : 0;
  MAPD_ASSERT(nb + fixed_rows == s.set.size(),
              fmt::format("loader: the training set has {} labels but {} base rows and {} fixed rows",
                          s.set.size(), nb, fixed_rows));
  if (nb > 0) {
    s.channels = s.set.base->channels;
    s.height = s.set.base->height;
    s.width = s.set.base->width;
  } else if (fixed_rows > 0) {
    s.channels = s.set.fixed_images.size(1);
    s.height = s.set.fixed_images.size(2);
    s.width = s.set.fixed_images.size(3);
  }
  if (s.options.channels != 0) {
    s.channels = s.options.channels;
  }
  if (fixed_rows > 0) {
    MAPD_ASSERT(s.set.fixed_images.dim() == 4 && s.set.fixed_images.size(2) == s.height &&
                    s.set.fixed_images.size(3) == s.width,
                fmt::format("loader: fixed images must be [P, C, {}, {}] like the dataset images", s.height,
                            s.width));
    s.fixed = convert_channels(s.set.fixed_images.to(torch::kCPU, torch::kFloat), s.channels).contiguous();
  }
  if (s.options.resident) {
    MAPD_CHECK(nb == 0 || s.set.base->in_memory(), ConfigError,
               "data.resident: the dataset is decoded on demand (larger than data.memory_budget_mb), so it "
               "cannot be held on the device; use data.resident=auto or off");
    if (nb > 0) {
      const auto& base = *s.set.base;
      // The host pixels outlive the loader (the set refers to them), so on the CPU this is a view.
      s.resident_base = torch::from_blob(const_cast<uint8_t*>(base.pixels.data()),
                                         {base.size(), base.channels, base.height, base.width}, torch::kByte)
                            .to(s.options.device);
    }
    if (s.fixed.defined()) s.fixed = s.fixed.to(s.options.device);
    s.options.workers = 0;
  }
  s.augment = s.options.augment && augmentation_enabled(s.options.augment_config);
  if (s.options.augment_config.normalize) {
    s.mean = s.options.augment_config.mean;
    s.std_dev = s.options.augment_config.std_dev;
    if (s.mean.empty() && nb > 0) {
      std::tie(s.mean, s.std_dev) = channel_stats(*s.set.base);
      if (static_cast<int64_t>(s.mean.size()) == 1 && s.channels == 3) {
        s.mean.assign(3, s.mean[0]);
        s.std_dev.assign(3, s.std_dev[0]);
      } else if (static_cast<int64_t>(s.mean.size()) == 3 && s.channels == 1) {
        s.mean = {0.299 * s.mean[0] + 0.587 * s.mean[1] + 0.114 * s.mean[2]};
        s.std_dev = {0.299 * s.std_dev[0] + 0.587 * s.std_dev[1] + 0.114 * s.std_dev[2]};
      }
    }
  }
}

Loader::~Loader() { impl_->stop_workers(); }

int64_t Loader::num_batches() const { return impl_->count_batches(); }

int64_t Loader::batches_taken() const { return impl_->next_deliver; }

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  auto order = impl_->options.sampler->epoch_order(epoch);
  const int64_t n = impl_->set.size();
  MAPD_ASSERT(static_cast<int64_t>(order.size()) == impl_->options.sampler->rows_per_epoch(),
              fmt::format("sampler: epoch {} has {} rows, rows_per_epoch says {}", epoch, order.size(),
                          impl_->options.sampler->rows_per_epoch()));
  for (const int64_t row : order) {
    MAPD_ASSERT(row >= 0 && row < n, fmt::format("sampler: row {} of a {}-row training set", row, n));
  }
  return order;
}

const RowSampler& Loader::sampler() const { return *impl_->options.sampler; }

void Loader::start_epoch(int64_t epoch, int64_t first_batch) {
  auto& s = *impl_;
  s.stop_workers();
  s.merge_failed();
  s.epoch = epoch;
  s.order = epoch_order(epoch);
  s.batches = s.count_batches();
  MAPD_ASSERT(first_batch >= 0 && first_batch <= s.batches,
              fmt::format("Loader::start_epoch: batch {} of an epoch of {}", first_batch, s.batches));
  // A batch's rows and augmentation depend only on (seed, epoch, batch index): skipping reads nothing.
  s.next_claim = first_batch;
  s.next_deliver = first_batch;
  for (int64_t t = 0; t < s.options.workers; ++t) {
    s.workers.emplace_back([&s] { s.work(); });
  }
}

std::optional<Batch> Loader::next() {
  auto& s = *impl_;
  MAPD_ASSERT(s.epoch >= 0, "Loader::next called before start_epoch");
  while (s.next_deliver < s.batches) {
    auto pending = s.options.resident ? s.build_resident(s.next_deliver) : s.take_built();
    ++s.next_deliver;
    if (!s.workers.empty()) s.changed.notify_all();
    if (pending.apply.empty()) continue;  // every row of the batch is excluded
    if (s.options.device.is_cuda() && !s.options.resident) s.finish(pending);
    return std::move(pending.batch);
  }
  return std::nullopt;
}

void Loader::exclude_rows(const std::vector<int64_t>& rows) {
  auto& s = *impl_;
  s.stop_workers();
  s.epoch = -1;
  s.merge_failed();
  for (const int64_t row : rows) {
    MAPD_ASSERT(row >= 0 && row < s.set.size(),
                fmt::format("Loader::exclude_rows: row {} of a {}-row training set", row, s.set.size()));
    s.excluded[static_cast<size_t>(row)] = 1;
  }
}

std::vector<int64_t> Loader::excluded_rows() const {
  const auto& s = *impl_;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<int64_t> out;
  for (int64_t row = 0; row < s.set.size(); ++row) {
    if (s.is_excluded(row)) out.push_back(row);
  }
  for (const int64_t row : s.failed) out.push_back(row);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<UnreadableRow> Loader::take_unreadable() {
  auto& s = *impl_;
  std::vector<UnreadableRow> out;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    out.swap(s.unreadable);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.row < b.row; });
  return out;
}

}  // namespace mapd::data
