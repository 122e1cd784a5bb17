#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mapd::train::detail {

/// A one-line progress bar on stderr ("epoch 3/20 [=====>    ] 120/469  5123 img/s  ETA 1:02"),
/// redrawn at most 5 times a second; disabled (prints nothing) when stderr is not a terminal.
class ProgressBar {
 public:
  ProgressBar();
  /// Starts epoch `epoch` (0-based) of `epochs`, with `steps` steps.
  void start(int64_t epoch, int64_t epochs, int64_t steps);
  /// After step `step` (0-based) with `images` images processed this epoch.
  void update(int64_t step, int64_t images);
  /// Erases the bar (before a log line).
  void clear();
  [[nodiscard]] bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool drawn_ = false;
  int64_t epoch_ = 0, epochs_ = 0, steps_ = 0;
  std::chrono::steady_clock::time_point epoch_start_, last_draw_;
};

/// "1:02:03" / "2:03" from seconds.
std::string format_duration(double seconds);

}  // namespace mapd::train::detail
