// bench/distributed: the per-epoch cost of a data-parallel job's record, before and after issue 15
// item 2, for one rank of a job (run one process per rank; bench/distributed/record_exchange.sh).
//
//   merged:   DataParallel::merge_record (an all-reduce of 6 float64 per example on every rank),
//             then rank 0 appends all N columns to one dynamics file.
//   per rank: DataParallel::exchange_record (one all-to-all of the rows each rank trained, sent to
//             the rank whose block holds them), then every rank appends its block to its own file.
//
// Each rank "trained" every W-th row of a seeded permutation, as the sharded sampler gives. Prints
// this rank's median milliseconds over the repeats of each phase.
//
//   RANK=r WORLD_SIZE=W MASTER_ADDR=127.0.0.1 MASTER_PORT=P bench_record_exchange DIR N REPEATS
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "mapd/dist/collective.hpp"
#include "mapd/dist/world.hpp"
#include "mapd/record/dynamics_store.hpp"
#include "mapd/record/stitched_dynamics.hpp"
#include "mapd/train/data_parallel.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

mapd::record::ExampleColumns examples(int64_t n) {
  mapd::record::ExampleColumns ex;
  for (int64_t i = 0; i < n; ++i) {
    ex.id.push_back(i);
    ex.label.push_back(i % 10);
    ex.original_label.push_back(i % 10);
    ex.role.push_back(0);
    ex.probe_category.push_back(-1);
    ex.source_index.push_back(i);
  }
  return ex;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    fmt::print(stderr, "usage: RANK=.. WORLD_SIZE=.. MASTER_ADDR=.. MASTER_PORT=.. {} DIR N REPEATS\n",
               argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const int64_t n = std::atoll(argv[2]);
  const int repeats = std::atoi(argv[3]);
  const auto world = mapd::dist::world_from_environment();
  if (!world) {
    fmt::print(stderr, "set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT (a job of 2 ranks or more)\n");
    return 2;
  }
  torch::set_num_threads(1);
  mapd::train::DataParallel parallel(
      mapd::dist::Collective::connect(*world, "gloo", std::chrono::seconds(120)), 1 << 20);
  const int64_t rank = parallel.rank();
  const int64_t ranks = parallel.size();

  // The rows this rank trained: every W-th of a seeded permutation, from its rank on.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  mapd::train::EpochRecord::Host host;
  host.loss.assign(static_cast<size_t>(n), NAN);
  host.pred.assign(static_cast<size_t>(n), -1);
  host.true_prob.assign(static_cast<size_t>(n), NAN);
  host.margin.assign(static_cast<size_t>(n), NAN);
  host.el2n.assign(static_cast<size_t>(n), NAN);
  for (size_t k = static_cast<size_t>(rank); k < order.size(); k += static_cast<size_t>(ranks)) {
    const auto i = static_cast<size_t>(order[k]);
    host.loss[i] = 0.001F * static_cast<float>(i % 5000);
    host.pred[i] = static_cast<int32_t>(i % 10);
    host.true_prob[i] = std::exp(-host.loss[i]);
    host.margin[i] = 1.0F - host.loss[i];
    host.el2n[i] = 0.5F * host.loss[i];
  }

  mapd::record::DynamicsMeta meta;
  meta.config_json = "{}";
  meta.mapd_version = "bench";
  meta.torch_version = "bench";
  meta.view = "online";
  meta.dtype = "fp16";
  meta.class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  meta.signals = {mapd::record::SignalSpec{"margin", false}, mapd::record::SignalSpec{"el2n", false}};
  const auto all = examples(n);
  std::vector<int64_t> first;
  for (int64_t r = 0; r < ranks; ++r) first.push_back(mapd::record::rank_columns(n, r, ranks).first);
  first.push_back(n);
  const mapd::record::ColumnBlock block{first[static_cast<size_t>(rank)],
                                        first[static_cast<size_t>(rank + 1)]};
  std::filesystem::create_directories(dir);
  std::optional<mapd::record::DynamicsStore> merged_store;
  if (rank == 0) merged_store.emplace(mapd::record::DynamicsStore::create(dir / "merged.h5", meta, all));
  auto part = mapd::record::DynamicsStore::create(dir / fmt::format("part-{}.h5", rank), meta,
                                                  mapd::record::slice_columns(all, block));

  std::vector<double> merge_ms, merged_write_ms, exchange_ms, part_write_ms;
  for (int rep = 0; rep < repeats; ++rep) {
    parallel.barrier();
    auto start = Clock::now();
    auto full = host;
    parallel.merge_record(full, /*exactly_once=*/true);
    merge_ms.push_back(ms_since(start));
    if (merged_store) {
      start = Clock::now();
      merged_store->append_epoch(full.loss.data(), full.pred.data(), full.true_prob.data(),
                                 {{full.margin, {}}, {full.el2n, {}}});
      merged_write_ms.push_back(ms_since(start));
    }
    parallel.barrier();
    start = Clock::now();
    auto mine = parallel.exchange_record(host, first, /*exactly_once=*/true);
    exchange_ms.push_back(ms_since(start));
    start = Clock::now();
    part.append_epoch(mine.loss.data(), mine.pred.data(), mine.true_prob.data(),
                      {{mine.margin, {}}, {mine.el2n, {}}});
    part_write_ms.push_back(ms_since(start));
  }
  parallel.barrier();
  fmt::print(
      "rank {} of {}, N {}, {} repeats: merged: all-reduce {:.1f} ms, write (rank 0, N columns) {:.1f} ms; "
      "per rank: all-to-all {:.1f} ms, write ({} columns) {:.1f} ms\n",
      rank, ranks, n, repeats, median(merge_ms), median(merged_write_ms), median(exchange_ms), block.size(),
      median(part_write_ms));
  return 0;
}
