#!/usr/bin/env bash
# One GPU-machine call for the bench and the suites: builds everything, runs every Criterion suite
# (GPU tests included), then `make bench` with torch.compile. Evidence goes to $OUT.
#   scripts/device-bench.sh [compile budget in seconds, default 200]
set -uo pipefail
out=${OUT:-device-out}; mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
j=$(nproc)
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1 | tail -1
make -j$j all build/demo/em-check test-build >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 2; }
echo "=== suites"
for t in build/tests/test_*; do
  [ -x "$t" ] && [ -f "$t" ] || continue
  timeout 300 "$t" > "$out/$(basename "$t").txt" 2>&1
  echo "$(basename "$t") exit $?: $(grep -E 'Synthesis' "$out/$(basename "$t").txt")"
  grep -E "\[FAIL\]" "$out/$(basename "$t").txt" | head -5
done
echo "=== make bench"
make bench BENCH_ARGS="--compile-budget ${1:-200}" > "$out/bench.txt" 2>&1; echo "bench exit $?"
sed -n '/^track /,$p' "$out/bench.txt"
cp build/bench/bench.json build/bench/results.json "$out/" 2>/dev/null
