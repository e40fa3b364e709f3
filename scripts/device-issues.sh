#!/usr/bin/env bash
# One device call for the framework's GPU checks, inside the 10-minute limit of one call: one build
# (-j all cores; without the bench programs, which these steps do not use and whose compiles are
# the longest), then the chosen steps in the order given, each under its own time limit so that a
# hang cannot cost the evidence of the others, all before DEADLINE_S (560 s by default):
#   sanitize  scripts/device-sanitize.sh (make check SANITIZE=1's CUDA half, its planted files)
#   timing    scripts/device-timing.sh   (fresh inputs, fingerprint files, roofs over 5 seeds; the
#             steps named in TIMING_STEPS alone where it is set, the labs in FP_LABS)
#   gpus      scripts/device-gpus.sh     (grade --gpus against serialised grading, 10 archives)
#   variants  build/bench/<name> of labs 1-6 (each under VARIANT_S, 90 s): the kernel variants and
#             the shipped reference kernels timed side by side, to set beside the labs' READMEs
# The evidence of every step is packed into one file, $OUT/evidence.tgz, and each step's summary is
# printed.   scripts/device-issues.sh "sanitize timing gpus"   (SAN_S, TIMING_S, GPUS_S, VARIANTS_S:
# the limits)
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
extra=()  # the bench programs only where a step runs them: theirs are the longest compiles
[[ $steps == *" variants "* ]] && extra=(build/bench/{add,outer_add,relu_mul,relu_mul_backward,sum,softmax})
# the sanitizer build too, in the same parallel make, where that step comes: else it would be built
# inside the step's own time limit
[[ $steps == *" sanitize "* ]] && extra+=(sanitize-test-build build/tests/test_sanitize)
timeout "$(lim 300)" make -j"$(nproc)" all build/demo/em-check build/em-archive test-build "${extra[@]}" BENCH_BIN= >"$ev/build.log" 2>&1 ||
  { echo "build failed:"; grep -E "error|Error|^\[emlab\] (missing|apt-get)" "$ev/build.log" | head -30; tar czf "$final/evidence.tgz" -C "$ev" .; exit 2; }
# Labs 1-6's bench programs one after the other, each whole in its own file, each under VARIANT_S
# seconds and all of them within VARIANTS_S (and the deadline).
variants() {
  local b end=$(($(date +%s) + $(lim "${VARIANTS_S:-300}")))
  mkdir -p "$ev/variants"
  for b in add outer_add relu_mul relu_mul_backward sum softmax; do
    local left=$((end - $(date +%s)))
    [ "$left" -lt 5 ] && { echo "bench/$b: no time left"; continue; }
    timeout -k 5 "$((left < ${VARIANT_S:-90} ? left : ${VARIANT_S:-90}))" stdbuf -oL "build/bench/$b" >"$ev/variants/$b.txt" 2>&1
    echo "bench/$b exit $?"
    grep -E "FAIL|reference|shipped" "$ev/variants/$b.txt" | head -8
  done
}
for step in $steps; do
  t "$step"
  case $step in
    sanitize) OUT=$ev/sanitize timeout -k 10 "$(lim "${SAN_S:-150}")" bash scripts/device-sanitize.sh ;;
    timing)
      # shellcheck disable=SC2086  # TIMING_STEPS: words, on purpose
      OUT=$ev/timing timeout -k 10 "$(lim "${TIMING_S:-200}")" bash scripts/device-timing.sh ${TIMING_STEPS:-} ;;
    gpus) OUT=$ev/gpus PRISTINE=$PWD/build timeout -k 10 "$(lim "${GPUS_S:-200}")" bash scripts/device-gpus.sh ;;
    variants) variants ;;
    *) echo "unknown step $step (sanitize, timing, gpus, variants)"; false ;;
  esac
  echo "$step exit $?"
done
t "done"
tar czf "$final/evidence.tgz" -C "$ev" .
