#!/usr/bin/env bash
# One GPU-machine call for the grading side: builds everything, runs make demo with timing (so the
# checker's anti-cache calls run on the CUDA track too), the suites of the checker, --verify and
# the archive tool, then grades three lab-1 submissions on both tracks with the grader (a correct
# one, the untouched skeleton, one that caches its results in a CUDA kernel). Evidence in $OUT.
#   scripts/device-grader.sh [demo] [suites] [grade]     (default: all three)
set -uo pipefail
steps=" ${*:-demo suites grade} "
out=${OUT:-device-out}; mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh && export PATH="/tmp/emdeps/usr/bin:$PATH"
j=$(nproc)
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
targets="build/em-archive"; [[ $steps == *" demo "* || $steps == *" suites "* ]] && targets="all build/demo/em-check build/em-archive test-build"
make -j$j $targets >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 2; }

if [[ $steps == *" demo "* ]]; then
echo "=== make demo (both tracks, timed)"
make demo ARGS="--color never" >"$out/demo.txt" 2>&1; echo "make demo exit $?"
grep -E "passed|stale|FAIL|ERROR" "$out/demo.txt" | head -20
fi

if [[ $steps == *" suites "* ]]; then
echo "=== suites"
for t in test_verify test_checker test_archive test_core; do
  timeout 400 build/tests/$t >"$out/$t.txt" 2>&1; echo "$t exit $?: $(grep Synthesis "$out/$t.txt")"
  grep -E "\[FAIL\]" "$out/$t.txt" | head -5
done
fi

[[ $steps == *" grade "* ]] || exit 0
echo "=== grader, both tracks"
s=/tmp/emsubs; rm -rf $s; mkdir -p $s/good/labs/lab1-add $s/skeleton/labs/lab1-add $s/cache/labs/lab1-add $s/in
cp labs/lab1-add/add.c labs/lab1-add/add.cu $s/skeleton/labs/lab1-add/
cat >$s/good/labs/lab1-add/add.c <<'C'
#include <stdint.h>
#include "em/add.h"
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
void lab1_add_b(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
C
cat >$s/good/labs/lab1-add/add.cu <<'C'
#include <cuda_runtime.h>
#include <stdint.h>
#include "em/add.h"
__global__ void add_kernel(const float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}
void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) { add_kernel<<<1, 1024>>>(x, c, z, n); }
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  add_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, c, z, n);
}
C
cp $s/good/labs/lab1-add/add.c $s/cache/labs/lab1-add/
# Computes once per output pointer, then returns without launching: fast, and stale.
sed -e 's|void lab1_add_b_cuda(const float \*x, float c, float \*z, int64_t n) {|static float *seen; void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { if (z == seen) return; seen = z;|' \
  $s/good/labs/lab1-add/add.cu >$s/cache/labs/lab1-add/add.cu
for k in good skeleton cache; do build/em-archive pack $s/in/lab1-$k.tar.gz --root $s/$k labs/lab1-add/add.c labs/lab1-add/add.cu; done
install -m 600 grader/examples/lab1-cases.json $s/cases.json
python3 -m grader grade $s/in --out $s/out --hidden $s/cases.json --hidden-only --track all --jobs 2 >"$out/grade.txt" 2>&1
echo "grader exit $?"; tail -15 "$out/grade.txt"
cp $s/out/gradebook.json "$out/" 2>/dev/null
cp $s/out/gradebook.csv "$out/" 2>/dev/null && cut -d, -f1,5-12 "$out/gradebook.csv"
