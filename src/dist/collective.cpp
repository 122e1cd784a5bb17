#include "mapd/dist/collective.hpp"

#include <fmt/format.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>
#ifdef MAPD_WITH_NCCL
// c10d's NCCL backend, compiled into the wheel's libtorch_cuda; its header is guarded by the macro
// Torch's CMake config puts on our compile lines (nccl.h comes from the CUDA toolkit).
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "mapd/core/error.hpp"
#include "mapd/core/log.hpp"

namespace mapd::dist {

struct Collective::Impl {
  World world;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;  ///< Gloo: CPU tensors, and the barrier
  c10::intrusive_ptr<c10d::Backend> device;   ///< NCCL for CUDA tensors (backend nccl), else null
  std::chrono::milliseconds timeout{0};

  /// Runs one collective and waits for it; a failure (a peer gone, the timeout) is a DistributedError.
  void wait(const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) const {
    try {
      start()->wait(timeout);
    } catch (const std::exception& e) {
      throw DistributedError(fmt::format(
          "rank {} of {}: {} failed: {} (another rank stopped, failed or did not answer within "
          "dist.timeout_s = {:.0f} s)",
          world.rank, world.world_size, what, e.what(), static_cast<double>(timeout.count()) / 1000.0));
    }
  }
};

bool Collective::nccl_built() {
#ifdef MAPD_WITH_NCCL
  return true;
#else
  return false;
#endif
}

std::shared_ptr<Collective> Collective::connect(const World& world, const std::string& backend,
                                                std::chrono::milliseconds timeout, int64_t cuda_device) {
  MAPD_CHECK(backend == "gloo" || (backend == "nccl" && nccl_built()), ConfigError,
             fmt::format("dist.backend: '{}' is not available in this build (gloo: CPU tensors{})", backend,
                         nccl_built() ? "; nccl: CUDA tensors" : ""));
  MAPD_CHECK(
      backend != "nccl" || cuda_device >= 0, ConfigError,
      "dist.backend: nccl needs a CUDA device (train.device auto or cuda on a machine with a GPU); use "
      "gloo on CPUs");
  auto impl = std::make_unique<Impl>();
  impl->world = world;
  impl->timeout = timeout;
  auto logger = log::get("dist");
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(world.master_port);
    options.isServer = world.rank == 0;
    options.numWorkers = static_cast<std::size_t>(world.world_size);
    options.waitWorkers = true;
    options.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(world.master_addr, options);
    impl->store = c10::make_intrusive<c10d::PrefixStore>("mapd", tcp);
    auto gloo = c10d::ProcessGroupGloo::Options::create();
    gloo->timeout = timeout;
    gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    impl->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, static_cast<int>(world.rank),
                                                                static_cast<int>(world.world_size), gloo);
#ifdef MAPD_WITH_NCCL
    if (backend == "nccl") {
      // Its own key space in the store; bound to this rank's GPU so that the communicator is made
      // for it (and not guessed from the rank).
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
          c10::make_intrusive<c10d::PrefixStore>("nccl", impl->store), static_cast<int>(world.rank),
          static_cast<int>(world.world_size), nccl_options);
      nccl->setBoundDeviceId(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(cuda_device)));
      impl->device = nccl;
    }
#endif
  } catch (const std::exception& e) {
    throw DistributedError(fmt::format(
        "rank {} of {} ({}): cannot join the job at {}:{}: {} (is rank 0 running, and the port free?)",
        world.rank, world.world_size, world.launcher, world.master_addr, world.master_port, e.what()));
  }
  logger->info(
      "rank {} of {} joined the job at {}:{} ({}, backend {}{})", world.rank, world.world_size,
      world.master_addr, world.master_port, world.launcher, backend,
      backend == "nccl" ? fmt::format(" on cuda:{}, gloo for CPU tensors", cuda_device) : std::string());
  return std::shared_ptr<Collective>(new Collective(std::move(impl)));
}

Collective::Collective(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Collective::~Collective() = default;

int64_t Collective::rank() const { return impl_->world.rank; }
int64_t Collective::size() const { return impl_->world.world_size; }
const World& Collective::world() const { return impl_->world; }

namespace {

/// Runs `run(backend, tensor)` on the backend for `tensor`: NCCL for a CUDA tensor when the job has
/// it, else Gloo; a CUDA tensor without NCCL travels through a CPU copy.
template <class Impl, class Run>
void on_backend(const Impl& impl, torch::Tensor& tensor, const Run& run) {
  if (!tensor.is_cuda()) {
    run(impl.backend, tensor);
  } else if (impl.device) {
    run(impl.device, tensor);
  } else {
    auto host = tensor.to(torch::kCPU).contiguous();
    run(impl.backend, host);
    tensor.copy_(host);
  }
}

/// One all-reduce of `tensor` in place with `op`, through `impl`'s error handling.
template <class Impl>
void all_reduce(const Impl& impl, torch::Tensor& tensor, c10d::ReduceOp::RedOpType op, const char* what) {
  on_backend(impl, tensor, [&](const c10::intrusive_ptr<c10d::Backend>& backend, torch::Tensor& t) {
    std::vector<at::Tensor> tensors{t};
    impl.wait(what, [&] {
      c10d::AllreduceOptions options;
      options.reduceOp = c10d::ReduceOp(op);
      return backend->allreduce(tensors, options);
    });
  });
}

}  // namespace

void Collective::all_reduce_sum(torch::Tensor& tensor) {
  all_reduce(*impl_, tensor, c10d::ReduceOp::SUM, "all-reduce (sum)");
}

void Collective::all_reduce_max(torch::Tensor& tensor) {
  all_reduce(*impl_, tensor, c10d::ReduceOp::MAX, "all-reduce (max)");
}

void Collective::all_to_all(const torch::Tensor& input, const std::vector<int64_t>& send_counts,
                            torch::Tensor& output, const std::vector<int64_t>& receive_counts) {
  MAPD_ASSERT(static_cast<int64_t>(send_counts.size()) == size() &&
                  static_cast<int64_t>(receive_counts.size()) == size(),
              fmt::format("Collective::all_to_all: {} send and {} receive counts for {} ranks",
                          send_counts.size(), receive_counts.size(), size()));
  auto in = input;
  auto in_counts = send_counts;
  auto out_counts = receive_counts;
  impl_->wait("all-to-all", [&] { return impl_->backend->alltoall_base(output, in, out_counts, in_counts); });
}

void Collective::broadcast(torch::Tensor& tensor, int64_t root) {
  on_backend(*impl_, tensor, [&](const c10::intrusive_ptr<c10d::Backend>& backend, torch::Tensor& t) {
    std::vector<at::Tensor> tensors{t};
    impl_->wait("broadcast", [&] {
      c10d::BroadcastOptions options;
      options.rootRank = root;
      return backend->broadcast(tensors, options);
    });
  });
}

std::string Collective::backend_name() const { return impl_->device ? "nccl" : "gloo"; }

void Collective::barrier() {
  impl_->wait("barrier", [&] { return impl_->backend->barrier(); });
}

std::string Collective::share(const std::string& key, const std::string& value) {
  try {
    if (rank() == 0) impl_->store->set(key, std::vector<uint8_t>(value.begin(), value.end()));
    const auto bytes = impl_->store->get(key);
    return {bytes.begin(), bytes.end()};
  } catch (const std::exception& e) {
    throw DistributedError(fmt::format("rank {} of {}: cannot read '{}' from rank 0's store: {}", rank(),
                                       size(), key, e.what()));
  }
}

}  // namespace mapd::dist
