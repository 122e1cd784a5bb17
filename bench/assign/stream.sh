#!/bin/sh
# Streamed assignment at any N: writes a synthetic run of N train trajectories (plus 3,000 probes)
# x EPOCHS epochs through the trainer's own HDF5 writer, then times the real `mapd assign` on it
# under GNU time and reports its peak RSS against knn.memory_budget_mb.
# Usage: bench/assign/stream.sh [build dir] [N] [EPOCHS] [budget MB]
#        (default build/release 10000000 100 2048). Needs ~6 GB of disk per 10M x 100 under
#        $BENCH_TMP (default /tmp); the run directory is removed at the end.
set -eu
build=${1:-build/release}
n=${2:-10000000}
epochs=${3:-100}
budget=${4:-2048}
cmake --build "$build" --target mapd bench_assign_make_run >/dev/null
run=$(mktemp -d "${BENCH_TMP:-/tmp}/mapd-stream.XXXXXX")
trap 'rm -rf "$run"' EXIT
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo); load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/assign/bench_assign_make_run" "$run" "$n" "$epochs"
echo "dynamics.h5: $(du -h "$run/dynamics.h5" | cut -f1)"
/usr/bin/time -f 'wall_s=%e peak_rss_kb=%M' "$build/mapd" assign "$run" --set "knn.memory_budget_mb=$budget" \
  >"$run/assign.out" 2>"$run/time.err" || { cat "$run/time.err" "$run/assign.out"; exit 1; }
cat "$run/assign.out"
grep -E 'blocks of|wall_s' "$run/time.err" | sed 's/^.*\] //'
rss_kb=$(sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' "$run/time.err")
echo "peak RSS $((rss_kb / 1024)) MB of a ${budget} MB budget; assignments.h5 $(du -h "$run/assignments.h5" | cut -f1), assignments.csv $(du -h "$run/assignments.csv" | cut -f1)"
[ $((rss_kb / 1024)) -le "$budget" ]
