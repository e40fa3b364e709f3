#!/usr/bin/env bash
# Issue 17's GPU bar in one device call: ten mixed lab 1 submissions graded on the CUDA track twice,
# once with `--gpus 1 --jobs 4` (the GPU pool: four archives unpacked and built at once, one timed
# run on the GPU at a time, each run's sandbox given only its own GPU's /dev/nvidiaN) and once fully
# serialised (`--jobs 1`), against one pristine build; then the two gradebooks compared row by row
# (status, correctness, reason's first words) and the GPU column and isolation words printed.
# Written for any number of GPUs: GPUS=N grades with --gpus N (default: every visible one).
# PRISTINE=DIR: an existing build folder to grade against (make brings it up to date). TRACK=cpu
# (with GPUS=1) tries the script itself on a machine without a GPU.
#   scripts/device-gpus.sh            evidence in $OUT (else ./device-out)
set -uo pipefail
out=${OUT:-device-out}; mkdir -p "$out"
[ -d .debs ] && source scripts/use-debs.sh && export PATH="/tmp/emdeps/usr/bin:$PATH"
gpus=${GPUS:-$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)}
nvidia-smi --query-gpu=index,name,pci.bus_id --format=csv,noheader 2>/dev/null
s=/tmp/emgpus; rm -rf $s; mkdir -p $s/in
make -j"$(nproc)" build/em-archive >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 2; }

good_c='#include <stdint.h>
#include "em/add.h"
void lab1_add_a(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}
void lab1_add_b(const float *x, float c, float *z, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) z[i] = x[i] + c;
}'
head='#include <cuda_runtime.h>
#include <stdint.h>
#include "em/add.h"'
kernel='__global__ void add_kernel(const float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}'
part_a='void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) { add_kernel<<<1, 1024>>>(x, c, z, n); }'
grid='add_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, c, z, n);'
# name -> the .cu file's body after the includes
declare -A cu
cu[good]="$kernel
$part_a
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { $grid }"
cu[builderror]="$kernel
$part_a
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { $grid"
cu[offbyone]="${kernel/i < n/i < n - 1}
$part_a
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { $grid }"
cu[unwritten]="$kernel
$part_a
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { (void)x; (void)c; (void)z; (void)n; }"
cu[pastend]="${kernel/i < n/i <= n}
$part_a
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { $grid }"
cu[hangs]="$kernel
__global__ void spin(volatile int *never) { while (*never == 0) {} }
$part_a
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  static int *flag; if (!flag) { cudaMalloc(&flag, sizeof *flag); cudaMemset(flag, 0, sizeof *flag); }
  spin<<<1, 1>>>(flag); $grid }"
cu[caches]="$kernel
$part_a
static float *seen;
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { if (z == seen) return; seen = z; $grid }"
cu[slow]="$kernel
__global__ void one_block(const float *x, float c, float *z, int64_t n) {
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) z[i] = x[i] + c;
}
$part_a
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { one_block<<<1, 256>>>(x, c, z, n); }"
cu[reference]="$kernel
$part_a
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { em_add_b_cuda(x, c, z, n); }"
for k in "${!cu[@]}"; do
  d=$s/src/$k/labs/lab1-add; mkdir -p "$d"
  printf '%s\n' "$good_c" >"$d/add.c"
  printf '%s\n%s\n' "$head" "${cu[$k]}" >"$d/add.cu"
done
mkdir -p $s/src/skeleton/labs/lab1-add && cp labs/lab1-add/add.c labs/lab1-add/add.cu $s/src/skeleton/labs/lab1-add/
for d in "$s"/src/*; do
  build/em-archive pack "$s/in/lab1-${d##*/}-20261205-120000.tar.gz" --root "$d" labs/lab1-add/add.c labs/lab1-add/add.cu
done
echo "$(find $s/in -name "*.tar.gz" | wc -l) submissions"
install -m 600 grader/examples/lab1-cases.json $s/cases.json
common=(--hidden "$s/cases.json" --hidden-only --track "${TRACK:-cuda}" --timeout 30 --pristine "${PRISTINE:-$s/pristine}")
t0=$(date +%s)
python3 -m grader grade $s/in --out $s/pool "${common[@]}" --gpus "$gpus" --jobs 4 >"$out/grade-pool.txt" 2>&1
echo "grade --gpus $gpus --jobs 4: exit $? in $(( $(date +%s) - t0 )) s"; t0=$(date +%s)
python3 -m grader grade $s/in --out $s/serial "${common[@]}" --jobs 1 >"$out/grade-serial.txt" 2>&1
echo "grade --jobs 1 (serialised): exit $? in $(( $(date +%s) - t0 )) s"
cp $s/pool/gradebook.csv "$out/gradebook-pool.csv"; cp $s/serial/gradebook.csv "$out/gradebook-serial.csv"
python3 - "$s/pool/gradebook.csv" "$s/serial/gradebook.csv" <<'PY'
import csv, sys
def rows(p):
    with open(p, newline="") as f:
        return {r["submission"]: r for r in csv.DictReader(f)}
pool, serial = rows(sys.argv[1]), rows(sys.argv[2])
same = 0
for k in sorted(set(pool) | set(serial)):
    a, b = pool.get(k, {}), serial.get(k, {})
    key = lambda r: (r.get("status"), r.get("correctness"), r.get("reason", "").split(":")[0][:60])
    ok = key(a) == key(b)
    same += ok
    print(f"{'same' if ok else 'DIFF'} {k}: pool {key(a)} gpu={a.get('gpu', '')!r} | serial {key(b)}")
print(f"{same} of {len(set(pool) | set(serial))} rows the same")
iso = {r.get("isolation", "") for r in pool.values()}
print("isolation (pool):", *sorted(iso), sep="\n  ")
sys.exit(0 if same == len(set(pool) | set(serial)) == 10 else 1)
PY
echo "compare exit $?"
