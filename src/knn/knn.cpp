#include "mapd/knn/knn.hpp"

#include <cblas.h>
#include <omp.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "mapd/core/error.hpp"

#include "search_backend.hpp"

namespace mapd::knn {

namespace detail {
namespace {

// The per-row loops below are plain C++ that GCC vectorises; on x86-64 each gets AVX-512 and AVX2
// clones picked at load time (the default build targets baseline SSE2 only).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define MAPD_KNN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MAPD_KNN_CLONES
#endif

/// Adds ||x||^2 to the distance row `row` [m] (fit rows sorted by category, `begin` [C + 1]) and
/// writes the minimum of each category plus `qn` to `cmin` [C] (infinity for an empty category).
MAPD_KNN_CLONES void finish_row(float* row, const float* xn, const int64_t* begin, int64_t categories,
                                float qn, float* cmin, float* row_min) {
  for (int64_t c = 0; c < categories; ++c) {
    // Eight independent minima let the compiler vectorise the reduction.
    const int64_t b = begin[c];
    const int64_t e = begin[c + 1];
    float lane[8];
    std::fill(lane, lane + 8, std::numeric_limits<float>::infinity());
    int64_t j = b;
    for (; j + 8 <= e; j += 8) {
      for (int u = 0; u < 8; ++u) {
        const float v = row[j + u] + xn[j + u];
        row[j + u] = v;
        lane[u] = lane[u] < v ? lane[u] : v;
      }
    }
    for (; j < e; ++j) {
      row[j] += xn[j];
      lane[0] = lane[0] < row[j] ? lane[0] : row[j];
    }
    row_min[c] = *std::min_element(lane, lane + 8);
    cmin[c] = row_min[c] + qn;
  }
}

/// The smallest float above `v` + `slack` (the sum rounded up, so no rounding loses a candidate).
float upper_bound_of(float v, float slack) {
  return std::nextafter(v + slack, std::numeric_limits<float>::infinity());
}

/// A value v with at least `keep` of `values` [count] (count >= keep >= 1) at or below it, within
/// (max - min) / 2^11 above the keep-th smallest: a bisection whose steps are vectorised counts
/// (cheaper and branch-free where an nth_element over the few values is not).
MAPD_KNN_CLONES float keep_bound(const float* values, int64_t count, int64_t keep) {
  // Sixteen independent lanes let the compiler vectorise the min / max reductions.
  float lo_lane[16];
  float hi_lane[16];
  std::fill(lo_lane, lo_lane + 16, values[0]);
  std::fill(hi_lane, hi_lane + 16, values[0]);
  int64_t j = 0;
  for (; j + 16 <= count; j += 16) {
    for (int u = 0; u < 16; ++u) {
      lo_lane[u] = values[j + u] < lo_lane[u] ? values[j + u] : lo_lane[u];
      hi_lane[u] = values[j + u] > hi_lane[u] ? values[j + u] : hi_lane[u];
    }
  }
  for (; j < count; ++j) {
    lo_lane[0] = values[j] < lo_lane[0] ? values[j] : lo_lane[0];
    hi_lane[0] = values[j] > hi_lane[0] ? values[j] : hi_lane[0];
  }
  float lo = *std::min_element(lo_lane, lo_lane + 16);
  float hi = *std::max_element(hi_lane, hi_lane + 16);
  // Invariant: at least `keep` values <= hi, fewer than `keep` values < lo or lo is the minimum.
  for (int step = 0; step < 11; ++step) {
    const float mid = lo + (hi - lo) * 0.5F;
    if (!(mid > lo && mid < hi)) {
      break;
    }
    int32_t below = 0;
    for (int64_t i = 0; i < count; ++i) {
      below += values[i] <= mid ? 1 : 0;
    }
    if (below >= keep) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi;
}

/// Writes to `cand` every j with row[j] <= (keep-th smallest of `row` [m]) + `slack` (and possibly
/// a few more a hair above), in no particular order, and returns their number (>= keep).
/// `group_min` [groups] and `values` [max(m, groups)] are scratch; keep <= groups / 2.
///
/// Strided groups {u, u + G, u + 2G, ...} have vectorisable minima, and a value with keep group
/// minima at or below it bounds the keep-th smallest value of the row from above (keep groups,
/// each with a row value at or below it). Only the groups whose minimum is under that bound (about
/// keep of them) are scanned, so a row of 1,500 yields ~keep + 5 candidates after one vectorised
/// pass and ~300 scalar compares; a bound over those few candidates then trims them.
MAPD_KNN_CLONES int64_t select_candidates(const float* row, int64_t m, int64_t keep, float slack,
                                          int64_t groups, float* group_min, float* values, int32_t* cand) {
  int64_t count = 0;
  if (m >= 2 * groups) {
    std::copy(row, row + groups, group_min);
    const int64_t full = m / groups * groups;
    for (int64_t b = groups; b < full; b += groups) {
      const float* chunk = row + b;
      for (int64_t u = 0; u < groups; ++u) {
        group_min[u] = chunk[u] < group_min[u] ? chunk[u] : group_min[u];
      }
    }
    for (int64_t j = full; j < m; ++j) {
      group_min[j - full] = row[j] < group_min[j - full] ? row[j] : group_min[j - full];
    }
    const float upper = upper_bound_of(keep_bound(group_min, groups, keep), slack);
    for (int64_t u = 0; u < groups; ++u) {
      if (group_min[u] <= upper) {
        for (int64_t j = u; j < m; j += groups) {
          cand[count] = static_cast<int32_t>(j);
          count += row[j] <= upper ? 1 : 0;
        }
      }
    }
  } else {
    for (int64_t j = 0; j < m; ++j) {
      cand[j] = static_cast<int32_t>(j);
    }
    count = m;
  }
  for (int64_t c = 0; c < count; ++c) {
    values[c] = row[cand[c]];
  }
  const float bound = upper_bound_of(keep_bound(values, count, keep), slack);
  int64_t kept = 0;
  for (int64_t c = 0; c < count; ++c) {
    cand[kept] = cand[c];
    kept += values[c] <= bound ? 1 : 0;
  }
  return kept;
}

/// The rows of each category within `slack` of its fp32 minimum `row_min` [C] (`row` [m] as
/// finish_row left it): at most kCategoryCandidates each into `rows` [C, kCategoryCandidates],
/// their number (or -1 when more qualify) into `counts` [C].
void category_candidates(const float* row, const int64_t* begin, int64_t categories, const float* row_min,
                         float slack, int32_t* rows, int32_t* counts) {
  for (int64_t c = 0; c < categories; ++c) {
    int32_t found = 0;
    if (std::isfinite(row_min[c])) {
      const float bound = upper_bound_of(row_min[c], slack);
      int32_t* out = rows + c * kCategoryCandidates;
      for (int64_t j = begin[c]; j < begin[c + 1]; ++j) {
        if (row[j] <= bound) {
          if (found == kCategoryCandidates) {
            found = -1;
            break;
          }
          out[found++] = static_cast<int32_t>(j);
        }
      }
    }
    counts[c] = found;
  }
}

class BlasBackend final : public SearchBackend {
 public:
  explicit BlasBackend(const CentredFit& fit) : fit_(fit) {}

  void search(const float* q, const float* q_norm2, const float* slack, int64_t count, int64_t keep,
              int64_t width, Shortlist& out) const override {
    const int64_t m = fit_.n;
    const int64_t dim = fit_.dim;
    const int64_t categories = static_cast<int64_t>(fit_.category_begin.size()) - 1;
    const int64_t groups = std::max<int64_t>(128, (4 * keep + 15) / 16 * 16);
    out.count = count;
    out.width = width;
    out.length.resize(static_cast<size_t>(count));
    out.index.resize(static_cast<size_t>(count * width));
    out.category_min.resize(static_cast<size_t>(count * categories));
    out.category_rows.resize(static_cast<size_t>(count * categories * kCategoryCandidates));
    out.category_count.resize(static_cast<size_t>(count * categories));
    // Each OpenMP thread runs single-threaded sgemm on its own tile of queries and selects on it
    // while the tile is in cache; OpenBLAS's own threads are parked meanwhile (two thread pools
    // spinning against each other on few cores are slow: docs/benchmarks.md, assign).
    const int64_t tiles = (count + kTileQueries - 1) / kTileQueries;
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
#pragma omp parallel
    {
      // Every sgemm call has the same shape (a short last tile is padded with zero queries):
      // OpenBLAS picks its kernel by shape (AMD's AVX2 kernels differ from AVX-512's here), and a
      // query's fp32 distances, so its continuous score, must not depend on where a block ends.
      std::unique_ptr<float[]> dist(new float[static_cast<size_t>(kTileQueries * m)]);
      std::unique_ptr<float[]> padded;
      std::vector<float> group_min(static_cast<size_t>(groups));
      std::vector<float> values(static_cast<size_t>(std::max(m, groups)));
      std::vector<int32_t> cand(static_cast<size_t>(m));
      std::vector<float> row_min(static_cast<size_t>(categories));
#pragma omp for schedule(dynamic, 1)
      for (int64_t tile = 0; tile < tiles; ++tile) {
        const int64_t start = tile * kTileQueries;
        const int64_t rows = std::min(kTileQueries, count - start);
        const float* tile_q = q + start * dim;
        if (rows < kTileQueries) {
          if (!padded) padded.reset(new float[static_cast<size_t>(kTileQueries * dim)]());
          std::copy(tile_q, tile_q + rows * dim, padded.get());
          std::fill(padded.get() + rows * dim, padded.get() + kTileQueries * dim, 0.0F);
          tile_q = padded.get();
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(kTileQueries),
                    static_cast<int>(m), static_cast<int>(dim), -2.0F, tile_q, static_cast<int>(dim),
                    fit_.x.data(), static_cast<int>(dim), 0.0F, dist.get(), static_cast<int>(m));
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t i = start + r;
          float* row = dist.get() + r * m;
          // ||q||^2 is added to the category minima only: it changes no order.
          finish_row(row, fit_.norm2.data(), fit_.category_begin.data(), categories, q_norm2[i],
                     out.category_min.data() + i * categories, row_min.data());
          category_candidates(row, fit_.category_begin.data(), categories, row_min.data(), slack[i],
                              out.category_rows.data() + i * categories * kCategoryCandidates,
                              out.category_count.data() + i * categories);
          const int64_t found =
              select_candidates(row, m, keep, slack[i], groups, group_min.data(), values.data(), cand.data());
          if (found > width) {
            out.length[static_cast<size_t>(i)] = -1;
          } else {
            out.length[static_cast<size_t>(i)] = static_cast<int32_t>(found);
            std::copy(cand.begin(), cand.begin() + found, out.index.begin() + i * width);
          }
        }
      }
    }
    openblas_set_num_threads(blas_threads);
  }

  [[nodiscard]] std::string name() const override { return "blas"; }
  [[nodiscard]] int64_t bytes_per_query() const override { return 0; }

 private:
  const CentredFit& fit_;
};

/// Squared distances in double from `q` [dim] to the fit rows `rows` [count] of `fit` [m, dim]
/// (vectorised along each row), or to rows 0..count-1 when `rows` is null: the exhaustive re-scan,
/// vectorised across rows over the transposed copy `fit_t` [dim, m] (faster than row by row:
/// docs/benchmarks.md, assign, real trajectories). The two paths may round the same distance
/// differently in the last bit; one query only ever uses one of them.
MAPD_KNN_CLONES void exact_distances(const double* q, const double* fit, const double* fit_t, int64_t m,
                                     const int32_t* rows, int64_t count, int64_t dim, double* out) {
  if (rows != nullptr) {  // the usual few candidates: row by row from `fit` [m, dim]
    for (int64_t c = 0; c < count; ++c) {
      const double* xr = fit + static_cast<int64_t>(rows[c]) * dim;
      double acc = 0.0;
#pragma omp simd reduction(+ : acc)
      for (int64_t t = 0; t < dim; ++t) {
        const double d = q[t] - xr[t];
        acc += d * d;
      }
      out[c] = acc;
    }
    return;
  }
  std::fill(out, out + count, 0.0);
  for (int64_t t = 0; t < dim; ++t) {
    const double qt = q[t];
    const double* column = fit_t + t * m;
#pragma omp simd
    for (int64_t c = 0; c < count; ++c) {
      const double d = qt - column[c];
      out[c] += d * d;
    }
  }
}

}  // namespace

std::unique_ptr<SearchBackend> make_blas_backend(const CentredFit& fit) {
  return std::make_unique<BlasBackend>(fit);
}

}  // namespace detail

struct TrajectoryKnn::Impl {
  int64_t k = 0;
  int64_t dim = 0;
  int64_t categories = 0;
  bool distance_weights = false;
  bool standardize = false;
  std::vector<double> scale_mean;     ///< [dim] standardisation (0 when off)
  std::vector<double> scale_inv_std;  ///< [dim] (1 when off)
  std::vector<float> centre;          ///< [dim] mean of the (standardised) fit rows
  std::vector<double> exact;          ///< [m, dim] (standardised) fit rows, sorted order
  std::vector<double> exact_t;        ///< [dim, m] the same, transposed (exact distances)
  std::vector<int32_t> category;      ///< [m] sorted order
  double max_norm = 0.0;              ///< max ||x - centre|| over fit rows
  detail::CentredFit fit;
  std::unique_ptr<detail::SearchBackend> backend;

