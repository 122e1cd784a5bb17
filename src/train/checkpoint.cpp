#include "mapd/train/checkpoint.hpp"

#include <ATen/Context.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <map>
#include <mutex>
#include <sstream>

#include "mapd/core/device.hpp"
#include "mapd/core/error.hpp"
#include "mapd/core/fs.hpp"

namespace mapd::train {
namespace {

constexpr int64_t kCheckpointFormat = 1;

torch::Tensor generator_state(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void set_generator_state(at::Generator generator, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

/// The info fields of `root` but the epoch (read before); checkpoints written before mapd saved
/// steps mid-epoch have no steps and world_size (an epoch checkpoint: 0 and 1).
void read_info(torch::serialize::InputArchive& root, CheckpointInfo& info) {
  c10::IValue value;
  root.read("config_json", value);
  info.config_json = value.toStringRef();
  root.read("loss_scale", value);
  info.loss_scale = value.toDouble();
  if (root.try_read("loss_scale_clean_steps", value)) info.loss_scale_clean_steps = value.toInt();
  if (root.try_read("steps", value)) info.steps = value.toInt();
  if (root.try_read("world_size", value)) info.world_size = value.toInt();
}

int64_t cuda_devices() { return cuda_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0; }

/// The bytes of the checkpoint file `path`; IoError saying `missing` (what that means) when it
/// does not exist.
std::string checkpoint_bytes(const std::filesystem::path& path, const std::string& missing) {
  MAPD_CHECK(std::filesystem::exists(path), IoError,
             fmt::format("checkpoint {} does not exist: {}", path.string(), missing));
  return fs::read_file(path);
}

/// Loads `bytes` (read from `path`) into `root` and checks its format version (IoError).
void load_root(torch::serialize::InputArchive& root, const std::string& bytes,
               const std::filesystem::path& path) {
  root.load_from(bytes.data(), bytes.size());
  c10::IValue value;
  root.read("format_version", value);
  MAPD_CHECK(value.toInt() == kCheckpointFormat, IoError,
             fmt::format("checkpoint {}: format version {} is not supported (expected {})", path.string(),
                         value.toInt(), kCheckpointFormat));
}

}  // namespace

void save_archive_atomic(const std::filesystem::path& path, const std::string& what,
                         const std::function<void(torch::serialize::OutputArchive&)>& fill) {
  std::ostringstream bytes;
  try {
    torch::serialize::OutputArchive root;
    fill(root);
    root.save_to(bytes);
  } catch (const c10::Error& e) {
    throw IoError(fmt::format("checkpoint {}: could not serialise {}: {}", path.string(), what,
                              e.what_without_backtrace()));
  }
  fs::create_directories(path.parent_path());
  fs::write_file_atomic(path, bytes.str());
}

void save_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                     torch::optim::Optimizer& optimizer, const CheckpointInfo& info) {
  save_archive_atomic(path, "the model/optimizer", [&](torch::serialize::OutputArchive& root) {
    torch::serialize::OutputArchive model_archive;
    model.save(model_archive);
    root.write("model", model_archive);
    torch::serialize::OutputArchive optimizer_archive;
    optimizer.save(optimizer_archive);
    root.write("optimizer", optimizer_archive);
    root.write("format_version", c10::IValue(kCheckpointFormat));
    root.write("epoch", c10::IValue(info.epoch));
    root.write("config_json", c10::IValue(info.config_json));
    root.write("loss_scale", c10::IValue(info.loss_scale));
    root.write("loss_scale_clean_steps", c10::IValue(info.loss_scale_clean_steps));
    root.write("steps", c10::IValue(info.steps));
    root.write("world_size", c10::IValue(info.world_size));
    root.write("rng_cpu", generator_state(at::detail::getDefaultCPUGenerator()), /*is_buffer=*/true);
    const int64_t devices = cuda_devices();
    root.write("rng_cuda_count", c10::IValue(devices));
    for (int64_t i = 0; i < devices; ++i) {
      const auto& gen =
          at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i)));
      root.write(fmt::format("rng_cuda_{}", i), generator_state(gen), /*is_buffer=*/true);
    }
  });
}

CheckpointInfo load_checkpoint(const std::filesystem::path& path, torch::nn::Module& model,
                               torch::optim::Optimizer& optimizer) {
  const std::string bytes = checkpoint_bytes(
      path, "the run has no complete epoch to resume from; start it again with `mapd train`");
  CheckpointInfo info;
  try {
    torch::serialize::InputArchive root;
    load_root(root, bytes, path);
    c10::IValue value;
    // InputArchive replaces tensors of another shape silently: compare the shapes ourselves.
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const auto& kv : model.named_parameters()) shapes[kv.key()] = kv.value().sizes().vec();
    for (const auto& kv : model.named_buffers()) shapes[kv.key()] = kv.value().sizes().vec();
    torch::serialize::InputArchive model_archive;
    root.read("model", model_archive);
    model.load(model_archive);
    auto check_shape = [&](const std::string& name, const torch::Tensor& tensor) {
      const auto& expected = shapes[name];
      MAPD_CHECK(
          tensor.sizes().vec() == expected, IoError,
          fmt::format("checkpoint {}: tensor '{}' has shape [{}] but the configured model expects [{}]; "
                      "check model.* against the run's config.resolved.json",
                      path.string(), name, fmt::join(tensor.sizes(), ", "), fmt::join(expected, ", ")));
    };
    for (const auto& kv : model.named_parameters()) check_shape(kv.key(), kv.value());
    for (const auto& kv : model.named_buffers()) check_shape(kv.key(), kv.value());
    torch::serialize::InputArchive optimizer_archive;
    root.read("optimizer", optimizer_archive);
    optimizer.load(optimizer_archive);
    root.read("epoch", value);
    info.epoch = value.toInt();
    read_info(root, info);
    torch::Tensor state;
    root.read("rng_cpu", state, /*is_buffer=*/true);
    set_generator_state(at::detail::getDefaultCPUGenerator(), state);
    root.read("rng_cuda_count", value);
    const int64_t devices = std::min(value.toInt(), cuda_devices());
    for (int64_t i = 0; i < devices; ++i) {
      root.read(fmt::format("rng_cuda_{}", i), state, /*is_buffer=*/true);
      set_generator_state(
          at::globalContext().defaultGenerator(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(i))),
          state);
    }
  } catch (const c10::Error& e) {
    throw IoError(
        fmt::format("checkpoint {} is unreadable or does not match the configured model/optimizer "
                    "({}); check model.* and optimizer.* against the run's config.resolved.json",
                    path.string(), e.what_without_backtrace()));
  }
  return info;
}

CheckpointInfo read_checkpoint_info(const std::filesystem::path& path) {
  const std::string bytes = checkpoint_bytes(path, "nothing to read");
  CheckpointInfo info;
  try {
    torch::serialize::InputArchive root;
    load_root(root, bytes, path);
    c10::IValue value;
    root.read("epoch", value);
    info.epoch = value.toInt();
    read_info(root, info);
  } catch (const c10::Error& e) {
    throw IoError(fmt::format("checkpoint {} is unreadable ({})", path.string(), e.what_without_backtrace()));
  }
  return info;
}

}  // namespace mapd::train
