#include "progress.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mapd::train::detail {

ProgressBar::ProgressBar() : enabled_(isatty(fileno(stderr)) != 0) {}

void ProgressBar::start(int64_t epoch, int64_t epochs, int64_t steps) {
  epoch_ = epoch;
  epochs_ = epochs;
  steps_ = std::max<int64_t>(steps, 1);
  epoch_start_ = last_draw_ = std::chrono::steady_clock::now();
}

void ProgressBar::update(int64_t step, int64_t images) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (step + 1 < steps_ && now - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double per_step = elapsed / static_cast<double>(step + 1);
  const double remaining =
      per_step * static_cast<double>((steps_ - step - 1) + (epochs_ - epoch_ - 1) * steps_);
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * (step + 1) / steps_);
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kWidth) bar += '>' + std::string(static_cast<size_t>(kWidth - filled - 1), ' ');
  std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %lld/%lld  %.0f img/s  ETA %s",
               static_cast<long long>(epoch_) + 1, static_cast<long long>(epochs_), bar.c_str(),
               static_cast<long long>(step) + 1, static_cast<long long>(steps_),
               elapsed > 0 ? static_cast<double>(images) / elapsed : 0.0, format_duration(remaining).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::clear() {
  if (!enabled_ || !drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

std::string format_duration(double seconds) {
  const int64_t total = std::llround(std::max(seconds, 0.0));
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  return h > 0 ? fmt::format("{}:{:02d}:{:02d}", h, m, s) : fmt::format("{}:{:02d}", m, s);
}

}  // namespace mapd::train::detail
