#!/usr/bin/env bash
# `make check SANITIZE=1` on a GPU machine, in one command: builds the CUDA planted files of the
# sanitizer suite (tests/test_sanitize.c) and the reference solutions of their labs, runs each
# through scripts/sanitize.py's CUDA track (compute-sanitizer memcheck, racecheck, synccheck) and
# the CPU planted file through its AddressSanitizer build, and prints per file what was reported
# and whether that is what the file plants. Then the suite itself, whose CUDA tests skip elsewhere.
# Everything (build log, each run's transcript, the tools' logs, findings.json) goes to $OUT, or
# ./device-out; exit 0 when every file reported what it should.
#   scripts/device-sanitize.sh [files] [suite]   (default: both)
set -uo pipefail
out=${OUT:-device-out}
mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
steps=${*:-files suite}
jobs=$(nproc)
status=0
want() { [[ " $steps " == *" $1 "* ]]; }
step() { echo; echo "=== $*"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
cs=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
"$cs" --version | tail -1 || { echo "no compute-sanitizer at $cs"; exit 2; }

# file (or solution:N), lab, track, the tool and kind it must report ("" for nothing)
cases=(
  "tests/planted/lab1/reads_past_end.cu|1|cuda|memcheck|Invalid __global__ read"
  "tests/planted/lab5/no_sync_before_read.cu|5|cuda|racecheck|hazard"
  "tests/planted/lab5/sync_in_branch.cu|5|cuda|synccheck|barrier divergence"
  "solution:1|1|cuda||"
  "solution:5|5|cuda||"
  "tests/planted/lab1/reads_one_past_end.c|1|cpu|AddressSanitizer|heap-buffer-overflow READ"
  "solution:1|1|cpu||"
)
bin_of() { # the checker of a case's file on its track
  local f=$1 track=$2
  case "$f" in
    solution:*) [ "$track" = cpu ] && echo build/sanitize/tests/solution/lab${f#solution:}/em-check \
                                   || echo build/tests/solution/lab${f#solution:}/em-check ;;
    *.cu) echo "build/$f/em-check" ;;
    *.c) echo "build/sanitize/${f%.c}/em-check" ;;
  esac
}

step "build"
targets="sanitize-test-build build/tests/test_sanitize"
for c in "${cases[@]}"; do
  IFS='|' read -r f lab track tool kind <<<"$c"
  b=$(bin_of "$f" "$track"); [ "$track" = cuda ] && targets+=" $b"
done
if make -j"$jobs" $targets >"$out/build.log" 2>&1; then echo "built"; else tail -30 "$out/build.log"; exit 2; fi

if want files; then
  for c in "${cases[@]}"; do
    IFS='|' read -r f lab track tool kind <<<"$c"
    b=$(bin_of "$f" "$track")
    name=$(echo "$f-$track" | tr '/:' '__')
    step "$f ($track track): want ${tool:-no finding}${kind:+, $kind}"
    flag=--asan-bin; [ "$track" = cuda ] && flag=--cuda-bin
    start=$SECONDS
    PYTHONUNBUFFERED=1 python3 scripts/sanitize.py --lab "$lab" --logs "$out/$name" --track "$track" $flag "$b" \
      --compute-sanitizer "$cs" -- >"$out/$name.txt" 2>&1
    st=$?
    sed -n '/^sanitizer: /,$p' "$out/$name.txt"
    if [ -z "$tool" ]; then
      ok=$([ $st = 0 ] && grep -q '^sanitizer: no findings' "$out/$name.txt" && echo yes)
    else
      ok=$([ $st = 1 ] && grep -qE "^[0-9]+\. $tool: .*$kind" "$out/$name.txt" && grep -q "$(basename "$f")" "$out/$name.txt" && echo yes)
    fi
    echo "exit $st, $((SECONDS - start)) s: ${ok:+as planted}${ok:-NOT WHAT WAS PLANTED (see $out/$name.txt)}"
    [ -n "$ok" ] || status=1
  done
fi

if want suite; then
  step "tests/test_sanitize.c (its CUDA tests run here)"
  build/tests/test_sanitize -j2 --verbose >"$out/test_sanitize.txt" 2>&1
  st=$?
  grep -aE "\[(FAIL|SKIP)\]|Synthesis" "$out/test_sanitize.txt" | head -30
  echo "test_sanitize exit: $st (want 0)"
  [ $st = 0 ] || status=1
fi
echo
echo "device-sanitize: $([ $status = 0 ] && echo 'every file as planted' || echo 'SOME FILE NOT AS PLANTED (above)')"
exit $status
