#!/usr/bin/env bash
# Training speed on a busy machine: `mapd train` (small_cnn, Fashion-MNIST, no probes) quiet, next
# to an identical background load (one busy Python loop), and two trainings at once; each with
# train.threads=0 (the default: threads follow the CPUs other processes leave free) and with
# train.threads fixed to every usable CPU (the earlier default). Prints img/s (median over REPEATS
# of the run's mean epoch img/s from metrics.jsonl) and the ratio to the quiet run of the same
# setting. Results: docs/benchmarks.md.
#   bench/busy/run.sh [BUILD_DIR] [REPEATS] [LIMIT] [EPOCHS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build/release}"
repeats="${2:-3}"
limit="${3:-12000}"
epochs="${4:-2}"
mapd="$build/mapd"
[[ -x "$mapd" ]] || { echo "build it first: cmake --build $build --target mapd" >&2; exit 1; }
cpus="$(nproc)"
scratch="$(mktemp -d)"
background=()
cleanup() {
  for pid in "${background[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

# One training; prints its mean epoch img/s.
train() {
  local dir="$1" threads="$2"
  rm -rf "$dir"
  "$mapd" train --run-dir "$dir" --log-level warn --set probes.suite=none --set data.limit="$limit" \
    --set train.epochs="$epochs" --set train.threads="$threads" >/dev/null
  python3 -c 'import json,sys; r=[json.loads(l)["img_s"] for l in open(sys.argv[1])]; print(sum(r)/len(r))' \
    "$dir/metrics.jsonl"
}

out="$scratch/results.txt"
for ((r = 0; r < repeats; r++)); do
  for threads in 0 "$cpus"; do
    echo "quiet $threads $(train "$scratch/q" "$threads")" | tee -a "$out"
    python3 -c 'while True: pass' &
    background=($!)
    sleep 1
    echo "busy_loop $threads $(train "$scratch/b" "$threads")" | tee -a "$out"
    kill "${background[0]}"; wait "${background[0]}" 2>/dev/null || true
    background=()
    train "$scratch/t1" "$threads" >"$scratch/t1.rate" &
    background=($!)
    rate2="$(train "$scratch/t2" "$threads")"
    wait "${background[0]}"
    background=()
    echo "two_trainings $threads $(cat "$scratch/t1.rate") $rate2" | tee -a "$out"
  done
done

python3 - "$out" "$cpus" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cpus = sys.argv[2]
def med(case, threads, col=2):
    return statistics.median(float(r[col]) for r in rows if r[0] == case and r[1] == threads)
print()
print(f"| train.threads | quiet img/s | next to a busy loop | ratio | two trainings at once (each) | ratio each | ratio together |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for threads, name in (("0", "0 (adaptive, default)"), (cpus, f"{cpus} (fixed)")):
    q = med("quiet", threads)
    b = med("busy_loop", threads)
    t = statistics.median([float(r[2]) for r in rows if r[0] == "two_trainings" and r[1] == threads] +
                          [float(r[3]) for r in rows if r[0] == "two_trainings" and r[1] == threads])
    print(f"| {name} | {q:.0f} | {b:.0f} | {b / q:.2f} | {t:.0f} | {t / q:.2f} | {2 * t / q:.2f} |")
PY
