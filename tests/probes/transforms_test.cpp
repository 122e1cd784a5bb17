#include "mapd/probes/transforms.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "mapd/core/error.hpp"
#include "mapd/data/augment.hpp"

#include "../common/expect_error.hpp"

namespace mapd::probes {
namespace {

TEST(Transforms, GaussianNoiseHasTheRequestedStdAndIsClipped) {
  auto images = torch::full({64, 3, 16, 16}, 0.5F);
  auto noisy = add_gaussian_noise(images, 0.1, 7);
  ASSERT_EQ(noisy.sizes(), images.sizes());
  auto diff = noisy - images;
  EXPECT_NEAR(diff.mean().item<double>(), 0.0, 0.005);
  EXPECT_NEAR(diff.std().item<double>(), 0.1, 0.005);
  // Clipped to [0, 1] even with a large sigma.
  auto wild = add_gaussian_noise(images, 2.0, 7);
  EXPECT_GE(wild.min().item<float>(), 0.0F);
  EXPECT_LE(wild.max().item<float>(), 1.0F);
  EXPECT_GT((wild == 0.0F).sum().item<int64_t>(), 0);
  EXPECT_GT((wild == 1.0F).sum().item<int64_t>(), 0);
}

TEST(Transforms, GaussianNoiseIsDeterministicBySeed) {
  auto images = torch::full({4, 1, 8, 8}, 0.3F);
  EXPECT_TRUE(torch::equal(add_gaussian_noise(images, 0.1, 3), add_gaussian_noise(images, 0.1, 3)));
  EXPECT_FALSE(torch::equal(add_gaussian_noise(images, 0.1, 3), add_gaussian_noise(images, 0.1, 4)));
}

TEST(Transforms, GaussianNoiseRejectsNonPositiveSigma) {
  auto images = torch::zeros({1, 1, 4, 4});
  MAPD_EXPECT_THROW_WITH(add_gaussian_noise(images, 0.0, 1), ConfigError, "probes.corrupted_sigma", "got 0");
}

TEST(Transforms, WrongLabelsNeverEqualTheTrueOneAndCoverAllOtherClasses) {
  std::vector<int64_t> labels(10000);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 10);
  const auto wrong = draw_wrong_labels(labels, 10, 11);
  std::vector<int64_t> counts(10, 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    ASSERT_NE(wrong[i], labels[i]);
    ASSERT_GE(wrong[i], 0);
    ASSERT_LT(wrong[i], 10);
    ++counts[static_cast<size_t>(wrong[i])];
  }
  // Uniform over the other classes: each class ~1000 of 10000 (the true class excluded).
  for (auto c : counts) EXPECT_NEAR(c, 1000, 120);
  // Class 9 of a label 0 example must be reachable (no "classes 0-9 only" bug with C = 100).
  std::vector<int64_t> zeros(5000, 0);
  const auto wide = draw_wrong_labels(zeros, 100, 2);
  EXPECT_GT(*std::max_element(wide.begin(), wide.end()), 90);
  EXPECT_EQ(draw_wrong_labels(labels, 10, 11), wrong);
}

TEST(Transforms, WrongLabelsNeedTwoClassesAndValidLabels) {
  MAPD_EXPECT_THROW_WITH(draw_wrong_labels({0}, 1, 1), ConfigError, "the dataset has 1",
                         "remove 'mislabeled'");
  try {  // the class count comes from the same labels (data::class_count): a bug otherwise
    (void)draw_wrong_labels({5}, 3, 1);
    FAIL() << "expected InternalError";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("label 5 is outside [0, 3)"), std::string::npos) << e.what();
  }
}

TEST(Transforms, RandomInputsAreClippedStandardNormals) {
  auto x = random_inputs(50, 3, 32, 32, 5);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{50, 3, 32, 32}));
  EXPECT_GE(x.min().item<float>(), 0.0F);
  EXPECT_LE(x.max().item<float>(), 1.0F);
  const double zero_share = (x == 0.0F).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(zero_share, 0.5, 0.01);  // P(randn <= 0)
  const double one_share = (x == 1.0F).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(one_share, 0.1587, 0.01);  // P(randn >= 1)
  EXPECT_TRUE(torch::equal(x, random_inputs(50, 3, 32, 32, 5)));
  const auto labels = draw_labels(1000, 10, 3);
  EXPECT_EQ(*std::min_element(labels.begin(), labels.end()), 0);
  EXPECT_EQ(*std::max_element(labels.begin(), labels.end()), 9);
}

