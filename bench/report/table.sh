#!/usr/bin/env bash
# The report's browsing table at scale (issue 16 item 5): `mapd report` time, the sizes of
# index.html, table/rows.js and the thumbnail sheets, and the page's load, sort and filter times in
# headless Chromium, against the same report without the table (report.table_limit=0) as the
# baseline, in the same script.
#
#   bench/report/table.sh RUN_DIR [MAPD_BINARY]
#
# RUN_DIR is copied (dynamics.h5, assignments.h5, the JSON files) into a temporary folder, so the
# run's own report is left alone. Prints one line per variant.
set -euo pipefail

run="${1:?usage: bench/report/table.sh RUN_DIR [MAPD_BINARY]}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mapd="${2:-$here/build/release/mapd}"
chromium=/usr/bin/chromium
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/run"
for f in dynamics.h5 assignments.h5 config.resolved.json metrics.jsonl selftest.json detection.json \
         difficulty_scores.json bad_inputs.csv; do
  [[ -e "$run/$f" ]] && cp "$run/$f" "$work/run/"
done

# Appended to a copy of index.html: when the page's script is done, time a sort by id, a sort back
# and a category filter through the real controls, and write the times into the DOM.
probe='<script>
(function () {
  var r = { load_ms: Math.round(performance.now()) };
  function time(f) { var t = performance.now(); f(); return Math.round(performance.now() - t); }
  var th = document.querySelector("#table-rows th[data-col=\"0\"]");
  if (th) {
    r.sort_ms = time(function () { th.click(); });
    r.sort_back_ms = time(function () { document.querySelector("#table-rows th[data-col=\"4\"]").click(); });
    var f = document.getElementById("table-filter-category");
    r.filter_ms = time(function () { f.value = "0"; f.dispatchEvent(new Event("change")); });
    var s = document.getElementById("table-filter-id");
    r.search_ms = time(function () { s.value = "12"; s.dispatchEvent(new Event("input")); });
  }
  var pre = document.createElement("pre"); pre.id = "bench"; pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
})();
</script>'

measure() {  # name, extra --set arguments
  local name="$1"; shift
  local start end
  start=$(date +%s.%N)
  OMP_WAIT_POLICY=passive "$mapd" report "$work/run" --log-level warn "$@" >/dev/null
  end=$(date +%s.%N)
  local report="$work/run/report"
  python3 - "$report/index.html" "$report/index-bench.html" "$probe" <<'EOF'
import sys
html = open(sys.argv[1], encoding="utf-8").read()
at = html.rfind("</body>")
open(sys.argv[2], "w", encoding="utf-8").write(html[:at] + sys.argv[3] + html[at:])
EOF
  local loads=""
  for _ in 1 2 3; do
    local dom
    dom=$(timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --disable-dev-shm-usage \
          --user-data-dir="$work/profile" --dump-dom "file://$report/index-bench.html" 2>/dev/null)
    loads+="$(grep -o '<pre id="bench">[^<]*' <<<"$dom" | sed 's/<pre id="bench">//') "
  done
  local rows=0 sheets=0
  [[ -f "$report/table/rows.js" ]] && rows=$(stat -c %s "$report/table/rows.js")
  [[ -d "$report/table" ]] && sheets=$(find "$report/table" -name 'thumbs-*.png' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  printf '%-10s report %.2f s  index.html %d B  rows.js %d B  sheets %d B (%d files)  chromium: %s\n' \
    "$name" "$(echo "$end - $start" | bc)" "$(stat -c %s "$report/index.html")" "$rows" "$sheets" \
    "$(find "$report" -name 'thumbs-*.png' | wc -l)" "$loads"
}

measure "no table" --set report.table_limit=0
measure "table" --set report.table_limit=100000
measure "no thumbs" --set report.table_limit=100000 --set report.table_thumbnails=false
