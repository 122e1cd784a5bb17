#include "mapd/core/device.hpp"

#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <atomic>
#include <regex>

#include "mapd/core/error.hpp"
#include "mapd/core/process.hpp"

namespace mapd {

bool cuda_available() { return torch::cuda::is_available(); }

std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

namespace {

/// 13000 -> "13.0" (CUDA), 91900 -> "9.19.0" (cuDNN 9: major*10000 + minor*100 + patch).
std::string cuda_version_text(long v) {
  return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
}
std::string cudnn_version_text(long v) {
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
}

}  // namespace

BuildInfo build_info() {
  BuildInfo info;
  info.torch_version = torch_version();
  const auto& hooks = at::detail::getCUDAHooks();
  info.cuda_built = hooks.isBuilt();
  if (!info.cuda_built) return info;
  try {
    info.cuda_version = cuda_version_text(hooks.versionCUDART());
  } catch (const std::exception&) {
    // a CUDA build without a queryable runtime version: leave it empty
  }
  try {
    if (const long v = hooks.versionCuDNN(); v > 0) info.cudnn_version = cudnn_version_text(v);
  } catch (const std::exception&) {
    // built without cuDNN
  }
  info.gpus = static_cast<int64_t>(torch::cuda::device_count());
  return info;
}

namespace {
std::atomic<int64_t> g_local_device{0};  ///< set_local_device_index

/// This process's CUDA device among `count` visible ones.
c10::DeviceIndex local_device(int64_t count) {
  return static_cast<c10::DeviceIndex>(count > 0 ? g_local_device.load() % count : 0);
}
}  // namespace

void set_local_device_index(int64_t local_rank) { g_local_device = local_rank < 0 ? 0 : local_rank; }

torch::Device resolve_device(const std::string& spec) {
  if (spec == "cpu") return torch::kCPU;
  if (spec == "auto") {
    return cuda_available() ? torch::Device(torch::kCUDA, local_device(torch::cuda::device_count()))
                            : torch::Device(torch::kCPU);
  }
  static const std::regex kCuda(R"(cuda(?::(\d+))?)");
  std::smatch match;
  MAPD_CHECK(std::regex_match(spec, match, kCuda), ConfigError,
             "train.device: unknown device '" + spec + "' (expected auto, cpu, cuda or cuda:N)");
  MAPD_CHECK(cuda_available(), ConfigError,
             "train.device: '" + spec + "' was asked for, but " +
                 (at::detail::getCUDAHooks().isBuilt()
                      ? std::string("no CUDA device is visible (this mapd is built with CUDA; check "
                                    "nvidia-smi and CUDA_VISIBLE_DEVICES)")
                      : std::string("this LibTorch build (") + torch_version() + ") has no CUDA support") +
                 "; use train.device=cpu or auto");
  const auto count = static_cast<int>(torch::cuda::device_count());
  const int index = match[1].matched ? std::stoi(match[1].str()) : local_device(count);
  MAPD_CHECK(index < count, ConfigError,
             "train.device: '" + spec + "' asked for, but only " + std::to_string(count) +
                 " CUDA device(s) are visible");
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(index)};
}

int64_t set_compute_threads(int64_t requested) {
  const int64_t threads = requested > 0 ? requested : process::usable_cpus();
  torch::set_num_threads(static_cast<int>(threads));
  return threads;
}

void seed_torch(uint64_t seed) {
  torch::manual_seed(seed);
  if (cuda_available()) torch::cuda::manual_seed_all(seed);
}

}  // namespace mapd
