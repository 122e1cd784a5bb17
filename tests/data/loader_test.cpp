#include "mapd/data/loader.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "mapd/core/error.hpp"
#include "mapd/data/augment.hpp"
#include "mapd/data/png.hpp"
#include "mapd/data/rng.hpp"

#include "../common/expect_error.hpp"
#include "../common/scratch_dir.hpp"

namespace mapd::data {
namespace {

/// N images of C x H x W; every pixel of image i is i % 256; label i % classes.
ImageSet synthetic(int64_t n, int64_t c, int64_t h, int64_t w, int64_t classes) {
  ImageSet set;
  set.channels = c;
  set.height = h;
  set.width = w;
  for (int64_t i = 0; i < n; ++i) {
    set.examples.id.push_back(i);
    set.examples.label.push_back(i % classes);
    set.examples.source.push_back("mem#" + std::to_string(i));
    for (int64_t p = 0; p < c * h * w; ++p) {
      set.pixels.push_back(static_cast<uint8_t>((i + p) % 256));
    }
  }
  set.examples.original_label = set.examples.label;
  for (int64_t k = 0; k < classes; ++k) {
    set.class_names.push_back(std::to_string(k));
  }
  return set;
}

std::vector<int64_t> collect_indices(Loader& loader, int64_t epoch,
                                     std::vector<torch::Tensor>* images = nullptr) {
  loader.start_epoch(epoch);
  std::vector<int64_t> rows;
  while (auto batch = loader.next()) {
    auto idx = batch->indices;
    rows.insert(rows.end(), idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
    if (images != nullptr) {
      images->push_back(batch->images);
    }
  }
  return rows;
}

/// `n` grey 4x4 PNG files in `dir` (every pixel of image i is 40 * i), as a set decoded on demand.
ImageSet on_demand_set(const std::filesystem::path& dir, int64_t n) {
  ImageSet set;
  set.channels = 1;
  set.height = 4;
  set.width = 4;
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<uint8_t> pixels(16, static_cast<uint8_t>(40 * i));
    const auto path = dir / ("img" + std::to_string(i) + ".png");
    write_png(path, PixelView{pixels.data(), 4, 4, 1, 4});
    set.paths.push_back(path.string());
    set.examples.id.push_back(i);
    set.examples.label.push_back(i % 2);
    set.examples.source.push_back(path.string());
  }
  set.examples.original_label = set.examples.label;
  set.class_names = {"a", "b"};
  return set;
}

TEST(Rng, PermutationIsStableAcrossPlatforms) {
  // Pinned values: splitmix64 + Fisher-Yates is fully specified, so these never change.
  SplitMix64 rng(0);
  EXPECT_EQ(rng.next(), 0xe220a8397b1dcdafULL);
  const auto p = permutation(10, 42);
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(sorted[i], i);
  }
  EXPECT_EQ(p, permutation(10, 42));
  EXPECT_NE(p, permutation(10, 43));
}

TEST(Loader, BatchShapesTypesAndValues) {
  const auto set = synthetic(10, 1, 4, 5, 3);
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  opt.workers = 0;
  Loader loader(ts, opt);
  EXPECT_EQ(loader.num_batches(), 3);
  loader.start_epoch(0);
  auto b = loader.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->images.sizes(), (std::vector<int64_t>{4, 1, 4, 5}));
  EXPECT_EQ(b->images.scalar_type(), torch::kFloat);
  EXPECT_EQ(b->labels.scalar_type(), torch::kLong);
  EXPECT_EQ(b->indices.scalar_type(), torch::kLong);
  EXPECT_FLOAT_EQ(b->images[2][0][0][0].item<float>(), 2.0F / 255.0F);
  EXPECT_FLOAT_EQ(b->images[2][0][1][1].item<float>(), 8.0F / 255.0F);
  EXPECT_EQ(b->labels[2].item<int64_t>(), 2);
  loader.next();
  auto last = loader.next();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->images.size(0), 2);
  EXPECT_FALSE(loader.next());
}

