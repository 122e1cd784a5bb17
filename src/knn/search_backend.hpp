#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

/// Internal: the fp32 shortlist stage of TrajectoryKnn. A backend turns a block of centred queries
/// into, per query, the fit rows that may be among its `keep` nearest (every row whose approximate
/// squared distance is within `slack` of the keep-th smallest approximate one, in no particular
/// order) and the approximate squared distance to the nearest fit row of each category. With
/// |approximate - exact| <= slack / 2 for every row, the exact `keep` nearest (ties included) are
/// in that list. The exact ranking in double happens afterwards on the CPU (knn.cpp).
namespace mapd::knn::detail {

/// Fit rows, centred by their mean and sorted by category; `category_begin` has C + 1 offsets.
struct CentredFit {
  int64_t n = 0;
  int64_t dim = 0;
  std::vector<float> x;                 ///< [n, dim]
  std::vector<float> norm2;             ///< [n] ||x||^2 (computed in double, stored in float)
  std::vector<int64_t> category_begin;  ///< [C + 1]
};

/// Output of one block of `count` queries.
struct Shortlist {
  int64_t count = 0;
  int64_t width = 0;                ///< capacity: candidates per query
  std::vector<int32_t> length;      ///< [count] candidates of each query; -1: more than `width`
                                    ///< qualified (the caller re-scans that query exhaustively)
  std::vector<int32_t> index;       ///< [count, width] fit rows (sorted order), first length[i] valid
  std::vector<float> category_min;  ///< [count, C] approximate squared distance to the nearest row of c
  /// [count, C, kCategoryCandidates]: the rows of category c whose approximate distance is within
  /// `slack` of category_min (so the exact nearest row of c is among them); `category_count`
  /// [count, C] says how many, -1 for more than kCategoryCandidates (the caller scans the category).
  /// Empty when a backend does not provide them (the score then uses category_min as it is).
  std::vector<int32_t> category_rows;
  std::vector<int32_t> category_count;
};

/// Candidate rows kept per query and category for the exact category minimum.
constexpr int64_t kCategoryCandidates = 8;

/// Queries per fp32 distance tile of the BLAS backend (scratch = kTileQueries * fit rows * 4 B).
constexpr int64_t kTileQueries = 256;

class SearchBackend {
 public:
  virtual ~SearchBackend() = default;
  /// Shortlists `count` centred queries `q` [count, dim]; `q_norm2` [count] their squared norms;
  /// `slack` [count] twice the bound on |fp32 - exact| squared distance of each query; `keep` in
  /// [1, fit rows] the neighbours needed (k + 1: the k-th and the next one, for tie detection);
  /// `width` >= keep the capacity per query.
  virtual void search(const float* q, const float* q_norm2, const float* slack, int64_t count, int64_t keep,
                      int64_t width, Shortlist& out) const = 0;
  [[nodiscard]] virtual std::string name() const = 0;
  /// Scratch bytes per query beyond the Shortlist.
  [[nodiscard]] virtual int64_t bytes_per_query() const = 0;
};

/// Per-thread OpenBLAS sgemm tiles + per-query threshold selection (OpenMP over tiles).
std::unique_ptr<SearchBackend> make_blas_backend(const CentredFit& fit);
/// LibTorch GEMM + topk on `device` ("auto", "cpu", "cuda", ...). Defined in knn_torch.cpp.
std::unique_ptr<SearchBackend> make_torch_backend(const CentredFit& fit, const std::string& device);

}  // namespace mapd::knn::detail
