#pragma once

namespace mapd::train {

/// While alive, SIGINT, SIGTERM and SIGUSR1 only set a flag the trainer polls after every batch
/// (finish the batch, keep the last complete epoch, write a step checkpoint of the one in
/// progress, throw InterruptedError). A second SIGINT or
/// SIGTERM while one is pending restores the default action and re-raises (a forced stop).
/// The previous handlers come back on destruction. Not reentrant: one guard at a time (a second
/// one is an InternalError).
class StopSignalGuard {
 public:
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

  /// The signal received since construction, or 0.
  [[nodiscard]] static int pending();
  /// Makes `signal_number` pending as if it had been received (another rank of a data-parallel
  /// job received it: every rank stops the same way). Keeps a signal already pending.
  static void adopt(int signal_number);
  /// The message for InterruptedError after `signal_number`.
  static const char* describe(int signal_number);
};

}  // namespace mapd::train