TEST(Loader, DropLast) {
  const auto set = synthetic(10, 1, 2, 2, 2);
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.drop_last = true;
  Loader loader(ts, opt);
  EXPECT_EQ(loader.num_batches(), 2);
  EXPECT_EQ(collect_indices(loader, 0).size(), 8U);
}

TEST(Loader, SameOrderAndPixelsForAnyWorkerCount) {
  const auto set = synthetic(203, 3, 8, 8, 5);
  const auto ts = TrainingSet::from_image_set(set);
  std::vector<std::vector<int64_t>> orders;
  std::vector<std::vector<torch::Tensor>> pixels;
  for (const int64_t workers : {0, 1, 2, 4}) {
    LoaderOptions opt;
    opt.batch_size = 16;
    opt.workers = workers;
    opt.prefetch = 2;
    opt.seed = 7;
    opt.augment_config.crop_padding = 2;
    opt.augment_config.hflip = true;
    Loader loader(ts, opt);
    std::vector<torch::Tensor> images;
    orders.push_back(collect_indices(loader, 3, &images));
    pixels.push_back(images);
    EXPECT_EQ(orders.back(), loader.epoch_order(3));
  }
  for (size_t k = 1; k < orders.size(); ++k) {
    EXPECT_EQ(orders[k], orders[0]) << "worker setting " << k;
    ASSERT_EQ(pixels[k].size(), pixels[0].size());
    for (size_t b = 0; b < pixels[0].size(); ++b) {
      EXPECT_TRUE(torch::equal(pixels[k][b], pixels[0][b])) << "batch " << b;
    }
  }
}

/// Runs two epochs of a shuffled, augmented, normalised loader over `ts` and returns every batch.
std::vector<Batch> two_epochs(const TrainingSet& ts, bool resident,
                              const torch::Device& device = torch::kCPU) {
  LoaderOptions opt;
  opt.batch_size = 7;
  opt.workers = 2;  // ignored by the resident path
  opt.seed = 3;
  opt.device = device;
  opt.resident = resident;
  opt.channels = 3;
  opt.augment_config.crop_padding = 2;
  opt.augment_config.hflip = true;
  opt.augment_config.normalize = true;
  opt.augment_config.mean = {0.5, 0.4, 0.3};
  opt.augment_config.std_dev = {0.2, 0.25, 0.3};
  Loader loader(ts, opt);
  std::vector<Batch> out;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) out.push_back(*batch);
  }
  return out;
}

TEST(Loader, ResidentBatchesEqualHostBatchesBitwise) {
  // Grey base images converted to 3 channels, mixed with fixed (probe) rows, so both gathers,
  // the channel conversion, augmentation and normalisation take part.
  const auto set = synthetic(40, 1, 6, 6, 4);
  TrainingSet ts;
  ts.base = &set;
  for (int64_t i = 39; i >= 10; --i) ts.base_rows.push_back(i);
  ts.fixed_images = torch::rand({9, 1, 6, 6});
  ts.augment_fixed = true;
  for (int64_t r = 0; r < 39; ++r) ts.labels.push_back(r % 4);
  const auto host = two_epochs(ts, false);
  const auto resident = two_epochs(ts, true);
  ASSERT_EQ(host.size(), resident.size());
  for (size_t b = 0; b < host.size(); ++b) {
    EXPECT_TRUE(torch::equal(host[b].images, resident[b].images)) << "batch " << b;
    EXPECT_TRUE(torch::equal(host[b].labels, resident[b].labels)) << "batch " << b;
    EXPECT_TRUE(torch::equal(host[b].indices, resident[b].indices)) << "batch " << b;
  }
}

TEST(Loader, ResidentNeedsImagesHeldInMemory) {
  ImageSet on_disk;
  on_disk.channels = 1;
  on_disk.height = 2;
  on_disk.width = 2;
  on_disk.examples.id = {0};
  on_disk.examples.label = {0};
  on_disk.examples.original_label = {0};
  on_disk.examples.source = {"/nowhere.png"};
  on_disk.paths = {"/nowhere.png"};
  on_disk.class_names = {"a"};
  ASSERT_FALSE(on_disk.in_memory());
  const auto ts = TrainingSet::from_image_set(on_disk);
  LoaderOptions opt;
  opt.resident = true;
  try {
    Loader loader(ts, opt);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.resident"), std::string::npos) << e.what();
  }
}

