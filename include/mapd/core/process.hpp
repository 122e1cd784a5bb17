#pragma once

#include <cstdint>
#include <string>

/// Facts about the running process.
namespace mapd::process {

/// Resident set size of this process in bytes now (Linux: /proc/self/statm), or 0 where it cannot
/// be read. Used to plan memory budgets from what the process already holds.
int64_t resident_bytes();

/// CPUs this process may really use: the CPUs in its affinity mask (taskset, SLURM's cpu binding),
/// capped by a cgroup CPU quota (cgroup v2 cpu.max or v1 cpu.cfs_quota_us, as a container or
/// systemd slice sets it), rounded up; at least 1. std::thread::hardware_concurrency() counts every
/// CPU of the machine instead, which oversubscribes a process confined to fewer.
int64_t usable_cpus();

/// The CPU quota of the cgroup at `cgroup_root` in CPUs (e.g. "150000 100000" in cpu.max = 1.5),
/// or 0 when there is none. Exposed for tests; usable_cpus() reads /sys/fs/cgroup.
double cgroup_cpu_quota(const std::string& cgroup_root);

/// CPU time this process has used (all threads), in seconds.
double process_cpu_seconds();

/// Idle and total jiffies of all CPUs since boot (/proc/stat's first line); {0, 0} when unreadable.
struct CpuTicks {
  int64_t idle = 0;
  int64_t total = 0;
  int64_t cpus = 0;  ///< CPUs counted in `total`
};
CpuTicks system_cpu_ticks();

/// Adapts the number of compute threads of a CPU training loop to the CPUs that other processes
/// leave it. OpenMP workers that wait by spinning (libgomp's default, which a quiet machine needs
/// for full speed) lose their cores to busy neighbours and then wait for peers that are descheduled,
/// so a fixed thread count next to one busy process runs slower than one thread does (measured in
/// docs/benchmarks.md, busy machines). Every `window_seconds` it compares the CPU time the
/// process got with threads x wall time: well below means the cores are shared, and
/// the thread count drops to what the process really got; idle CPUs in the whole machine raise it
/// again, one at a time, after a hold that doubles each time a raise had to be taken back.
class CpuShareGovernor {
 public:
  /// `max_threads`: the most threads to use (the usable CPUs).
  explicit CpuShareGovernor(int64_t max_threads, double window_seconds = 2.0);

  /// Called after every step; returns the thread count to use from now on (`threads()`).
  int64_t after_step();
  /// Starts a new measurement window: call where the loop (re)starts, so that set-up and other
  /// serial work between epochs is not taken for CPUs lost to other processes.
  void restart();
  [[nodiscard]] int64_t threads() const { return threads_; }

  /// The decision for one window, without reading the clock (exposed for tests): `cpu_seconds`
  /// this process used and `idle_cpus` (average idle CPUs of the machine) over `wall_seconds`.
  int64_t decide(double wall_seconds, double cpu_seconds, double idle_cpus);

 private:
  int64_t max_threads_;
  int64_t threads_;
  double window_seconds_;
  double window_start_wall_ = 0;
  double window_start_cpu_ = 0;
  CpuTicks window_start_ticks_;
  int64_t windows_since_change_ = 0;
  int64_t hold_windows_ = 2;
  bool last_change_was_raise_ = false;
};

}  // namespace mapd::process
