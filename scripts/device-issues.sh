#!/usr/bin/env bash
# One device call for the framework's GPU checks, inside the 10-minute limit of one call: one build
# (-j all cores; without the bench programs, which these steps do not use and whose compiles are
# the longest), then the chosen steps in the order given, each under its own time limit so that a
# hang cannot cost the evidence of the others, all before DEADLINE_S (560 s by default):
#   sanitize  scripts/device-sanitize.sh (make check SANITIZE=1's CUDA half, its planted files)
#   timing    scripts/device-timing.sh   (fresh inputs, fingerprint files, roofs over 5 seeds)
#   gpus      scripts/device-gpus.sh     (grade --gpus against serialised grading, 10 archives)
# The evidence of every step is packed into one file, $OUT/evidence.tgz, and each step's summary is
# printed.   scripts/device-issues.sh "sanitize timing gpus"   (SAN_S, TIMING_S, GPUS_S: the limits)
set -uo pipefail
final=${OUT:-device-out}; mkdir -p "$final"
ev=/tmp/evidence-issues; rm -rf "$ev"; mkdir -p "$ev"
[ -d .debs ] && source scripts/use-debs.sh
start=$(date +%s)
deadline=$((start + ${DEADLINE_S:-560}))
t() { echo "[$(( $(date +%s) - start )) s] $*"; }
lim() { local left=$((deadline - $(date +%s))); [ "$left" -lt 1 ] && left=1; [ "$1" -lt "$left" ] && echo "$1" || echo "$left"; }
steps=" ${1:-sanitize timing gpus} "
t "build"
timeout "$(lim 300)" make -j"$(nproc)" all build/demo/em-check build/em-archive test-build BENCH_BIN= >"$ev/build.log" 2>&1 ||
  { echo "build failed:"; grep -E "error|Error" "$ev/build.log" | head -30; tar czf "$final/evidence.tgz" -C "$ev" .; exit 2; }
for step in $steps; do
  t "$step"
  case $step in
    sanitize) OUT=$ev/sanitize timeout -k 10 "$(lim "${SAN_S:-150}")" bash scripts/device-sanitize.sh ;;
    timing) OUT=$ev/timing timeout -k 10 "$(lim "${TIMING_S:-200}")" bash scripts/device-timing.sh ;;
    gpus) OUT=$ev/gpus PRISTINE=$PWD/build timeout -k 10 "$(lim "${GPUS_S:-200}")" bash scripts/device-gpus.sh ;;
    *) echo "unknown step $step (sanitize, timing, gpus)"; false ;;
  esac
  echo "$step exit $?"
done
t "done"
tar czf "$final/evidence.tgz" -C "$ev" .