TEST(Loader, EveryRowOncePerEpochAndEpochsDiffer) {
  const auto set = synthetic(257, 1, 2, 2, 3);
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.batch_size = 32;
  opt.workers = 2;
  Loader loader(ts, opt);
  const auto e0 = collect_indices(loader, 0);
  const auto e1 = collect_indices(loader, 1);
  for (const auto& e : {e0, e1}) {
    auto sorted = e;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted.size(), 257U);
    for (int64_t i = 0; i < 257; ++i) {
      EXPECT_EQ(sorted[i], i);
    }
  }
  EXPECT_NE(e0, e1);
  EXPECT_EQ(collect_indices(loader, 0), e0);  // replaying an epoch gives the same order
}

TEST(Loader, RestartingMidEpochIsSafe) {
  const auto set = synthetic(100, 1, 2, 2, 3);
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.batch_size = 8;
  opt.workers = 2;
  Loader loader(ts, opt);
  loader.start_epoch(0);
  loader.next();
  EXPECT_EQ(collect_indices(loader, 5), loader.epoch_order(5));
}

TEST(Loader, FixedRowsCopiedAsIsAndNotAugmented) {
  const auto set = synthetic(6, 1, 6, 6, 2);
  TrainingSet ts;
  ts.base = &set;
  ts.base_rows = {5, 0, 3};
  ts.fixed_images = torch::full({2, 1, 6, 6}, 0.25F);
  ts.fixed_images[1].fill_(0.75F);
  ts.labels = {1, 0, 1, 0, 1};
  LoaderOptions opt;
  opt.batch_size = 5;
  opt.shuffle = false;
  opt.workers = 1;
  opt.augment_config.crop_padding = 3;
  opt.augment_config.padding_mode = "zero";
  opt.augment_config.hflip = true;
  opt.channels = 3;
  Loader loader(ts, opt);
  loader.start_epoch(0);
  const auto b = loader.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->images.sizes(), (std::vector<int64_t>{5, 3, 6, 6}));
  EXPECT_TRUE(torch::allclose(b->images[3], torch::full({3, 6, 6}, 0.25F)));
  EXPECT_TRUE(torch::allclose(b->images[4], torch::full({3, 6, 6}, 0.75F)));
  EXPECT_EQ(b->labels[4].item<int64_t>(), 1);
  EXPECT_EQ(b->indices[4].item<int64_t>(), 4);
}

TEST(Loader, NoAugmentationReturnsExactPixels) {
  const auto set = synthetic(4, 3, 5, 5, 2);
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  opt.augment = false;
  opt.augment_config.crop_padding = 4;
  opt.augment_config.hflip = true;
  Loader loader(ts, opt);
  loader.start_epoch(0);
  const auto b = loader.next();
  const auto expected = torch::from_blob(const_cast<uint8_t*>(set.pixels.data()), {4, 3, 5, 5}, torch::kByte)
                            .to(torch::kFloat)
                            .div(255.0);
  EXPECT_TRUE(torch::allclose(b->images, expected));
}

TEST(Loader, NormalizeUsesGivenStats) {
  const auto set = synthetic(2, 1, 2, 2, 2);
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.shuffle = false;
  opt.augment_config.normalize = true;
  opt.augment_config.mean = {0.5};
  opt.augment_config.std_dev = {0.25};
  Loader loader(ts, opt);
  loader.start_epoch(0);
  const auto b = loader.next();
  EXPECT_NEAR(b->images[1][0][0][0].item<float>(), (1.0 / 255.0 - 0.5) / 0.25, 1e-5);
  const auto stats = channel_stats(set);
  EXPECT_NEAR(stats.first[0], (0 + 1 + 2 + 3 + 1 + 2 + 3 + 4) / 8.0 / 255.0, 1e-9);
}

