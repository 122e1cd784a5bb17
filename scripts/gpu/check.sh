#!/usr/bin/env bash
# The GPU check, in one go of a few minutes on a GPU machine with PyTorch 2.11 (cu130) and no
# network, from the repository root with .gpu/mapd-gpu.tar.xz (scripts/gpu/bundle.sh) beside it:
#   1. unpack mapd, its libraries and data; LibTorch and CUDA come from the machine's torch wheel;
#   2. mapd --version and nvidia-smi;
#   3. ctest -L cuda (the CUDA tests);
#   4. a short audit of Fashion-MNIST on the GPU (bf16);
#   5. the GPU benchmark: small_cnn on Fashion-MNIST and ResNet-18 (CIFAR stem) on CIFAR-shaped
#      data, mapd (recording on and off, fp32 and bf16, batches gathered on the GPU) against the same
#      model and batch in PyTorch eager, with the GPU's utilisation sampled during each run.
# Results go to $OUT (default /tmp/mapd-gpu-out), at most 8 files: check.log (everything printed),
# summary.md, bench.jsonl, cuda_tests.xml, audit-time.txt and results.tar.gz (the audit's logs).
#   scripts/gpu/check.sh [--quick]   (--quick: tiny sizes, for rehearsing the script on a CPU)
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1
out="${OUT:-/tmp/mapd-gpu-out}"
mkdir -p "$out"
root="${MAPD_GPU_ROOT:-/tmp/mapd-gpu}"
log="$out/check.log"
exec > >(tee -a "$log") 2>&1
status=0
step() { echo; echo "=== $* ($(date +%T))"; }
fail() { echo "FAILED: $*"; status=1; }

step "unpack"
rm -rf "$root" && mkdir -p "$root"
tar -C "$root" -xJf "$here/.gpu/mapd-gpu.tar.xz" || { echo "no bundle: run scripts/gpu/bundle.sh first"; exit 2; }
python="${MAPD_GPU_PYTHON:-python3}"
torch_lib="$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')" ||
  { echo "no torch in $python"; exit 2; }
export LD_LIBRARY_PATH="$root/lib:$torch_lib"
export PATH="$root/bin:$PATH"
data="$root/data/fashion-mnist"

step "versions"
mapd --version || fail "mapd --version"
"$python" -c 'import torch; print("python torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available() and torch.cuda.get_device_name(0))'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "(no nvidia-smi)"

step "ctest -L cuda"
mkdir -p "$root/ctest"
cat >"$root/ctest/CTestTestfile.cmake" <<CT
add_test(mapd_cuda_test "$root/bin/mapd_cuda_test" "--gtest_output=xml:$out/cuda_tests.xml")
set_tests_properties(mapd_cuda_test PROPERTIES LABELS cuda)
CT
(cd "$root/ctest" && ctest -L cuda --output-on-failure) || fail "ctest -L cuda"
"$root/bin/mapd_cuda_test" --gtest_brief=1 2>&1 | tail -n 15

step "audit of Fashion-MNIST on the GPU"
if [[ $quick -eq 1 ]]; then
  audit_set=(--set data.limit=1500 --set train.epochs=2 --set probes.pilot_epochs=1 --set probes.fit_per_category=20 --set probes.val_per_category=20)
else
  audit_set=(--set train.epochs=10)
fi
run="$root/run"
/usr/bin/time -v mapd audit --run-dir "$run" --set data.path="$data" --set train.device=auto --set train.amp=bf16 \
  "${audit_set[@]}" 2>"$out/audit-time.txt" || fail "mapd audit"
tail -n 25 "$out/audit-time.txt" | grep -E "Elapsed|Maximum resident" || true
tail -n 4 "$run/train.log" 2>/dev/null

