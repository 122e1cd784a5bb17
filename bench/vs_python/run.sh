#!/usr/bin/env bash
# mapd vs PyTorch (Python) on small_cnn / Fashion-MNIST: same batch size, steps, optimizer and
# threads; runs interleaved, REPEATS times each, prints every run and the medians and ratio.
#   bench/vs_python/run.sh [BUILD_DIR] [REPEATS] [STEPS] [THREADS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build/dev}"
repeats="${2:-5}"
steps="${3:-200}"
threads="${4:-2}"
exe="$build/bench/vs_python/mapd_bench_vs_python"
# The Python side runs the same torch as mapd's LibTorch: the virtual environment of scripts/setup.
python="${MAPD_VENV:-$HOME/.cache/mapd/venv-torch-2.11.0}/bin/python"
[[ -x "$exe" ]] || { echo "build it first: cmake --build $build --target mapd_bench_vs_python" >&2; exit 1; }
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for ((r = 0; r < repeats; r++)); do
  "$exe" --steps "$steps" --threads "$threads" --mode step | tee -a "$out"
  "$python" "$here/train_small_cnn.py" --steps "$steps" --threads "$threads" | tee -a "$out"
  "$exe" --steps "$steps" --threads "$threads" --mode loader | tee -a "$out"
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(pred):
    return statistics.median(r["img_s"] for r in runs if pred(r))
py = med(lambda r: r["impl"] == "python")
step = med(lambda r: r["impl"] == "mapd" and r["mode"] == "step")
loader = med(lambda r: r["impl"] == "mapd" and r["mode"] == "loader")
print(f"median img/s: python {py:.0f}  mapd(step) {step:.0f}  mapd(loader) {loader:.0f}")
print(f"ratio mapd/python: step {step / py:.2f}x  loader {loader / py:.2f}x")
PY
