#include "mapd/record/describe.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "mapd/core/error.hpp"
#include "mapd/record/assignment_store.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/record/stitched_dynamics.hpp"

#include "hdf5.hpp"

namespace mapd::record {

using detail::FileContext;
using detail::Handle;

StoreKind detect_store_kind(const std::filesystem::path& path) {
  detail::quiet_hdf5();
  const FileContext ctx(path.string());
  detail::ReadMode mode = detail::ReadMode::kClosed;
  const Handle file = detail::open_for_read(ctx, &mode);
  if (ctx.has_attr(file.get(), "/", "mapd_file")) {
    const std::string kind = ctx.read_string_attr(file.get(), "/", "mapd_file");
    if (kind == "dynamics") {
      return StoreKind::kDynamics;
    }
    if (kind == "assignments") {
      return StoreKind::kAssignments;
    }
  }
  if (ctx.exists(file.get(), "/epochs/loss")) {
    return StoreKind::kDynamics;
  }
  if (ctx.exists(file.get(), "/assigned")) {
    return StoreKind::kAssignments;
  }
  throw IoError(
      fmt::format("'{}' is an HDF5 file but neither a mapd dynamics file (/epochs/loss) nor an "
                  "assignment file (/assigned)",
                  path.string()));
}

namespace {

struct GroupStats {
  std::string name;
  std::vector<float> last;     ///< loss at the last committed epoch, one per example
  std::vector<float> average;  ///< mean loss over committed epochs, one per example
  int64_t count = 0;
  int64_t non_finite = 0;
};

double mean_of(const std::vector<float>& values) {
  if (values.empty()) {
    return std::nan("");
  }
  double sum = 0.0;
  for (float v : values) {
    sum += v;
  }
  return sum / static_cast<double>(values.size());
}

double median_of(std::vector<float> values) {
  if (values.empty()) {
    return std::nan("");
  }
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) {
    return upper;
  }
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2.0;
}

std::string join_names(const std::vector<std::string>& names) {
  if (names.empty()) {
    return "(none)";
  }
  std::string text;
  for (const auto& name : names) {
    text += text.empty() ? name : ", " + name;
  }
  return text;
}

void describe_dynamics(const std::filesystem::path& path, std::ostream& out) {
  const DynamicsStore store = DynamicsStore::open_read(path);
  const DynamicsMeta& meta = store.meta();
  const ExampleColumns& examples = store.examples();
  const int64_t n = store.num_examples();
  const int64_t epochs = store.complete_epochs();
  const char* const role_names[] = {"train", "probe_fit", "probe_val"};

  out << fmt::format("dynamics file: {}\n", path.string());
  out << fmt::format("  format_version {}, written by mapd {} with LibTorch {}\n", meta.format_version,
                     meta.mapd_version, meta.torch_version);
  out << fmt::format("  shape: [{}, {}] (epochs x examples), committed epochs: {}\n", epochs, n, epochs);
  out << fmt::format("  view: {}, dtype: {}, seed: {}\n", meta.view, meta.dtype, meta.seed);
  if (const int64_t ranks = StitchedDynamics::recorded_ranks(path); ranks > 0) {
    out << fmt::format(
        "  recorded by {} data-parallel ranks: the columns are stitched from dynamics.rank-0.h5 .. "
        "dynamics.rank-{}.h5\n",
        ranks, ranks - 1);
  }
  out << fmt::format("  categories ({}): {}\n", meta.category_names.size(), join_names(meta.category_names));
  out << fmt::format("  classes ({}): {}\n", meta.class_names.size(), join_names(meta.class_names));

  // Groups: one per role, then one per probe category (fit and val halves together).
  std::vector<GroupStats> groups;
  for (const char* role : role_names) {
    groups.push_back({fmt::format("role {}", role), {}, {}, 0, 0});
  }
  for (const auto& category : meta.category_names) {
    groups.push_back({fmt::format("category {}", category), {}, {}, 0, 0});
  }
  const auto num_categories = static_cast<int64_t>(meta.category_names.size());
  auto groups_of = [&](int64_t i, int64_t* ids) {
    int count = 0;
    const int role = examples.role[static_cast<size_t>(i)];
    if (role >= 0 && role < 3) {
      ids[count++] = role;
    }
    const int category = examples.probe_category[static_cast<size_t>(i)];
    if (role != 0 && category >= 0 && category < num_categories) {
      ids[count++] = 3 + category;
    }
    return count;
  };
  for (int64_t i = 0; i < n; ++i) {
    int64_t ids[2];
    const int count = groups_of(i, ids);
    for (int j = 0; j < count; ++j) {
      ++groups[static_cast<size_t>(ids[j])].count;
    }
  }
  out << fmt::format("  roles: train {}, probe_fit {}, probe_val {}\n", groups[0].count, groups[1].count,
                     groups[2].count);
  if (epochs == 0) {
    out << "  no committed epochs yet: no loss statistics\n";
    return;
  }

  // Stream the trajectories in blocks of examples (bounded memory for any N x epochs).
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 22) / epochs);
  std::vector<float> buffer;
  for (int64_t begin = 0; begin < n; begin += block) {
    const int64_t end = std::min(n, begin + block);
    buffer.resize(static_cast<size_t>((end - begin) * epochs));
    store.read_losses(begin, end, 0, epochs, buffer.data());
    for (int64_t i = begin; i < end; ++i) {
      const float* trajectory = buffer.data() + (i - begin) * epochs;
      double sum = 0.0;
      for (int64_t e = 0; e < epochs; ++e) {
        sum += trajectory[e];
      }
      const auto average = static_cast<float>(sum / static_cast<double>(epochs));
      const float last = trajectory[epochs - 1];
      int64_t ids[2];
      const int count = groups_of(i, ids);
      for (int j = 0; j < count; ++j) {
        GroupStats& g = groups[static_cast<size_t>(ids[j])];
        if (std::isfinite(average) && std::isfinite(last)) {
          g.last.push_back(last);
          g.average.push_back(average);
        } else {
          ++g.non_finite;
        }
      }
    }
  }

  out << fmt::format("\nloss statistics (last = epoch {}; avg = each example's mean over epochs 0..{}):\n",
                     epochs - 1, epochs - 1);
  out << fmt::format("  {:<28} {:>9} {:>10} {:>12} {:>10} {:>11}\n", "group", "count", "last mean",
                     "last median", "avg mean", "avg median");
  for (const auto& g : groups) {
    if (g.count == 0) {
      continue;
    }
    out << fmt::format("  {:<28} {:>9} {:>10.4f} {:>12.4f} {:>10.4f} {:>11.4f}", g.name, g.count,
                       mean_of(g.last), median_of(g.last), mean_of(g.average), median_of(g.average));
    if (g.non_finite > 0) {
      out << fmt::format("  ({} non-finite left out)", g.non_finite);
    }
    out << "\n";
  }
}

