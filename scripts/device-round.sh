#!/usr/bin/env bash
# One device call for labs 7 and 8 together, inside the 10-minute limit of one call: one build
# (-j all cores), then the chosen steps of scripts/device-lab7.sh and device-lab8.sh, each under
# its own time limit so that a hang cannot cost the evidence of the others, and all of it before
# DEADLINE_S (560 s: the call has 600), then an extra command (for instance the reference
# solutions through em-check, or make bench). The evidence is packed into one file,
# $OUT/evidence.tgz (a device call brings back at most 8 files).
#   scripts/device-round.sh "lab7 steps" "lab8 steps" [extra command]
# LAB7_S and LAB8_S (150 and 240 by default) cap each lab's steps; the benches inside them have
# their own limits (BENCH_TIMEOUT, scripts/device-lab-common.sh).
set -uo pipefail
final=${OUT:-device-out}; mkdir -p "$final"
ev=/tmp/evidence; rm -rf "$ev"; mkdir -p "$ev"
[ -d .debs ] && source scripts/use-debs.sh
start=$(date +%s)
deadline=$((start + ${DEADLINE_S:-560}))  # the evidence is packed before the call's 600 s run out
t() { echo "[$(( $(date +%s) - start )) s] $*"; }
# lim N: N seconds, or what is left before the deadline if that is less (at least 1)
lim() { local left=$((deadline - $(date +%s))); [ "$left" -lt 1 ] && left=1; [ "$1" -lt "$left" ] && echo "$1" || echo "$left"; }
t "build"
timeout "$(lim 300)" make -j"$(nproc)" all build/demo/em-check build/bench/attention build/bench/qlinear >"$ev/build.log" 2>&1 ||
  { echo "build failed:"; grep -E "error|Error|^\[emlab\] (missing|apt-get)" "$ev/build.log" | head -30; tar czf "$final/evidence.tgz" -C "$ev" .; exit 2; }
t "lab 7: ${1:-}"
[ -n "${1:-}" ] && OUT=$ev/lab7 timeout "$(lim "${LAB7_S:-150}")" bash scripts/device-lab7.sh $1
t "lab 8: ${2:-}"
[ -n "${2:-}" ] && OUT=$ev/lab8 timeout "$(lim "${LAB8_S:-240}")" bash scripts/device-lab8.sh $2
if [ -n "${3:-}" ]; then t "extra: $3"; OUT=$ev timeout "$(lim 600)" bash -c "$3"; fi
t "done"
tar czf "$final/evidence.tgz" -C "$ev" .
