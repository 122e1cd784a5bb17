#!/usr/bin/env bash
# Step time with recording off / online / eval (same model, data and process, interleaved).
#   bench/recording/step_time.sh [BUILD_DIR] [REPEATS] [ARCH] [THREADS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build/dev}"
exe="$build/bench/recording/mapd_bench_step_time"
[[ -x "$exe" ]] || { echo "build it first: cmake --build $build --target mapd_bench_step_time" >&2; exit 1; }
"$exe" --repeats "${2:-7}" --arch "${3:-small_cnn}" --threads "${4:-2}"