  /// Shortlist capacity per query. The shortlist typically holds k + 1 to k + 4 rows, but on real
  /// trajectories near-zero losses put many typical probes within the fp32 error bound of the k-th
  /// (measured on the default audit: docs/benchmarks.md, assign, real trajectories); a query beyond
  /// the width is re-scanned exhaustively.
  [[nodiscard]] int64_t width() const { return std::min<int64_t>(fit.n, std::max<int64_t>(2 * k + 8, 256)); }
  /// Neighbours the exact stage ranks: k, and the next one to detect a tie at the k-th.
  [[nodiscard]] int64_t keep() const { return std::min<int64_t>(fit.n, k + 1); }
};

TrajectoryKnn::TrajectoryKnn(FitSet fit_set, const config::KnnConfig& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  const int64_t m = fit_set.size();
  MAPD_CHECK(m > 0, DataError,
             "k-NN fit set is empty: no fit-half probes. Build probes (probes.suite) before assigning.");
  MAPD_CHECK(fit_set.dim > 0, DataError, "k-NN fit set has trajectories of length 0: no epochs selected");
  MAPD_ASSERT(
      static_cast<int64_t>(fit_set.x.size()) == m * fit_set.dim,
      fmt::format("k-NN fit set: {} values for {} rows of length {}", fit_set.x.size(), m, fit_set.dim));
  MAPD_CHECK(
      options.k >= 1 && options.k <= m, ConfigError,
      fmt::format("knn.k = {} but the fit set has only {} probe trajectories; use --set knn.k=N with N <= {} "
                  "or more fit probes (probes.fit_per_category)",
                  options.k, m, m));
  MAPD_CHECK(m < std::numeric_limits<int32_t>::max(), DataError, "k-NN fit set too large");
  s.k = options.k;
  s.dim = fit_set.dim;
  s.categories = fit_set.num_categories;
  s.distance_weights = options.weights == "distance";
  s.standardize = options.standardize;
  MAPD_CHECK(options.weights == "uniform" || options.weights == "distance", ConfigError,
             fmt::format("knn.weights: expected uniform or distance, got '{}'", options.weights));
  for (int64_t i = 0; i < m; ++i) {
    const int32_t c = fit_set.category[static_cast<size_t>(i)];
    MAPD_CHECK(c >= 0 && c < s.categories, DataError,
               fmt::format("k-NN fit row {}: category {} outside [0, {})", i, c, s.categories));
    for (int64_t t = 0; t < s.dim; ++t) {
      MAPD_CHECK(std::isfinite(fit_set.x[static_cast<size_t>(i * s.dim + t)]), DataError,
                 fmt::format("k-NN fit row {}: non-finite loss at epoch offset {}", i, t));
    }
  }
  const auto dim = static_cast<size_t>(s.dim);
  s.scale_mean.assign(dim, 0.0);
  s.scale_inv_std.assign(dim, 1.0);
  if (s.standardize) {
    for (size_t t = 0; t < dim; ++t) {
      double sum = 0.0;
      double sum2 = 0.0;
      for (int64_t i = 0; i < m; ++i) {
        const double v = fit_set.x[static_cast<size_t>(i) * dim + t];
        sum += v;
        sum2 += v * v;
      }
      const double mean = sum / static_cast<double>(m);
      const double var = std::max(0.0, sum2 / static_cast<double>(m) - mean * mean);
      s.scale_mean[t] = mean;
      s.scale_inv_std[t] = var > 1e-24 ? 1.0 / std::sqrt(var) : 1.0;
    }
  }
  // Sort fit rows by category (stable) so per-category minima are contiguous ranges.
  std::vector<int64_t> order(static_cast<size_t>(m));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return fit_set.category[static_cast<size_t>(a)] < fit_set.category[static_cast<size_t>(b)];
  });
  s.exact.resize(static_cast<size_t>(m) * dim);
  s.category.resize(static_cast<size_t>(m));
  std::vector<double> mean(dim, 0.0);
  for (int64_t r = 0; r < m; ++r) {
    const auto src = static_cast<size_t>(order[static_cast<size_t>(r)]);
    s.category[static_cast<size_t>(r)] = fit_set.category[src];
    for (size_t t = 0; t < dim; ++t) {
      double v = fit_set.x[src * dim + t];
      if (s.standardize) {
        v = static_cast<float>((v - s.scale_mean[t]) * s.scale_inv_std[t]);
      }
      s.exact[static_cast<size_t>(r) * dim + t] = v;
      mean[t] += v;
    }
  }
  s.centre.resize(dim);
  for (size_t t = 0; t < dim; ++t) {
    s.centre[t] = static_cast<float>(mean[t] / static_cast<double>(m));
  }
  s.fit.n = m;
  s.fit.dim = s.dim;
  s.fit.x.resize(static_cast<size_t>(m) * dim);
  s.fit.norm2.resize(static_cast<size_t>(m));
  for (int64_t r = 0; r < m; ++r) {
    double n2 = 0.0;
    for (size_t t = 0; t < dim; ++t) {
      const float v = static_cast<float>(s.exact[static_cast<size_t>(r) * dim + t]) - s.centre[t];
      s.fit.x[static_cast<size_t>(r) * dim + t] = v;
      n2 += static_cast<double>(v) * v;
    }
    s.fit.norm2[static_cast<size_t>(r)] = static_cast<float>(n2);
    s.max_norm = std::max(s.max_norm, std::sqrt(n2));
  }
  s.exact_t.resize(static_cast<size_t>(m) * dim);
  for (int64_t r = 0; r < m; ++r) {
    for (size_t t = 0; t < dim; ++t) {
      s.exact_t[t * static_cast<size_t>(m) + static_cast<size_t>(r)] =
          s.exact[static_cast<size_t>(r) * dim + t];
    }
  }
  s.fit.category_begin.assign(static_cast<size_t>(s.categories + 1), 0);
  for (int64_t r = 0; r < m; ++r) {
    s.fit.category_begin[static_cast<size_t>(s.category[static_cast<size_t>(r)]) + 1]++;
  }
  for (int64_t c = 0; c < s.categories; ++c) {
    s.fit.category_begin[static_cast<size_t>(c + 1)] += s.fit.category_begin[static_cast<size_t>(c)];
  }
  std::string backend = options.backend;
  if (backend == "auto" || backend == "blas") {
    // An fp32 GEMM shortlist (what a flat L2 index computes) with the exactness certificate.
    s.backend = detail::make_blas_backend(s.fit);
  } else if (backend == "torch" || backend.rfind("torch:", 0) == 0) {
    s.backend = detail::make_torch_backend(s.fit, backend == "torch" ? "auto" : backend.substr(6));
  } else {
    throw ConfigError(fmt::format("knn.backend: unknown backend '{}'; use auto, blas or torch", backend));
  }
}