TEST(Transforms, GlyphsAreLightStrokesOnBlackAndDeterministicBySeed) {
  const auto x = render_glyphs(64, 1, 28, 28, 7);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{64, 1, 28, 28}));
  EXPECT_GE(x.min().item<float>(), 0.0F);
  EXPECT_LE(x.max().item<float>(), 1.0F);
  for (int64_t i = 0; i < 64; ++i) {
    const auto image = x[i];
    EXPECT_GE(image.max().item<float>(), 0.5F) << "image " << i << " has no stroke";
    const double ink = (image > 0.05F).to(torch::kFloat64).mean().item<double>();
    EXPECT_GT(ink, 0.02) << "image " << i;
    EXPECT_LT(ink, 0.6) << "image " << i << " is not mostly background";
    for (int64_t j = 0; j < i; ++j) EXPECT_FALSE(torch::equal(image, x[j])) << i << " repeats " << j;
  }
  EXPECT_TRUE(torch::equal(x, render_glyphs(64, 1, 28, 28, 7)));
  EXPECT_FALSE(torch::equal(x, render_glyphs(64, 1, 28, 28, 8)));
  const auto colour = render_glyphs(16, 3, 32, 40, 7);
  ASSERT_EQ(colour.sizes(), (std::vector<int64_t>{16, 3, 32, 40}));
  EXPECT_FALSE(torch::equal(colour.select(1, 0), colour.select(1, 1)));  // a colour per image
  MAPD_EXPECT_THROW_WITH(render_glyphs(1, 2, 28, 28, 7), ConfigError, "1 or 3 channels, got 2");
  MAPD_EXPECT_THROW_WITH(render_glyphs(1, 1, 4, 28, 7), ConfigError, "4x28 are too small");
}

TEST(Transforms, SketchKeepsShapeAndRangeAndWhitensFlatRegions) {
  // A flat grey image: blur == inverse, so gray * 256 / (255 - (255 - gray)) = 256 -> saturates to 255.
  auto flat = torch::full({2, 3, 32, 32}, 100.0F / 255.0F);
  auto sketch = pencil_sketch(flat, 3);
  ASSERT_EQ(sketch.sizes(), flat.sizes());
  EXPECT_FLOAT_EQ(sketch.min().item<float>(), 1.0F);
  // A step from grey 0.3 to 0.8: flat regions turn white, the darker side of the edge stays grey.
  auto step = torch::full({1, 1, 28, 28}, 0.3F);
  step.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(),
                   torch::indexing::Slice(14, 28)},
                  0.8F);
  auto s1 = pencil_sketch(step, 1);
  ASSERT_EQ(s1.sizes(), (std::vector<int64_t>{1, 1, 28, 28}));
  EXPECT_GE(s1.min().item<float>(), 0.0F);
  EXPECT_LE(s1.max().item<float>(), 1.0F);
  EXPECT_LT(s1[0][0][10][13].item<float>(), 0.95F);      // next to the edge: a pencil line
  EXPECT_FLOAT_EQ(s1[0][0][10][0].item<float>(), 1.0F);  // flat: paper white
  // Black stays black (0 * 256 / x = 0).
  EXPECT_FLOAT_EQ(pencil_sketch(torch::zeros({1, 1, 8, 8}), 1).max().item<float>(), 0.0F);
  auto s3 = pencil_sketch(step, 3);
  EXPECT_TRUE(torch::equal(s3[0][0], s3[0][2]));
  EXPECT_TRUE(torch::equal(s3[0][0], s1[0][0]));
}

TEST(Transforms, SketchUsesTheWideKernelAbove64Pixels) {
  // A pixel 6 columns from an edge is outside the 7x7 kernel (radius 3) but inside 21x21 (radius 10).
  auto step_image = [](int64_t size) {
    auto img = torch::full({1, 1, size, size}, 0.3F);
    img.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(),
                    torch::indexing::Slice(size / 2, size)},
                   0.8F);
    return img;
  };
  auto small = pencil_sketch(step_image(64), 1);
  auto large = pencil_sketch(step_image(96), 1);
  EXPECT_FLOAT_EQ(small[0][0][5][32 - 6].item<float>(), 1.0F);
  EXPECT_LT(large[0][0][5][48 - 6].item<float>(), 0.99F);
  EXPECT_GE(large.min().item<float>(), 0.0F);
}

TEST(Transforms, ConvertAndResize) {
  auto rgb = torch::rand({2, 3, 10, 12});
  auto gray = data::convert_channels(rgb, 1);
  ASSERT_EQ(gray.sizes(), (std::vector<int64_t>{2, 1, 10, 12}));
  EXPECT_NEAR(gray[0][0][0][0].item<float>(),
              0.299F * rgb[0][0][0][0].item<float>() + 0.587F * rgb[0][1][0][0].item<float>() +
                  0.114F * rgb[0][2][0][0].item<float>(),
              1e-6);
  auto back = data::convert_channels(gray, 3);
  EXPECT_TRUE(torch::equal(back[1][0], back[1][2]));
  MAPD_EXPECT_THROW_WITH(data::convert_channels(rgb, 2), ConfigError,
                         "data.channels = 2: expected 0 (as stored), 1 or 3");
  auto small = resize_images(rgb, 5, 6);
  ASSERT_EQ(small.sizes(), (std::vector<int64_t>{2, 3, 5, 6}));
  auto flat = resize_images(torch::full({1, 1, 40, 40}, 0.25F), 28, 28);
  EXPECT_NEAR(flat.mean().item<float>(), 0.25F, 1e-6);
}

}  // namespace
}  // namespace mapd::probes
