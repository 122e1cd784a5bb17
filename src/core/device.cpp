#include "mapd/core/device.hpp"

#include <torch/torch.h>
#include <torch/version.h>

#include <regex>

#include "mapd/core/error.hpp"

namespace mapd {

bool cuda_available() { return torch::cuda::is_available(); }

std::string torch_version() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

torch::Device resolve_device(const std::string& spec) {
  if (spec == "cpu") return torch::kCPU;
  if (spec == "auto") return cuda_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  static const std::regex kCuda(R"(cuda(?::(\d+))?)");
  std::smatch match;
  MAPD_CHECK(std::regex_match(spec, match, kCuda), ConfigError,
             "train.device: unknown device '" + spec + "' (expected auto, cpu, cuda or cuda:N)");
  MAPD_CHECK(cuda_available(), ConfigError,
             "train.device: '" + spec + "' was asked for, but " +
                 (torch::cuda::device_count() == 0 && !torch::hasCUDA()
                      ? std::string("this LibTorch build (") + torch_version() + ") has no CUDA support"
                      : std::string("no CUDA device is visible")) +
                 "; use train.device=cpu or auto");
  const int index = match[1].matched ? std::stoi(match[1].str()) : 0;
  const auto count = static_cast<int>(torch::cuda::device_count());
  MAPD_CHECK(index < count, ConfigError,
             "train.device: '" + spec + "' asked for, but only " + std::to_string(count) +
                 " CUDA device(s) are visible");
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(index)};
}

void seed_torch(uint64_t seed) {
  torch::manual_seed(seed);
  if (cuda_available()) torch::cuda::manual_seed_all(seed);
}

}  // namespace mapd