TrajectoryKnn::~TrajectoryKnn() = default;
TrajectoryKnn::TrajectoryKnn(TrajectoryKnn&&) noexcept = default;
TrajectoryKnn& TrajectoryKnn::operator=(TrajectoryKnn&&) noexcept = default;

int64_t TrajectoryKnn::bytes_per_query() const {
  const Impl& s = *impl_;
  const int64_t w = s.width();
  // standardised + centred copies, norm and slack, shortlist (length + rows), category minima and
  // their candidate rows, outputs (prob, score, assigned, max_prob, tie flag).
  return 2 * 4 * s.dim + 8 + 4 + 4 * w + 4 * s.categories * (2 + detail::kCategoryCandidates) +
         8 * s.categories + 8 + s.backend->bytes_per_query();
}

int64_t TrajectoryKnn::index_bytes() const {
  const Impl& s = *impl_;
  // One fp32 distance tile, a padded query tile and the selection / re-rank scratch (~24 B per fit
  // row) per thread.
  return s.fit.n * s.dim * 20 + s.fit.n * 12 +
         (detail::kTileQueries * (s.fit.n + s.dim) * 4 + s.fit.n * 24 + s.dim * 8) * omp_get_max_threads();
}

std::string TrajectoryKnn::backend_name() const { return impl_->backend->name(); }

