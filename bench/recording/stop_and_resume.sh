#!/usr/bin/env bash
# A stop signal in the middle of an epoch (as SLURM's --signal=USR1@300 sends it): how long the
# stop takes from the signal to the exit (the step checkpoint included), how large the step
# checkpoint is, and that `mapd resume` continues the epoch and ends bitwise equal to an
# uninterrupted run. Fashion-MNIST (all 60,000 training images), 3 epochs, one thread; the signal
# comes DELAY seconds after the first epoch is committed.
#   bench/recording/stop_and_resume.sh [BUILD_DIR] [REPEATS] [DELAY] [OUT_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build/release}"
repeats="${2:-3}"
delay="${3:-5}"
out="${4:-$(mktemp -d)}"
mkdir -p "$out"
mapd="$build/mapd"
[[ -x "$mapd" ]] || { echo "build it first: cmake --build $build --target mapd" >&2; exit 1; }
export OMP_WAIT_POLICY=passive
python="${PYTHON:-/usr/bin/python3}"  # with h5py and numpy (Debian: python3-h5py)
train=(train --set train.epochs=3 --set train.threads=1)

"$mapd" "${train[@]}" --run-dir "$out/uninterrupted" >"$out/uninterrupted.log" 2>&1
for i in $(seq 1 "$repeats"); do
  run="$out/stopped-$i"
  "$mapd" "${train[@]}" --run-dir "$run" >"$out/stopped-$i.log" 2>&1 &
  pid=$!
  until [[ -f "$run/checkpoints/last.pt" ]]; do sleep 0.1; done
  sleep "$delay"
  start=$(date +%s.%N)
  kill -USR1 "$pid"
  rc=0
  wait "$pid" || rc=$?
  stop=$("$python" -c "print(f'{$(date +%s.%N) - $start:.3f}')")
  where=$(grep -o 'stopped after step [0-9]* of [0-9]* of epoch [0-9/]*' "$out/stopped-$i.log" || echo '?')
  sizes=$(stat -c '%n %s' "$run"/checkpoints/step*.pt | sed "s|$run/checkpoints/||" | tr '\n' ' ')
  "$mapd" resume "$run" >"$out/resumed-$i.log" 2>&1
  same=$("$python" - "$out/uninterrupted/dynamics.h5" "$run/dynamics.h5" <<'PY'
import sys
import h5py
import numpy as np

def datasets(path):
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found

a, b = datasets(sys.argv[1]), datasets(sys.argv[2])
equal = a.keys() == b.keys() and all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
print(f"{len(a)} datasets bitwise equal" if equal else "DIFFERENT")
PY
)
  echo "run $i: exit $rc, $where, signal to exit ${stop} s, ${sizes}; resumed: $same"
done
