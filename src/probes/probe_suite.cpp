#include "mapd/probes/probe_suite.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <unordered_map>

#include "mapd/core/csv.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"
#include "mapd/data/augment.hpp"
#include "mapd/data/rng.hpp"
#include "mapd/probes/difficulty.hpp"
#include "mapd/probes/suite_spec.hpp"
#include "mapd/probes/transforms.hpp"

namespace mapd::probes {
namespace {

/// Fewest fit probes per category a scaled-down suite may keep.
constexpr int64_t kMinFitPerCategory = 2;

/// Random streams (mixed with probes.seed), one per purpose.
enum Stream : uint64_t {
  kPoolShuffle = 1,
  kNoise = 2,
  kWrongLabels = 3,
  kRandomImages = 4,
  kRandomLabels = 5,
  kOodDraw = 6,
  kOodLabels = 7,
  kTypicalDraw = 8,
  kSplit = 1000,
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

/// Float [n, C, H, W] images in [0, 1] of dataset examples `indices`, as stored.
torch::Tensor gather_images(const data::ImageSet& set, const std::vector<int64_t>& indices) {
  const int64_t bytes = set.image_bytes();
  auto out = torch::empty({static_cast<int64_t>(indices.size()), set.channels, set.height, set.width},
                          torch::kUInt8);
  uint8_t* dst = out.data_ptr<uint8_t>();
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t k = indices[i];
    if (!set.pixels.empty()) {
      std::copy_n(set.pixels.data() + k * bytes, bytes, dst + static_cast<int64_t>(i) * bytes);
    } else {
      set.read(k, dst + static_cast<int64_t>(i) * bytes);
    }
  }
  return out.to(torch::kFloat32).div_(255.0);
}

/// How many of `n` go to each class: as equal as the classes' `available` counts allow (round robin).
std::vector<int64_t> class_quotas(int64_t n, const std::vector<int64_t>& available) {
  std::vector<int64_t> quota(available.size(), 0);
  int64_t left = n;
  bool progress = true;
  while (left > 0 && progress) {
    progress = false;
    for (size_t c = 0; c < available.size() && left > 0; ++c) {
      if (quota[c] < available[c]) {
        ++quota[c];
        --left;
        progress = true;
      }
    }
  }
  return quota;
}

/// The `n` unused examples at one end of the easiness order (easiest first when `easiest`),
/// per class (balanced quotas) or globally. Ties break by index. With `pool` > 0 the examples are a
/// seeded random draw from the first `pool` share of each group instead of its first members.
/// With `floor` (hardest end only), examples whose easiness is below it come after all others.
std::vector<int64_t> select_extreme(const std::vector<double>& easiness, const std::vector<int64_t>& labels,
                                    int64_t num_classes, const std::vector<char>& used, int64_t n,
                                    bool per_class, bool easiest, double pool = 0.0, uint64_t seed = 0,
                                    double floor = -std::numeric_limits<double>::infinity()) {
  auto better = [&](int64_t a, int64_t b) {
    const double ea = easiness[static_cast<size_t>(a)];
    const double eb = easiness[static_cast<size_t>(b)];
    if (!easiest && (ea < floor) != (eb < floor)) return eb < floor;
    if (ea != eb) return easiest ? ea > eb : ea < eb;
    return a < b;
  };
  // The `take` members of `group` at the chosen end (or drawn from its first `pool` share).
  auto take_from_end = [&](std::vector<int64_t>& group, int64_t take, uint64_t stream) {
    const auto size = static_cast<int64_t>(group.size());
    int64_t window = take;
    if (pool > 0.0) {
      window = std::max<int64_t>(take, static_cast<int64_t>(std::ceil(pool * static_cast<double>(size))));
      window = std::min(window, size);
    }
    std::partial_sort(group.begin(), group.begin() + window, group.end(), better);
    std::vector<int64_t> head(group.begin(), group.begin() + window);
    if (window > take) {
      data::MersenneTwister64 rng(data::stream_seed(seed, kTypicalDraw * 1000 + stream));
      rng.shuffle(head);
      head.resize(static_cast<size_t>(take));
    }
    return head;
  };
  std::vector<int64_t> chosen;
  if (!per_class) {
    std::vector<int64_t> group;
    for (size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) group.push_back(static_cast<int64_t>(i));
    }
    const auto take = std::min<int64_t>(n, static_cast<int64_t>(group.size()));
    return take_from_end(group, take, 0);
  }
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < used.size(); ++i) {
    if (!used[i]) by_class[static_cast<size_t>(labels[i])].push_back(static_cast<int64_t>(i));
  }
  std::vector<int64_t> available;
  available.reserve(by_class.size());
  for (const auto& members : by_class) available.push_back(static_cast<int64_t>(members.size()));
  const auto quota = class_quotas(n, available);
  for (size_t c = 0; c < by_class.size(); ++c) {
    const auto picked = take_from_end(by_class[c], quota[c], c + 1);
    chosen.insert(chosen.end(), picked.begin(), picked.end());
  }
  return chosen;
}

