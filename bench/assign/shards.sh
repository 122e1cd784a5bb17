#!/bin/sh
# Sharded against whole assignment: writes a synthetic run of N train trajectories (plus 3,000
# probes) x EPOCHS epochs, times one `mapd assign`, then SHARDS `mapd assign --shard I/SHARDS` one
# after the other (as array tasks on one core pair would run) and `--merge SHARDS`, checks that
# the merged assignments.csv is the same file, and prints each step's wall time and peak RSS.
# Usage: bench/assign/shards.sh [build dir] [N] [EPOCHS] [SHARDS]
#        (default build/release 1000000 50 4). The run directory is removed at the end.
set -eu
build=${1:-build/release}
n=${2:-1000000}
epochs=${3:-50}
shards=${4:-4}
cmake --build "$build" --target mapd bench_assign_make_run >/dev/null
run=$(mktemp -d "${BENCH_TMP:-/tmp}/mapd-shards.XXXXXX")
trap 'rm -rf "$run"' EXIT
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo); load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/assign/bench_assign_make_run" "$run" "$n" "$epochs" >/dev/null
echo "dynamics.h5: $(du -h "$run/dynamics.h5" | cut -f1), $n train rows x $epochs epochs"
timed() {  # label, then the mapd arguments
  label=$1
  shift
  /usr/bin/time -f 'wall_s=%e peak_rss_kb=%M' "$build/mapd" "$@" --log-level warn >"$run/out" 2>"$run/time" ||
    { cat "$run/time" "$run/out"; exit 1; }
  sed -n "s|.*wall_s=\([0-9.]*\) peak_rss_kb=\([0-9]*\).*|$label: \1 s, peak RSS \2 kB|p" "$run/time"
}
timed "whole" assign "$run"
mv "$run/assignments.csv" "$run/whole.csv"
i=0
while [ "$i" -lt "$shards" ]; do
  timed "part $i/$shards" assign "$run" --shard "$i/$shards"
  i=$((i + 1))
done
timed "merge $shards" assign "$run" --merge "$shards"
timed "part 0/$shards again (skipped)" assign "$run" --shard "0/$shards"
cmp "$run/whole.csv" "$run/assignments.csv" && echo "merged assignments.csv: the same file as the whole assignment's"
