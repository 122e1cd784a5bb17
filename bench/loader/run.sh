#!/bin/sh
# Builds and runs the loader benchmark; prints a markdown table (images/s, median of repeats, ratio
# to the in-process baseline). Usage: bench/loader/run.sh [build_dir] [repeats] [jpeg_count]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/bench}
repeats=${2:-3}
jpegs=${3:-2000}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" --target mapd_loader_bench >/dev/null
echo "machine: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "command: $build/bench/loader/mapd_loader_bench $repeats $jpegs"
"$build/bench/loader/mapd_loader_bench" "$repeats" "$jpegs"
