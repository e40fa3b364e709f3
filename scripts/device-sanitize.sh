#!/usr/bin/env bash
# `make check SANITIZE=1` on a GPU machine, in one command: builds the CUDA planted files of the
# sanitizer suite (tests/test_sanitize.c) and the reference solutions of their labs, runs each
# through scripts/sanitize.py's CUDA track (compute-sanitizer memcheck, racecheck, synccheck) and
# the CPU planted file through its AddressSanitizer build, and prints per file what was reported
# and whether that is what the file plants. Then the suite itself, whose CUDA tests skip elsewhere.
#   scripts/device-sanitize.sh [files] [suite]   (default: both)
# Evidence: $OUT (else ./device-out)/sanitize-summary.txt, and every transcript, tool log and
# findings.json packed in sanitize-evidence.tgz beside it (one file: a device run brings back only
# a few). Exit 0 when every file reported what it plants and the suite passed.
set -uo pipefail
out=${OUT:-device-out}
mkdir -p "$out"
ev=$out/sanitize
rm -rf "$ev" && mkdir -p "$ev"
[ -d .debs ] && source scripts/use-debs.sh
steps=${*:-files suite}
jobs=$(nproc)
status=0
want() { [[ " $steps " == *" $1 "* ]]; }
step() { echo; echo "=== $*"; }

main() {
  step "machine"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  gcc --version | head -1
  cs=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
  "$cs" --version | tail -1 || { echo "no compute-sanitizer at $cs"; return 2; }

  # file (solution:N for a lab's reference), lab, track, the tool and kind it must report ("":
  # nothing), more em-check arguments. The planted lab 5 files show their bugs on small cases: they
  # run on those alone, and a call of theirs that hangs (a barrier is undefined behaviour) is
  # stopped after a minute; the references run every case (memcheck over the large ones too).
  cases=(
    "tests/planted/lab1/reads_past_end.cu|1|cuda|memcheck|Invalid __global__ read|"
    "tests/planted/lab5/no_sync_before_read.cu|5|cuda|racecheck|hazard|--small-only --timeout 60"
    "tests/planted/lab5/warp_barrier_mask.cu|5|cuda|synccheck|barrier error: invalid arguments|--small-only --timeout 60"
    "solution:1|1|cuda|||"
    "solution:5|5|cuda|||"
    "tests/planted/lab1/reads_one_past_end.c|1|cpu|AddressSanitizer|heap-buffer-overflow READ|"
    "solution:1|1|cpu|||"
  )

  step "build"
  local cuda_bins="build/tests/solution/lab1/em-check build/tests/solution/lab5/em-check"
  for c in "${cases[@]}"; do
    IFS='|' read -r f lab track tool kind args <<<"$c"
    [[ $f == *.cu ]] && cuda_bins+=" build/$f/em-check"
  done
  # The CUDA checkers first and apart: a failure of the sanitizer build must not cost them.
  make -j"$jobs" $cuda_bins >"$ev/build.log" 2>&1 && echo "CUDA checkers built" || { echo "CUDA build failed:"; tail -20 "$ev/build.log"; status=2; }
  make -j"$jobs" sanitize-test-build build/tests/test_sanitize >>"$ev/build.log" 2>&1 && echo "sanitizer build and suite built" \
    || { echo "sanitizer build failed:"; tail -20 "$ev/build.log"; status=2; }

  if want files; then
    for c in "${cases[@]}"; do
      IFS='|' read -r f lab track tool kind args <<<"$c"
      one "$f" "$lab" "$track" "$tool" "$kind" "$args"
    done
  fi

  if want suite && [ -x build/tests/test_sanitize ]; then
    step "tests/test_sanitize.c (its CUDA tests run here)"
    timeout 580 build/tests/test_sanitize -j2 --verbose >"$ev/test_sanitize.txt" 2>&1
    local st=$?
    grep -aE "^\[(PASS|FAIL|SKIP)\]|Synthesis" "$ev/test_sanitize.txt" | head -30
    echo "test_sanitize exit: $st (want 0)"
    [ $st = 0 ] || status=1
  fi
  return "$status"
}

# One file through scripts/sanitize.py: what it reported, and whether that is what it plants.
one() {
  local f=$1 lab=$2 track=$3 tool=$4 kind=$5 args=$6 b flag=--asan-bin name st ok start=$SECONDS
  case "$f:$track" in
    solution:*:cpu) b=build/sanitize/tests/solution/lab$lab/em-check ;;
    solution:*) b=build/tests/solution/lab$lab/em-check ;;
    *.cu:*) b=build/$f/em-check ;;
    *) b=build/sanitize/${f%.c}/em-check ;;
  esac
  [ "$track" = cuda ] && flag=--cuda-bin
  name=$(echo "$f-$track" | tr '/:.' '___')
  step "$f ($track track${args:+, $args}): want ${tool:-no finding}${kind:+, $kind}"
  if [ ! -x "$b" ]; then echo "not built: $b"; status=1; return; fi
  PYTHONUNBUFFERED=1 timeout 300 python3 scripts/sanitize.py --lab "$lab" --logs "$ev/$name" --track "$track" $flag "$b" \
    --compute-sanitizer "$cs" -- $args >"$ev/$name.txt" 2>&1
  st=$?
  grep -E '^\[sanitize\]' "$ev/$name.txt" | grep -v '^\[sanitize\] lab '
  sed -n '/^sanitizer: /,$p' "$ev/$name.txt"
  if [ -z "$tool" ]; then
    ok=$([ $st = 0 ] && grep -q '^sanitizer: no findings' "$ev/$name.txt" && echo yes)
  else
    ok=$([ $st = 1 ] && grep -qE "^[0-9]+\. $tool: .*$kind" "$ev/$name.txt" && grep -q "at $f:" "$ev/$name.txt" && echo yes)
  fi
  echo "exit $st, $((SECONDS - start)) s: ${ok:+as planted}${ok:-NOT AS PLANTED (see $name.txt in the evidence)}"
  [ -n "$ok" ] || status=1
}

main 2>&1 | tee "$out/sanitize-summary.txt"
status=${PIPESTATUS[0]}
tar -czf "$out/sanitize-evidence.tgz" -C "$out" sanitize && rm -rf "$ev"
echo
case $status in
  0) verdict="every file as planted" ;;
  1) verdict="SOMETHING NOT AS PLANTED (above)" ;;
  *) verdict="COULD NOT RUN (above)" ;;
esac
echo "device-sanitize: $verdict; evidence in $out/"
exit "$status"
