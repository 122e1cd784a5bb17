// Side-by-side check against scikit-learn's KNeighborsClassifier(n_neighbors=k).predict_proba
// (python3-sklearn). Exact distance ties at the k-th neighbour are the only allowed difference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "mapd/knn/knn.hpp"

namespace mapd::knn {
namespace {

namespace fs = std::filesystem;

bool has_sklearn() { return std::system("/usr/bin/python3 -c 'import sklearn' >/dev/null 2>&1") == 0; }

template <class T>
void write_raw(const fs::path& path, const std::vector<T>& v) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

struct Case {
  int64_t fit = 0, queries = 0, dim = 0, categories = 0, k = 0;
  bool quantized = false;  ///< values on a 0.25 grid: many exact distance ties
};

void compare_with_sklearn(const Case& c, uint32_t seed) {
  const fs::path dir = fs::temp_directory_path() /
                       ("mapd_knn_sklearn_" + std::to_string(::getpid()) + "_" + std::to_string(seed));
  fs::create_directories(dir);
  std::mt19937 gen(seed);
  std::gamma_distribution<float> loss(1.5F, 0.8F);
  auto value = [&] {
    float v = loss(gen);
    return c.quantized ? std::round(v * 4.0F) / 4.0F : v;
  };
  FitSet fit;
  fit.dim = c.dim;
  fit.num_categories = c.categories;
  for (int64_t i = 0; i < c.fit * c.dim; ++i) {
    fit.x.push_back(value());
  }
  for (int64_t i = 0; i < c.fit; ++i) {
    fit.category.push_back(static_cast<int32_t>(gen() % static_cast<uint32_t>(c.categories)));
  }
  std::vector<float> q;
  for (int64_t i = 0; i < c.queries * c.dim; ++i) {
    q.push_back(value());
  }
  write_raw(dir / "fit.f32", fit.x);
  write_raw(dir / "cat.i32", fit.category);
  write_raw(dir / "query.f32", q);
  const std::string script = dir.string() + "/run.py";
  {
    std::ofstream py(script);
    py << "import numpy as np\nfrom sklearn.neighbors import KNeighborsClassifier\n"
       << "d='" << dir.string() << "'\n"
       << "x=np.fromfile(d+'/fit.f32',dtype=np.float32).reshape(-1," << c.dim << ")\n"
       << "y=np.fromfile(d+'/cat.i32',dtype=np.int32)\n"
       << "q=np.fromfile(d+'/query.f32',dtype=np.float32).reshape(-1," << c.dim << ")\n"
       << "m=KNeighborsClassifier(n_neighbors=" << c.k << ").fit(x,y)\n"
       << "p=np.zeros((len(q)," << c.categories << "))\n"
       << "p[:,m.classes_]=m.predict_proba(q)\n"
       << "p.astype(np.float64).tofile(d+'/prob.f64')\n";
  }
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script).c_str()), 0);
  std::vector<double> expected(static_cast<size_t>(c.queries * c.categories));
  {
    std::ifstream in(dir / "prob.f64", std::ios::binary);
    in.read(reinterpret_cast<char*>(expected.data()), static_cast<std::streamsize>(expected.size() * 8));
    ASSERT_TRUE(in.good());
  }
  config::KnnConfig o;
  o.k = c.k;
  const auto p = TrajectoryKnn(fit, o).predict(q.data(), c.queries);
  int64_t differ = 0;
  int64_t differ_without_tie = 0;
  for (int64_t i = 0; i < c.queries; ++i) {
    bool same = true;
    for (int64_t j = 0; j < c.categories; ++j) {
      const auto idx = static_cast<size_t>(i * c.categories + j);
      same = same && std::abs(expected[idx] - static_cast<double>(p.prob[idx])) < 1e-6;
    }
    if (!same) {
      ++differ;
      differ_without_tie += p.boundary_tie[static_cast<size_t>(i)] == 0 ? 1 : 0;
    }
  }
  std::printf(
      "[sklearn] fit %ld, queries %ld, dim %ld, k %ld%s: %ld queries with an exact distance tie at the "
      "k-th neighbour, %ld differ from scikit-learn (all at ties: %s)\n",
      static_cast<long>(c.fit), static_cast<long>(c.queries), static_cast<long>(c.dim),
      static_cast<long>(c.k), c.quantized ? " (quantised values)" : "", static_cast<long>(p.boundary_ties),
      static_cast<long>(differ), differ_without_tie == 0 ? "yes" : "no");
  EXPECT_EQ(differ_without_tie, 0) << "differences from scikit-learn without an exact distance tie";
  if (!c.quantized) {
    EXPECT_EQ(differ, 0);
  }
  fs::remove_all(dir);
}

TEST(ScikitLearnParity, PredictProbaIsIdenticalOnContinuousTrajectories) {
  if (!has_sklearn()) {
    GTEST_SKIP() << "/usr/bin/python3 with scikit-learn not available";
  }
  compare_with_sklearn({1500, 3000, 100, 6, 20, false}, 11);
  compare_with_sklearn({90, 500, 7, 3, 5, false}, 12);
}

TEST(ScikitLearnParity, DifferencesOnlyAtExactDistanceTies) {
  if (!has_sklearn()) {
    GTEST_SKIP() << "/usr/bin/python3 with scikit-learn not available";
  }
  compare_with_sklearn({300, 2000, 3, 4, 20, true}, 13);
}

}  // namespace
}  // namespace mapd::knn
