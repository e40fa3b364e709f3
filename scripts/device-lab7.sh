#!/usr/bin/env bash
# Lab 7's CUDA kernels on a GPU machine, in one run, with the evidence left in $OUT (or ./device-out):
#   build       make (-Werror) the library and bench/attention; the compiler's register, shared
#               memory and spill figures for every attention kernel (ptxas -v);
#   api         scripts/device-lab7-api.c against build/libem.a: the five em_attention_*_cuda entry
#               points on edge shapes against a float64 host reference, misaligned pointers, error codes;
#   bench       build/bench/attention: self-check of every kernel variant, then the timings at
#               b=4 h=16 n=m=4096 d=128 (and 64), TFLOP/s and % of the measured FMA rate;
#   sanitizer   compute-sanitizer memcheck, racecheck and synccheck over the small self-check and
#               memcheck + initcheck over the api check;
#   checker     the lab through em-check: the reference solution's CUDA track with timing (the
#               speed cases against the naive baseline, the roofs), the skeleton, and the suite's
#               CUDA tests (planted files, the racecheck of the missing barrier).
#   scripts/device-lab7.sh [build] [api] [bench] [sanitizer] [checker]   (default: all, in that order)
set -uo pipefail
out=${OUT:-device-out}
mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
jobs=$(nproc)
steps=${*:-build api bench sanitizer checker}
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cuda_home=$(dirname "$(dirname "$nvcc")")
status=0

source scripts/device-lab-common.sh

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem --format=csv | tee "$out/gpu.txt"

# Always built: every later step needs the library, the bench and the api check.
make -j"$jobs" all build/bench/attention >"$out/build.log" 2>&1 || { echo "build failed:"; tail -30 "$out/build.log"; exit 2; }
gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude scripts/device-lab7-api.c build/libem.a \
  -L"$cuda_home/lib64" -L"$cuda_home/targets/x86_64-linux/lib" -lcudart_static -lrt -lpthread -ldl -lstdc++ -lm \
  -o build/lab7-api >>"$out/build.log" 2>&1 || { echo "api check did not build:"; tail -20 "$out/build.log"; exit 2; }

if want build; then
  step "registers / shared memory / spills per kernel (ptxas -v; spills or a stack frame are a red flag)"
  demangle() { if command -v c++filt >/dev/null; then c++filt; else cat; fi; }
  for f in cuda naive; do
    "$nvcc" -Iinclude -DEM_HAVE_CUDA=1 -std=c++17 -O3 -arch=sm_90 -Xptxas -v -c reference/$f/attention.cu \
      -o /tmp/lab7-ptxas.o 2>&1 | sed 's/^ptxas info *: //' | grep -E "Compiling entry|Used|spill" |
      paste - - - | sed "s/Compiling entry function //; s/ for 'sm_90'//" | demangle >"$out/ptxas-$f.txt"
    cat "$out/ptxas-$f.txt"
  done
fi

if want api; then
  step "em_attention_*_cuda through libem (scripts/device-lab7-api.c)"
  build/lab7-api >"$out/api.txt" 2>&1
  st=$?
  echo "api check exit: $st (want 0)"
  [ $st -ne 0 ] && status=1
  grep -E "FAIL|EM_E|passed" "$out/api.txt" | head -40
fi

if want bench; then
  step "bench/attention: self-check and timings"
  build/bench/attention >"$out/bench-attention.txt" 2>&1
  st=$?
  echo "bench exit: $st (want 0)"
  [ $st -ne 0 ] && status=1
  grep -E "FAIL|NaN|^[A-Z]|registers|TFLOP|failure" "$out/bench-attention.txt" | head -60
fi

if want sanitizer; then
  step "compute-sanitizer (small shapes)"
  san memcheck bench build/bench/attention --check-only --quick
  san racecheck bench build/bench/attention --check-only --quick
  san synccheck bench build/bench/attention --check-only --quick
  # The api check provokes a failed allocation on purpose (EM_ENOMEM): API errors are its to judge.
  san memcheck api --report-api-errors no build/lab7-api
  san initcheck api --report-api-errors no build/lab7-api
fi

want checker && checker_step 7
exit $status
