#!/usr/bin/env bash
# Lab 8's CUDA kernels on a GPU machine, in one run, with the evidence left in $OUT (or ./device-out):
#   build       make (-Werror) the library and bench/qlinear; the compiler's register, shared memory
#               and spill figures for every lab 8 kernel (ptxas -v), and where cuobjdump is there,
#               the instructions that matter per kernel (IMMA: the int8 tensor cores; HMMA: the bf16
#               ones, the bf16x3 backward; LDSM; STL/LDL: spills);
#   api         scripts/device-lab8-api.c against build/libem.a: every em_qlinear_*_cuda entry point
#               and the layer object on edge shapes against float64 / exact host references,
#               misaligned pointers, error codes;
#   bench       build/bench/qlinear: self-check of every kernel variant, then the timings: forward at
#               M = N = K = 8192 (TOP/s), decode at M = 16 and 1 (GB/s of W, % of copy), backward at
#               8192³ (TFLOP/s, % of the FMA rate), the FFMA kernels and the bf16x3 tensor-core ones
#               the library runs;
#   torch       where PyTorch is installed: the same products through it (float32 matmuls with TF32
#               off for the backward's bar, torch._int_mm for the forward; the whole quantised layer,
#               x quantised per row, _int_mm, dequantised with the bias, eager and torch.compile'd;
#               bf16 x @ W.t()), timed the same way;
#   flush       build/bench/l2_flush: what the timer's L2 flush leaves, an empty launch, reads and
#               writes of W's size, then the decode forward and its variants after the checker's
#               flush (GB/s of W, % of copy), and the shipped one with what the checker does
#               between two timed calls before each run;
#   sanitizer   compute-sanitizer memcheck and racecheck over the small self-check, memcheck and
#               initcheck over the api check.
#   checker     the lab through em-check: the reference solution's CUDA track timed, and the suite's
#               lab 8 tests (the skeleton, the CPU planted files beside the CUDA track)
#   ncu         Nsight Compute's memory counters on the decode forward at M = 16, N = K = 8192, the
#               shipped kernel in each of the bench's orders of K and split (clusters, atomics), beside
#               reads of W alone (consecutive addresses; the kernel's orders and splits): DRAM
#               bytes, what the L1 asked of the L2 (W's 67 MB and x's reads), the L1's hits, the
#               warps resident.
#   scripts/device-lab8.sh [build] [api] [bench] [torch] [flush] [sanitizer] [checker] [ncu]
#               (default: all but flush and ncu, in that order)
steps=${*:-build api bench torch sanitizer checker}
source scripts/device-lab-common.sh

setup_lab 8 qlinear

