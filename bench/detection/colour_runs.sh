#!/bin/bash
# The colour half of issue 16's label-issue measurement (docs/detection.md, "A colour dataset"):
# builds bench/detection/colour_dataset.py's set in OUT/data once, then per noise rate and seed runs
# `mapd audit` (small CNN, 20 epochs, glyph OOD probes, 100 + 100 probes per category, as the
# Fashion-MNIST measurement), `mapd assign`, rankings.py and cleanlab_cv.py (5-fold CV), one job at
# a time. Runs that finished are skipped; each run directory keeps rankings.json and cleanlab.json.
#
# usage: bench/detection/colour_runs.sh BUILD_DIR OUT [NOISE_RATES] [SEEDS] [TAG KEY=VALUE...]
#        (defaults "0.15 0.4" and "1 2 3"). With TAG, the KEY=VALUE settings go to every audit, the
#        run directories are named n15-s1TAG ..., and cleanlab's cross-validation (which the settings
#        do not change) is left to the untagged runs, e.g. the holdout pilot of docs/detection.md:
#        colour_runs.sh build/release OUT "0.15 0.4" "1 2 3" -ho6x20 probes.difficulty=holdout \
#          probes.holdout_models=6 probes.holdout_epochs=20
set -euo pipefail
build=$(realpath "$1") out=$(realpath -m "$2") rates=${3:-0.15 0.4} seeds=${4:-1 2 3} tag=${5:-}
extra=()
for setting in "${@:6}"; do extra+=(--set "$setting"); done
here=$(dirname "$(realpath "$0")")
venv=${MAPD_VENV:-$HOME/.cache/mapd/venv-torch-2.11.0}
data=$out/data
[ -f "$data/test/manifest.csv" ] || /usr/bin/python3 "$here/colour_dataset.py" "$data"
for rate in $rates; do
  for seed in $seeds; do
    run=$out/n$(awk "BEGIN { print $rate * 100 }")-s$seed$tag
    if [ ! -f "$run/assignments.h5" ]; then
      "$build/mapd" audit --run-dir "$run" --log-level warn \
        --set data.format=manifest --set data.path="$data/train/manifest.csv" \
        --set data.test_path="$data/test/manifest.csv" --set data.image_size=32 \
        --set data.label_noise.rate="$rate" --set data.label_noise.seed="$seed" \
        --set probes.seed="$seed" --set train.seed="$seed" --set probes.ood_source=glyphs \
        --set probes.fit_per_category=100 --set probes.val_per_category=100 \
        --set report.enabled=false "${extra[@]}" > /dev/null
    fi
    "$build/mapd" assign "$run" > "$run/assign.log"
    /usr/bin/python3 "$here/rankings.py" "$run" --json "$run/rankings.json"
    [ -n "$tag" ] || [ -f "$run/cleanlab.json" ] || "$venv/bin/python" "$here/cleanlab_cv.py" "$run" --json "$run/cleanlab.json"
  done
done
