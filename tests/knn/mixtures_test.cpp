#include "mapd/knn/mixtures.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <vector>

#include "mapd/core/error.hpp"

#include "../common/expect_error.hpp"

// Numbers marked "reference" come from tests/knn/mixtures_reference.py (numpy 2.4.6, run once with
// ~/.cache/mapd/venv-torch-2.11.0/bin/python): an independent, vectorised numpy computation of the
// same procedures (docs/label-correction.md §2), with the inputs rounded to float32 as the C++ API
// takes them.
namespace mapd::knn {
namespace {

constexpr float kNanF = std::numeric_limits<float>::quiet_NaN();

/// |actual - expected| <= 1e-9 |expected| + 1e-15: the C++ and numpy sums run in different orders.
void expect_close(double actual, double expected, const char* what) {
  EXPECT_NEAR(actual, expected, 1e-9 * std::abs(expected) + 1e-15) << what;
}

double beta_density(double x, double a, double b) {
  return std::exp((a - 1) * std::log(x) + (b - 1) * std::log(1 - x) - std::lgamma(a) - std::lgamma(b) +
                  std::lgamma(a + b));
}

// ---------------------------------------------------------------------------------------------
// linear_percentile

TEST(LinearPercentile, EqualsNumpyDefault) {
  // reference: np.percentile([3.5, 1, 2, 10, 7.25, -4, 0.3], [0, 5, 37.5, 50, 95, 100])
  const std::vector<double> sorted{-4.0, 0.3, 1.0, 2.0, 3.5, 7.25, 10.0};
  const std::array<double, 6> q{0.0, 5.0, 37.5, 50.0, 95.0, 100.0};
  const std::array<double, 6> expected{-4.0, -2.71, 1.25, 2.0, 9.174999999999997, 10.0};
  for (size_t i = 0; i < q.size(); ++i) {
    EXPECT_DOUBLE_EQ(linear_percentile(sorted, q[i]), expected[i]) << "q = " << q[i];
  }
  // reference: np.percentile([0.1 i^2 - 0.37 i for i in range(23)], [5, 95])
  std::vector<double> long_sample;
  long_sample.reserve(23);
  for (int i = 0; i < 23; ++i) {
    long_sample.push_back(0.1 * i * i - 0.37 * i);
  }
  std::sort(long_sample.begin(), long_sample.end());
  EXPECT_DOUBLE_EQ(linear_percentile(long_sample, 5.0), -0.264);
  EXPECT_DOUBLE_EQ(linear_percentile(long_sample, 95.0), 35.956999999999994);
  EXPECT_DOUBLE_EQ(linear_percentile({4.5}, 5.0), 4.5);
}

TEST(LinearPercentile, RejectsEmptyInputAndBadQ) {
  MAPD_EXPECT_THROW_WITH((void)linear_percentile({}, 5.0), InternalError, "empty sample");
  MAPD_EXPECT_THROW_WITH((void)linear_percentile({1.0, 2.0}, 101.0), InternalError, "q = 101");
}

// ---------------------------------------------------------------------------------------------
// BetaMixture

const std::vector<float> kTinyLosses{0.01F, 0.05F, 0.08F, 0.1F, 0.12F, 0.15F, 0.2F, 0.22F, 0.25F, 0.3F, 0.35F,
                                     0.4F,  0.45F, 1.8F,  2.0F, 2.2F,  2.5F,  2.7F, 3.0F,  3.3F,  4.5F};

// reference: bmm_table
constexpr std::array<double, BetaMixture::kBins> kTinyTable{
    4.2589822766346325e-58, 3.1377640217958e-09,    9.443187888997962e-08,  6.974779885430894e-07,
    2.898761510036829e-06,  8.792187676646649e-06,  2.185178821347828e-05,  4.7338583986656206e-05,
    9.274649031619777e-05,  0.00016829164486309092, 0.00028744906535737447, 0.0004675398683477467,
    0.0007303712206742824,  0.0011029295695451286,  0.0016181252976345275,  0.002315583536323526,
    0.0032424711691256564,  0.004454343768182374,   0.006015988021748689,   0.008002224850039626,
    0.01049862567703629,    0.013602079207376194,   0.01742112882901221,    0.02207598216370628,
    0.027698075715931778,   0.03442906129182362,    0.04241907019010022,    0.05182411055805061,
    0.06280246822293963,    0.07551001777085169,    0.09009441428676518,    0.10668823074748827,
    0.12540123143730408,    0.14631212165888616,    0.16946027412411657,    0.194838079709837,
    0.22238467459295974,    0.25198182438272976,    0.2834526708632984,     0.316563854436206,
    0.3510312234834185,     0.3865289647262773,     0.4227015929731624,     0.4591778929323527,
    0.49558567405323045,    0.5315661245968074,     0.5667866438601534,     0.6009512677675287,
    0.6338081322556223,     0.6651537780567521,     0.694834430167927,      0.7227446418540255,
    0.7488238545748542,     0.7730514909275606,     0.7954411824796206,     0.8160346616338215,
    0.8348957415091239,     0.8521046921647352,     0.8677532115634256,     0.8819400954510809,
    0.8947676363527655,     0.9063387286277547,     0.9167546219071506,     0.926113245900025,
    0.934508021794627,      0.9420270758381073,     0.9487527762320299,     0.9547615229553732,
    0.9601237298650543,     0.9649039483017858,     0.9691610907439601,     0.9729487214156283,
    0.9763153879974301,     0.9793049746866832,     0.9819570618674427,     0.9843072816930081,
    0.9863876620818196,     0.9882269541152067,     0.9898509397265944,     0.9912827179981257,
    0.992542969428638,      0.9936501982877574,     0.9946209536914042,     0.9954700303784171,
    0.9962106503794007,     0.9968546268810725,     0.9974125116282544,     0.9978937271905258,
    0.9983066853649473,     0.9986588928981692,     0.9989570455924818,     0.999207111704038,
    0.9994144053253111,     0.999583650112813,      0.9997190331404443,     0.9998242474713619,
    0.9999025191644317,     0.9999566058481074,     0.9999887188759629,     0.9999990567744144};

TEST(BetaMixture, TinyCaseMatchesNumpyReference) {
  std::vector<float> losses = kTinyLosses;
  losses.insert(losses.begin() + 7, kNanF);  // skipped; the reference never sees it
  const BetaMixture model = BetaMixture::fit(losses);

  // reference: bmm_min_max (p5 + 1e-5 and p95 of the 21 losses; 0.01 and 4.5 fall outside)
  expect_close(model.min_loss(), 0.05001000074505806, "min");
  expect_close(model.max_loss(), 3.299999952316284, "max");
  // reference: bmm_alpha, bmm_beta, bmm_weights
  expect_close(model.alpha()[0], 0.2981682909659145, "alpha 0");
  expect_close(model.alpha()[1], 5.181942953293467, "alpha 1");
  expect_close(model.beta()[0], 3.429619605540034, "beta 0");
  expect_close(model.beta()[1], 1.5582484263503336, "beta 1");
  expect_close(model.weights()[0], 0.6642587000142793, "weight 0");
  expect_close(model.weights()[1], 0.33574129998572066, "weight 1");
  for (size_t j = 0; j < BetaMixture::kBins; ++j) {
    EXPECT_NEAR(model.table()[j], kTinyTable[j], 1e-9 * kTinyTable[j] + 1e-15) << "bin " << j;
  }
  // reference: bmm_queries -> bmm_probability (below the range: bin 0; above: bin 99)
  const std::array<float, 8> queries{-1.0F, 0.0F, 0.2F, 0.9F, 1.5F, 2.4F, 3.3F, 10.0F};
  const std::array<double, 8> expected{4.2589822766346325e-58, 4.2589822766346325e-58, 2.898761510036829e-06,
                                       0.04241907019010022,    0.49558567405323045,    0.9763153879974301,
                                       0.9999990567744144,     0.9999990567744144};
  for (size_t i = 0; i < queries.size(); ++i) {
    EXPECT_NEAR(model.probability(queries[i]), expected[i], 1e-9 * expected[i] + 1e-15) << queries[i];
  }
  EXPECT_DOUBLE_EQ(model.probability(std::numeric_limits<float>::infinity()), model.table().back());
}

/// `n` draws of Beta(k, 20 - k) scaled to `scale`: the k-th smallest of 19 uniforms (an order
/// statistic), so the sample needs nothing but std::mt19937, whose output the standard fixes.
std::vector<float> beta_sample(std::mt19937& rng, size_t n, size_t k, double scale) {
  std::vector<float> out;
  std::array<double, 19> u{};
  for (size_t i = 0; i < n; ++i) {
    for (double& value : u) {
      value = (static_cast<double>(rng()) + 0.5) / 4294967296.0;  // in (0, 1)
    }
    std::nth_element(u.begin(), u.begin() + static_cast<std::ptrdiff_t>(k - 1), u.end());
    out.push_back(static_cast<float>(scale * u[k - 1]));
  }
  return out;
}

TEST(BetaMixture, SeparatesTwoWellSeparatedBetaSamples) {
  // 600 clean losses ~ 5 Beta(3, 17) (mean 0.75 nats) and 400 noisy ones ~ 5 Beta(17, 3) (mean 4.25).
  // Not every well-separated sample fits this well in 10 EM iterations from the fixed start: with
  // 800 + 200 draws of 5 Beta(2, 8) / 5 Beta(8, 2), component 1 ends U-shaped (alpha < 1) and bin 0
  // reads 1; with 500 + 500 the table only rises gradually (0.03 at bin 5, 0.49 at bin 50). The
  // numpy reference does the same (see mixtures.hpp).
  std::mt19937 rng(7);
  const std::vector<float> clean = beta_sample(rng, 600, 3, 5.0);
  const std::vector<float> noisy = beta_sample(rng, 400, 17, 5.0);
  std::vector<float> losses;
  for (size_t i = 0; i < 200; ++i) {  // interleaved, so order cannot matter
    losses.insert(losses.end(), clean.begin() + static_cast<std::ptrdiff_t>(3 * i),
                  clean.begin() + static_cast<std::ptrdiff_t>(3 * i + 3));
    losses.insert(losses.end(), noisy.begin() + static_cast<std::ptrdiff_t>(2 * i),
                  noisy.begin() + static_cast<std::ptrdiff_t>(2 * i + 2));
  }
  const BetaMixture model = BetaMixture::fit(losses);

  EXPECT_GT(model.alpha()[1], model.beta()[1]) << "component 1 is the high-loss mode";
  EXPECT_LT(model.alpha()[0], model.beta()[0]) << "component 0 is the low-loss mode";
  EXPECT_NEAR(model.weights()[1], 0.4, 0.05);
  for (size_t j = 1; j < BetaMixture::kBins; ++j) {
    EXPECT_GE(model.table()[j], model.table()[j - 1]) << "bin " << j;
  }
  EXPECT_LT(model.probability(0.05F), 0.01);
  EXPECT_LT(model.probability(0.5F), 0.05);
  EXPECT_GT(model.probability(4.5F), 0.99);
  EXPECT_GT(model.probability(4.95F), 0.99);
  size_t clean_right = 0;
  size_t noisy_right = 0;
  for (size_t i = 0; i < clean.size(); ++i) {
    clean_right += model.probability(clean[i]) < 0.5 ? 1 : 0;
  }
  for (size_t i = 0; i < noisy.size(); ++i) {
    noisy_right += model.probability(noisy[i]) > 0.5 ? 1 : 0;
  }
  EXPECT_GE(clean_right, 594U);  // 99 %
  EXPECT_GE(noisy_right, 396U);
}

TEST(BetaMixture, TableIsFlatAfterItsMaximum) {
  // A wide low-loss mode and a narrow high-loss one in the middle: the raw posterior of
  // component 1 falls again towards the top of the range, and the table must hold the maximum.
  std::vector<float> losses;
  losses.reserve(600);
  for (int i = 0; i < 400; ++i) {
    losses.push_back(0.0125F * static_cast<float>(i));  // uniform on [0, 5)
  }
  for (int i = 0; i < 200; ++i) {
    losses.push_back(3.0F + 0.001F * static_cast<float>(i % 20));  // a spike at 3.0 .. 3.019
  }
  const BetaMixture model = BetaMixture::fit(losses);
  const auto& table = model.table();

  std::array<double, BetaMixture::kBins> raw{};
  for (size_t j = 0; j < BetaMixture::kBins; ++j) {
    const double x =
        j + 1 == BetaMixture::kBins ? 1.0 - 1e-12 : 1e-12 + static_cast<double>(j) * (1.0 - 2e-12) / 99.0;
    const double f0 = model.weights()[0] * beta_density(x, model.alpha()[0], model.beta()[0]);
    const double f1 = model.weights()[1] * beta_density(x, model.alpha()[1], model.beta()[1]);
    raw[j] = f1 / (f0 + f1 + 1e-12);
  }
  const size_t peak = static_cast<size_t>(std::max_element(raw.begin(), raw.end()) - raw.begin());
  ASSERT_LT(peak + 1, BetaMixture::kBins) << "the case must have a maximum before the last bin";
  ASSERT_LT(raw.back(), raw[peak] - 0.1) << "the case must have a falling raw posterior";
  for (size_t j = 0; j < BetaMixture::kBins; ++j) {
    EXPECT_NEAR(table[j], j < peak ? raw[j] : raw[peak], 1e-12) << "bin " << j;
    if (j > peak) {
      EXPECT_EQ(table[j], table[peak]) << "bin " << j;
    }
  }
  EXPECT_EQ(model.probability(1e6F), table.back());
}

TEST(BetaMixture, SkipsNanLosses) {
  std::vector<float> with_nan;
  for (size_t i = 0; i < kTinyLosses.size(); ++i) {
    with_nan.push_back(kTinyLosses[i]);
    if (i % 3 == 0) {
      with_nan.push_back(kNanF);
    }
  }
  const BetaMixture a = BetaMixture::fit(kTinyLosses);
  const BetaMixture b = BetaMixture::fit(with_nan);
  EXPECT_EQ(a.alpha(), b.alpha());
  EXPECT_EQ(a.beta(), b.beta());
  EXPECT_EQ(a.weights(), b.weights());
  EXPECT_EQ(a.table(), b.table());
  EXPECT_EQ(a.min_loss(), b.min_loss());
  EXPECT_EQ(a.max_loss(), b.max_loss());
  EXPECT_TRUE(std::isnan(a.probability(kNanF)));
}

TEST(BetaMixture, DegenerateInputIsAnInternalError) {
  MAPD_EXPECT_THROW_WITH((void)BetaMixture::fit({}), InternalError, "none of the 0 losses");
  MAPD_EXPECT_THROW_WITH((void)BetaMixture::fit({kNanF, kNanF}), InternalError, "none of the 2 losses");
  MAPD_EXPECT_THROW_WITH((void)BetaMixture::fit({2.0F, 2.0F, 2.0F, 2.0F}), InternalError, "has no width");
  MAPD_EXPECT_THROW_WITH((void)BetaMixture::fit({2.0F}), InternalError, "has no width");
  // 19 zeros and one 100: p5 = 0, p95 = 5, the zeros are in range and all clamp to 1e-3.
  std::vector<float> zeros(19, 0.0F);
  zeros.push_back(100.0F);
  MAPD_EXPECT_THROW_WITH((void)BetaMixture::fit(zeros), InternalError, "all normalise to the same value");
  const std::vector<float> infinite{1.0F, 2.0F, std::numeric_limits<float>::infinity()};
  MAPD_EXPECT_THROW_WITH((void)BetaMixture::fit(infinite), InternalError, "is not finite");
}

// ---------------------------------------------------------------------------------------------
// GaussianMixture

const std::vector<std::vector<float>> kTwo{{1.0F, 3.0F}, {4.0F, 8.0F}};
const std::vector<std::vector<float>> kThree{{1.0F, 3.0F}, {4.0F, 8.0F}, {10.0F, 10.0F, 13.0F}};

void expect_posterior(const GaussianMixture& model, float loss, const std::vector<double>& expected) {
  const std::vector<double> p = model.posterior(loss);
  ASSERT_EQ(p.size(), expected.size());
  for (size_t k = 0; k < p.size(); ++k) {
    EXPECT_NEAR(p[k], expected[k], 1e-12 * expected[k] + 1e-18) << "loss " << loss << ", component " << k;
  }
}

TEST(GaussianMixture, TwoComponentsMatchHandComputation) {
  const GaussianMixture model = GaussianMixture::fit(kTwo);
  ASSERT_EQ(model.size(), 2U);
  EXPECT_EQ(model.means(), (std::vector<double>{2.0, 6.0}));
  EXPECT_EQ(model.stds(), (std::vector<double>{1.0, 2.0}));  // population std
  EXPECT_EQ(model.weights(), (std::vector<double>{0.5, 0.5}));
  // By hand at 3.5: 0.5 N(3.5; 2, 1) = 0.5 e^-1.125 / sqrt(2 pi), 0.5 N(3.5; 6, 2) = 0.25 e^-0.78125 /
  // sqrt(2 pi).
  const double s = std::sqrt(2.0 * 3.14159265358979323846);
  const double f0 = 0.5 * std::exp(-1.125) / s;
  const double f1 = 0.25 * std::exp(-0.78125) / s;
  expect_posterior(model, 3.5F, {f0 / (f0 + f1 + 1e-12), f1 / (f0 + f1 + 1e-12)});
  // reference: gmm_two_posterior(q)
  expect_posterior(model, 0.0F, {0.9605755774863579, 0.03942442247805924});
  expect_posterior(model, 3.5F, {0.5864713891392996, 0.41352861085164405});
  expect_posterior(model, 5.0F, {0.0245580051602926, 0.9754419948286249});
  expect_posterior(model, 9.0F, {1.4105759699798957e-10, 0.9999999998280586});
  EXPECT_EQ(model.argmax(3.5F), 0U);
  EXPECT_EQ(model.argmax(5.0F), 1U);
}

TEST(GaussianMixture, ThreeComponentsMatchReference) {
  const GaussianMixture model = GaussianMixture::fit(kThree);
  ASSERT_EQ(model.size(), 3U);
  EXPECT_DOUBLE_EQ(model.means()[2], 11.0);
  EXPECT_DOUBLE_EQ(model.stds()[2], std::sqrt(2.0));  // sqrt((1 + 1 + 4) / 3)
  EXPECT_DOUBLE_EQ(model.weights()[2], 1.0 / 3.0);
  // reference: gmm_three_posterior(q)
  expect_posterior(model, 0.0F, {0.9605755774689166, 0.0394244224773434, 3.6576102767850976e-13});
  expect_posterior(model, 3.5F, {0.5864708039513963, 0.4135281982280357, 9.978069836044923e-07});
  expect_posterior(model, 5.0F, {0.02455326860897116, 0.9752538593901219, 0.00019287198428636983});
  expect_posterior(model, 9.0F, {5.4200516063519566e-11, 0.38424386355435186, 0.6157561363736472});
  EXPECT_EQ(model.argmax(9.0F), 2U);
}

TEST(GaussianMixture, AdaptWeightsMatchesReferenceAndSkipsNan) {
  // reference: gmm_two_adapted_weights, gmm_three_adapted_weights, *_posterior_after_adapt(5.0)
  const std::vector<float> losses{2.0F, 5.5F, kNanF, 6.0F, 7.0F, 11.0F};
  GaussianMixture two = GaussianMixture::fit(kTwo);
  two.adapt_weights(losses);
  expect_close(two.weights()[0], 0.1883587117312132, "two, weight 0");
  expect_close(two.weights()[1], 0.8116412882687868, "two, weight 1");
  EXPECT_EQ(two.means(), (std::vector<double>{2.0, 6.0}));
  expect_posterior(two, 5.0F, {0.005808756227350969, 0.9941912437656905});

  GaussianMixture three = GaussianMixture::fit(kThree);
  three.adapt_weights(losses);
  expect_close(three.weights()[0], 0.18835762072050344, "three, weight 0");
  expect_close(three.weights()[1], 0.6112709970391723, "three, weight 1");
  expect_close(three.weights()[2], 0.20037138224032422, "three, weight 2");
  expect_posterior(three, 5.0F, {0.00769762800351529, 0.9922380485488932, 6.432343837035008e-05});
}

TEST(GaussianMixture, AdaptWeightsMovesTowardTheHeavierComponent) {
  GaussianMixture model = GaussianMixture::fit(kTwo);
  model.adapt_weights({1.5F, 2.0F, 2.5F, 1.8F, 6.0F});  // four near mu_0 = 2, one near mu_1 = 6
  EXPECT_GT(model.weights()[0], 0.7);
  EXPECT_NEAR(model.weights()[0] + model.weights()[1], 1.0, 1e-15);
  const double before = model.weights()[1];
  model.adapt_weights({6.0F, 7.0F, 5.5F, 6.5F, 8.0F, 2.0F});  // now most mass is near mu_1
  EXPECT_GT(model.weights()[1], before);
  EXPECT_GT(model.weights()[1], 0.6);
}

TEST(GaussianMixture, ArgmaxTiesGoToTheLowestIndex) {
  const GaussianMixture two = GaussianMixture::from_parameters({1.0, 3.0}, {0.5, 0.5}, {1.0, 1.0});
  EXPECT_EQ(two.weights(), (std::vector<double>{0.5, 0.5}));  // normalised
  const std::vector<double> p = two.posterior(2.0F);
  ASSERT_EQ(p[0], p[1]);  // the case is an exact tie
  EXPECT_EQ(two.argmax(2.0F), 0U);
  EXPECT_EQ(two.argmax(2.5F), 1U);
  // Far from both means every density underflows: the posterior is all zero, argmax 0.
  EXPECT_EQ(two.posterior(1000.0F), (std::vector<double>{0.0, 0.0}));
  EXPECT_EQ(two.argmax(1000.0F), 0U);

  const GaussianMixture three =
      GaussianMixture::from_parameters({0.0, 5.0, 7.0}, {1.0, 1.0, 1.0}, {1.0, 1.0, 1.0});
  EXPECT_EQ(three.argmax(6.0F), 1U);
  EXPECT_EQ(three.argmax(6.5F), 2U);
}

TEST(GaussianMixture, ConstantCategoryGetsTheStdFloor) {
  const GaussianMixture model = GaussianMixture::fit({{2.0F, 2.0F, 2.0F}, {4.0F, kNanF, 8.0F}, {7.0F}});
  EXPECT_EQ(model.stds()[0], GaussianMixture::kMinStd);
  EXPECT_EQ(model.stds()[1], 2.0);  // the NaN is skipped
  EXPECT_EQ(model.stds()[2], GaussianMixture::kMinStd);
  EXPECT_EQ(model.means()[1], 6.0);
  EXPECT_NEAR(model.posterior(2.0F)[0], 1.0, 1e-6);  // 1 - N(2; 6, 2) / N(2; 2, 1e-6)
  EXPECT_EQ(model.argmax(2.0F), 0U);
  EXPECT_EQ(model.argmax(3.0F), 1U);
}

TEST(GaussianMixture, NanLossGivesNanPosteriorAndArgmaxThrows) {
  const GaussianMixture model = GaussianMixture::fit(kTwo);
  const std::vector<double> p = model.posterior(kNanF);
  ASSERT_EQ(p.size(), 2U);
  EXPECT_TRUE(std::isnan(p[0]) && std::isnan(p[1]));
  MAPD_EXPECT_THROW_WITH((void)model.argmax(kNanF), InternalError, "NaN loss");
}

TEST(GaussianMixture, RejectsBadInput) {
  MAPD_EXPECT_THROW_WITH((void)GaussianMixture::fit({{1.0F, 2.0F}}), InternalError,
                         "at least 2 categories, got 1");
  MAPD_EXPECT_THROW_WITH((void)GaussianMixture::fit({{1.0F}, {}}), InternalError, "category 1 has no loss");
  MAPD_EXPECT_THROW_WITH((void)GaussianMixture::fit({{kNanF}, {1.0F}}), InternalError,
                         "category 0 has no loss");
  MAPD_EXPECT_THROW_WITH((void)GaussianMixture::fit({{1.0F}, {std::numeric_limits<float>::infinity()}}),
                         InternalError, "category 1 has an infinite loss");
  MAPD_EXPECT_THROW_WITH((void)GaussianMixture::from_parameters({1.0, 2.0}, {1.0}, {1.0, 1.0}), InternalError,
                         "2 means, 1 stds and 2 weights");
  MAPD_EXPECT_THROW_WITH((void)GaussianMixture::from_parameters({1.0, 2.0}, {1.0, 0.0}, {1.0, 1.0}),
                         InternalError, "std 0 of component 1");
  MAPD_EXPECT_THROW_WITH((void)GaussianMixture::from_parameters({1.0, 2.0}, {1.0, 1.0}, {0.0, 0.0}),
                         InternalError, "all weights are 0");
  GaussianMixture model = GaussianMixture::fit(kTwo);
  MAPD_EXPECT_THROW_WITH(model.adapt_weights({kNanF}), InternalError, "none of the 1 losses");
  MAPD_EXPECT_THROW_WITH(model.adapt_weights({}), InternalError, "none of the 0 losses");
}

}  // namespace
}  // namespace mapd::knn
