# shellcheck shell=bash disable=SC2034,SC2154
# (steps is set by the script that sources this file, status is what that script exits with)
# What scripts/device-lab7.sh and device-lab8.sh share, sourced by both: the setup (evidence folder,
# Debian packages, the toolkit), the step banner and filter, the build of the library, the lab's
# bench program and its API check, the api and bench steps, a compute-sanitizer run, and the checker
# step (the reference solution's CUDA track timed, then the lab's suite). Each script sets steps
# (its default list, or its arguments) before sourcing this file.

set -uo pipefail
out=${OUT:-device-out}
mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
jobs=$(nproc)
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
cuda_home=$(dirname "$(dirname "$nvcc")")
status=0

step() { echo; echo "=== $*"; }
want() { [[ " $steps " == *" $1 "* ]]; }

# san tool log-name [sanitizer options] command...: one compute-sanitizer run, its summary line
# printed and the whole report kept in $out/sanitizer-TOOL-LOG.txt (one file per tool: the runs of
# one command under each tool must not overwrite each other's findings); a finding (or a run past
# BENCH_TIMEOUT) makes the script's status 1.
san() {
  local tool=$1 log=$2
  shift 2
  local file="$out/sanitizer-$tool-$log.txt"
  timeout -k 10 "${BENCH_TIMEOUT:-300}" compute-sanitizer --tool "$tool" --error-exitcode 9 "$@" >"$file" 2>&1
  local st=$?
  [ $st -eq 124 ] || [ $st -eq 137 ] && echo "$tool $log: did not finish in ${BENCH_TIMEOUT:-300} s"
  echo "$tool $log: exit $st ($(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$file" | tail -1))"
  [ $st -ne 0 ] && status=1
}

# checker_step N: lab N's reference solution through em-check on the CUDA track, timed, and the
# suite's tests of lab N (its CUDA planted files, the skeleton).
checker_step() {
  local n=$1 st
  step "em-check: lab $n's reference solution, CUDA track, timed"
  make -j"$(nproc)" lab"$n" SOLUTION=1 >>"$out/build.log" 2>&1 || { echo "make lab$n SOLUTION=1 failed"; status=1; }
  build/lab"$n"/em-check --track cuda --color never --json "$out/lab$n-solution.json" >"$out/lab$n-solution.txt" 2>&1
  st=$?
  echo "solution exit: $st (want 0)"
  [ $st -ne 0 ] && status=1
  tail -25 "$out/lab$n-solution.txt"
  step "the suite's lab $n tests"
  make -j"$(nproc)" test-build >>"$out/build.log" 2>&1
  build/tests/test_lab"$n" -j1 >"$out/test_lab$n.txt" 2>&1
  st=$?
  echo "test_lab$n exit: $st (want 0)"
  [ $st -ne 0 ] && status=1
  grep -aE "FAIL|Synthesis|SKIP" "$out/test_lab$n.txt" | head -20
}

# setup_lab N BENCH: the machine's GPU, then (always: every later step needs them) the library with
# -Werror, build/bench/BENCH and build/labN-api from scripts/device-labN-api.c; exits 2 if any fails.
setup_lab() {
  local n=$1 bench=$2
  step "machine"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
  make -j"$jobs" all "build/bench/$bench" >"$out/build.log" 2>&1 || { echo "build failed:"; tail -30 "$out/build.log"; exit 2; }
  gcc -std=c11 -O2 -Wall -Wextra -Werror -Iinclude "scripts/device-lab$n-api.c" build/libem.a \
    -L"$cuda_home/lib64" -L"$cuda_home/targets/x86_64-linux/lib" -lcudart_static -lrt -lpthread -ldl -lstdc++ -lm \
    -o "build/lab$n-api" >>"$out/build.log" 2>&1 || { echo "api check did not build:"; tail -20 "$out/build.log"; exit 2; }
}

# api_step N WHAT: build/labN-api, its exit status and its failures.
api_step() {
  local n=$1 st
  step "$2 through libem (scripts/device-lab$n-api.c)"
  "build/lab$n-api" >"$out/api.txt" 2>&1
  st=$?
  echo "api check exit: $st (want 0)"
  [ $st -ne 0 ] && status=1
  grep -E "FAIL|EM_E|passed" "$out/api.txt" | head -40
}

# bench_step BENCH FILTER...: build/bench/BENCH in full (self-check, then timings) with the arguments
# in BENCH_ARGS, kept whole in $out/bench-BENCH[-BENCH_LOG].txt; printed are the lines that the
# command FILTER... (grep -E PATTERN, an awk program) keeps of it. Under a time limit (BENCH_TIMEOUT
# seconds, 300 by default) with its output line-buffered: a variant that hangs on the GPU (a
# barrier's phase bookkeeping gone wrong) costs this step, not the call, and every line printed
# before it is kept.
bench_step() {
  local bench=$1 st log="$out/bench-$1${BENCH_LOG:+-$BENCH_LOG}.txt"
  shift
  step "bench/$bench ${BENCH_ARGS:-}: self-check and timings"
  # shellcheck disable=SC2086  # BENCH_ARGS: words, on purpose
  timeout -k 10 "${BENCH_TIMEOUT:-300}" stdbuf -oL -eL "build/bench/$bench" ${BENCH_ARGS:-} >"$log" 2>&1
  st=$?
  [ $st -eq 124 ] || [ $st -eq 137 ] && echo "bench/$bench did not finish in ${BENCH_TIMEOUT:-300} s (a hang?): its last lines follow" &&
    tail -5 "$log"
  echo "bench exit: $st (want 0)"
  [ $st -ne 0 ] && status=1
  "$@" <"$log" | head -80
}
