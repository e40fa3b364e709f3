#!/usr/bin/env bash
# One device call that does what the card it lands on is for. Labs 7 and 8's bars are set on an
# H200 (b = 4, h = 16, n = m = 4096, d = 128 beside PyTorch's SDPA backends; the int8 forward at
# 8192^3 beside torch._int_mm and the compiled layer; the decode forward at M = 16 against the
# measured copy): on an H200 this runs the API and decode checks of lab 7 and the two `make bench`
# rows that settle those bars, both beside PyTorch in the same run. Any other card (an H100, which a
# plain call usually gets) cannot settle them, so there it runs lab 7's checks and the reference
# through the timed checker instead. Under DEADLINE_S (560 s by default: a call has 600), via
# scripts/device-round.sh; the evidence is $OUT/evidence.tgz, the benches' tables in it too.
#   scripts/device-bars.sh
set -uo pipefail
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
[ -n "$gpu" ] || { echo "no GPU found (nvidia-smi lists none): run this on the GPU machine" >&2; exit 2; }
echo "GPU: $gpu"
export DEADLINE_S=${DEADLINE_S:-560}
if [[ $gpu == *H200* ]]; then
  # Each bench's table and JSON (bench/torch_bench.py's) into the evidence, under the names of
  # their lab; `make bench` overwrites build/bench/bench.json each time.
  bars='bench() { make bench TRACK=cuda LAB=$1 ARGS="$2" BENCH_ARGS="--compile-budget 60 --budget 0.3" \
          >"$OUT/bench$1.txt" 2>&1; echo "make bench LAB=$1: exit $?"; cp build/bench/bench.json "$OUT/bench$1.json"; }
        bench 7 "--case 4096"; bench 8 "--part b"'
  LAB7_S=${LAB7_S:-60} exec bash scripts/device-round.sh "api decode" "" "$bars"
fi
LAB7_S=${LAB7_S:-420} exec bash scripts/device-round.sh "api decode checker" ""
