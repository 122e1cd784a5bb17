#include "mapd/models/models.hpp"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>

#include "mapd/core/error.hpp"

namespace mapd::models {
namespace detail {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

/// Kaiming-normal (fan_out, ReLU) convolutions, unit BN scale, as torchvision initialises ResNets.
void init_weights(nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& sub : module.modules(/*include_self=*/false)) {
    if (auto* c = sub->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* b = sub->as<nn::BatchNorm2d>()) {
      nn::init::ones_(b->weight);
      nn::init::zeros_(b->bias);
    }
  }
}

/// conv3x3 - BN - ReLU - conv3x3 - BN, plus identity or 1x1 projection shortcut.
class BasicBlockImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in, int64_t planes, int64_t stride) {
    conv1_ = register_module("conv1", conv(in, planes, 3, stride));
    bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv(planes, planes, 3, 1));
    bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
    if (stride != 1 || in != planes) {
      shortcut_ =
          register_module("shortcut", nn::Sequential(conv(in, planes, 1, stride), nn::BatchNorm2d(planes)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto out = torch::relu(bn1_(conv1_(x)));
    out = bn2_(conv2_(out));
    out += shortcut_ ? shortcut_->forward(x) : x;
    return torch::relu(out);
  }

 private:
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(BasicBlock);

/// 1x1 reduce - 3x3 (stride) - 1x1 expand (x4), plus shortcut (ResNet-50).
class BottleneckImpl : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride) {
    const int64_t out = planes * kExpansion;
    conv1_ = register_module("conv1", conv(in, planes, 1, 1));
    bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv(planes, planes, 3, stride));
    bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
    conv3_ = register_module("conv3", conv(planes, out, 1, 1));
    bn3_ = register_module("bn3", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      shortcut_ = register_module("shortcut", nn::Sequential(conv(in, out, 1, stride), nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto out = torch::relu(bn1_(conv1_(x)));
    out = torch::relu(bn2_(conv2_(out)));
    out = bn3_(conv3_(out));
    out += shortcut_ ? shortcut_->forward(x) : x;
    return torch::relu(out);
  }

 private:
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(Bottleneck);

/// BN - ReLU - conv3x3 - BN - ReLU - conv3x3; the shortcut projects the pre-activated input.
class PreActBlockImpl : public nn::Module {
 public:
  PreActBlockImpl(int64_t in, int64_t planes, int64_t stride) {
    bn1_ = register_module("bn1", nn::BatchNorm2d(in));
    conv1_ = register_module("conv1", conv(in, planes, 3, stride));
    bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv(planes, planes, 3, 1));
    if (stride != 1 || in != planes) shortcut_ = register_module("shortcut", conv(in, planes, 1, stride));
  }
  torch::Tensor forward(torch::Tensor x) {
    auto out = torch::relu(bn1_(x));
    auto shortcut = shortcut_ ? shortcut_(out) : x;
    out = conv1_(out);
    out = conv2_(torch::relu(bn2_(out)));
    return out + shortcut;
  }

 private:
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_{nullptr};
};
TORCH_MODULE(PreActBlock);

/// All residual blocks in one flat Sequential (keys layers.<i>); stage s > 0 starts with stride 2.
template <class Block>
nn::Sequential make_stages(int64_t& in, const std::vector<int64_t>& blocks, int64_t expansion) {
  nn::Sequential layers;
  const int64_t widths[] = {64, 128, 256, 512};
  for (size_t stage = 0; stage < blocks.size(); ++stage) {
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      layers->push_back(Block(in, widths[stage], stride));
      in = widths[stage] * expansion;
    }
  }
  return layers;
}

}  // namespace detail

namespace nn = torch::nn;

SmallCnnImpl::SmallCnnImpl(int64_t in_channels, int64_t num_classes, int64_t width, bool batch_norm) {
  nn::Sequential features;
  int64_t in = in_channels;
  for (int64_t w : {width, 2 * width, 4 * width}) {
    // Without BatchNorm the convolution keeps its bias (nothing else would shift its outputs).
    features->push_back(nn::Conv2d(nn::Conv2dOptions(in, w, 3).stride(2).padding(1).bias(!batch_norm)));
    if (batch_norm) features->push_back(nn::BatchNorm2d(w));
    features->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
    in = w;
  }
  features_ = register_module("features", features);
  classifier_ = register_module("classifier", nn::Linear(in, num_classes));
  detail::init_weights(*this);
}