/// Unused examples in the order the transformed categories draw them: a seeded shuffle; with the
/// `easy` pool the easiest half (per class, or globally) comes first, shuffled, then the rest.
std::vector<int64_t> source_pool(const std::vector<char>& used, const std::vector<double>* easiness,
                                 const std::vector<int64_t>& labels, int64_t num_classes, bool per_class,
                                 uint64_t seed) {
  std::vector<int64_t> first;
  std::vector<int64_t> rest;
  if (easiness == nullptr) {
    for (size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) first.push_back(static_cast<int64_t>(i));
    }
  } else {
    std::vector<std::vector<int64_t>> groups(per_class ? static_cast<size_t>(num_classes) : 1);
    for (size_t i = 0; i < used.size(); ++i) {
      if (!used[i]) groups[per_class ? static_cast<size_t>(labels[i]) : 0].push_back(static_cast<int64_t>(i));
    }
    for (auto& g : groups) {
      std::sort(g.begin(), g.end(), [&](int64_t a, int64_t b) {
        const double ea = (*easiness)[static_cast<size_t>(a)];
        const double eb = (*easiness)[static_cast<size_t>(b)];
        return ea != eb ? ea > eb : a < b;
      });
      const size_t half = (g.size() + 1) / 2;
      first.insert(first.end(), g.begin(), g.begin() + static_cast<std::ptrdiff_t>(half));
      rest.insert(rest.end(), g.begin() + static_cast<std::ptrdiff_t>(half), g.end());
    }
  }
  data::MersenneTwister64 rng(data::stream_seed(seed, kPoolShuffle));
  rng.shuffle(first);
  rng.shuffle(rest);
  first.insert(first.end(), rest.begin(), rest.end());
  return first;
}

/// One category while the suite is assembled.
struct CategoryDraft {
  std::string name;
  torch::Tensor images;  ///< [n, C, H, W]
  std::vector<int64_t> labels;
  std::vector<int64_t> original_labels;
  std::vector<int64_t> source_index;  ///< -1 for synthetic
  int64_t fit = 0;                    ///< fit probes wanted (the rest are val)
};

std::vector<int64_t> labels_of(const std::vector<int64_t>& labels, const std::vector<int64_t>& idx) {
  std::vector<int64_t> out;
  out.reserve(idx.size());
  for (auto i : idx) out.push_back(labels[static_cast<size_t>(i)]);
  return out;
}

std::string first_few(const std::vector<std::string>& ids, size_t k = 5) {
  std::string s;
  for (size_t i = 0; i < std::min(k, ids.size()); ++i) s += (i ? ", " : "") + ids[i];
  if (ids.size() > k) s += ", ...";
  return s;
}

config::DataConfig ood_data_config(const config::RunConfig& config, const data::ImageSet& train) {
  config::DataConfig ood = config.data;
  // Decoded near the training size (then resized to it), not as stored: an OOD folder of photos
  // would take gigabytes.
  ood.image_size = std::max(train.height, train.width);
  ood.format = config.probes.ood_format.empty() ? config.data.format : config.probes.ood_format;
  ood.path = config.probes.ood_path;
  ood.test_path = "";
  ood.name = "ood";
  ood.limit = 0;
  ood.channels = 0;
  ood.label_noise = config::LabelNoiseConfig{};
  return ood;
}

}  // namespace

