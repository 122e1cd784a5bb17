#!/usr/bin/env bash
# Packs what a GPU machine needs to run mapd besides its own PyTorch wheel (the GPU machines have
# torch 2.11.0+cu130 under Python 3.12 and no network): the lean build (MAPD_IMGCODECS=OFF: no
# image-file decoding, so no GDAL & co.) of mapd, the CUDA tests and the GPU benchmark, every shared
# library they load that is neither glibc/libstdc++ (the machine's are newer) nor LibTorch/CUDA (the
# machine's torch wheel has them), the shipped probes/configs, Debian's Chart.js and the
# Fashion-MNIST files. Writes .gpu/mapd-gpu.tar.xz (ignored by git; carry it as `.gpu`).
#   scripts/gpu/bundle.sh [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$here/build/gpu}"
venv="${MAPD_VENV:-$HOME/.cache/mapd/venv-torch-2.11.0}"
out="$here/.gpu"
targets=(mapd mapd_cuda_test mapd_bench_vs_python)

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DMAPD_IMGCODECS=OFF -DMAPD_PYTHON="$venv/bin/python" >/dev/null
cmake --build "$build" --target "${targets[@]}"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/share/mapd/javascript/chart.js" "$stage/data/fashion-mnist"
cp "$build/mapd" "$build/tests/cuda/mapd_cuda_test" "$build/bench/vs_python/mapd_bench_vs_python" "$stage/bin/"
strip --strip-unneeded "$stage"/bin/*
cp "$here/bench/vs_python/train_small_cnn.py" "$here/scripts/gpu/check.sh" "$stage/"

# The machine's own: the C runtime and the C++ runtime (newer there), LibTorch and CUDA (its wheel).
keep_out='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libutil|libresolv|libstdc\+\+|libgcc_s)\.so'
torch_dirs="$venv/lib/python3.11/site-packages/(torch|nvidia|cuda)|/usr/local/cuda"
for exe in "$stage"/bin/*; do
  ldd "$exe" | awk '/=>/ {print $1, $3}'
done | sort -u | while read -r name path; do
  [[ "$path" == /* ]] || { echo "bundle: $name not found for a bundled binary" >&2; exit 1; }
  if [[ "$name" =~ $keep_out ]] || [[ "$path" =~ $torch_dirs ]]; then continue; fi
  cp -L "$path" "$stage/lib/$name"
done

cp -r "$here/probes" "$here/configs" "$stage/share/mapd/"
cp /usr/share/javascript/chart.js/chart.min.js "$stage/share/mapd/javascript/chart.js/"
cp /usr/share/datasets/fashion-mnist/*.gz "$stage/data/fashion-mnist/"

mkdir -p "$out"
rm -f "$out/mapd-gpu.tar.xz"
tar -C "$stage" -cf - . | xz -T0 -6 >"$out/mapd-gpu.tar.xz"
echo "bundle: $(find "$stage/lib" -type f | wc -l) libraries ($(du -sh "$stage/lib" | cut -f1)), binaries $(du -sh "$stage/bin" | cut -f1);" \
  "$out/mapd-gpu.tar.xz is $(du -h "$out/mapd-gpu.tar.xz" | cut -f1)"
