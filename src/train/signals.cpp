#include "mapd/train/signals.hpp"

#include <csignal>

#include "mapd/core/error.hpp"

namespace mapd::train {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGUSR1};
volatile std::sig_atomic_t g_pending = 0;
bool g_installed = false;
struct sigaction g_previous[3];

void on_signal(int signal_number) {
  if (g_pending != 0 && signal_number != SIGUSR1) {
    // Second request: stop now with the default action (the last complete epoch is on disk).
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  g_pending = signal_number;
}

}  // namespace

StopSignalGuard::StopSignalGuard() {
  MAPD_ASSERT(!g_installed, "StopSignalGuard: only one guard may be active at a time");
  g_pending = 0;
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &action, &g_previous[i]);
  g_installed = true;
}

StopSignalGuard::~StopSignalGuard() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &g_previous[i], nullptr);
  g_installed = false;
  g_pending = 0;
}

int StopSignalGuard::pending() { return g_pending; }

void StopSignalGuard::adopt(int signal_number) {
  if (g_pending == 0) g_pending = signal_number;
}

const char* StopSignalGuard::describe(int signal_number) {
  switch (signal_number) {
    case SIGINT:
      return "interrupted (SIGINT)";
    case SIGTERM:
      return "terminated (SIGTERM)";
    case SIGUSR1:
      return "stopping before the time limit (SIGUSR1, e.g. SLURM --signal)";
    default:
      return "stopped by a signal";
  }
}

}  // namespace mapd::train
