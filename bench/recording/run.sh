#!/usr/bin/env bash
# HDF5 append benchmark of bench/recording: builds bench_recording_append and runs it.
# Usage: bench/recording/run.sh [BUILD_DIR] [-- extra args, e.g. --n 1281167 --epochs 9 --dir /tmp]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build/bench}"
shift || true
[[ "${1:-}" == "--" ]] && shift
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" --target bench_recording_append
echo "machine: $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "command: $build/bench/recording/bench_recording_append $*"
"$build/bench/recording/bench_recording_append" "$@"
