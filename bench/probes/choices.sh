#!/bin/sh
# The paper's probe choices vs mapd's on an injected-noise run (docs/probes.md, "Measured"):
# Fashion-MNIST, data.limit examples, 15% symmetric label noise; one `mapd audit` per setting, then
# analyze_choices.py. Usage: bench/probes/choices.sh [build dir] [limit] [epochs]
set -eu
build=${1:-build/probes}
limit=${2:-10000}
epochs=${3:-15}
out=${OUT:-/tmp/mapd_probe_choices}
mkdir -p "$out"
common="--set data.limit=$limit --set data.label_noise.rate=0.15 --set data.label_noise.seed=1 --set train.epochs=$epochs --set report.enabled=false --log-level warn"
run() {
  name=$1; shift
  "$build/mapd" audit --run-dir "$out/$name" $common "$@"
  /usr/bin/python3 "$(dirname "$0")/analyze_choices.py" "$out/$name" "$name"
}
run paper --set probes.selection=global --set probes.source_pool=random
run per_class --set probes.selection=per_class --set probes.source_pool=random
run per_class_easy --set probes.selection=per_class --set probes.source_pool=easy