Prediction TrajectoryKnn::predict(const float* x, int64_t n) const {
  const Impl& s = *impl_;
  const int64_t dim = s.dim;
  const int64_t m = s.fit.n;
  const int64_t categories = s.categories;
  const int64_t k = s.k;
  const int64_t width = s.width();
  const int64_t keep = s.keep();
  Prediction out;
  out.prob.assign(static_cast<size_t>(n * categories), 0.0F);
  out.score.assign(static_cast<size_t>(n * categories), 0.0F);
  out.assigned.assign(static_cast<size_t>(n), 0);
  out.max_prob.assign(static_cast<size_t>(n), 0.0F);
  out.boundary_tie.assign(static_cast<size_t>(n), 0);
  if (n == 0) {
    return out;
  }
  // Validate first, outside the OpenMP regions (an exception must not leave one).
  for (int64_t j = 0; j < n * dim; ++j) {
    if (!std::isfinite(x[j])) {
      throw DataError(
          fmt::format("k-NN query row {}: non-finite loss {} at epoch offset {}", j / dim, x[j], j % dim));
    }
  }
  // Standardised queries (what the exact stage compares), their centred fp32 copies, squared
  // norms and the shortlist slack: twice a bound on |fp32 distance - exact distance| (GEMM, norms,
  // centring roundings, itself doubled).
  // Uninitialised (every entry is written below): no page clearing and memset per block.
  std::unique_ptr<float[]> standardized(s.standardize ? new float[static_cast<size_t>(n * dim)] : nullptr);
  std::unique_ptr<float[]> qc(new float[static_cast<size_t>(n * dim)]);
  std::unique_ptr<float[]> qn(new float[static_cast<size_t>(n)]);
  std::unique_ptr<float[]> slack(new float[static_cast<size_t>(n)]);
  const float* qs = s.standardize ? standardized.get() : x;
  const double bound_factor = 2.0 * static_cast<double>(dim + 12) * std::ldexp(1.0, -24);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    float* qc_row = qc.get() + i * dim;
    if (s.standardize) {
      float* qs_row = standardized.get() + i * dim;
      for (int64_t t = 0; t < dim; ++t) {
        qs_row[t] = static_cast<float>((x[i * dim + t] - s.scale_mean[static_cast<size_t>(t)]) *
                                       s.scale_inv_std[static_cast<size_t>(t)]);
      }
    }
    const float* qs_row = qs + i * dim;
    for (int64_t t = 0; t < dim; ++t) {
      qc_row[t] = qs_row[t] - s.centre[static_cast<size_t>(t)];
    }
    double n2 = 0.0;
#pragma omp simd reduction(+ : n2)
    for (int64_t t = 0; t < dim; ++t) {
      n2 += static_cast<double>(qc_row[t]) * qc_row[t];
    }
    qn[i] = static_cast<float>(n2);
    const double radius = std::sqrt(static_cast<double>(qn[i])) + s.max_norm;
    const double eps = bound_factor * radius * radius;
    slack[i] = std::nextafter(static_cast<float>(2.0 * eps), std::numeric_limits<float>::infinity());
  }
  // Reused across calls from this thread: resizing a fresh [n, width] index would zero up to 16 MB
  // per block. (A reference, so that the OpenMP threads below share the caller's instance.)
  thread_local detail::Shortlist reused;
  detail::Shortlist& list = reused;
  s.backend->search(qc.get(), qn.get(), slack.get(), n, keep, width, list);

  int64_t rescanned = 0;
  int64_t ties = 0;