void describe_assignments(const std::filesystem::path& path, std::ostream& out) {
  AssignmentMeta meta;
  const AssignmentStore::Columns columns = AssignmentStore::read(path, &meta);
  const auto n = static_cast<int64_t>(columns.id.size());
  const auto categories = static_cast<int64_t>(meta.category_names.size());
  out << fmt::format("assignment file: {}\n", path.string());
  out << fmt::format("  format_version {}, written by mapd {}\n", meta.format_version, meta.mapd_version);
  out << fmt::format("  examples: {}, k: {}, epochs used: [{}, {})\n", n, meta.k, meta.epoch_begin,
                     meta.epoch_end);
  out << fmt::format("  categories ({}): {}\n", categories, join_names(meta.category_names));
  out << fmt::format("  label_issue ranks: {}\n", meta.label_issue_ranks.empty()
                                                      ? "not recorded (written by an older mapd)"
                                                      : meta.label_issue_ranks);

  // Index `categories` collects rows whose category is out of range (e.g. never written, -1).
  std::vector<int64_t> counts(static_cast<size_t>(categories + 1), 0);
  std::vector<double> prob_sums(static_cast<size_t>(categories + 1), 0.0);
  double total = 0.0;
  int64_t finite = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t assigned = columns.assigned[static_cast<size_t>(i)];
    const auto slot = static_cast<size_t>(assigned >= 0 && assigned < categories ? assigned : categories);
    const float p = columns.max_prob[static_cast<size_t>(i)];
    ++counts[slot];
    if (std::isfinite(p)) {
      prob_sums[slot] += p;
      total += p;
      ++finite;
    }
  }
  out << fmt::format("\n  {:<24} {:>9} {:>9} {:>14}\n", "assigned category", "count", "fraction",
                     "mean max_prob");
  for (int64_t c = 0; c <= categories; ++c) {
    const auto count = counts[static_cast<size_t>(c)];
    if (c == categories && count == 0) {
      continue;
    }
    const std::string name = c < categories ? meta.category_names[static_cast<size_t>(c)] : "(unassigned)";
    out << fmt::format(
        "  {:<24} {:>9} {:>9.4f} {:>14.4f}\n", name, count,
        n > 0 ? static_cast<double>(count) / static_cast<double>(n) : 0.0,
        count > 0 ? prob_sums[static_cast<size_t>(c)] / static_cast<double>(count) : std::nan(""));
  }
  out << fmt::format("  {:<24} {:>9} {:>9.4f} {:>14.4f}\n", "all", n, n > 0 ? 1.0 : 0.0,
                     finite > 0 ? total / static_cast<double>(finite) : std::nan(""));
}

}  // namespace

void describe_store(const std::filesystem::path& path, std::ostream& out) {
  if (detect_store_kind(path) == StoreKind::kDynamics) {
    describe_dynamics(path, out);
  } else {
    describe_assignments(path, out);
  }
}

}  // namespace mapd::record
