#!/usr/bin/env bash
# Lab 7's CUDA kernels on a GPU machine, in one run, with the evidence left in $OUT (or ./device-out):
#   build       make (-Werror) the library and bench/attention; the compiler's register, shared
#               memory and spill figures for every attention kernel (ptxas -v);
#   api         scripts/device-lab7-api.c against build/libem.a: the five em_attention_*_cuda entry
#               points on edge shapes against a float64 host reference, misaligned pointers, error codes;
#   bench       build/bench/attention: self-check of every kernel variant, then the timings at
#               b=4 h=16 n=m=4096 d=128 (and 64), TFLOP/s and % of the measured FMA rate;
#   order       build/bench/attention --quick with the causal grid head by head and in groups of 4
#               heads (--group 1, 4), against the bench step's 8 (the library's): self-check, timings;
#   decode      build/bench/attention --quick --decode: a few queries against many keys (grids far
#               short of a wave), version 1 whole, as the library splits it, and in up to 32 pieces;
#   sanitizer   compute-sanitizer memcheck, racecheck and synccheck over the small self-check and
#               memcheck + initcheck over the api check;
#   checker     the lab through em-check: the reference solution's CUDA track with timing (the
#               speed cases against the naive baseline, the roofs), the skeleton, and the suite's
#               CUDA tests (planted files, the racecheck of the missing barrier);
#   ncu         Nsight Compute on one launch of version 1 at the bar's shape (d = 128): issue and
#               stall statistics (ncu-ref.txt), then bench/ncu_stalls.py on its per-instruction
#               samples (where the warps wait) and, where cuobjdump is installed, its machine code.
#   scripts/device-lab7.sh [build] [api] [bench] [order] [decode] [sanitizer] [checker] [ncu]
#   (default: all but order, decode and ncu)
steps=${*:-build api bench sanitizer checker}
source scripts/device-lab-common.sh

setup_lab 7 attention

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

want api && api_step 7 "em_attention_*_cuda"

want bench && bench_step attention grep -E 'FAIL|NaN|^[A-Z]|registers|TFLOP|failure'

if want order; then
  for g in 1 4; do
    BENCH_ARGS="--quick --group $g" BENCH_LOG=group$g bench_step attention grep -E 'FAIL|groups|causal|TFLOP'
  done
fi

if want decode; then
  BENCH_ARGS="--quick --decode" BENCH_LOG=decode bench_step attention \
    grep -E 'FAIL|failure|decode|^b=|pieces|v1 fp32 FMA \(|v5p'
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

if want ncu; then
  step "Nsight Compute: version 1 at b=4 h=16 n=m=4096 d=128, one launch"
  # The first launch of the timed shape: the shipped kernel's fourth at d = 128 (the quick
  # self-check runs it on 3 shapes first). --clock-control none: the clocks as the timings have them.
  # The machine code with its reuse flags, where cuobjdump is installed: ncu_stalls.py --sass then
  # counts each FFMA's register-file reads (/tmp: 40 MB, not evidence to bring back).
  sass=()
  if command -v cuobjdump >/dev/null && cuobjdump -sass build/bench/attention >/tmp/lab7-attention.sass 2>/dev/null; then
    sass=(--sass /tmp/lab7-attention.sass)
  fi
  r=$out/ncu-ref
  if timeout 150 ncu --clock-control none --kernel-name-base mangled \
    --kernel-name "regex:attn_fma_kernelILi128ELi4ELi4EEv" --launch-skip 3 --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
    --section SourceCounters -o "$r" -f build/bench/attention --quick >"$r-run.txt" 2>&1; then
    ncu -i "$r.ncu-rep" --print-details all >"$r.txt" 2>&1
    ncu -i "$r.ncu-rep" --page source --csv --print-source sass >"$r-source.csv" 2>&1
    grep -E "Issued Warp Per Scheduler|No Eligible|Stall (Not Selected|Dispatch|Wait|Short|Long|Barrier)" "$r.txt" | sort -u
    python3 bench/ncu_stalls.py --top 6 "$r-source.csv" "${sass[@]}"
  else
    echo "ncu failed:"; tail -5 "$r-run.txt"; status=1
  fi
fi
exit $status