step "benchmark"
gpu_monitor() {  # samples GPU utilisation every 100 ms into $1 until killed
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 >"$1" 2>/dev/null
}
bench() {  # bench NAME COMMAND...: runs it, prints its JSON line with the mean GPU utilisation added
  local name="$1"; shift
  local samples="$root/util-$name.txt"
  gpu_monitor "$samples" & local mon=$!
  local line
  line="$("$@" | tail -n 1)"
  kill "$mon" 2>/dev/null; wait "$mon" 2>/dev/null
  local util
  util="$(awk '{s+=$1; n++} END {if (n) printf "%.0f", s/n; else print "null"}' "$samples")"
  [[ -n "$line" ]] || { fail "bench $name"; return; }
  echo "$line" | "$python" -c '
import json, sys
r = json.load(sys.stdin)
r["name"] = sys.argv[1]
r["gpu_util"] = None if sys.argv[2] == "null" else float(sys.argv[2])
print(json.dumps(r))' "$name" "$util" | tee -a "$out/bench.jsonl"
}
device=cuda
[[ $quick -eq 1 ]] && device=cpu
rm -f "$out/bench.jsonl"
for arch in small_cnn resnet18; do
  if [[ $arch == small_cnn ]]; then
    d=(--data "$data"); md=(--data "$data"); batch=256; steps=400
  else
    d=(--data cifar-synthetic --n 50000); md=(--data cifar-synthetic --n 50000); batch=128; steps=200
  fi
  [[ $quick -eq 1 ]] && { steps=4; d=(--data cifar-synthetic --n 512); md=(--data cifar-synthetic --n 512); }
  common=(--steps "$steps" --warmup 20 --batch "$batch" --threads 8 --arch "$arch")
  [[ $quick -eq 1 ]] && common=(--steps "$steps" --warmup 1 --batch 8 --threads 1 --arch "$arch")
  for amp in off bf16; do
    bench "$arch-python-$amp" "$python" "$root/train_small_cnn.py" "${common[@]}" "${d[@]}" --device "$device" --amp "$amp"
    bench "$arch-mapd-step-$amp" mapd_bench_vs_python "${common[@]}" "${md[@]}" --device "$device" --amp "$amp" --mode step
    bench "$arch-mapd-loader-$amp" mapd_bench_vs_python "${common[@]}" "${md[@]}" --device "$device" --amp "$amp" \
      --mode loader --resident 1
    bench "$arch-mapd-loader-norecord-$amp" mapd_bench_vs_python "${common[@]}" "${md[@]}" --device "$device" \
      --amp "$amp" --mode loader --resident 1 --record off
  done
done

step "summary"
"$python" - "$out/bench.jsonl" >"$out/summary.md" <<'PY'
import json, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
print("| model | amp | PyTorch eager img/s | mapd step img/s | mapd loader (GPU-resident) img/s | mapd/PyTorch | recording off img/s | recording overhead | GPU util (py / mapd loader) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for arch in ("small_cnn", "resnet18"):
    for amp in ("off", "bf16"):
        g = lambda k: rows.get(f"{arch}-{k}-{amp}", {})
        py, st, ld, nr = g("python"), g("mapd-step"), g("mapd-loader"), g("mapd-loader-norecord")
        if not (py and ld):
            continue
        ratio = ld["img_s"] / py["img_s"]
        over = 1 - ld["img_s"] / nr["img_s"] if nr else float("nan")
        print(f"| {arch} | {amp} | {py['img_s']:.0f} | {st.get('img_s', 0):.0f} | {ld['img_s']:.0f} | {ratio:.2f} | "
              f"{nr.get('img_s', 0):.0f} | {100 * over:.1f}% | {py.get('gpu_util')}% / {ld.get('gpu_util')}% |")
PY
cat "$out/summary.md"
tar -C "$root" -czf "$out/results.tar.gz" run/train.log run/metrics.jsonl run/selftest.json run/config.resolved.json 2>/dev/null
echo "check: $([[ $status -eq 0 ]] && echo passed || echo FAILED)"
exit $status