torch::Tensor SmallCnnImpl::forward(torch::Tensor x) {
  x = features_->forward(x);
  return classifier_(x.mean({2, 3}));
}

ResNetImpl::ResNetImpl(const ResNetOptions& options) {
  MAPD_ASSERT(options.blocks.size() == 4,
              fmt::format("ResNet needs 4 stages of blocks, got {}", options.blocks.size()));
  nn::Sequential stem;
  if (options.stem == "imagenet") {
    stem->push_back(
        nn::Conv2d(nn::Conv2dOptions(options.in_channels, 64, 7).stride(2).padding(3).bias(false)));
  } else {
    stem->push_back(detail::conv(options.in_channels, 64, 3, 1));
  }
  stem->push_back(nn::BatchNorm2d(64));
  stem->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
  if (options.stem == "imagenet" || options.stem_maxpool) {
    stem->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  }
  stem_ = register_module("stem", stem);
  int64_t in = 64;
  layers_ = register_module("layers", options.bottleneck
                                          ? detail::make_stages<detail::Bottleneck>(in, options.blocks, 4)
                                          : detail::make_stages<detail::BasicBlock>(in, options.blocks, 1));
  fc_ = register_module("fc", nn::Linear(in, options.num_classes));
  detail::init_weights(*this);
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  x = layers_->forward(stem_->forward(x));
  return fc_(x.mean({2, 3}));
}

PreActResNet18Impl::PreActResNet18Impl(int64_t in_channels, int64_t num_classes) {
  conv1_ = register_module("conv1", detail::conv(in_channels, 64, 3, 1));
  int64_t in = 64;
  layers_ = register_module("layers", detail::make_stages<detail::PreActBlock>(in, {2, 2, 2, 2}, 1));
  fc_ = register_module("fc", nn::Linear(in, num_classes));
  detail::init_weights(*this);
}

torch::Tensor PreActResNet18Impl::forward(torch::Tensor x) {
  // As in the code of Arazo et al. (kuangliu's PreActResNet18): no final BN-ReLU before pooling.
  x = layers_->forward(conv1_(x));
  return fc_(x.mean({2, 3}));
}

const std::vector<std::string>& architecture_names() {
  static const std::vector<std::string> kNames = {"small_cnn", "resnet18", "resnet34", "resnet50",
                                                  "preact_resnet18"};
  return kNames;
}

Classifier make_model(const config::ModelConfig& config, int64_t in_channels, int64_t num_classes) {
  MAPD_CHECK(
      in_channels > 0, ConfigError,
      fmt::format("model: input channel count must be positive, got {} (check data.channels)", in_channels));
  MAPD_CHECK(num_classes > 1, ConfigError,
             fmt::format("model: need at least 2 classes, got {} (check the dataset labels)", num_classes));
  MAPD_CHECK(config.stem == "cifar" || config.stem == "imagenet", ConfigError,
             fmt::format("model.stem: unknown stem '{}' (expected cifar or imagenet)", config.stem));
  const auto& arch = config.arch;
  if (arch == "small_cnn") {
    MAPD_CHECK(config.width > 0, ConfigError,
               fmt::format("model.width: must be positive, got {}", config.width));
    return SmallCnn(in_channels, num_classes, config.width, config.norm != "none").ptr();
  }
  if (arch == "preact_resnet18") return PreActResNet18(in_channels, num_classes).ptr();
  ResNetOptions options;
  options.stem = config.stem;
  options.stem_maxpool = config.stem_maxpool;
  options.in_channels = in_channels;
  options.num_classes = num_classes;
  if (arch == "resnet18") {
    options.blocks = {2, 2, 2, 2};
  } else if (arch == "resnet34") {
    options.blocks = {3, 4, 6, 3};
  } else if (arch == "resnet50") {
    options.blocks = {3, 4, 6, 3};
    options.bottleneck = true;
  } else {
    std::string known;
    for (const auto& name : architecture_names()) known += (known.empty() ? "" : ", ") + name;
    throw ConfigError(fmt::format("model.arch: unknown architecture '{}' (known: {})", arch, known));
  }
  return ResNet(options).ptr();
}

}  // namespace mapd::models
