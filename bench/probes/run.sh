#!/bin/sh
# Difficulty estimators on Fashion-MNIST with injected label noise: cost and agreement.
# Usage: bench/probes/run.sh [build dir] (default build/probes). Prints one table per setting.
set -eu
build=${1:-build/probes}
cmake --build "$build" --target bench_probes_difficulty
"$build/bench/probes/bench_probes_difficulty" 10000 0.15 4 3 3
