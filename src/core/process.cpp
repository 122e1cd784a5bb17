#include "mapd/core/process.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace mapd::process {

int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t total_pages = 0;
  int64_t resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  return page > 0 ? resident_pages * page : 0;
}

double cgroup_cpu_quota(const std::string& cgroup_root) {
  // cgroup v2: "<quota> <period>" or "max <period>".
  if (std::ifstream v2(cgroup_root + "/cpu.max"); v2) {
    std::string quota;
    double period = 0;
    if (v2 >> quota >> period && quota != "max" && period > 0) {
      try {
        return std::stod(quota) / period;
      } catch (const std::exception&) {
        return 0;
      }
    }
    return 0;
  }
  // cgroup v1: quota -1 = none.
  std::ifstream quota_file(cgroup_root + "/cpu/cpu.cfs_quota_us");
  std::ifstream period_file(cgroup_root + "/cpu/cpu.cfs_period_us");
  double quota = 0;
  double period = 0;
  if (quota_file >> quota && period_file >> period && quota > 0 && period > 0) return quota / period;
  return 0;
}

int64_t usable_cpus() {
  int64_t cpus = 0;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (::sched_getaffinity(0, sizeof(mask), &mask) == 0) cpus = CPU_COUNT(&mask);
  if (cpus <= 0) cpus = std::max<long>(1, ::sysconf(_SC_NPROCESSORS_ONLN));
  if (const double quota = cgroup_cpu_quota("/sys/fs/cgroup"); quota > 0) {
    cpus = std::min<int64_t>(cpus, static_cast<int64_t>(std::ceil(quota)));
  }
  return std::max<int64_t>(1, cpus);
}

double process_cpu_seconds() {
  timespec ts{};
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

CpuTicks system_cpu_ticks() {
  CpuTicks ticks;
  std::ifstream stat("/proc/stat");
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("cpu", 0) != 0) break;
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    int64_t values[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // user nice system idle iowait irq softirq steal
    for (auto& v : values) fields >> v;
    if (name == "cpu") {
      for (const auto v : values) ticks.total += v;
      ticks.idle = values[3] + values[4];
    } else {
      ++ticks.cpus;
    }
  }
  return ticks;
}

namespace {
double wall_seconds_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
}  // namespace

CpuShareGovernor::CpuShareGovernor(int64_t max_threads, double window_seconds)
    : max_threads_(std::max<int64_t>(1, max_threads)),
      threads_(max_threads_),
      window_seconds_(window_seconds) {
  restart();
}

void CpuShareGovernor::restart() {
  window_start_wall_ = wall_seconds_now();
  window_start_cpu_ = process_cpu_seconds();
  window_start_ticks_ = system_cpu_ticks();
}

int64_t CpuShareGovernor::after_step() {
  const double wall = wall_seconds_now() - window_start_wall_;
  if (wall < window_seconds_) return threads_;
  const double cpu = process_cpu_seconds() - window_start_cpu_;
  const auto ticks = system_cpu_ticks();
  const int64_t total = ticks.total - window_start_ticks_.total;
  const double idle_cpus = total > 0 && ticks.cpus > 0
                               ? static_cast<double>(ticks.idle - window_start_ticks_.idle) /
                                     static_cast<double>(total) * static_cast<double>(ticks.cpus)
                               : 0.0;
  decide(wall, cpu, idle_cpus);
  restart();
  return threads_;
}

int64_t CpuShareGovernor::decide(double wall_seconds, double cpu_seconds, double idle_cpus) {
  ++windows_since_change_;
  if (wall_seconds <= 0) return threads_;
  const double got = cpu_seconds / wall_seconds;  // CPUs this process really had
  if (threads_ > 1 && got < 0.75 * static_cast<double>(threads_)) {
    const auto share = static_cast<int64_t>(std::floor(got + 0.25));
    threads_ = std::clamp<int64_t>(share, 1, threads_ - 1);
    // A raise that had to be taken back: wait longer before the next one.
    if (last_change_was_raise_) hold_windows_ = std::min<int64_t>(hold_windows_ * 2, 64);
    last_change_was_raise_ = false;
    windows_since_change_ = 0;
  } else if (threads_ < max_threads_ && idle_cpus >= 0.75 && windows_since_change_ >= hold_windows_) {
    ++threads_;
    last_change_was_raise_ = true;
    windows_since_change_ = 0;
  }
  return threads_;
}

}  // namespace mapd::process