#pragma omp parallel reduction(+ : rescanned, ties)
  {
    // Per-thread scratch, sized once: the exhaustive re-scan needs a whole fit set.
    std::vector<double> qd(static_cast<size_t>(dim));
    std::vector<double> exact(static_cast<size_t>(m));
    std::vector<std::pair<double, int32_t>> pool(static_cast<size_t>(m));
    std::vector<double> votes(static_cast<size_t>(categories));
    std::vector<double> cmin(static_cast<size_t>(categories));
    std::vector<int32_t> category_scan(static_cast<size_t>(m));
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < n; ++i) {
      const float* q = qs + i * dim;
      for (int64_t t = 0; t < dim; ++t) {
        qd[static_cast<size_t>(t)] = q[t];
      }
      // The shortlist holds every row that can be among the exact `keep` nearest; a query whose
      // shortlist overflowed (many rows within the fp32 error of each other) is re-scanned.
      const int32_t length = list.length[static_cast<size_t>(i)];
      const int32_t* cand = length >= 0 ? list.index.data() + i * width : nullptr;
      const int64_t count = length >= 0 ? length : m;
      if (length < 0) {
        ++rescanned;
      }
      detail::exact_distances(qd.data(), s.exact.data(), s.exact_t.data(), m, cand, count, dim, exact.data());
      for (int64_t c = 0; c < count; ++c) {
        pool[static_cast<size_t>(c)] = {exact[static_cast<size_t>(c)],
                                        cand != nullptr ? cand[c] : int32_t(c)};
      }
      // Ascending (distance, fit row): ties by fit row order, as a stable exhaustive sort would.
      const auto take = std::min<int64_t>(count, k + 1);
      if (count > 4 * (k + 1)) {
        // The re-scan: the `take` smallest pairs to the front in linear time, then sort those.
        std::nth_element(pool.begin(), pool.begin() + (take - 1), pool.begin() + count);
        std::sort(pool.begin(), pool.begin() + take);
      } else {
        std::sort(pool.begin(), pool.begin() + count);  // the usual few candidates
      }
      if (take > k && pool[static_cast<size_t>(k)].first == pool[static_cast<size_t>(k - 1)].first) {
        out.boundary_tie[static_cast<size_t>(i)] = 1;
        ++ties;
      }
      float* prob = out.prob.data() + i * categories;
      std::fill(votes.begin(), votes.end(), 0.0);
      bool zero_hit = false;
      if (s.distance_weights) {
        for (int64_t j = 0; j < k; ++j) {
          zero_hit = zero_hit || pool[static_cast<size_t>(j)].first == 0.0;
        }
      }
      double total = 0.0;
      for (int64_t j = 0; j < k; ++j) {
        const auto& [d2, r] = pool[static_cast<size_t>(j)];
        double w = 1.0;
        if (s.distance_weights) {
          // scikit-learn's weights='distance': 1/d, and only the zero-distance neighbours when any.
          w = zero_hit ? (d2 == 0.0 ? 1.0 : 0.0) : 1.0 / std::sqrt(d2);
        }
        votes[static_cast<size_t>(s.category[static_cast<size_t>(r)])] += w;
        total += w;
      }
      int64_t best = 0;
      for (int64_t c = 0; c < categories; ++c) {
        prob[c] = static_cast<float>(votes[static_cast<size_t>(c)] / total);
        if (votes[static_cast<size_t>(c)] > votes[static_cast<size_t>(best)]) {
          best = c;
        }
      }
      out.assigned[static_cast<size_t>(i)] = static_cast<int16_t>(best);
      out.max_prob[static_cast<size_t>(i)] = prob[best];
      // Continuous score: softmax over categories of -(distance² to the category's nearest fit row),
      // with the squared distance of the k-th neighbour as temperature (a local, scale-free kernel).
      // Both distances are exact (double, row by row): the fp32 GEMM rounds a row's distance
      // differently with the query's position in its tile, and the score must not depend on blocks.
      double kth = 0.0;
      detail::exact_distances(qd.data(), s.exact.data(), s.exact_t.data(), m,
                              &pool[static_cast<size_t>(k - 1)].second, 1, dim, &kth);
      const double temperature = std::max(kth, 1e-12);
      if (!list.category_count.empty()) {
        for (int64_t c = 0; c < categories; ++c) {
          const int32_t found = list.category_count[static_cast<size_t>(i * categories + c)];
          const int32_t* rows =
              list.category_rows.data() + (i * categories + c) * detail::kCategoryCandidates;
          int64_t scan = found;
          if (found < 0) {  // many rows within the fp32 error of the minimum: all of the category
            scan = s.fit.category_begin[static_cast<size_t>(c + 1)] -
                   s.fit.category_begin[static_cast<size_t>(c)];
            for (int64_t j = 0; j < scan; ++j) {
              category_scan[static_cast<size_t>(j)] =
                  static_cast<int32_t>(s.fit.category_begin[static_cast<size_t>(c)] + j);
            }
            rows = category_scan.data();
          }
          detail::exact_distances(qd.data(), s.exact.data(), s.exact_t.data(), m, rows, scan, dim,
                                  exact.data());
          double best_d = std::numeric_limits<double>::infinity();
          for (int64_t j = 0; j < scan; ++j) best_d = std::min(best_d, exact[static_cast<size_t>(j)]);
          cmin[static_cast<size_t>(c)] = best_d;
        }
      } else {
        const float* approx = list.category_min.data() + i * categories;
        for (int64_t c = 0; c < categories; ++c) cmin[static_cast<size_t>(c)] = approx[c];
      }
      double nearest = std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < categories; ++c) {
        nearest = std::min(nearest, cmin[static_cast<size_t>(c)]);
      }
      double z = 0.0;
      float* score = out.score.data() + i * categories;
      for (int64_t c = 0; c < categories; ++c) {
        const double d = cmin[static_cast<size_t>(c)];
        const double e = std::isfinite(d) ? std::exp(-(d - nearest) / temperature) : 0.0;
        score[c] = static_cast<float>(e);
        z += e;
      }
      for (int64_t c = 0; c < categories; ++c) {
        score[c] = static_cast<float>(score[c] / z);
      }
    }
  }
  out.rescanned = rescanned;
  out.boundary_ties = ties;
  return out;
}

}  // namespace mapd::knn
