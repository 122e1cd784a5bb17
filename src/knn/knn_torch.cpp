// LibTorch shortlist backend (GEMM + topk), usable on CPU and CUDA. Kept in its own translation
// unit so knn.hpp and the rest of the module stay torch-free.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"

#include "search_backend.hpp"

namespace mapd::knn::detail {
namespace {

class TorchBackend final : public SearchBackend {
 public:
  TorchBackend(const CentredFit& fit, const std::string& device) : device_(resolve_device(device)) {
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
    // from_blob does not own: clone to the device.
    x_ = torch::from_blob(const_cast<float*>(fit.x.data()), {fit.n, fit.dim}, opts).to(device_).clone();
    xn_ = torch::from_blob(const_cast<float*>(fit.norm2.data()), {fit.n}, opts).to(device_).clone();
    begins_ = fit.category_begin;
  }

  void search(const float* q, const float* q_norm2, const float* slack, int64_t count, int64_t keep,
              int64_t width, Shortlist& out) const override {
    torch::NoGradGuard no_grad;
    const int64_t categories = static_cast<int64_t>(begins_.size()) - 1;
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
    auto qt = torch::from_blob(const_cast<float*>(q), {count, x_.size(1)}, opts).to(device_);
    auto qn = torch::from_blob(const_cast<float*>(q_norm2), {count, 1}, opts).to(device_);
    // d = ||q||^2 + ||x||^2 - 2 q x^T
    auto d = torch::addmm(xn_.unsqueeze(0), qt, x_.t(), /*beta=*/1.0, /*alpha=*/-2.0).add_(qn);
    auto top = torch::topk(d, width, /*dim=*/1, /*largest=*/false, /*sorted=*/true);
    auto values = std::get<0>(top).to(torch::kCPU).contiguous();
    auto indices = std::get<1>(top).to(torch::kInt32).to(torch::kCPU).contiguous();
    auto cmin =
        torch::full({count, categories}, std::numeric_limits<float>::infinity(), opts.device(device_));
    for (int64_t c = 0; c < categories; ++c) {
      const int64_t b = begins_[static_cast<size_t>(c)];
      const int64_t e = begins_[static_cast<size_t>(c + 1)];
      if (e > b) {
        cmin.select(1, c).copy_(std::get<0>(d.narrow(1, b, e - b).min(1)));
      }
    }
    cmin = cmin.to(torch::kCPU).contiguous();
    out.count = count;
    out.width = width;
    out.index.assign(indices.data_ptr<int32_t>(), indices.data_ptr<int32_t>() + count * width);
    out.length.resize(static_cast<size_t>(count));
    const float* v = values.data_ptr<float>();
    for (int64_t i = 0; i < count; ++i) {
      // topk is sorted: the candidates within slack of the keep-th are a prefix; when it fills the
      // whole width, rows beyond it may qualify too (unless the width is the whole fit set).
      const float* row = v + i * width;
      const float bound = std::nextafter(row[keep - 1] + slack[i], std::numeric_limits<float>::infinity());
      const auto length = static_cast<int32_t>(std::upper_bound(row, row + width, bound) - row);
      out.length[static_cast<size_t>(i)] = length < width || width == x_.size(0) ? length : -1;
    }
    out.category_min.assign(cmin.data_ptr<float>(), cmin.data_ptr<float>() + count * categories);
  }

  [[nodiscard]] std::string name() const override { return "torch:" + device_.str(); }
  [[nodiscard]] int64_t bytes_per_query() const override {
    // The full distance row on the device plus topk scratch.
    return (x_.size(0) * 4) * 2 + x_.size(1) * 4;
  }

 private:
  torch::Device device_;
  torch::Tensor x_;
  torch::Tensor xn_;
  std::vector<int64_t> begins_;
};

}  // namespace

std::unique_ptr<SearchBackend> make_torch_backend(const CentredFit& fit, const std::string& device) {
  return std::make_unique<TorchBackend>(fit, device);
}

}  // namespace mapd::knn::detail
