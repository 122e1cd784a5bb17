#!/usr/bin/env bash
# Runs bench_record_exchange as a job of 2 ranks on this machine (Gloo over localhost).
#   bench/distributed/record_exchange.sh BUILD_DIR OUT_DIR N REPEATS
set -euo pipefail
build="$1"; out="$2"; n="$3"; repeats="$4"
port=$((29600 + RANDOM % 300))
rm -rf "$out"; mkdir -p "$out"
for r in 0 1; do
  RANK=$r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port OMP_WAIT_POLICY=passive \
    "$build/bench/distributed/bench_record_exchange" "$out" "$n" "$repeats" &
done
wait