if want build; then
  step "registers / shared memory / spills per kernel (ptxas -v; spills or a stack frame are a red flag)"
  demangle() { if command -v c++filt >/dev/null; then c++filt; else cat; fi; }
  for f in reference/cuda/qlinear.cu reference/naive/qlinear.cu bench/qlinear.cu; do
    name=$(echo "$f" | tr / -)
    # the bench as the Makefile builds it on Hopper: sm_90a, with its wgmma variants
    arch=(-arch=sm_90) && [[ $f == bench/* ]] && arch=(-arch=sm_90a -DEM_BENCH_SM90A=1)
    "$nvcc" -Iinclude -DEM_HAVE_CUDA=1 -std=c++17 -O3 "${arch[@]}" -Xptxas -v -c "$f" -o /tmp/lab8-ptxas.o 2>&1 |
      sed 's/^ptxas info *: //' | grep -E "Compiling entry|Used|spill" | paste - - - |
      sed "s/Compiling entry function //; s/ for 'sm_90a*'//" | demangle >"$out/ptxas-$name.txt"
    echo "--- $f"
    grep -E "qlin|anonymous" "$out/ptxas-$name.txt" | sed 's/    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads/ no spills/'
    if command -v cuobjdump >/dev/null; then
      cuobjdump -sass /tmp/lab8-ptxas.o >"$out/sass-$name.txt" 2>&1
      awk '/Function :/ {if (name) printf "%-70s IMMA %4d  HMMA %4d  LDSM %3d  LDGSTS %3d  FFMA %5d  STL %d  LDL %d\n", name, c["IMMA"], c["HMMA"], c["LDSM"], c["LDGSTS"], c["FFMA"], c["STL"], c["LDL"]; name=$3; delete c}
           /\/\*[0-9a-f]+\*\// {for (i = 1; i <= NF; ++i) if ($i ~ /^[A-Z][A-Z0-9]+(\.|$)/) {split($i, op, "."); c[op[1]]++; break}}
           END {if (name) printf "%-70s IMMA %4d  HMMA %4d  LDSM %3d  LDGSTS %3d  FFMA %5d  STL %d  LDL %d\n", name, c["IMMA"], c["HMMA"], c["LDSM"], c["LDGSTS"], c["FFMA"], c["STL"], c["LDL"]}' \
        "$out/sass-$name.txt" | demangle
    fi
  done
fi

want api && api_step 8 "em_qlinear_*_cuda and the layer"

# First everything but the bulk-copy decode variants, then those alone under a shorter limit: their
# mbarrier rings are the one part that could hang, and would then cost only their own run. Printed:
# all but the self-check lines that passed (in the file), so FAIL follows any variant that failed.
want bench && BENCH_ARGS=--skip-bulk BENCH_TIMEOUT=150 bench_step qlinear awk '!/^  M=/ || /FAIL/'
want bench && BENCH_ARGS=--bulk-only BENCH_LOG=bulk BENCH_TIMEOUT=80 bench_step qlinear awk '!/^  M=/ || /FAIL/'

if want torch; then
  step "PyTorch on the same shapes (backward bar: >= 0.9x its float32 matmuls, TF32 off)"
  if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    python3 - >"$out/torch.txt" 2>&1 <<'EOF'
import torch
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
# Timed as `make bench` times PyTorch (bench/torch_bench.py's time_fn): the checker's flush before
# each run (a read over twice the L2, then the call's output bytes dirtied), CUDA events, median.
import sys
sys.path.insert(0, "bench")
from torch_bench import time_fn
def median_ms(fn):
    return time_fn(torch, fn, "cuda", 1.0) * 1e3
print("torch", torch.__version__, torch.cuda.get_device_name())
M = N = K = 8192
dy = torch.randn(M, N, device="cuda"); w = torch.randn(N, K, device="cuda"); x = torch.randn(M, K, device="cuda")
t_dx = median_ms(lambda: dy @ w)
t_dw = median_ms(lambda: dy.t() @ x)
t_db = median_ms(lambda: dy.sum(0))
f = 2.0 * M * N * K
print(f"float32 dx = dy @ W      {t_dx:8.3f} ms {f / t_dx / 1e9:6.1f} TFLOP/s")
print(f"float32 dW = dy.T @ x    {t_dw:8.3f} ms {f / t_dw / 1e9:6.1f} TFLOP/s")
print(f"float32 db = dy.sum(0)   {t_db:8.3f} ms")
print(f"backward total           {t_dx + t_dw + t_db:8.3f} ms {2 * f / (t_dx + t_dw + t_db) / 1e9:6.1f} TFLOP/s  (the bar: 0.9x this)")
for m in (8192, 16, 1):
    try:
        a = torch.randint(-127, 128, (m, K), dtype=torch.int8, device="cuda")
        b = torch.randint(-127, 128, (N, K), dtype=torch.int8, device="cuda")
        t = median_ms(lambda: torch._int_mm(a, b.t()))
        print(f"int8 torch._int_mm M={m:<5d} {t:8.4f} ms {2.0 * m * N * K / t / 1e9:8.1f} TOP/s {N * K / t / 1e6:7.0f} GB/s of W")
    except Exception as e:
        print(f"int8 torch._int_mm M={m}: {type(e).__name__}: {str(e).splitlines()[0]}")
# The forward's bar: the whole layer from float32 x to float32 y, as PyTorch code would write it
# (per-row scale, round half to even, clamp, _int_mm in the Linear layout, the epilogue as tensor
# ops), eager and compiled; bf16 x @ W.t() beside it.
def qlayer(x, wq, sw, b):
    s = x.abs().amax(dim=1, keepdim=True) / 127.0
    xq = torch.round(x / torch.where(s > 0, s, torch.ones_like(s))).clamp_(-127, 127).to(torch.int8)
    return torch._int_mm(xq, wq.t()).float() * (s * sw) + b
x = torch.randn(M, K, device="cuda"); wf = torch.randn(N, K, device="cuda"); bias = torch.randn(N, device="cuda")
sw = wf.abs().amax(dim=1) / 127.0
wq = torch.round(wf / sw[:, None]).clamp(-127, 127).to(torch.int8)
f = 2.0 * M * N * K
try:
    t = median_ms(lambda: qlayer(x, wq, sw, bias))
    print(f"quantised layer, eager    {t:8.3f} ms {f / t / 1e9:7.1f} TOP/s")
    comp = torch.compile(qlayer)
    comp(x, wq, sw, bias); torch.cuda.synchronize()
    t = median_ms(lambda: comp(x, wq, sw, bias))
    print(f"quantised layer, compiled {t:8.3f} ms {f / t / 1e9:7.1f} TOP/s  (the bar: 1.0x this)")
except Exception as e:
    print(f"quantised layer: {type(e).__name__}: {str(e).splitlines()[0]}")
xb, wb = x.bfloat16(), wf.bfloat16()
t = median_ms(lambda: xb @ wb.t())
print(f"bf16 x @ W.t()            {t:8.3f} ms {f / t / 1e9:7.1f} TFLOP/s")
EOF
    cat "$out/torch.txt"
  else
    echo "PyTorch with CUDA is not installed here: no comparison (the bar needs it measured once)"
  fi
fi

if want ncu; then
  step "Nsight Compute: the decode forward's memory traffic, M = 16, N = K = 8192, beside reads of W alone"
  # The shipped decode kernel (grid 512) in each of the bench's orders of K (QlinDecodeOrder) and
  # split across clusters (version 2c) or blocks meeting by atomics (2d), and the reads of W alone
  # (consecutive addresses; the decode kernel's orders and splits of K), every launch up to 800
  # (the quick self-check's small ones, then the timed ones: --decode-only times M = 16 alone);
  # bench/ncu_memory.py gives the medians over each run of a kernel's launches at a grid of 256
  # blocks or more. ncu flushes the caches before each launch (--cache-control all, its default).
  r=$out/ncu-decode
  if timeout 240 ncu --clock-control none --kernel-name-base mangled --launch-count 800 --print-units base \
    --kernel-name "regex:qlin_fwd_decode_kernelILi2ELb1ELi2ELi1ELi[0-9]+EE|qlin_fwd_decode_splitk?_kernelILi2ELb1|read_only_kernel|decode_order_read" \
    --metrics "$(python3 bench/ncu_memory.py --metrics)" --csv \
    build/bench/qlinear --quick --skip-bulk --decode-only >"$r.csv" 2>"$r-run.txt"; then
    python3 bench/ncu_memory.py "$r.csv" || status=1
  else
    echo "ncu failed:"; tail -5 "$r-run.txt"; status=1
  fi
fi

if want flush; then
  make -j"$jobs" build/bench/l2_flush >>"$out/build.log" 2>&1 || { echo "build/bench/l2_flush did not build"; status=1; }
  BENCH_TIMEOUT=120 bench_step l2_flush cat
fi

if want sanitizer; then
  step "compute-sanitizer (small shapes)"
  san memcheck bench build/bench/qlinear --check-only --quick --skip-bulk
  san racecheck bench build/bench/qlinear --check-only --quick --skip-bulk
  # The bulk-copy variants apart, under a shorter limit (see the bench step); racecheck may not
  # follow mbarrier-ordered bulk copies: a finding there is to be read before it is believed.
  BENCH_TIMEOUT=80 san memcheck bench-bulk build/bench/qlinear --check-only --quick --bulk-only
  BENCH_TIMEOUT=80 san racecheck bench-bulk build/bench/qlinear --check-only --quick --bulk-only
  # The api check provokes a failed allocation on purpose (EM_ENOMEM): API errors are its to judge.
  san memcheck api --report-api-errors no build/lab8-api
  san initcheck api --report-api-errors no build/lab8-api
fi
want checker && checker_step 8
exit $status