TEST(Loader, MismatchedLabelsAreAnInternalError) {
  // Only mapd builds TrainingSets (from a dataset and a probe suite): a mismatch is a bug in mapd.
  const auto set = synthetic(3, 1, 2, 2, 2);
  auto ts = TrainingSet::from_image_set(set);
  ts.labels.push_back(0);
  try {
    Loader loader(ts, LoaderOptions{});
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("the training set has 4 labels but 3 base rows and 0 fixed rows"),
              std::string::npos)
        << e.what();
  }
  Loader loader(TrainingSet::from_image_set(set), LoaderOptions{});
  EXPECT_THROW((void)loader.next(), InternalError);  // before start_epoch
}

TEST(Augment, CropAndFlipShapesAndSeeding) {
  const auto x = torch::rand({8, 3, 10, 12});
  config::AugmentConfig cfg;
  cfg.crop_padding = 4;
  cfg.hflip = true;
  const std::vector<uint8_t> all(8, 1);
  const auto p1 = draw_augmentation(cfg, 8, 10, 12, augment_seed(1, 2, 3), all);
  const auto p2 = draw_augmentation(cfg, 8, 10, 12, augment_seed(1, 2, 3), all);
  const auto p3 = draw_augmentation(cfg, 8, 10, 12, augment_seed(1, 2, 4), all);
  EXPECT_EQ(p1.crop_y, p2.crop_y);
  EXPECT_EQ(p1.flip, p2.flip);
  EXPECT_TRUE(p1.crop_y != p3.crop_y || p1.crop_x != p3.crop_x || p1.flip != p3.flip);
  for (int i = 0; i < 8; ++i) {
    EXPECT_GE(p1.crop_y[i], 0);
    EXPECT_LE(p1.crop_y[i], 8);
  }
  const auto y = apply_augmentation(x, p1, cfg);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(y, apply_augmentation(x, p2, cfg)));
}

TEST(Augment, CropMatchesManualPadAndSlice) {
  const auto x = torch::rand({2, 1, 5, 5});
  config::AugmentConfig cfg;
  cfg.crop_padding = 2;
  cfg.padding_mode = "zero";
  cfg.hflip = true;
  AugmentPlan plan;
  plan.apply = {1, 1};
  plan.crop_y = {0, 4};
  plan.crop_x = {3, 1};
  plan.flip = {0, 1};
  plan.box.assign(8, 0.0);
  const auto y = apply_augmentation(x, plan, cfg);
  const auto padded = torch::constant_pad_nd(x, {2, 2, 2, 2}, 0);
  const auto e0 = padded[0].slice(1, 0, 5).slice(2, 3, 8);
  const auto e1 = padded[1].slice(1, 4, 9).slice(2, 1, 6).flip({2});
  EXPECT_TRUE(torch::equal(y[0], e0));
  EXPECT_TRUE(torch::equal(y[1], e1));
}

TEST(Augment, ReflectPaddingAndIdentityRows) {
  const auto x = torch::rand({2, 2, 6, 6});
  config::AugmentConfig cfg;
  cfg.crop_padding = 3;
  cfg.hflip = true;
  const auto plan = draw_augmentation(cfg, 2, 6, 6, 99, {0, 1});
  EXPECT_EQ(plan.crop_y[0], 3);
  EXPECT_EQ(plan.flip[0], 0);
  const auto y = apply_augmentation(x, plan, cfg);
  EXPECT_TRUE(torch::equal(y[0], x[0]));
  const auto padded = torch::reflection_pad2d(x, {3, 3, 3, 3});
  auto e1 =
      padded[1].slice(1, plan.crop_y[1], plan.crop_y[1] + 6).slice(2, plan.crop_x[1], plan.crop_x[1] + 6);
  if (plan.flip[1] != 0) {
    e1 = e1.flip({2});
  }
  EXPECT_TRUE(torch::equal(y[1], e1));
}

