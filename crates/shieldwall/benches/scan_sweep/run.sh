#!/bin/bash
# Whole-process `shieldwall scan` against the naive Python set sweep (sweep.py), same inputs,
# alternating, peak RSS from GNU time. Usage (from the repository root):
#   crates/shieldwall/benches/scan_sweep/run.sh N BYTES DIR path/to/shieldwall [ROUNDS]
# generates DIR/indicators.json and DIR/log.jsonl once (gen.py), then per round: the Python
# sweep; `scan` compiling (no cache); `scan` of an empty log (load + compile alone); `scan
# --cache` writing the cache; `scan --cache` reading it; `scan --cache` of an empty log (the
# cached set's loading alone). Wall clock, CPU (user + system) and peak RSS from GNU time.
set -euo pipefail
n=$1 bytes=$2 dir=$3 bin=$4 rounds=${5:-3}
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-.venv/bin/python}
[ -s "$dir/log.jsonl" ] || "$py" "$here/gen.py" "$n" "$bytes" "$dir"
measure() { # label command...
  local label=$1; shift
  /usr/bin/time -f "%e %M %U %S" -o "$dir/time.txt" "$@" >"$dir/out.txt" 2>"$dir/err.txt" || true
  read -r secs kb user sys < <(tail -n 1 "$dir/time.txt")
  printf '%-28s %7.2f s  (CPU %5.2f + %4.2f s)  %7.0f MB peak RSS  %s\n' "$label" "$secs" "$user" \
    "$sys" "$((kb / 1024))" "$(tail -c 200 "$dir/out.txt" | tail -1 | cut -c1-40)"
}
for r in $(seq "$rounds"); do
  echo "## round $r"
  measure "python sweep" "$py" "$here/sweep.py" "$dir/indicators.json" "$dir/log.jsonl"
  measure "scan (compile)" "$bin" scan --any-time --indicators "$dir/indicators.json" "$dir/log.jsonl"
  grep -h 'compiled\|MB/s' "$dir/err.txt" | sed 's/^/    /'
  : >"$dir/empty.log"
  measure "scan (compile), empty log" "$bin" scan --any-time --indicators "$dir/indicators.json" "$dir/empty.log"
  rm -f "$dir/set.cache"
  measure "scan --cache (writes)" "$bin" scan --any-time --cache "$dir/set.cache" --indicators "$dir/indicators.json" "$dir/log.jsonl"
  measure "scan --cache (reads)" "$bin" scan --any-time --cache "$dir/set.cache" --indicators "$dir/indicators.json" "$dir/log.jsonl"
  grep -h 'read from\|MB/s' "$dir/err.txt" | sed 's/^/    /'
  measure "scan --cache (reads), empty" "$bin" scan --any-time --cache "$dir/set.cache" --indicators "$dir/indicators.json" "$dir/empty.log"
done