ProbeSuite build_probe_suite(const config::RunConfig& config, const data::Dataset& dataset,
                             const std::filesystem::path& run_dir) {
  auto logger = log::get("probes");
  const auto& pc = config.probes;
  const auto& train = dataset.train;
  const auto& labels = train.examples.label;
  const int64_t n = train.size();
  const int64_t num_classes = data::class_count(labels, train.num_classes());
  const int64_t channels = config.data.channels > 0 ? config.data.channels : train.channels;
  const uint64_t seed = static_cast<uint64_t>(pc.seed);
  const bool per_class = pc.selection != "global";

  const SuiteSpec spec = load_suite_spec(pc.suite);
  std::vector<UserProbe> user;
  if (!pc.user_probes.empty()) user = read_user_probes(pc.user_probes);

  std::vector<std::string> names = spec.categories;
  for (const auto& u : user) {
    if (!contains(names, u.category)) names.push_back(u.category);
  }
  std::vector<char> used(static_cast<size_t>(n), 0);

  // User probes: ids -> indices, reserved first.
  std::map<std::string, std::vector<int64_t>> user_members;
  if (!user.empty()) {
    // Ids match as the user wrote them (text ids) or as integers ("007" is 7 in an IDX dataset).
    const bool text_ids = !train.examples.name.empty();
    std::unordered_map<std::string, int64_t> index_of;
    for (int64_t i = 0; i < n; ++i) index_of.emplace(train.examples.id_text(i), i);
    std::vector<std::string> missing;
    for (const auto& u : user) {
      std::string key = u.id;
      if (const auto value = parse_int64(u.id); !text_ids && value) key = std::to_string(*value);
      const auto it = index_of.find(key);
      if (it == index_of.end()) {
        missing.push_back(u.id);
        continue;
      }
      MAPD_CHECK(used[static_cast<size_t>(it->second)] == 0, DataError,
                 fmt::format("probes.user_probes: {}: example id {} is listed more than once (as '{}' too; a "
                             "probe has one category)",
                             pc.user_probes, key, u.id));
      user_members[u.category].push_back(it->second);
      used[static_cast<size_t>(it->second)] = 1;
    }
    if (!missing.empty()) {
      throw DataError(fmt::format(
          "probes.user_probes: {}: {} of {} example ids are not in the training split of {} (first: {}); "
          "ids are data::ExampleTable ids (IDX/CIFAR: position in the file; folder: sorted path index; "
          "manifest: the id column){}",
          pc.user_probes, missing.size(), user.size(), dataset.name, first_few(missing),
          config.data.limit > 0 ? "; data.limit may have left them out" : ""));
    }
  }
  const int64_t pool = n - static_cast<int64_t>(std::count(used.begin(), used.end(), 1));

  int64_t sourced = 0;
  for (const auto& c : spec.categories) {
    if (c == "random_input" || (c == "ood" && pc.ood_source != "sketch")) continue;
    ++sourced;
  }
  const SizePlan plan = plan_sizes(pc.fit_per_category, pc.val_per_category, sourced, pool, pc.max_fraction,
                                   kMinFitPerCategory);
  if (plan.scaled) {
    logger->warn(
        "probe suite scaled down to {} fit + {} val per category (asked {} + {}): {} categories drawn from "
        "{} examples may take at most probes.max_fraction = {} of them",
        plan.fit, plan.val, pc.fit_per_category, pc.val_per_category, sourced, pool, pc.max_fraction);
  }
  const int64_t per = plan.fit + plan.val;

  const bool wants_difficulty =
      contains(spec.categories, "typical") || contains(spec.categories, "atypical") ||
      (pc.source_pool == "easy" &&
       (contains(spec.categories, "corrupted") || contains(spec.categories, "mislabeled") ||
        (contains(spec.categories, "ood") && pc.ood_source == "sketch")));
  DifficultyScores difficulty;
  if (wants_difficulty) difficulty = compute_difficulty(config, train, run_dir);

  std::vector<CategoryDraft> drafts(names.size());
  for (size_t c = 0; c < names.size(); ++c) drafts[c].name = names[c];
  auto draft_of = [&](const std::string& name) -> CategoryDraft& {
    return drafts[static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin())];
  };
  auto add_sources = [&](CategoryDraft& d, const std::vector<int64_t>& idx, const torch::Tensor& images,
                         std::vector<int64_t> trained_labels) {
    auto originals = labels_of(
        train.examples.original_label.size() == labels.size() ? train.examples.original_label : labels, idx);
    d.images = d.images.defined() ? torch::cat({d.images, images}) : images;
    d.labels.insert(d.labels.end(), trained_labels.begin(), trained_labels.end());
    d.original_labels.insert(d.original_labels.end(), originals.begin(), originals.end());
    d.source_index.insert(d.source_index.end(), idx.begin(), idx.end());
  };

  // typical / atypical from the ends of the easiness order. Atypical probes skip examples whose
  // label gets less than atypical_floor x chance: with label noise (or out-of-distribution images
  // with arbitrary labels) the hardest examples are those, and atypical probes drawn from them
  // duplicate the `mislabeled` probes and hide the contamination (docs/probes.md).
  double atypical_floor = -std::numeric_limits<double>::infinity();
  if (contains(spec.categories, "atypical") && difficulty.label_probability && pc.atypical_floor > 0.0) {
    atypical_floor = pc.atypical_floor / static_cast<double>(num_classes);
    int64_t below = 0;
    for (int64_t i = 0; i < n; ++i)
      below += !used[static_cast<size_t>(i)] && difficulty.easiness[static_cast<size_t>(i)] < atypical_floor;
    logger->info(
        "probes: {} of {} examples ({:.1f}%) have a difficulty score below probes.atypical_floor = {} x "
        "chance = {:.3f} (mislabeled and out-of-distribution examples lie there); atypical probes come "
        "from the hardest above it",
        below, pool, 100.0 * static_cast<double>(below) / static_cast<double>(std::max<int64_t>(pool, 1)),
        pc.atypical_floor, atypical_floor);
  }
  for (const char* name : {"typical", "atypical"}) {
    if (!contains(spec.categories, name)) continue;
    const bool easiest = std::string(name) == "typical";
    const auto idx = select_extreme(difficulty.easiness, labels, num_classes, used, per, per_class, easiest,
                                    easiest ? pc.typical_pool : 0.0, seed, atypical_floor);
    if (!easiest) {
      const auto short_of = std::count_if(idx.begin(), idx.end(), [&](int64_t i) {
        return difficulty.easiness[static_cast<size_t>(i)] < atypical_floor;
      });
      if (short_of > 0) {
        logger->warn(
            "probes: {} of {} atypical probes come from below probes.atypical_floor ({:.3f}): too few "
            "examples{} score above it; they may be mislabeled rather than atypical (lower the floor, or "
            "check the difficulty scores)",
            short_of, idx.size(), atypical_floor, per_class ? " of some classes" : "");
      }
    }
    for (auto i : idx) used[static_cast<size_t>(i)] = 1;
    auto& d = draft_of(name);
    d.fit = plan.fit;
    add_sources(d, idx, data::convert_channels(gather_images(train, idx), channels), labels_of(labels, idx));
  }

  // Transformed categories draw from the remaining pool in suite order.
  const bool easy_pool = pc.source_pool == "easy";
  const auto order =
      source_pool(used, easy_pool ? &difficulty.easiness : nullptr, labels, num_classes, per_class, seed);
  size_t next = 0;
  auto draw = [&](const std::string& name) {
    const auto take = std::min<size_t>(static_cast<size_t>(per), order.size() - next);
    std::vector<int64_t> idx(order.begin() + static_cast<std::ptrdiff_t>(next),
                             order.begin() + static_cast<std::ptrdiff_t>(next + take));
    next += take;
    MAPD_CHECK(static_cast<int64_t>(idx.size()) >= plan.fit, ConfigError,
               fmt::format("probes: only {} examples left for category '{}', which needs {}", idx.size(),
                           name, per));
    for (auto i : idx) used[static_cast<size_t>(i)] = 1;
    std::sort(idx.begin(), idx.end());
    return idx;
  };
  for (const auto& name : spec.categories) {
    auto& d = draft_of(name);
    d.fit = plan.fit;
    if (name == "corrupted") {
      const auto idx = draw(name);
      auto images = add_gaussian_noise(data::convert_channels(gather_images(train, idx), channels),
                                       pc.corrupted_sigma, data::stream_seed(seed, kNoise));
      add_sources(d, idx, images, labels_of(labels, idx));
    } else if (name == "mislabeled") {
      const auto idx = draw(name);
      add_sources(
          d, idx, data::convert_channels(gather_images(train, idx), channels),
          draw_wrong_labels(labels_of(labels, idx), num_classes, data::stream_seed(seed, kWrongLabels)));
    } else if (name == "ood" && pc.ood_source == "sketch") {
      const auto idx = draw(name);
      add_sources(d, idx, pencil_sketch(gather_images(train, idx), channels), labels_of(labels, idx));
    } else if (name == "ood" && pc.ood_source == "glyphs") {
      auto drawn = draw_labels(per, num_classes, data::stream_seed(seed, kOodLabels));
      d.images = render_glyphs(per, channels, train.height, train.width, data::stream_seed(seed, kOodDraw));
      d.labels = drawn;
      d.original_labels = drawn;
      d.source_index.assign(static_cast<size_t>(per), -1);
    } else if (name == "ood") {
      const auto ood_config = ood_data_config(config, train);
      const data::Dataset other = data::load_dataset(ood_config, {});
      const int64_t available = other.train.size();
      MAPD_CHECK(
          available >= per, ConfigError,
          fmt::format("probes.ood_path: {} has {} images but the ood category needs {} ({} fit + {} val)",
                      pc.ood_path, available, per, plan.fit, plan.val));
      std::vector<int64_t> all(static_cast<size_t>(available));
      std::iota(all.begin(), all.end(), 0);
      data::MersenneTwister64 rng(data::stream_seed(seed, kOodDraw));
      rng.shuffle(all);
      all.resize(static_cast<size_t>(per));
      std::sort(all.begin(), all.end());
      auto images = data::convert_channels(
          resize_images(gather_images(other.train, all), train.height, train.width), channels);
      auto drawn = draw_labels(per, num_classes, data::stream_seed(seed, kOodLabels));
      d.images = images;
      d.labels = drawn;
      d.original_labels = drawn;
      d.source_index.assign(static_cast<size_t>(per), -1);
      logger->info("ood probes: {} images of {} ({} format), resized to {}x{}", per, pc.ood_path,
                   ood_config.format, train.height, train.width);
    } else if (name == "random_input") {
      auto drawn = draw_labels(per, num_classes, data::stream_seed(seed, kRandomLabels));
      d.images =
          random_inputs(per, channels, train.height, train.width, data::stream_seed(seed, kRandomImages));
      d.labels = drawn;
      d.original_labels = drawn;
      d.source_index.assign(static_cast<size_t>(per), -1);
    }
  }

  // User probes: unchanged images and labels, split in halves.
  for (const auto& [name, idx] : user_members) {
    auto& d = draft_of(name);
    const auto count = static_cast<int64_t>(idx.size());
    d.fit += (count + 1) / 2;
    if (count < 2) {
      logger->warn("user probe category '{}' has {} example: it has no val probe", name, count);
    }
    add_sources(d, idx, data::convert_channels(gather_images(train, idx), channels), labels_of(labels, idx));
  }

  // Assemble: category by category, fit rows then val rows; fit/val by a seeded shuffle.
  ProbeSuite suite;
  suite.category_names = names;
  std::vector<torch::Tensor> parts;
  for (size_t c = 0; c < drafts.size(); ++c) {
    auto& d = drafts[c];
    const auto count = static_cast<int64_t>(d.labels.size());
    if (count == 0) continue;
    std::vector<int64_t> perm(static_cast<size_t>(count));
    std::iota(perm.begin(), perm.end(), 0);
    data::MersenneTwister64 rng(data::stream_seed(seed, kSplit + c));
    rng.shuffle(perm);
    const int64_t fit = std::min(d.fit, count);
    std::sort(perm.begin(), perm.begin() + fit);
    std::sort(perm.begin() + fit, perm.end());
    std::vector<int64_t> rows(perm.begin(), perm.end());
    parts.push_back(d.images.index_select(0, torch::tensor(rows, torch::kInt64)));
    for (int64_t r = 0; r < count; ++r) {
      const auto k = static_cast<size_t>(rows[static_cast<size_t>(r)]);
      suite.labels.push_back(d.labels[k]);
      suite.original_labels.push_back(d.original_labels[k]);
      suite.category.push_back(static_cast<int16_t>(c));
      suite.role.push_back(static_cast<int8_t>(r < fit ? record::Role::kProbeFit : record::Role::kProbeVal));
      suite.source_index.push_back(d.source_index[k]);
      suite.source_id.push_back(
          d.source_index[k] >= 0 ? train.examples.id[static_cast<size_t>(d.source_index[k])] : -1);
      if (d.source_index[k] >= 0) suite.removed.push_back(d.source_index[k]);
    }
  }
  suite.images = parts.empty() ? torch::empty({0, channels, train.height, train.width}, torch::kFloat32)
                               : torch::cat(parts).contiguous();
  std::sort(suite.removed.begin(), suite.removed.end());

  std::string counts;
  for (size_t c = 0; c < names.size(); ++c) {
    const auto in_c = std::count(suite.category.begin(), suite.category.end(), static_cast<int16_t>(c));
    counts += fmt::format("{}{} {}", c ? ", " : "", names[c], in_c);
  }
  logger->info("probe suite '{}': {} probes ({}), {} training examples removed; selection {}, source pool {}",
               spec.name, suite.size(), counts.empty() ? "none" : counts, suite.removed.size(), pc.selection,
               pc.source_pool);
  return suite;
}