TEST(Augment, CpuFastPathMatchesTensorOps) {
  const auto x = torch::rand({16, 3, 7, 9});
  for (const std::string mode : {"reflect", "zero"}) {
    config::AugmentConfig cfg;
    cfg.crop_padding = 4;
    cfg.padding_mode = mode;
    cfg.hflip = true;
    std::vector<uint8_t> apply(16, 1);
    apply[3] = 0;
    const auto plan = draw_augmentation(cfg, 16, 7, 9, 11, apply);
    EXPECT_TRUE(torch::equal(apply_augmentation(x, plan, cfg, true), apply_augmentation(x, plan, cfg, false)))
        << mode;
  }
  config::AugmentConfig flip_only;
  flip_only.hflip = true;
  const auto plan = draw_augmentation(flip_only, 16, 7, 9, 12, std::vector<uint8_t>(16, 1));
  EXPECT_TRUE(torch::equal(apply_augmentation(x, plan, flip_only, true),
                           apply_augmentation(x, plan, flip_only, false)));
}

TEST(Augment, RandomResizedCropKeepsShapeAndIdentityBox) {
  const auto x = torch::rand({4, 3, 16, 16});
  config::AugmentConfig cfg;
  cfg.random_resized_crop = true;
  cfg.rrc_scale_min = 0.2;
  const auto plan = draw_augmentation(cfg, 4, 16, 16, 5, {1, 1, 1, 0});
  for (int i = 0; i < 3; ++i) {
    const double area = plan.box[i * 4 + 2] * plan.box[i * 4 + 3];
    EXPECT_GE(area, 0.15 * 256);
    EXPECT_LE(plan.box[i * 4 + 0] + plan.box[i * 4 + 2], 16.0);
    EXPECT_LE(plan.box[i * 4 + 1] + plan.box[i * 4 + 3], 16.0);
  }
  const auto y = apply_augmentation(x, plan, cfg);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(torch::allclose(y[3], x[3], 1e-5, 1e-5));
}

TEST(Augment, ChannelConversion) {
  const auto grey = torch::rand({2, 1, 3, 3});
  const auto rgb = convert_channels(grey, 3);
  EXPECT_EQ(rgb.size(1), 3);
  EXPECT_TRUE(torch::equal(rgb[1][2], grey[1][0]));
  EXPECT_TRUE(torch::allclose(convert_channels(rgb, 1), grey, 1e-5, 1e-5));
  MAPD_EXPECT_THROW_WITH(convert_channels(torch::rand({1, 2, 3, 3}), 3), DataError, "data.channels = 3",
                         "images with 2 channels");
}

TEST(Augment, ChannelConversionOneThreeAndSame) {
  const auto rgb = torch::rand({2, 3, 5, 7});
  // 3 -> 1: BT.601 luma, on the CPU bit for bit the term-by-term sum the probe builder used.
  const auto grey = convert_channels(rgb, 1);
  ASSERT_EQ(grey.sizes(), (std::vector<int64_t>{2, 1, 5, 7}));
  const auto by_terms = rgb.select(1, 0) * 0.299 + rgb.select(1, 1) * 0.587 + rgb.select(1, 2) * 0.114;
  EXPECT_TRUE(torch::equal(grey, by_terms.unsqueeze(1)));
  // 1 -> 3: the grey plane in every channel.
  const auto three = convert_channels(grey, 3);
  ASSERT_EQ(three.sizes(), (std::vector<int64_t>{2, 3, 5, 7}));
  for (int64_t c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(three.select(1, c), grey.select(1, 0)));
  // Same count, or 0 (as stored): the input itself, whatever C is.
  EXPECT_TRUE(convert_channels(rgb, 3).is_same(rgb));
  EXPECT_TRUE(convert_channels(grey, 1).is_same(grey));
  EXPECT_TRUE(convert_channels(rgb, 0).is_same(rgb));
  const auto two = torch::rand({1, 2, 3, 3});
  EXPECT_TRUE(convert_channels(two, 2).is_same(two));
}

