#!/usr/bin/env bash
# Rehearses the GPU check on this (CPU) machine before a GPU machine's minutes are spent on it:
#  1. every shared library the bundled binaries load resolves to the bundle, to LibTorch/CUDA of
#     the torch wheel, or to the C/C++ runtime (what a GPU machine brings) - nothing from Debian;
#  2. in a private mount namespace where /usr/lib/x86_64-linux-gnu holds only the C/C++ runtime and
#     neither Debian's Chart.js nor the source tree can be seen, the bundled mapd prints its version, runs the CUDA tests (they skip without a GPU) and a short
#     audit of the bundled Fashion-MNIST with the bundled probes and chart library;
#  3. scripts/gpu/check.sh --quick end to end (CPU, tiny sizes).
#   scripts/gpu/rehearse.sh   (after scripts/gpu/bundle.sh; needs root for the namespace)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${MAPD_VENV:-$HOME/.cache/mapd/venv-torch-2.11.0}"
torch_lib="$venv/lib/python3.11/site-packages/torch/lib"
root="$(mktemp -d /tmp/mapd-gpu-rehearsal.XXXXXX)"
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xJf "$here/.gpu/mapd-gpu.tar.xz"
runtime='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libutil|libresolv|libstdc\+\+|libgcc_s)\.so'

echo "== 1. library closure"
bad=0
for exe in "$root"/bin/*; do
  while read -r name path; do
    if [[ "$name" =~ $runtime || "$path" == "$root/lib/"* || "$path" == "$venv/"* ]]; then continue; fi
    echo "  $(basename "$exe"): $name -> $path (not in the bundle)"
    bad=1
  done < <(LD_LIBRARY_PATH="$root/lib:$torch_lib" ldd "$exe" | awk '/=>/ {print $1, $3}')
done
[[ $bad -eq 0 ]] || { echo "rehearse: the bundle is incomplete"; exit 1; }
echo "  complete: $(ls "$root/lib" | wc -l) bundled libraries, the rest from the torch wheel and the C/C++ runtime"

echo "== 2. the bundle alone, in a namespace without Debian's libraries"
runtime_dir="$root/runtime"
mkdir -p "$runtime_dir"
for lib in /usr/lib/x86_64-linux-gnu/*.so*; do
  [[ "$(basename "$lib")" =~ $runtime ]] && cp -a "$lib" "$runtime_dir/"
done
unshare -m /bin/sh -eu -c '
  mount -t tmpfs none /usr/share/javascript
  mount -t tmpfs none "$4"
  mount --bind "$1" /usr/lib/x86_64-linux-gnu  # from here on only builtins and the bundle run
  export LD_LIBRARY_PATH="$2/lib:$3"
  "$2/bin/mapd" --version
  "$2/bin/mapd_cuda_test" --gtest_brief=1
  cd "$2"
  "$2/bin/mapd" audit --run-dir "$2/run" --log-level warn --set data.path="$2/data/fashion-mnist" \
    --set data.limit=1000 --set train.epochs=2 --set probes.pilot_epochs=1 \
    --set probes.fit_per_category=20 --set probes.val_per_category=20 --set train.threads=1
' _ "$runtime_dir" "$root" "$torch_lib" "$here"
grep -q "Chart.js v" "$root/run/report/index.html"
echo "  the bundled mapd ran an audit with only the C/C++ runtime from the system"

echo "== 3. check.sh --quick"
OUT="$root/out" MAPD_GPU_ROOT="$root/check" MAPD_GPU_PYTHON="$venv/bin/python" "$here/scripts/gpu/check.sh" --quick
ls "$root/out"