TrainedSet compose_trained_set(const data::ImageSet& train, const ProbeSuite& suite, bool augment_probes) {
  TrainedSet out;
  auto& set = out.train_set;
  auto& ex = out.examples;
  set.base = &train;
  set.augment_fixed = augment_probes;
  size_t r = 0;
  for (int64_t i = 0; i < train.size(); ++i) {
    while (r < suite.removed.size() && suite.removed[r] < i) ++r;
    if (r < suite.removed.size() && suite.removed[r] == i) continue;
    const auto k = static_cast<size_t>(i);
    set.base_rows.push_back(i);
    set.labels.push_back(train.examples.label[k]);
    ex.id.push_back(train.examples.id[k]);
    if (!train.examples.name.empty()) {
      ex.name.push_back(train.examples.name[k]);
    }
    ex.label.push_back(train.examples.label[k]);
    ex.original_label.push_back(train.examples.original_label.empty() ? train.examples.label[k]
                                                                      : train.examples.original_label[k]);
    ex.role.push_back(static_cast<int8_t>(record::Role::kTrain));
    ex.probe_category.push_back(-1);
    ex.source_index.push_back(i);
  }
  if (suite.size() > 0) set.fixed_images = suite.images;
  for (int64_t p = 0; p < suite.size(); ++p) {
    const auto k = static_cast<size_t>(p);
    set.labels.push_back(suite.labels[k]);
    ex.id.push_back(suite.source_id[k]);
    if (!train.examples.name.empty()) {
      const int64_t source = suite.source_index[k];
      ex.name.push_back(source >= 0 ? train.examples.name[static_cast<size_t>(source)] : std::string());
    }
    ex.label.push_back(suite.labels[k]);
    ex.original_label.push_back(suite.original_labels[k]);
    ex.role.push_back(suite.role[k]);
    ex.probe_category.push_back(suite.category[k]);
    ex.source_index.push_back(suite.source_index[k]);
  }
  return out;
}

}  // namespace mapd::probes