TEST(Augment, ChannelConversionErrorsSayWhoseFaultItIs) {
  const auto rgb = torch::rand({1, 3, 4, 4});
  try {
    (void)convert_channels(rgb, 2);  // a channel count the config cannot ask for
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("data.channels = 2: expected 0 (as stored), 1 or 3"),
              std::string::npos)
        << e.what();
  }
  try {
    (void)convert_channels(torch::rand({1, 4, 4, 4}), 1);  // images that cannot be converted
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot convert images with 4 channels"), std::string::npos)
        << e.what();
  }
  try {
    (void)convert_channels(torch::rand({3, 4, 4}), 1);  // not [N, C, H, W]: a bug in the caller
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("floating-point [N, C, H, W]"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)convert_channels(torch::zeros({1, 3, 4, 4}, torch::kUInt8), 1), InternalError);
}

}  // namespace
}  // namespace mapd::data

namespace mapd::data {
namespace {

TEST(PermutationSampler, OneRankIsTheSeededPermutationOfAllRows) {
  const PermutationSampler sampler(50, true, 7);
  EXPECT_EQ(sampler.rows_per_epoch(), 50);
  EXPECT_EQ(sampler.epoch_order(2), sampler.global_order(2));
  EXPECT_NE(sampler.epoch_order(2), sampler.epoch_order(3));
  const PermutationSampler ordered(5, false, 7);
  EXPECT_EQ(ordered.epoch_order(4), (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(PermutationSampler, RanksStrideOverTheGlobalPermutationAndCoverEveryRowOnce) {
  const int64_t rows = 103;
  const int64_t world = 4;
  const auto global = PermutationSampler(rows, true, 11).global_order(5);
  std::vector<int64_t> seen;
  for (int64_t rank = 0; rank < world; ++rank) {
    const PermutationSampler shard(rows, true, 11, Shard{rank, world});
    const auto mine = shard.epoch_order(5);
    ASSERT_EQ(static_cast<int64_t>(mine.size()), shard.rows_per_epoch());
    EXPECT_EQ(shard.rows_per_epoch(), rank < rows % world ? rows / world + 1 : rows / world);
    for (size_t i = 0; i < mine.size(); ++i) {
      EXPECT_EQ(mine[i], global[static_cast<size_t>(rank) + i * static_cast<size_t>(world)]);
    }
    seen.insert(seen.end(), mine.begin(), mine.end());
  }
  std::sort(seen.begin(), seen.end());
  std::vector<int64_t> all(static_cast<size_t>(rows));
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(seen, all);
}

TEST(Loader, FollowsItsSamplerAndSeedsAugmentationByRank) {
  const auto set = synthetic(40, 1, 8, 8, 4);
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.batch_size = 8;
  opt.workers = 0;
  opt.seed = 3;
  opt.augment_config.crop_padding = 2;
  opt.augment_config.hflip = true;
  // The default sampler gives what PermutationSampler(rank 0 of 1) gives, pixels included.
  std::vector<torch::Tensor> default_pixels, rank0_pixels, rank1_pixels;
  Loader plain(ts, opt);
  const auto plain_rows = collect_indices(plain, 1, &default_pixels);
  opt.sampler = std::make_shared<PermutationSampler>(ts.size(), true, 3, Shard{0, 1});
  Loader rank0(ts, opt);
  EXPECT_EQ(collect_indices(rank0, 1, &rank0_pixels), plain_rows);
  ASSERT_EQ(rank0_pixels.size(), default_pixels.size());
  for (size_t b = 0; b < default_pixels.size(); ++b)
    EXPECT_TRUE(torch::equal(rank0_pixels[b], default_pixels[b]));
  // Rank 1 of 2 visits its strided half, with augmentation drawn from its own stream.
  opt.sampler = std::make_shared<PermutationSampler>(ts.size(), true, 3, Shard{1, 2});
  Loader rank1(ts, opt);
  EXPECT_EQ(rank1.num_batches(), 3);  // 20 rows in batches of 8
  const auto rows1 = collect_indices(rank1, 1, &rank1_pixels);
  EXPECT_EQ(rows1, opt.sampler->epoch_order(1));
  EXPECT_EQ(augment_seed(3, 1, 0, 0), augment_seed(3, 1, 0));
  EXPECT_NE(augment_seed(3, 1, 0, 1), augment_seed(3, 1, 0, 0));
}

TEST(Loader, LeavesOutAnImageThatFailsToDecodeFromThatEpochOn) {
  const auto dir = test::scratch_dir("mapd_loader_test_", "unreadable");
  const auto set = on_demand_set(dir, 6);
  ASSERT_FALSE(set.in_memory());
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  opt.augment = false;
  opt.workers = 2;
  Loader loader(ts, opt);
  EXPECT_EQ(collect_indices(loader, 0), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_TRUE(loader.take_unreadable().empty());

  // Image 2 turns into garbage between epochs: epoch 1 leaves it out of its batch (3 rows, no blank).
  const auto good = set.paths[2] + ".good";
  std::filesystem::copy_file(set.paths[2], good);
  std::ofstream(set.paths[2], std::ios::binary | std::ios::trunc) << "not an image at all";
  std::vector<torch::Tensor> images;
  EXPECT_EQ(collect_indices(loader, 1, &images), (std::vector<int64_t>{0, 1, 3, 4, 5}));
  ASSERT_EQ(images.size(), 2U);
  EXPECT_EQ(images[0].size(0), 3);
  EXPECT_NEAR(images[0][2].max().item<float>(), 120.0F / 255.0F, 1e-6);  // image 3, not a blank
  const auto unreadable = loader.take_unreadable();
  ASSERT_EQ(unreadable.size(), 1U);
  EXPECT_EQ(unreadable[0].row, 2);
  EXPECT_EQ(unreadable[0].input.path, set.paths[2]);
  EXPECT_EQ(unreadable[0].input.epoch, 1);
  EXPECT_NE(unreadable[0].input.reason.find("img2.png"), std::string::npos) << unreadable[0].input.reason;
  EXPECT_TRUE(loader.take_unreadable().empty());  // reported once

  // Readable again, it stays out of every later epoch.
  std::filesystem::copy_file(good, set.paths[2], std::filesystem::copy_options::overwrite_existing);
  std::vector<torch::Tensor> later;
  EXPECT_EQ(collect_indices(loader, 2, &later), (std::vector<int64_t>{0, 1, 3, 4, 5}));
  EXPECT_EQ(loader.excluded_rows(), (std::vector<int64_t>{2}));
  EXPECT_TRUE(loader.take_unreadable().empty());

  // A loader told of the row (a resumed run) gives the same batches.
  Loader resumed(ts, opt);
  resumed.exclude_rows({2});
  std::vector<torch::Tensor> resumed_images;
  EXPECT_EQ(collect_indices(resumed, 2, &resumed_images), (std::vector<int64_t>{0, 1, 3, 4, 5}));
  ASSERT_EQ(resumed_images.size(), later.size());
  for (size_t b = 0; b < later.size(); ++b) EXPECT_TRUE(torch::equal(resumed_images[b], later[b]));
}

TEST(Loader, SkipsABatchWhoseRowsAreAllExcluded) {
  const auto set = synthetic(6, 1, 2, 2, 2);
  const auto ts = TrainingSet::from_image_set(set);
  LoaderOptions opt;
  opt.batch_size = 2;
  opt.shuffle = false;
  opt.workers = 0;
  Loader loader(ts, opt);
  loader.exclude_rows({2, 3, 5});
  EXPECT_EQ(loader.num_batches(), 3);
  loader.start_epoch(0);
  std::vector<int64_t> sizes;
  while (auto batch = loader.next()) sizes.push_back(batch->indices.size(0));
  EXPECT_EQ(sizes, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(collect_indices(loader, 1), (std::vector<int64_t>{0, 1, 4}));
  EXPECT_THROW(loader.exclude_rows({6}), InternalError);
}

}  // namespace
}  // namespace mapd::data
