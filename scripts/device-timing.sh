#!/usr/bin/env bash
# One call on the GPU machine for the timing-integrity work (fresh inputs for every timed call,
# per-pattern roofs, impossible-speed flags): what could not run on a machine without a GPU.
#   1. the fresh-input unit tests on the device (tests/test_fresh.c, its cuda_* tests);
#   2. every planted fingerprint file on both tracks (the suites' *fingerprint* tests);
#   3. the memory-bound labs' reference speed cases over 5 seeds on the GPU (the bar's count) and 3 on
#      the host's CPU (its 16 cores are a third machine to measure on; this VM kind ran 5): no false
#      impossible-speed flag, and each case's roof fraction (the spread EM_IMPOSSIBLE_ROOF must clear);
#   4. the honest non-temporal lab 3 file against the reference on this machine's Xeon;
#   5. compute-sanitizer over a timed CUDA run (the swap, poison and compare helpers).
# Leaves its evidence in $OUT (or ./device-out).
#   scripts/device-timing.sh [fresh] [fingerprint] [sweep] [nontemporal] [sanitizer]   (default: all five)
# FP_LABS (1 2 3 4 5 6 by default; not LABS, which names the Makefile's labs folder) limits the
# fingerprint step to some labs: the steps are long enough (the fingerprint suites about 30 s a lab,
# the sweep several minutes) that one device call may have to take them in two. SWEEP_LABS (1,2,3,4,5,6),
# SWEEP_TRACKS ("cuda cpu") and SWEEP_CASES ("perf 16384|perf M=16": names roof-sweep.py's --case
# takes, separated by |) narrow the sweep,
# NT_RUNS (3) sets how many times the non-temporal file is timed against the reference.
set -uo pipefail
steps=" ${*:-fresh fingerprint sweep nontemporal sanitizer} "
want() { [[ $steps == *" $1 "* ]]; }
out=${OUT:-device-out}; mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
j=$(nproc)
make -j"$j" build/demo/em-check test-build BENCH_BIN= >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 2; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader

if want fresh; then
echo "=== 1. fresh inputs (unit tests, GPU ones included)"
build/tests/test_fresh --verbose > "$out/test_fresh.txt" 2>&1; echo "exit $?"
grep -E "Synthesis|\[FAIL\]|\[SKIP\]" "$out/test_fresh.txt"

fi
if want fingerprint; then
echo "=== 2. planted fingerprint files, both tracks"
for n in ${FP_LABS:-1 2 3 4 5 6}; do
  t=test_lab$n
  build/tests/$t --verbose --filter '*/*fingerprint*' > "$out/$t-fingerprint.txt" 2>&1
  echo "$t exit $?: $(grep -E "Synthesis" "$out/$t-fingerprint.txt") $(grep -c "\[SKIP\]" "$out/$t-fingerprint.txt") skipped"
  grep -A8 "Assertion" "$out/$t-fingerprint.txt" | head -20
done

fi
if want sweep; then
echo "=== 3. reference speed cases of the memory-bound labs, 5 seeds on the GPU, 3 on the CPU (quiet peaks first)"
rm -f build/peaks.json
build/demo/em-check --lab 1 --part a --case =n=1 --no-timing --json /tmp/p.json >/dev/null 2>&1
for track in ${SWEEP_TRACKS:-cuda cpu}; do
  seeds=$([ $track = cuda ] && echo 5 || echo 3)
  cases=()  # SWEEP_CASES: case names separated by |, each passed as one --case
  if [ -n "${SWEEP_CASES:-}" ]; then IFS='|' read -ra cs <<<"$SWEEP_CASES"; for c in "${cs[@]}"; do cases+=(--case "$c"); done; fi
  python3 scripts/roof-sweep.py --track $track --seeds $seeds --labs "${SWEEP_LABS:-1,2,3,4,5,6}" "${cases[@]}" --json "$out/roofs-$track.json" > "$out/roofs-$track.txt" 2>&1
  echo "$track sweep exit $?"; cat "$out/roofs-$track.txt"
done

fi
if want nontemporal; then
echo "=== 4. honest non-temporal lab 3 file against the reference (CPU)"
for _ in $(seq "${NT_RUNS:-3}"); do
  build/tests/planted/lab3/nontemporal/em-check --track cpu --case m=n=8192 --json /tmp/nt.json 2>&1 | grep "m=n=8192"
done
# Why the reference is or is not as fast here: the store policy the peaks chose (their plain and
# non-temporal write and copy rates), then the reference itself with each policy forced.
python3 -c 'import json; c = json.load(open("build/peaks.json")).get("cpu", {}); print("peaks (cpu):", {k: v for k, v in c.items() if "gbps" in k or k in ("threads", "name", "contended")})' 2>&1
# The last-level cache the references compare an output with (em_cpu_llc_bytes: sysfs, else sysconf):
# an output no larger is written with plain stores whatever the peaks say.
echo "caches (sysfs): $(cat /sys/devices/system/cpu/cpu0/cache/index*/size 2>/dev/null | tr '\n' ' ')"
getconf -a 2>/dev/null | grep -E "LEVEL[23]_CACHE_SIZE"
lscpu 2>/dev/null | grep -E "Model name|L3|NUMA node\(s\)|Socket"
# The file against the reference forced each way (EM_STORES overrides the size rule too), at the
# 256 MiB output and at a 64 MiB one (inside a large L3 or not): where the reference's rule is wrong.
for c in 8192 4096; do
  for pol in plain stream; do
    echo "m=n=$c, reference forced EM_STORES=$pol:"
    EM_STORES=$pol build/tests/planted/lab3/nontemporal/em-check --track cpu --case "=m=n=$c" --json /tmp/nt.json 2>&1 | grep "m=n=$c"
  done
done

fi
if want sanitizer; then
echo "=== 5. compute-sanitizer over timed CUDA runs"
for lc in "1 n=1025" "3 m=31 n=33" "5 prime" "6 t=255"; do
  n=${lc%% *}
  compute-sanitizer --tool memcheck --error-exitcode 9 build/demo/em-check --lab $n --track cuda --budget 0.002 \
    --case "${lc#* }" --json /tmp/s.json > "$out/sanitizer-timed-lab$n.txt" 2>&1
  echo "lab $n: exit $? ($(grep -E 'ERROR SUMMARY' "$out/sanitizer-timed-lab$n.txt"))"
done
fi
