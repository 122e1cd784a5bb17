#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "mapd/config/config.hpp"

/// Image classifiers trained by mapd: a small CNN for quick 28x28 runs, the ResNet family (CIFAR and
/// ImageNet stems) and PreAct ResNet-18. Submodule names are checkpoint keys: keep them stable.
namespace mapd::models {

/// Common base of every mapd model: maps images [B, C, H, W] to logits [B, num_classes].
class ClassifierImpl : public torch::nn::Module {
 public:
  /// Logits [B, num_classes] for float images [B, C, H, W].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

/// Shared handle to any mapd model.
using Classifier = std::shared_ptr<ClassifierImpl>;

/// The default quick model: three conv3x3 stride-2 + BN + ReLU layers of widths w, 2w, 4w, global
/// average pooling and a linear layer. ~100k parameters at w = 32; made for 28x28 inputs on CPU.
/// Without `batch_norm` the convolutions are followed by ReLU alone (model.norm = none).
class SmallCnnImpl : public ClassifierImpl {
 public:
  SmallCnnImpl(int64_t in_channels, int64_t num_classes, int64_t width, bool batch_norm = true);
  /// [B, C, H, W] -> [B, num_classes].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(SmallCnn);

/// Options of a ResNet.
struct ResNetOptions {
  std::vector<int64_t> blocks = {2, 2, 2, 2};  ///< residual blocks per stage
  bool bottleneck = false;                     ///< Bottleneck (ResNet-50) instead of BasicBlock
  std::string stem = "cifar";                  ///< cifar: 3x3 stride 1; imagenet: 7x7 stride 2 + max-pool
  bool stem_maxpool = false;                   ///< cifar stem: add the 3x3 stride-2 max-pool
  int64_t in_channels = 3;
  int64_t num_classes = 10;
};

/// ResNet (He et al. 2016) with a CIFAR (3x3 stride 1) or ImageNet (7x7 stride 2 + max-pool) stem.
class ResNetImpl : public ClassifierImpl {
 public:
  /// InternalError unless options.blocks has 4 stages (the factory's architectures all do).
  explicit ResNetImpl(const ResNetOptions& options);
  /// [B, C, H, W] -> [B, num_classes].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential stem_{nullptr};
  torch::nn::Sequential layers_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ResNet);

/// PreAct ResNet-18 (He et al. 2016b) with a CIFAR stem, exactly as in the code of Arazo et al. 2019
/// (no final BN-ReLU before the pooling).
class PreActResNet18Impl : public ClassifierImpl {
 public:
  PreActResNet18Impl(int64_t in_channels, int64_t num_classes);
  /// [B, C, H, W] -> [B, num_classes].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::Sequential layers_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(PreActResNet18);

/// Architecture names make_model accepts (model.arch).
const std::vector<std::string>& architecture_names();

/// Builds `config.arch` for `in_channels`-channel images and `num_classes` classes, with freshly
/// initialised weights (drawn from torch's global CPU generator: seed it first). Throws ConfigError
/// for an unknown architecture or stem, or non-positive channel/class counts or width.
Classifier make_model(const config::ModelConfig& config, int64_t in_channels, int64_t num_classes);

}  // namespace mapd::models
