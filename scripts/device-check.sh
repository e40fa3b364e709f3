#!/usr/bin/env bash
# Builds, checks and times everything on a GPU machine in one run, and leaves the evidence in
# $OUT (or ./device-out): the lab 1 solution on both tracks (results.json), the test suite with its
# GPU tests, the untouched skeleton (must fail with exit 1), and compute-sanitizer over the
# reference kernels. The C libraries come from .debs/ (scripts/use-debs.sh) where there is no
# package registry.
set -uo pipefail
out=${OUT:-device-out}
mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
jobs=$(nproc)

step() { echo; echo "=== $*"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
nvcc --version | tail -1

step "lab 1, reference solution, both tracks"
make -j"$jobs" lab1 SOLUTION=1 >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 2; }
make check ARGS="--junit $out/junit.xml" 2>&1 | tee "$out/check-solution.txt"
echo "make check exit: ${PIPESTATUS[0]}"
cp build/lab1/results.json "$out/results-solution.json"
cp build/peaks.json "$out/peaks.json"

step "lab 1, untouched skeleton, CUDA track (must exit 1 and point at the TODOs)"
make -j"$jobs" lab1 >>"$out/build.log" 2>&1
make check TRACK=cuda ARGS="--no-timing" >"$out/check-skeleton.txt" 2>&1
echo "make check exit: $? (want 1)"
grep -m3 -E "TODO|skipped" "$out/check-skeleton.txt"

step "compute-sanitizer over the reference kernels (small cases)"
make -j"$jobs" lab1 SOLUTION=1 >>"$out/build.log" 2>&1
compute-sanitizer --tool memcheck --error-exitcode 9 build/lab1/em-check --track cuda --no-timing \
  --case "n=1025" --json /tmp/san.json 2>&1 | tail -4

step "test suite"
make -j"$jobs" test-build >>"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 2; }
make test 2>&1 | tee "$out/test.txt" | grep -E "^==|Synthesis|Tested|passed|failed|skipped|SKIP|FAIL" | head -40

step "PyTorch device-to-device copy for comparison (bytes read + written)"
python3 - <<'PY' 2>&1 | tail -2
import torch
x = torch.empty(1 << 28, device="cuda"); y = torch.empty_like(x)
for _ in range(3): y.copy_(x)
torch.cuda.synchronize()
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
ts = []
for _ in range(20):
    s.record(); y.copy_(x); e.record(); torch.cuda.synchronize(); ts.append(s.elapsed_time(e))
ts.sort(); t = ts[len(ts) // 2] / 1e3
print(f"torch copy 2^28 floats: {2 * 4 * (1 << 28) / t / 1e9:.0f} GB/s (median of 20)")
PY
