#!/usr/bin/env bash
# The compute-bound labs' CPU references (labs 7 and 8) beside PyTorch on the GPU machine's own CPU,
# an Intel Xeon: the course's VMs are Intel on some days and AMD on others, and a CPU reference and
# its advice must hold on both. Two threads on two distinct physical cores, as on the course VM
# (`lscpu -p` says which logical CPUs share a core), for the checker and PyTorch alike.
#   scripts/device-cpu.sh [step ...]   (default: 7 8 amx)
#     7, 8   the lab's CPU bar case only (lab 7: b·h = 8, n = m = 2048, d = 64; lab 8: part b's 2048^3)
#     amx    lab 8's AMX variant (bench/qlinear_amx.h) in build/qlinear_cpu: checked bit for bit
#            against the library's forward on edge shapes (amx-check), then timed beside it
#     tiles  lab 7's CPU reference with other query and key tiles (-DBQ, -DBK: sizes swept on Zen 4
#            only) and P·v blocking (-DPV_CV_WIDE), each in bench/attention_cpu at the bar's shape
#            (not in the default run)
# Leaves lscpu and each lab's `make bench` table in $OUT (or ./device-out). BENCH_S (100) caps each
# lab's bench; torch.compile is skipped (--no-compile): the CPU bars compare eager kernels.
# PyTorch's CPU outputs want a caching allocator (bench/torch_bench.py says why); the machine has no
# tcmalloc of its own, so Debian's from .debs (scripts/fetch-device-debs.sh) is preloaded for the
# whole bench, the checker too (it allocates once per case: the same times either way).
set -uo pipefail
out=${OUT:-device-out}; mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh
lscpu >"$out/lscpu.txt"
grep -E "Model name|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|L2|L3" "$out/lscpu.txt"
grep -oE "avx512[a-z_0-9]*|amx[a-z_0-9]*|avx_vnni" "$out/lscpu.txt" | sort -u | paste -sd' '
# the first logical CPU of each of the first two cores
cpus=$(lscpu -p=CPU,CORE | grep -v '^#' | sort -t, -k2,2n -u | head -2 | cut -d, -f1 | paste -sd,)
echo "pinned to CPUs $cpus"
tc=$(ls /tmp/emdeps/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 2>/dev/null)
[ -n "$tc" ] && export LD_PRELOAD="$tc${LD_PRELOAD:+ $LD_PRELOAD}" && echo "preloaded $tc"
make -j"$(nproc)" build/demo/em-check >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 2; }
[ $# -eq 0 ] && set -- 7 8 amx
cc=$(grep -o '\bCC=[^ ]*' build/config.mk 2>/dev/null | head -1 | cut -d= -f2)  # the compiler make used
cc=${cc:-gcc}
# A hand-built CPU bench, as its header says, against the CUDA build's libem.a:
#   build_bench LOG OUT SOURCE... (objects or flags before libem.a, which they override)
build_bench() {
  local log=$1 bin=$2
  shift 2
  "$cc" -std=c11 -O3 -march=native -fopenmp -Iinclude "$@" build/libem.a -ljansson -lm \
    -L/usr/local/cuda/lib64 -lcudart_static -lrt -lpthread -ldl -lstdc++ -o "$bin" >>"$log" 2>&1
}
for lab in "$@"; do
  if [ "$lab" = tiles ]; then
    # BQ:BK:CV, CV the P·v kernel's vectors of columns at d = 64 (PV_CV_WIDE); the library's first
    for t in 48:128:4 48:64:4 48:256:4 96:128:4 144:128:4 48:128:2 96:128:2; do
      IFS=: read -r bq bk cv <<<"$t"
      bin=/tmp/attention_cpu-$bq-$bk-$cv
      "$cc" -std=c11 -O3 -march=native -fopenmp -Iinclude -D_GNU_SOURCE -DBQ="$bq" -DBK="$bk" -DPV_CV_WIDE="$cv" \
        -c reference/cpu/attention.c -o "$bin.o" >>"$out/tiles-build.log" 2>&1 &&
        build_bench "$out/tiles-build.log" "$bin" bench/attention_cpu.c "$bin.o" ||
        { echo "tiles $t: build failed"; tail -5 "$out/tiles-build.log"; continue; }
      r=$(OMP_NUM_THREADS=2 taskset -c "$cpus" "$bin" 2 4 2048 2048 64 0 cpu 3 2>&1 | tail -1)
      echo "BQ=$bq BK=$bk CV=$cv: $r"
    done
    continue
  fi
  if [ "$lab" = amx ]; then
    build_bench "$out/amx-build.log" build/qlinear_cpu bench/qlinear_cpu.c ||
      { echo "amx: build failed"; tail -20 "$out/amx-build.log"; continue; }
    timeout 120 build/qlinear_cpu amx-check >"$out/amx-check.txt" 2>&1
    echo "amx-check exit $? (want 0)"; cat "$out/amx-check.txt"
    for what in int8 amx; do
      OMP_NUM_THREADS=2 timeout 60 taskset -c "$cpus" build/qlinear_cpu 2048 2048 2048 $what 3 \
        >"$out/amx-$what.txt" 2>&1
      tail -2 "$out/amx-$what.txt"
    done
    continue
  fi
  case $lab in
    7) sel=(--case "perf bh8 2048") ;;  # b·h = 8, n = m = 2048, d = 64, float32: issue 13's CPU bar
    8) sel=(--part b) ;;                # 2048^3 int8 forward: issue 14's CPU bar
    *) echo "device-cpu.sh: no step $lab (7, 8, amx or tiles)" >&2; exit 2 ;;
  esac
  OMP_NUM_THREADS=2 timeout "${BENCH_S:-100}" taskset -c "$cpus" make bench LAB="$lab" TRACK=cpu \
    ARGS="${sel[*]@Q} --threads 2" BENCH_ARGS="--no-compile --budget 0.3" >"$out/cpu-bench$lab.txt" 2>&1
  echo "lab $lab: make bench exit $?"
  grep -E "^track|^lab |^$lab |PyTorch" "$out/cpu-bench$lab.txt"
done
