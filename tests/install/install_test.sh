#!/usr/bin/env bash
# The installed mapd needs nothing from the source tree: `cmake --install` into a scratch prefix,
# then, in a private mount namespace with an empty tmpfs over the source tree (and so over an
# in-tree build folder too), the installed binary runs a short audit of the real Fashion-MNIST
# package: the probe suite comes from PREFIX/share/mapd, the chart library from Debian's
# libjs-chart.js, LibTorch from its virtual environment.
#   install_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir="$1"
build_dir="$2"
scratch="$(mktemp -d /tmp/mapd-install-test.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
prefix="$scratch/prefix"

cmake --install "$build_dir" --prefix "$prefix" >"$scratch/install.log"
test -x "$prefix/bin/mapd"
test -f "$prefix/share/mapd/probes/default.yaml"

if ! unshare -m true 2>/dev/null; then
  echo "install_test: cannot make a mount namespace here (needs root); skipped"
  exit 77
fi
# The build's own RUNPATH would point into the tree; the installed one must not.
if readelf -d "$prefix/bin/mapd" | grep -E 'R(UN)?PATH' | grep -q "$source_dir"; then
  echo "install_test: the installed binary's RUNPATH points into the source tree:" >&2
  readelf -d "$prefix/bin/mapd" | grep -E 'R(UN)?PATH' >&2
  exit 1
fi

cd "$scratch"
unshare -m bash -euo pipefail -c '
  mount -t tmpfs none "$1"
  test -z "$(ls -A "$1")"
  "$2/bin/mapd" --version
  "$2/bin/mapd" audit --run-dir "$3/run" --log-level warn \
    --set data.limit=1000 --set train.epochs=2 --set probes.pilot_epochs=1 \
    --set probes.fit_per_category=20 --set probes.val_per_category=20 --set train.threads=1
' _ "$source_dir" "$prefix" "$scratch"

grep -q "Chart.js v" "$scratch/run/report/index.html"
test -s "$scratch/run/assignments.csv"
echo "install_test: the installed mapd ran an audit without the source tree"
