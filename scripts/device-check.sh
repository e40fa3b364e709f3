#!/usr/bin/env bash
# Builds, checks and times everything on a GPU machine in one run, and leaves the evidence in
# $OUT (or ./device-out): every lab's reference solution on both tracks (make demo), each lab's
# untouched skeleton on the CUDA track (must exit 1), compute-sanitizer over every reference kernel
# on a small case, and the test suite with its GPU tests. The C libraries come from .debs/
# (scripts/use-debs.sh) where there is no package registry.
#   scripts/device-check.sh [demo] [skeletons] [sanitizer] [test] [bench]   (default: all but bench)
set -uo pipefail
out=${OUT:-device-out}
mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
jobs=$(nproc)
steps=${*:-demo skeletons sanitizer test}
labs=$(ls -d labs/lab[0-9]*-* | sed 's|labs/lab\([0-9]*\)-.*|\1|' | sort -n)

step() { echo; echo "=== $*"; }
want() { [[ " $steps " == *" $1 "* ]]; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
make -j"$jobs" all build/demo/em-check >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 2; }

if want demo; then
  step "every lab's reference solution, both tracks (make demo)"
  make demo ARGS="--junit $out/junit.xml" > "$out/demo.txt" 2>&1
  echo "make demo exit: $?"
  grep -E "^lab |fail|error|passed|score" "$out/demo.txt" | head -40
  cp build/demo/results.json "$out/results-demo.json"
fi

if want skeletons; then
  step "each lab's untouched skeleton, CUDA track (each must exit 1 and point at its TODOs)"
  for n in $labs; do
    make -j"$jobs" lab$n >>"$out/build.log" 2>&1
    make check TRACK=cuda ARGS="--no-timing" >"$out/skeleton-lab$n.txt" 2>&1
    echo "lab $n: make check exit $? (want 1); $(grep -c 'TODO not done yet' "$out/skeleton-lab$n.txt") TODO explanations"
  done
fi

if want sanitizer; then
  step "compute-sanitizer memcheck over every reference kernel (small cases)"
  for n in $labs; do
    compute-sanitizer --tool memcheck --error-exitcode 9 build/demo/em-check --lab $n --track cuda --no-timing \
      --json /tmp/san.json > "$out/sanitizer-lab$n.txt" 2>&1
    echo "lab $n: exit $? ($(grep -E 'ERROR SUMMARY' "$out/sanitizer-lab$n.txt"))"
  done
fi

if want test; then
  step "test suite"
  make -j"$jobs" test-build >>"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 2; }
  make test > "$out/test.txt" 2>&1
  echo "make test exit: $?"
  grep -E "^==|Synthesis|\[FAIL\]" "$out/test.txt" | head -40
fi

if want bench; then
  step "make bench (reference at large sizes beside PyTorch)"
  make bench BENCH_ARGS="--compile-budget 240" > "$out/bench.txt" 2>&1
  echo "make bench exit: $?"
  sed -n '/^track /,$p' "$out/bench.txt"
  cp build/bench/bench.json "$out/" 2>/dev/null
  step "kernel variants (bench/*.cu)"
  make -j"$jobs" bench-variants >>"$out/build.log" 2>&1
  for b in build/bench/*; do [ -x "$b" ] && [ -f "$b" ] && { echo "-- $b"; "$b" 2>&1 | tail -20; }; done > "$out/variants.txt"
  cat "$out/variants.txt"
fi
