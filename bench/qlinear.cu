// Lab 8 kernel variants, side by side on one GPU: the measurements behind reference/cuda/qlinear.cu.
// Build and run:  make bench-variants && build/bench/qlinear [--check-only] [--quick] [--skip-bulk | --bulk-only]
//                 [--decode-only]
//
// 1. Each kernel's registers, local memory (spills) and blocks per SM as this GPU runs them.
// 2. A self-check on small shapes chosen for their edges (K = 1, 3, 17, K not a multiple of 16 or
//    64, M = 1 and 16 (the decode kernel) and 17 (the tiled one), N = 1, K = 2^17 with every
//    product 127² (the largest int32 sum the contract allows), a zero row, a row of exact .5
//    quotients, denormal and huge rows; N % 4 == 0 and K % 16 == 0 with ragged tiles for the
//    tensor-core backward), with every pointer aligned and then one element off 16 bytes (the
//    kernels' byte-wise paths; the bulk-copy decode variants hand those, and K % 16 != 0, to
//    version 2's byte path, so their own code runs on the aligned pass only: M = 1 with N = 1 at
//    K = 4096, M up to 16, N = 3 to 300, K = 64 to 2^17, K % 64 = 16; at K = 2^17 the x-resident
//    variant's x does not fit and it carries x in its stages instead):
//      quantise  against the host's float64 computation, bit for bit (s and q);
//      forward   against a GPU reference (int64 sums, float64 epilogue): acc exactly, y within
//                4u·(|s_x·s_w·acc| + |b|) (u = 2^-24: the epilogue's three roundings, with margin);
//      backward  against a GPU float64 reference: |err| ≤ (J + 3)·u·Σ|terms| + 1e-30, the worst-case
//                bound of a float32 sum of J products (J = N for dx, M for dW and db), which no
//                summation order exceeds and a wrong index or tile always does; the worst ratio
//                err / (u·Σ|terms|) is printed, so a typical value (a few units) can be seen.
//                Both backwards: "bwd" the FFMA kernels (version 3), "bwd-tc" the library's, the
//                bf16x3 tensor-core kernels (qlin_bwd_tc_launch; "bwd-tc=ffma" where the shape or a
//                pointer sends it to version 3). bench/qlinear_bwd_split.py models the tensor cores' rounding.
//    Outputs are filled with NaN first, so an element a kernel never writes fails.
// 3. Timings (median of 22 runs, bench/common.cuh: CUDA events, L2 flushed before each run as the
//    checker flushes it: a read, then as many bytes dirtied as the run writes, at most an L2):
//      copy bandwidth, the FP32 FMA rate and the int8 and bf16 mma.sync rates, measured here with
//      the checker's kernels (bench/common.cuh; the copy was cudaMemcpy of 256 MiB alone until
//      2026-12-06, about 1% below the checker's);
//      quantise 8192 × 8192 (GB/s of 5 bytes an element);
//      forward M = N = K = 8192 (GOP/s = 2·M·N·K / time) for every tiled variant: version 1
//      (mma.sync) at 128 × 128 or 128 × 256 tiles and 3 to 5 stages, and version 1b (Hopper's
//      wgmma, sm_90a builds on a CC 9.0 GPU only), 128 × 256 and 128 × 128;
//      a read of W alone (N = K = 8192, 67 MB: what a stream that short reaches), by 16-byte
//      loads, in version 2's order of addresses and its other orders (QlinDecodeOrder: a warp's
//      steps consecutive, each block's walk of K rotated, both), with K split among 2, 4 or 8
//      blocks a tile and with 2 blocks per SM, and by the copies of kBulk4 and kBulk2P without
//      their mma (sm_90 on);
//      forward M = 16 and M = 1, N = K = 8192 (GB/s of W: N·K / time, and % of copy) for every
//      decode variant and the tiled kernel. The decode variants: version 2 (registers) at NT = 1,
//      2, 4 with U = 2 or 4 steps of loads in flight, the epilogue's operands early or late, the
//      shipped one in each order of QlinDecodeOrder, held to 2 or 3 blocks per SM, split in
//      clusters of 2 and 4 blocks (version 2c, sm_90 on) and among 2, 4 or 8 blocks (version 2d),
//      a tile to a block of 16 warps, one or two tiles in turn (version 2e; all timed between runs
//      of the shipped one), and version 2b (W
//      through cp.async.bulk into a shared-memory ring, sm_90): NT = 4 with 3 stages of 16 KB or 6
//      of 8 KB, x in the stages, a block per tile; NT = 2, x copied once per block, a
//      persistent grid of a block per SM;
//      backward M = N = K = 8192 (TFLOP/s = 4·M·N·K / time, and % of the FMA rate), the FFMA
//      kernels and the bf16x3 tensor-core ones the library runs (PyTorch's float32 matmuls,
//      scripts/device-lab8.sh's torch step, are the bar);
//    each timed output then checked on a sample of rows against the GPU reference.
// Exit status 1 when any check fails.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../reference/cuda/qlinear_kernels.cuh"
#include "common.cuh"

namespace {

const double kU = 1.0 / 16777216.0;  // 2^-24: float32's unit roundoff

// ---- measured rates ---------------------------------------------------------------------------------

// Reads n 16-byte chunks and nothing else: four loads in flight per thread, grid-stride, one
// atomic per block (the sum keeps the loads from being optimised away).
__global__ void read_only_kernel(const uint4 *p, size_t n, unsigned *sink) {
  unsigned s = 0;
  const size_t stride = (size_t)gridDim.x * blockDim.x;
  size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = __ldg(p + i), b = __ldg(p + i + stride), c = __ldg(p + i + 2 * stride), d = __ldg(p + i + 3 * stride);
    // every word used: a load of which only one word counted could be narrowed to 4 bytes
    s += (a.x ^ a.y ^ a.z ^ a.w) + (b.x ^ b.y ^ b.z ^ b.w) + (c.x ^ c.y ^ c.z ^ c.w) + (d.x ^ d.y ^ d.z ^ d.w);
  }
  for (; i < n; i += stride) {
    const uint4 a = __ldg(p + i);
    s += a.x ^ a.y ^ a.z ^ a.w;
  }
  s = __reduce_add_sync(0xffffffffu, s);
  if ((threadIdx.x & 31) == 0 && s == 0x12345678u) atomicAdd(sink, s);
}

// W read in version 2's order and nothing else: the shipped decode grid (NT = 2, a block of 8 warps
// per 16 rows, 4 blocks per SM), each warp's 64-byte steps w, w + 8, ... of its 16 rows, two steps
// of loads in flight, the same load instruction; no x, no mma, no epilogue. Beside read_only_kernel
// (the whole machine streaming consecutive addresses) it says what the decode kernel's order of
// addresses costs by itself (8192 rows read at once, 512 bytes of each at a time), and beside the
// kernel what x, the mma and the epilogue add. It has the kernel's occupancy too (half the warps
// the plain read has resident), so the plain read is also timed with as few warps (sms * 4 blocks).
// On an H100 (2026-12-06, copy 3024 GB/s): the plain read 24.8 µs (89% of copy), with half the
// warps 25.0 (89%), in the kernel's order 25.8 (86%), the shipped kernel at M = 16 26.2 (85%). The
// other orders (QlinDecodeOrder; another H100, copy 3029): consecutive 25.3 µs (87%), rotated 26.8
// (83%), both 27.0 (82%), against the kernel's order 25.7 (86%) and the plain read 24.9 (89%).
// ORDER (QlinDecodeOrder): the bench's other orders of the same walk, read alone. S > 1: K split
// among S blocks a tile, as version 2c splits it (block b reads its 16 rows' part b % S of K, the S
// blocks of a tile adjacent in the grid), so that the blocks resident at once read about 8192 / S
// rows, S times as much of each, rather than every row of W: whether fewer rows in flight read
// faster. The caller makes K a multiple of 64·S.
template <int ORDER = 0, int S = 1>
__global__ void __launch_bounds__(kQlinDecodeThreads, 4) decode_order_read_kernel(const int8_t *w, int K, unsigned *sink) {
  constexpr int NT = 2, U = 2, W = kQlinDecodeThreads / 32;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int tile = blockIdx.x / S, part = blockIdx.x % S;
  const int8_t *wr[NT];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) wr[nt] = w + ((int64_t)tile * 8 * NT + nt * 8 + g) * K;
  const int steps = K / 64, rot = qlin_decode_rot<ORDER>(steps);
  const int lo = part * (steps / S), hi = lo + steps / S;
  unsigned s = 0;
  for (int s0 = lo + qlin_decode_first<ORDER, U, W>(warp); s0 < hi; s0 += W * U) {
    uint4 wv[U][NT];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int st = qlin_decode_step<ORDER, W>(s0, u), k = 64 * qlin_decode_place<ORDER>(st, steps, rot) + 16 * t;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) wv[u][nt] = st < hi ? qlin_ld16_w<true>(wr[nt], k, K) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) s += wv[u][nt].x ^ wv[u][nt].y ^ wv[u][nt].z ^ wv[u][nt].w;
  }
  s = __reduce_add_sync(0xffffffffu, s);
  if (lane == 0 && s == 0x12345678u) atomicAdd(sink, s);
}

// What the bulk copies reach by themselves: version 2b's producer streaming W (a variant's ring:
// the same pieces in the same order; a.M = 0, so no x) to consumer warps that only give each stage
// back. Beside read_only_kernel and the variant it says whether the copies or the consumers' work
// set the variant's pace.
template <int NT, int KS, int STAGES, bool XRES>
__global__ void __launch_bounds__(kQlinBulkThreads, QlinBulkShape<NT, KS, STAGES, XRES>::kMinBlocks)
    bulk_read_only_kernel(QlinFwdArgs a) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  __trap();  // sm_90's copies: never launched below (timings() skips the rows)
#else
  using S = QlinBulkShape<NT, KS, STAGES, XRES>;
  extern __shared__ __align__(128) unsigned char qlin_smem[];
  const uint32_t base = (uint32_t)__cvta_generic_to_shared(qlin_smem);
  const uint32_t full = base, empty = base + 8 * STAGES, xbar = base + 16 * STAGES, ring = base + S::kRing;
  qlin_bulk_init<STAGES>(full, empty, xbar);
  if (threadIdx.x >> 5 == kQlinBulkConsumers) {
    qlin_bulk_produce<NT, KS, STAGES, XRES>(a, full, empty, xbar, ring, base + (uint32_t)S::kFixed);
    return;
  }
  const int tiles = (a.N + S::kRows - 1) / S::kRows, chunks = (a.K + KS - 1) / KS;
  uint32_t f = 0;  // as the producer counts
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x)
    for (int c = 0; c < chunks; ++c, ++f) {
      em__mbar_wait(full + 8 * (f % STAGES), (f / STAGES) & 1);
      __syncwarp();
      if ((threadIdx.x & 31) == 0) em__mbar_arrive(empty + 8 * (f % STAGES));
    }
#endif
}

struct Rates {
  double copy_gbs, fma_tflops, mma_tops, bf16_tflops;
};

Rates measure_rates(bench::Timer &timer) {
  Rates r;
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  r.copy_gbs = bench::copy_peak_gbps(timer);
  r.fma_tflops = bench::fma_peak_tflops(timer);
  // The tensor cores' rates with the checker's kernels and grid (reference/core/peaks_kernels.cuh);
  // bf16 is the roof of the tensor-core backward, which does three bf16 products per float32 one.
  const int blocks = sms * em__peaks::kBlocksPerSm;
  float *out = nullptr;
  CHECK(cudaMalloc(&out, (size_t)blocks * em__peaks::kThreads * sizeof(float)));
  float ms = timer.median_ms([&] { em__peaks::mma_int8_kernel<<<blocks, em__peaks::kThreads>>>(out, em__peaks::kMmaIters); });
  r.mma_tops = em__peaks::mma_int8_ops(blocks) / (ms * 1e-3) / 1e12;
  ms = timer.median_ms([&] { em__peaks::mma_bf16_kernel<<<blocks, em__peaks::kThreads>>>(out, em__peaks::kMmaIters); });
  r.bf16_tflops = em__peaks::mma_bf16_flops(blocks) / (ms * 1e-3) / 1e12;
  CHECK(cudaFree(out));
  return r;
}

// ---- inputs ----------------------------------------------------------------------------------------------

// Uniform in [-1, 1) from a hash of (tensor, index): the same inputs on every run, host or device.
__host__ __device__ float hashed(uint64_t i, uint32_t salt) {
  uint64_t x = i * 0x9e3779b97f4a7c15ull + salt * 0xbf58476d1ce4e5b9ull;
  x ^= x >> 31, x *= 0x94d049bb133111ebull, x ^= x >> 29;
  return (float)((x >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

// Special rows (kinds): 0 plain, 1 zeros, 2 exact halves (127 then k % 8 − 3.5: with s = 1 every
// quotient is a tie, rounded to even), 3 huge (1e15 scale), 4 denormal (1e-40 scale), 5 all ones
// (every q = 127: the int32 sum at its largest). Huge is 1e15, not more: a huge row of x meets a
// huge row of W (and of dy), and s_x·s_w·acc ≈ (1e15/127)²·127²·K must stay a finite float32 for
// the right answer to exist (1e30 gave inf, which the check rightly called a failure).
__host__ __device__ float element(int kind, uint64_t row, uint64_t k, uint64_t cols, uint32_t salt) {
  const float h = hashed(row * cols + k, salt);
  switch (kind) {
    case 1: return 0.0f;
    case 2: return k == 0 ? 127.0f : (float)(int)(k % 8) - 3.5f;
    case 3: return 1e15f * h;
    case 4: return 1e-40f * h;
    case 5: return 1.0f;
    default: return h;
  }
}

// Which kind row r of a matrix is: the edge rows sit at fixed places when the matrix has them.
__host__ __device__ int kind_of(uint64_t row, uint64_t rows, bool ones) {
  if (ones) return 5;
  if (rows < 3) return 0;
  if (row == 1) return 1;
  if (row == 2) return 2;
  if (rows >= 6 && row == rows - 2) return 3;
  if (rows >= 6 && row == rows - 1) return 4;
  return 0;
}

__global__ void fill_kernel(float *a, int64_t rows, int64_t cols, uint32_t salt, bool ones) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < rows * cols; i += (int64_t)gridDim.x * blockDim.x)
    a[i] = element(kind_of(i / cols, rows, ones), i / cols, i % cols, cols, salt);
}

void fill(float *a, int64_t rows, int64_t cols, uint32_t salt, bool ones) {
  fill_kernel<<<4096, 256>>>(a, rows, cols, salt, ones);
  CHECK(cudaGetLastError());
}

// The contract's quantisation on the host, in float64 rounded to float32 at each step (exact).
void host_quantize(const std::vector<float> &a, int64_t rows, int64_t cols, std::vector<int8_t> &q,
                   std::vector<float> &s) {
  q.assign(rows * cols, 0);
  s.assign(rows, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0.0f;
    for (int64_t k = 0; k < cols; ++k) m = std::max(m, std::fabs(a[r * cols + k]));
    s[r] = (float)((double)m / 127.0);
    if (s[r] == 0.0f) continue;
    for (int64_t k = 0; k < cols; ++k) {
      const float quot = (float)((double)a[r * cols + k] / (double)s[r]);
      q[r * cols + k] = (int8_t)std::min(127.0f, std::max(-127.0f, std::nearbyint(quot)));
    }
  }
}

// ---- GPU references -------------------------------------------------------------------------------

// For each listed row (rows[i]) and every o: acc exactly (int64), y and |s_x·s_w·acc| + |b| in double.
__global__ void ref_forward_kernel(const int8_t *xq, const float *sx, const int8_t *wq, const float *sw,
                                   const float *b, const int *rows, int N, int K, int64_t *acc, double *y,
                                   double *mag) {
  const int i = blockIdx.y, o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= N) return;
  const int64_t r = rows[i];
  int64_t s = 0;
  for (int k = 0; k < K; ++k) s += (int64_t)xq[r * K + k] * wq[(int64_t)o * K + k];
  const double p = (double)sx[r] * (double)sw[o] * (double)s;
  acc[(int64_t)i * N + o] = s;
  y[(int64_t)i * N + o] = p + (double)b[o];
  mag[(int64_t)i * N + o] = fabs(p) + fabs((double)b[o]);
}

// dx rows (AT = false: row r of dx, sum over o) or dW rows (AT: row o of dW, sum over r), in
// double, with Σ|terms|: one thread per (listed row, k).
template <bool AT>
__global__ void ref_backward_kernel(const float *dy, const int8_t *bq, const float *s, const int *rows, int M,
                                    int N, int K, double *out, double *mag) {
  const int i = blockIdx.y, k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= K) return;
  const int64_t p = rows[i];
  const int J = AT ? M : N;
  double acc = 0.0, m = 0.0;
  for (int j = 0; j < J; ++j) {
    const double a = AT ? dy[(int64_t)j * N + p] : dy[p * N + j];
    const double t = a * ((double)s[j] * (double)bq[(int64_t)j * K + k]);
    acc += t;
    m += fabs(t);
  }
  out[(int64_t)i * K + k] = acc;
  mag[(int64_t)i * K + k] = m;
}

__global__ void ref_db_kernel(const float *dy, int M, int N, double *db, double *mag) {
  const int o = blockIdx.x * blockDim.x + threadIdx.x;
  if (o >= N) return;
  double acc = 0.0, m = 0.0;
  for (int r = 0; r < M; ++r) acc += dy[(int64_t)r * N + o], m += fabs((double)dy[(int64_t)r * N + o]);
  db[o] = acc;
  mag[o] = m;
}

template <typename T>
std::vector<T> to_host(const T *d, size_t n) {
  std::vector<T> h(n);
  CHECK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

template <typename T>
T *dev_alloc(size_t n) {
  T *p = nullptr;
  CHECK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(T) + 16));  // + 16: room for the misaligned views
  return p;
}

int *dev_rows(const std::vector<int> &rows) {
  int *d = dev_alloc<int>(rows.size());
  CHECK(cudaMemcpy(d, rows.data(), rows.size() * sizeof(int), cudaMemcpyHostToDevice));
  return d;
}

// ---- one problem on the device ----------------------------------------------------------------------------

#if EM_BENCH_SM90A
// Version 1b takes operands aligned to 16 bytes; for the rest of the self-check's shapes it answers
// cudaErrorNotSupported, and version 1 runs, as in the library.
cudaError_t or_v1(cudaError_t e, const QlinFwdArgs &a) {
  return e == cudaErrorNotSupported ? qlin_fwd_mma_launch<128, 4>(a) : e;
}
#endif

struct Shape {
  int M, N, K;
  bool ones;  // every input 1: every q 127, every sum 127²·K
};

// kDec2S, kDec4S: version 2 with its epilogue operands copied into shared memory as each block
// starts (kQlinEpiShared), so that their DRAM latency hides behind W's stream instead of ending
// every block; no register is held for it (the operands held in registers cost NT = 2 a block per
// SM). kDec2S is what the shipped dispatch runs at N = K = 8192 (86% of copy against kDec2's 85% on
// an H100, 2026-12-06), so it is timed as "shipped dispatch" there and self-checked on its own (the
// small shapes dispatch to NT = 1); kDec2 and kDec4 read the operands after the stream.
// kDecCl2, kDecCl4: version 2c, kDec2S with K split among the 2 or 4 blocks of a cluster, which sum
// their partials through distributed shared memory: fewer rows of W read at once, longer runs of each.
// On an H100 (2026-12-07) 72% and 60% of copy against kDec2S's 82%: the clusters cost more than the
// shorter rows win (W read alone split so: 87% and 89%).
// kDecSk2, kDecSk4, kDecSk8: version 2d, the same split among 2, 4 or 8 independent blocks whose sums
// meet by atomics in a global workspace (decode_sums), the tile's last block storing the outputs.
// On an H100 (2026-12-07) 72%, 68% and 59% of copy against kDec2S's 82%: each extra block's fixed
// work (its sums through shared memory, the atomics, a pipeline that starts empty) costs more than
// the shorter rows win.
// kDecP2, kDecP2U4, kDecP3: kDec2S as it is, held to 2 or 3 blocks per SM by dynamic shared memory
// it does not use (decode_padded), where it runs 4: the blocks resident at once then read 264 or 396
// tiles' rows (4224 or 6336 of N = 8192) rather than all 8192, as the splits do, but with no sums
// to meet and no block more; the grid is version 2's (512 blocks at N = 8192: 1.9 or 1.3 waves).
// U4: 4 steps of loads in flight a warp, against the fewer warps. On an H100 (2026-12-07) 63%, 62%
// and 58% of copy against kDec2S's 84-85% in the same run (W read alone at 2 blocks per SM: 73%
// against 86% at 4): fewer resident blocks cost the bytes in flight more than fewer rows win.
// kDecPipe1, kDecPipe2: kDec2S with the next pass's loads issued before this pass's mma
// (kQlinOrderPipelined), passes of 1 step (the registers of U = 2) or of 2 (those of U = 4). On an
// H100 (2026-12-07) 83-84% and 79% of copy, kDec2S 84% between them: no gain from loads kept in flight.
// kDecWide1, kDecWide2: version 2e, a block of 16 warps a tile (2 blocks per SM), a tile a block or
// two in turn (the blocks resident at once then read half of W's rows, their sums met in the block).
// On an H100 (2026-12-07) 80% and 81% of copy against kDec2S's 84%.
//
// The bulk-copy decode variants (version 2b), sized for N = K = 8192 on 132 SMs, where Little's law
// asks ~4.2 TB/s × ~1 µs / 132 ≈ 32 KB of W in flight per SM:
//   kBulk4    NT = 4 as version 2 shipped first (256 blocks, 2 per SM), 3 stages of 512-byte pieces: 16 KB
//             of W and 8 KB of x a stage, 97 KB a block with the partial sums; up to 96 KB of W
//             in flight per SM. Its question: the TMA path instead of register loads, all else kept.
//   kBulk4S6  the same bytes as 6 stages of 256-byte pieces (106 KB a block, still 2 per SM): 5 of
//             6 stages can be in flight instead of 2 of 3. Its question: ring depth, piece size.
//   kBulk2P   NT = 2 (512 tiles, 3 or 4 per block: 97% of an even split), 1 KB pieces, 4 stages of
//             16 KB, x resident (129 KB at M = 16): 205 KB, one block per SM walking its tiles, up
//             to 64 KB of W in flight. Its question: x's L2 reads per tile and each block's ramp up
//             and drain (read it against its M = 1 row, where x is 8 KB).
enum Fwd {
  kFwdShipped, kMma256x4, kMma128x4, kMma128x3, kMma128x5, kMma256x3, kMma256x5, kWg256x4, kWg128x4,
  // decode from kDec1 on
  kDec1, kDec2, kDec4, kDec4U4, kDec2U4, kDec2S, kDec4S, kDec2SC, kDec2SR, kDec2SCR, kDecCl2, kDecCl4,
  kDecSk2, kDecSk4, kDecSk8, kDecP2, kDecP2U4, kDecP3, kDecPipe1, kDecPipe2, kDecWide1, kDecWide2, kBulk4,
  kBulk4S6, kBulk2P
};
const char *fwd_name(Fwd f) {
  switch (f) {
    case kFwdShipped: return "shipped dispatch";
    case kMma256x4: return "mma 128x256, 4 stages";
    case kMma128x4: return "mma 128x128, 4 stages (ref. elsewhere)";
    case kMma128x3: return "mma 128x128, 3 stages";
    case kMma128x5: return "mma 128x128, 5 stages";
    case kMma256x3: return "mma 128x256, 3 stages";
    case kMma256x5: return "mma 128x256, 5 stages";
    case kWg256x4: return "wgmma 128x256, 4 st. (ref. H, >=1024 tiles)";
    case kWg128x4: return "wgmma 128x128, 4 st. (ref. H, fewer tiles)";
    case kDec1: return "decode NT=1";
    case kDec2: return "decode NT=2, epilogue operands late";
    case kDec4: return "decode NT=4";
    case kDec4U4: return "decode NT=4, 4 steps in flight";
    case kDec2U4: return "decode NT=2, 4 steps in flight";
    case kDec2S: return "decode NT=2, epilogue operands early (smem)";
    case kDec4S: return "decode NT=4, epilogue operands early (smem)";
    case kDec2SC: return "shipped decode, a warp's steps consecutive";
    case kDec2SR: return "shipped decode, each block's K rotated";
    case kDec2SCR: return "shipped decode, consecutive and rotated";
    case kDecCl2: return "decode, K split in a cluster of 2";
    case kDecCl4: return "decode, K split in a cluster of 4";
    case kDecSk2: return "decode, K split in 2 blocks, atomics";
    case kDecSk4: return "decode, K split in 4 blocks, atomics";
    case kDecSk8: return "decode, K split in 8 blocks, atomics";
    case kDecP2: return "shipped decode, 2 blocks per SM";
    case kDecP2U4: return "shipped decode, 2 per SM, 4 steps in flight";
    case kDecP3: return "shipped decode, 3 blocks per SM";
    case kDecPipe1: return "shipped decode, pipelined, 1 step a pass";
    case kDecPipe2: return "shipped decode, pipelined, 2 steps a pass";
    case kDecWide1: return "decode, 16 warps a tile";
    case kDecWide2: return "decode, 16 warps a tile, 2 tiles in turn";
    case kBulk4: return "bulk NT=4, 3 x 16 KB stages";
    case kBulk4S6: return "bulk NT=4, 6 x 8 KB stages";
    case kBulk2P: return "bulk NT=2, x resident, persistent";
  }
  return "?";
}
bool is_decode(Fwd f) { return f >= kDec1; }
bool is_wg(Fwd f) { return f == kWg256x4 || f == kWg128x4; }
// Version 1b is wgmma, sm_90a code: present where the bench was built for sm_90a (EM_BENCH_SM90A,
// the Makefile's choice on an sm_90 target), and run on a GPU of compute capability 9.0 only.
bool wg_available() {
#if EM_BENCH_SM90A
  static const int major = [] {
    int m = 0;
    CHECK(cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, 0));
    return m;
  }();
  return major == 9;
#else
  return false;
#endif
}

// Version 2d's workspace: 256 int32 sums and a count per tile of 16 columns, zero between launches
// (each launch leaves them so), grown for the widest N asked.
struct DecodeSums {
  int32_t *sums = nullptr;
  unsigned *count = nullptr;
  int tiles = 0;
};
const DecodeSums &decode_sums(int N) {
  static DecodeSums d;
  const int tiles = (N + 15) / 16;
  if (tiles > d.tiles) {
    CHECK(cudaFree(d.sums));
    CHECK(cudaFree(d.count));
    CHECK(cudaMalloc(&d.sums, (size_t)tiles * 256 * sizeof(int32_t)));
    CHECK(cudaMalloc(&d.count, (size_t)tiles * sizeof(unsigned)));
    CHECK(cudaMemset(d.sums, 0, (size_t)tiles * 256 * sizeof(int32_t)));
    CHECK(cudaMemset(d.count, 0, (size_t)tiles * sizeof(unsigned)));
    d.tiles = tiles;
  }
  return d;
}
template <int S>
cudaError_t decode_splitk(const QlinFwdArgs &a) {
  const DecodeSums &d = decode_sums(a.N);
  return qlin_fwd_decode_splitk_launch<2, S>(a, d.sums, d.count);
}

// Dynamic shared memory that leaves room on an SM for per_sm blocks of kernel (256 threads) and no
// more, with the kernel's attribute raised to allow it; the occupancy calculator must agree, or the
// bench stops (a variant timed at another occupancy than its name says would mislead).
template <class Kernel>
size_t pad_for(Kernel kernel, int per_sm) {
  int smem_sm = 0, reserved = 0;
  CHECK(cudaDeviceGetAttribute(&smem_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, 0));
  CHECK(cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, 0));
  cudaFuncAttributes fa;
  CHECK(cudaFuncGetAttributes(&fa, kernel));
  // per_sm + 1 blocks would need smem_sm + smem_sm / per_sm − 128·(per_sm + 1) bytes: too many.
  const size_t dyn = (size_t)(smem_sm / per_sm - reserved - 128) - fa.sharedSizeBytes;
  // Raised only: kDecP2 and kDecP3 pad the same kernel, and a lower bound set last would refuse the
  // larger padding's launch.
  if ((int)dyn > fa.maxDynamicSharedSizeBytes)
    CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)dyn));
  int got = 0;
  CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&got, kernel, kQlinDecodeThreads, dyn));
  if (got != per_sm) {
    std::fprintf(stderr, "pad_for: %zu bytes of padding leave %d blocks per SM, not %d\n", dyn, got, per_sm);
    std::exit(1);
  }
  return dyn;
}

// kDec2S (version 2, NT = 2, its operands early) with U steps in flight, PER_SM blocks to an SM.
template <int U, int PER_SM>
cudaError_t decode_padded(const QlinFwdArgs &a) {
  const unsigned blocks = (unsigned)((a.N + 15) / 16);
  if (qlin_fwd_aligned(a)) {
    static const size_t dyn = pad_for(qlin_fwd_decode_kernel<2, true, U, kQlinEpiShared>, PER_SM);
    qlin_fwd_decode_kernel<2, true, U, kQlinEpiShared><<<blocks, kQlinDecodeThreads, dyn>>>(a);
  } else {
    static const size_t dyn = pad_for(qlin_fwd_decode_kernel<2, false, U, kQlinEpiShared>, PER_SM);
    qlin_fwd_decode_kernel<2, false, U, kQlinEpiShared><<<blocks, kQlinDecodeThreads, dyn>>>(a);
  }
  return cudaGetLastError();
}

// Version 2c's clusters: compute capability 9.0 on.
bool cluster_available() {
  static const int major = [] {
    int m = 0;
    CHECK(cudaDeviceGetAttribute(&m, cudaDevAttrComputeCapabilityMajor, 0));
    return m;
  }();
  return major >= 9;
}

// The backward's two kernels: version 3 (FFMA) alone, and the library's launcher, which runs version 4
// (bf16x3 on the tensor cores) where qlin_bwd_tc_fits and version 3 elsewhere.
enum Bwd { kBwdFfma, kBwdShipped };
const char *bwd_name(Bwd b) {
  return b == kBwdFfma ? "dx + dW + db, FFMA (version 3)" : "dx + dW + db, bf16x3 tensor cores (ref.)";
}

struct Problem {
  Shape s;
  int off;  // elements every pointer is moved by (1: none of them 16-byte aligned)
  float *x, *w, *b, *dy, *sx, *sw, *y, *dx, *dw, *db;
  int8_t *xq, *wq;
  int32_t *acc;

  Problem(const Shape &shape, int offset) : s(shape), off(offset) {
    const size_t M = s.M, N = s.N, K = s.K;
    x = dev_alloc<float>(M * K) + off, w = dev_alloc<float>(N * K) + off, b = dev_alloc<float>(N) + off;
    dy = dev_alloc<float>(M * N) + off, sx = dev_alloc<float>(M) + off, sw = dev_alloc<float>(N) + off;
    y = dev_alloc<float>(M * N) + off, dx = dev_alloc<float>(M * K) + off, dw = dev_alloc<float>(N * K) + off;
    db = dev_alloc<float>(N) + off;
    xq = dev_alloc<int8_t>(M * K) + off, wq = dev_alloc<int8_t>(N * K) + off;
    acc = dev_alloc<int32_t>(M * N) + off;
    fill(x, M, K, 1, s.ones);
    fill(w, N, K, 2, s.ones);
    fill(b, 1, N, 3, false);
    fill(dy, M, N, 4, false);
  }
  ~Problem() {
    for (void *p : {(void *)(x - off), (void *)(w - off), (void *)(b - off), (void *)(dy - off), (void *)(sx - off),
                    (void *)(sw - off), (void *)(y - off), (void *)(dx - off), (void *)(dw - off), (void *)(db - off),
                    (void *)(xq - off), (void *)(wq - off), (void *)(acc - off)})
      CHECK(cudaFree(p));
  }
  Problem(const Problem &) = delete;
  Problem &operator=(const Problem &) = delete;

  QlinFwdArgs args(bool with_acc) const {
    return qlin_fwd_args(xq, sx, wq, sw, b, with_acc ? acc : nullptr, y, s.M, s.N, s.K);
  }

  void quantize() const {  // the shipped kernels: x and W into xq, s_x, wq, s_w
    CHECK(qlin_quantize_launch(x, s.M, s.K, xq, sx));
    CHECK(qlin_quantize_launch(w, s.N, s.K, wq, sw));
  }

  void forward(Fwd f, bool with_acc) const {
    const QlinFwdArgs a = args(with_acc);
    switch (f) {
      case kFwdShipped: CHECK(qlin_fwd_launch(a)); break;
      case kMma256x4: CHECK((qlin_fwd_mma_launch<256, 4>(a))); break;
      case kMma128x4: CHECK((qlin_fwd_mma_launch<128, 4>(a))); break;
      case kMma128x3: CHECK((qlin_fwd_mma_launch<128, 3>(a))); break;
      case kMma128x5: CHECK((qlin_fwd_mma_launch<128, 5>(a))); break;
      case kMma256x3: CHECK((qlin_fwd_mma_launch<256, 3>(a))); break;
      case kMma256x5: CHECK((qlin_fwd_mma_launch<256, 5>(a))); break;
#if EM_BENCH_SM90A
      case kWg256x4: CHECK(or_v1(qlin_fwd_wg_launch<256, 4>(a), a)); break;
      case kWg128x4: CHECK(or_v1(qlin_fwd_wg_launch<128, 4>(a), a)); break;
#else
      case kWg256x4: case kWg128x4:
        std::fprintf(stderr, "%s: this bench was not built for sm_90a\n", fwd_name(f));
        std::exit(1);
#endif
      case kDec1: CHECK(qlin_fwd_decode_launch<1>(a)); break;
      case kDec2: CHECK(qlin_fwd_decode_launch<2>(a)); break;
      case kDec4: CHECK(qlin_fwd_decode_launch<4>(a)); break;
      case kDec4U4: CHECK((qlin_fwd_decode_launch<4, 4>(a))); break;
      case kDec2U4: CHECK((qlin_fwd_decode_launch<2, 4>(a))); break;
      case kDec2S: CHECK((qlin_fwd_decode_launch<2, 2, kQlinEpiShared>(a))); break;
      case kDec4S: CHECK((qlin_fwd_decode_launch<4, 2, kQlinEpiShared>(a))); break;
      case kDec2SC: CHECK((qlin_fwd_decode_launch<2, 2, kQlinEpiShared, kQlinOrderConsecutive>(a))); break;
      case kDec2SR: CHECK((qlin_fwd_decode_launch<2, 2, kQlinEpiShared, kQlinOrderRotated>(a))); break;
      case kDec2SCR:
        CHECK((qlin_fwd_decode_launch<2, 2, kQlinEpiShared, kQlinOrderConsecutive | kQlinOrderRotated>(a)));
        break;
      case kDecCl2: CHECK((qlin_fwd_decode_split_launch<2, 2>(a))); break;
      case kDecCl4: CHECK((qlin_fwd_decode_split_launch<2, 4>(a))); break;
      case kDecSk2: CHECK(decode_splitk<2>(a)); break;
      case kDecSk4: CHECK(decode_splitk<4>(a)); break;
      case kDecSk8: CHECK(decode_splitk<8>(a)); break;
      case kDecP2: CHECK((decode_padded<2, 2>(a))); break;
      case kDecP2U4: CHECK((decode_padded<4, 2>(a))); break;
      case kDecP3: CHECK((decode_padded<2, 3>(a))); break;
      case kDecPipe1: CHECK((qlin_fwd_decode_launch<2, 1, kQlinEpiShared, kQlinOrderPipelined>(a))); break;
      case kDecPipe2: CHECK((qlin_fwd_decode_launch<2, 2, kQlinEpiShared, kQlinOrderPipelined>(a))); break;
      case kDecWide1: CHECK((qlin_fwd_decode_wide_launch<2, 1>(a))); break;
      case kDecWide2: CHECK((qlin_fwd_decode_wide_launch<2, 2>(a))); break;
      case kBulk4: CHECK((qlin_fwd_bulk_launch<4, 512, 3, false>(a, false))); break;
      case kBulk4S6: CHECK((qlin_fwd_bulk_launch<4, 256, 6, false>(a, false))); break;
      case kBulk2P: CHECK((qlin_fwd_bulk_launch<2, 1024, 4, true>(a, true))); break;
    }
  }

  // kBwdShipped: where the shape or a pointer does not suit the tensor-core kernel (qlin_bwd_tc_fits),
  // its launcher runs version 3, as kBwdFfma does.
  void backward(Bwd v) const {
    if (v == kBwdFfma)
      CHECK(qlin_bwd_launch(dy, xq, sx, wq, sw, dx, dw, db, s.M, s.N, s.K));
    else
      CHECK(qlin_bwd_tc_launch(dy, xq, sx, wq, sw, dx, dw, db, s.M, s.N, s.K));
  }

  void poison() const {  // NaN (and −1 in acc) everywhere an output goes
    CHECK(cudaMemset(y, 0xff, (size_t)s.M * s.N * sizeof(float)));
    CHECK(cudaMemset(acc, 0xff, (size_t)s.M * s.N * sizeof(int32_t)));
    CHECK(cudaMemset(dx, 0xff, (size_t)s.M * s.K * sizeof(float)));
    CHECK(cudaMemset(dw, 0xff, (size_t)s.N * s.K * sizeof(float)));
    CHECK(cudaMemset(db, 0xff, (size_t)s.N * sizeof(float)));
  }

  // Quantisation of x and W (both kernels: a warp or a block per row, whichever cols asks for,
  // and the other one too) against the host, bit for bit. Returns the number of differences.
  int64_t check_quantize() const {
    int64_t bad = 0;
    for (int g = 0; g < 3; ++g) {  // 0: shipped dispatch, 1: warp per row, 2: block per row
      CHECK(cudaMemset(sx, 0xff, s.M * sizeof(float)));
      CHECK(cudaMemset(xq, 0x55, (size_t)s.M * s.K));
      CHECK(cudaMemset(sw, 0xff, s.N * sizeof(float)));
      CHECK(cudaMemset(wq, 0x55, (size_t)s.N * s.K));
      for (int t = 0; t < 2; ++t) {
        const float *a = t ? w : x;
        int8_t *q = t ? wq : xq;
        float *sc = t ? sw : sx;
        const int64_t rows = t ? s.N : s.M;
        if (g == 0) CHECK(qlin_quantize_launch(a, rows, s.K, q, sc));
        if (g == 1) qlin_quantize_kernel<32><<<(unsigned)((rows + 7) / 8), kQlinQuantThreads>>>(a, rows, s.K, q, sc);
        if (g == 2) qlin_quantize_kernel<kQlinQuantThreads><<<(unsigned)rows, kQlinQuantThreads>>>(a, rows, s.K, q, sc);
        CHECK(cudaGetLastError());
      }
      CHECK(cudaDeviceSynchronize());
      for (int t = 0; t < 2; ++t) {
        const int64_t rows = t ? s.N : s.M;
        std::vector<float> a = to_host(t ? w : x, (size_t)rows * s.K), hs;
        std::vector<int8_t> hq;
        host_quantize(a, rows, s.K, hq, hs);
        const std::vector<float> gs = to_host(t ? sw : sx, rows);
        const std::vector<int8_t> gq = to_host(t ? wq : xq, (size_t)rows * s.K);
        bad += std::memcmp(hs.data(), gs.data(), rows * sizeof(float)) != 0;
        for (size_t i = 0; i < hq.size(); ++i) bad += hq[i] != gq[i];
      }
    }
    return bad;
  }

  // Worst error of y over the listed rows in units of its tolerance (NaN: a NaN or inf, or an
  // acc that differs); with_acc compares the int32 sums too.
  double check_forward(const std::vector<int> &rows, bool with_acc) const {
    const int nr = (int)rows.size();
    int *drows = dev_rows(rows);
    int64_t *racc = dev_alloc<int64_t>((size_t)nr * s.N);
    double *ry = dev_alloc<double>((size_t)nr * s.N), *rmag = dev_alloc<double>((size_t)nr * s.N);
    ref_forward_kernel<<<dim3((s.N + 127) / 128, nr), 128>>>(xq, sx, wq, sw, b, drows, s.N, s.K, racc, ry, rmag);
    CHECK(cudaGetLastError());
    const std::vector<int64_t> hacc = to_host(racc, (size_t)nr * s.N);
    const std::vector<double> hy = to_host(ry, (size_t)nr * s.N), hmag = to_host(rmag, (size_t)nr * s.N);
    for (void *p : {(void *)drows, (void *)racc, (void *)ry, (void *)rmag}) CHECK(cudaFree(p));
    double worst = 0.0;
    std::vector<float> gy(s.N);
    std::vector<int32_t> gacc(s.N);
    for (int i = 0; i < nr; ++i) {
      CHECK(cudaMemcpy(gy.data(), y + (int64_t)rows[i] * s.N, s.N * sizeof(float), cudaMemcpyDeviceToHost));
      if (with_acc)
        CHECK(cudaMemcpy(gacc.data(), acc + (int64_t)rows[i] * s.N, s.N * sizeof(int32_t), cudaMemcpyDeviceToHost));
      for (int o = 0; o < s.N; ++o) {
        const size_t j = (size_t)i * s.N + o;
        if (with_acc && gacc[o] != hacc[j]) return NAN;
        if (!std::isfinite(gy[o])) return NAN;
        worst = std::max(worst, std::fabs(gy[o] - hy[j]) / (4 * kU * hmag[j] + 1e-35));
      }
    }
    return worst;
  }

  // Worst backward error as a fraction of its bound (J + 3)·u·Σ|terms| + 1e-30 (> 1 fails; NaN for
  // a NaN or inf), and the worst err / (u·Σ|terms|) in *typical.
  double check_backward(const std::vector<int> &xrows, const std::vector<int> &wrows, double *typical) const {
    double worst = 0.0;
    *typical = 0.0;
    for (int t = 0; t < 3; ++t) {  // dx, dW, db
      const std::vector<int> &rows = t == 0 ? xrows : wrows;
      const int nr = t == 2 ? 1 : (int)rows.size(), width = t == 2 ? s.N : s.K, J = t == 0 ? s.N : s.M;
      int *drows = dev_rows(rows);
      double *ref = dev_alloc<double>((size_t)nr * width), *mag = dev_alloc<double>((size_t)nr * width);
      if (t == 0)
        ref_backward_kernel<false><<<dim3((s.K + 127) / 128, nr), 128>>>(dy, wq, sw, drows, s.M, s.N, s.K, ref, mag);
      else if (t == 1)
        ref_backward_kernel<true><<<dim3((s.K + 127) / 128, nr), 128>>>(dy, xq, sx, drows, s.M, s.N, s.K, ref, mag);
      else
        ref_db_kernel<<<(s.N + 127) / 128, 128>>>(dy, s.M, s.N, ref, mag);
      CHECK(cudaGetLastError());
      const std::vector<double> href = to_host(ref, (size_t)nr * width), hmag = to_host(mag, (size_t)nr * width);
      for (void *p : {(void *)drows, (void *)ref, (void *)mag}) CHECK(cudaFree(p));
      std::vector<float> got(width);
      for (int i = 0; i < nr; ++i) {
        const float *src = t == 0 ? dx + (int64_t)rows[i] * s.K : t == 1 ? dw + (int64_t)rows[i] * s.K : db;
        CHECK(cudaMemcpy(got.data(), src, width * sizeof(float), cudaMemcpyDeviceToHost));
        for (int c = 0; c < width; ++c) {
          const size_t j = (size_t)i * width + c;
          if (!std::isfinite(got[c])) return NAN;
          const double err = std::fabs(got[c] - href[j]);
          worst = std::max(worst, err / ((J + 3) * kU * hmag[j] + 1e-30));
          if (hmag[j] > 1e-20) *typical = std::max(*typical, err / (kU * hmag[j]));
        }
      }
    }
    return worst;
  }
};

std::vector<int> all_rows(int n) {
  std::vector<int> r(n);
  for (int i = 0; i < n; ++i) r[i] = i;
  return r;
}

// A few rows spread over [0, n), the edges included.
std::vector<int> sample_rows(int n) {
  std::vector<int> r = {0, 1, 2, n / 3, n / 2, n - 2, n - 1};
  r.erase(std::remove_if(r.begin(), r.end(), [&](int i) { return i < 0 || i >= n; }), r.end());
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  return r;
}

// ---- kernel attributes ---------------------------------------------------------------------------------

// carveout: the kernel's launcher asks for the largest shared-memory split (the mma and SGEMM
// kernels); set here as the launchers set it, so that the occupancy printed is the one the kernel
// runs at, and left alone for the others (an attribute set here would stay for the timed runs).
void print_attributes(const char *name, const void *fn, int threads, size_t dyn_smem, bool carveout = false) {
  if (dyn_smem > 48 * 1024) CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)dyn_smem));
  if (carveout)
    CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributePreferredSharedMemoryCarveout, (int)cudaSharedmemCarveoutMaxShared));
  cudaFuncAttributes at;
  CHECK(cudaFuncGetAttributes(&at, fn));
  int per_sm = 0;
  CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, fn, threads, dyn_smem));
  std::printf("  %-40s %3d registers, %4zu B local (spills), %6zu B shared, %d blocks of %d threads/SM\n", name,
              at.numRegs, (size_t)at.localSizeBytes, (size_t)at.sharedSizeBytes + dyn_smem, per_sm, threads);
}

// Version 2b with the shared memory it asks for at the timed shape (XRES: x's 16 rows of K = 8192
// beside the ring); the carveout as its launcher sets it.
template <int NT, int KS, int STAGES, bool XRES>
void print_bulk_attributes(const char *name) {
  using S = QlinBulkShape<NT, KS, STAGES, XRES>;
  const size_t smem = S::kFixed + (XRES ? (size_t)kQlinDecodeMaxM * qlin_bulk_xstride(8192) : 0);
  print_attributes(name, (const void *)qlin_fwd_decode_bulk_kernel<NT, KS, STAGES, XRES>, kQlinBulkThreads, smem,
                   true);
}

void print_all_attributes() {
  std::printf("kernel resources (compiled; spills are local memory)\n");
  print_attributes("quantize, warp per row", (const void *)qlin_quantize_kernel<32>, kQlinQuantThreads, 0);
  print_attributes("quantize, block per row", (const void *)qlin_quantize_kernel<kQlinQuantThreads>,
                   kQlinQuantThreads, 0);
  print_attributes("mma 128x256, 4 stages", (const void *)qlin_fwd_mma_kernel<256, 4, true>,
                   QlinMmaShape<256, 4>::kThreads, QlinMmaShape<256, 4>::kSmem, true);
  print_attributes("mma 128x256, 4 stages, byte loads", (const void *)qlin_fwd_mma_kernel<256, 4, false>,
                   QlinMmaShape<256, 4>::kThreads, QlinMmaShape<256, 4>::kSmem, true);
  print_attributes("mma 128x128, 4 stages (ref. elsewhere)", (const void *)qlin_fwd_mma_kernel<128, 4, true>,
                   QlinMmaShape<128, 4>::kThreads, QlinMmaShape<128, 4>::kSmem, true);
  print_attributes("decode NT=4", (const void *)qlin_fwd_decode_kernel<4, true, 2, false>, kQlinDecodeThreads, 0);
  print_attributes("decode NT=2", (const void *)qlin_fwd_decode_kernel<2, true, 2, false>, kQlinDecodeThreads, 0);
  print_attributes("decode NT=1", (const void *)qlin_fwd_decode_kernel<1, true, 2, false>, kQlinDecodeThreads, 0);
  print_attributes("decode NT=2, operands early (shipped)",
                   (const void *)qlin_fwd_decode_kernel<2, true, 2, kQlinEpiShared>, kQlinDecodeThreads, 0);
  print_attributes(fwd_name(kDecPipe1),
                   (const void *)qlin_fwd_decode_kernel<2, true, 1, kQlinEpiShared, kQlinOrderPipelined>,
                   kQlinDecodeThreads, 0);
  print_attributes(fwd_name(kDecPipe2),
                   (const void *)qlin_fwd_decode_kernel<2, true, 2, kQlinEpiShared, kQlinOrderPipelined>,
                   kQlinDecodeThreads, 0);
  print_attributes("decode, 16 warps a tile", (const void *)qlin_fwd_decode_wide_kernel<2, true, 2>,
                   kQlinWideThreads, 0);
  print_attributes("decode NT=4, byte loads", (const void *)qlin_fwd_decode_kernel<4, false, 2, false>,
                   kQlinDecodeThreads, 0);
  if (wg_available()) {
    print_attributes(fwd_name(kWg256x4), (const void *)qlin_fwd_wg_kernel<256, 4>, 256, QlinWgShape<256, 4>::kSmem, true);
    print_attributes(fwd_name(kWg128x4), (const void *)qlin_fwd_wg_kernel<128, 4>, 256, QlinWgShape<128, 4>::kSmem, true);
  }
  print_bulk_attributes<4, 512, 3, false>(fwd_name(kBulk4));
  print_bulk_attributes<4, 256, 6, false>(fwd_name(kBulk4S6));
  print_bulk_attributes<2, 1024, 4, true>(fwd_name(kBulk2P));
  print_attributes("sgemm dx", (const void *)qlin_sgemm_kernel<false, true>, kQlinGemmThreads, 0, true);
  print_attributes("sgemm dW + db", (const void *)qlin_sgemm_kernel<true, true>, kQlinGemmThreads, 0, true);
  print_attributes("sgemm dx, element loads", (const void *)qlin_sgemm_kernel<false, false>, kQlinGemmThreads, 0,
                   true);
  print_attributes("bf16x3 tensor cores dx", (const void *)qlin_bwd_tc_kernel<false>, kQlinTcThreads, kQlinTcSmem,
                   true);
  print_attributes("bf16x3 tensor cores dW + db", (const void *)qlin_bwd_tc_kernel<true>, kQlinTcThreads,
                   kQlinTcSmem, true);
}

// ---- the self-check ---------------------------------------------------------------------------------------

// --skip-bulk / --bulk-only: the device script runs the bulk-copy decode variants (whose mbarrier
// rings are the one thing here that could hang) in a run of their own, under a shorter time limit.
enum BulkRuns { kBulkToo, kBulkSkipped, kBulkOnly };
BulkRuns g_bulk = kBulkToo;
// --decode-only: of the timings, the reads of W and the decode rows at M = 16 alone (the device
// script's ncu step profiles them, and tells their launches apart by kernel and grid).
bool g_decode_only = false;
bool is_bulk(Fwd f) { return f == kBulk4 || f == kBulk4S6 || f == kBulk2P; }
// Whether this run includes variant f (the shipped dispatch always: the same-run baseline).
bool runs(Fwd f) {
  if (is_wg(f) && !wg_available()) return false;
  if ((f == kDecCl2 || f == kDecCl4) && !cluster_available()) return false;
  return f == kFwdShipped || (g_bulk == kBulkToo) || (g_bulk == kBulkSkipped) != is_bulk(f);
}

int self_check(bool quick) {
  std::vector<Shape> shapes = {
      {1, 1, 1, false},      {1, 1, 3, false},      {1, 5, 17, false},      {2, 3, 64, false},
      {6, 7, 1024, false},   {6, 7, 1025, false},   {7, 9, 9000, false},    {16, 33, 64, false},
      {16, 300, 1040, false}, {9, 64, 4096, false}, {3, 130, 17, false},    {17, 129, 200, false},
      {130, 257, 1000, false}, {128, 256, 64, false}, {200, 300, 1040, false}, {257, 513, 2048, false},
      {300, 1, 128, false},  {131, 260, 1056, false}, {2, 3, 131072, true},  {20, 24, 131072, true},
      {1, 1, 4096, false},
  };
  if (quick)
    shapes = {{1, 5, 17, false},      {16, 33, 64, false},      {16, 300, 1040, false},
              {17, 129, 200, false},   {130, 257, 1040, false},  {131, 260, 1056, false}};
  const std::vector<Fwd> fwds = {kFwdShipped, kMma256x4, kMma128x4, kMma128x3, kMma128x5, kMma256x3,
                                 kMma256x5,   kWg256x4,  kWg128x4,  kDec1,     kDec2,     kDec4,
                                 kDec4U4,     kDec2U4,   kDec2S,    kDec4S,    kDec2SC,
                                 kDec2SR,     kDec2SCR,  kDecCl2,   kDecCl4,   kDecSk2,   kDecSk4,   kDecSk8,
                                 kDecP2,      kDecP2U4,  kDecP3,    kDecPipe1, kDecPipe2, kDecWide1,
                                 kDecWide2,   kBulk4,    kBulk4S6,  kBulk2P};
  int failures = 0;
  std::printf("\nself-check (quantise: differing values, want 0; forward and backward: worst error / tolerance, "
              "<= 1 passes; NaN: a NaN, an unwritten output or a wrong int32 sum)\n");
  for (int off : {0, 1}) {
    for (const Shape &sh : shapes) {
      if (off && sh.ones) continue;  // the misaligned pass: the ordinary shapes are enough
      Problem pr(sh, off);
      std::printf("  M=%-3d N=%-3d K=%-6d%s%s", sh.M, sh.N, sh.K, sh.ones ? " ones" : "", off ? " misaligned" : "");
      const int64_t qbad = pr.check_quantize();
      failures += qbad != 0;
      std::printf(" | quant %lld%s", (long long)qbad, qbad ? " FAIL" : "");
      pr.quantize();
      const std::vector<int> rows = all_rows(sh.M);
      int fwd_bad = 0;
      for (Fwd f : fwds) {
        if ((is_decode(f) && sh.M > kQlinDecodeMaxM) || !runs(f)) continue;
        for (int with_acc : {1, 0}) {
          if (!with_acc && f != kFwdShipped) continue;  // acc = NULL: the shipped dispatch is enough
          pr.poison();
          pr.forward(f, with_acc);
          CHECK(cudaDeviceSynchronize());
          const double e = pr.check_forward(rows, with_acc);
          const bool ok = e <= 1.0;
          fwd_bad += !ok;
          if (!ok) std::printf(" | %s%s %.2g FAIL", fwd_name(f), with_acc ? "" : " (no acc)", e);
        }
      }
      failures += fwd_bad;
      std::printf(" | fwd %s", fwd_bad ? "FAIL" : "ok");
      for (Bwd v : {kBwdFfma, kBwdShipped}) {
        if (g_bulk == kBulkOnly) break;
        pr.poison();
        pr.backward(v);
        CHECK(cudaDeviceSynchronize());
        double typical = 0.0;
        const double e = pr.check_backward(all_rows(sh.M), all_rows(sh.N), &typical);
        const bool ok = e <= 1.0;
        failures += !ok;
        const bool tc = v == kBwdShipped && qlin_bwd_tc_fits(pr.dy, pr.xq, pr.wq, sh.M, sh.N, sh.K);
        std::printf(" | %s %.2g (err/(u·Σ|t|) %.3g)%s", v == kBwdFfma ? "bwd" : tc ? "bwd-tc" : "bwd-tc=ffma", e,
                    typical, ok ? "" : " FAIL");
      }
      std::printf("\n");
    }
  }
  std::printf("self-check: %d failure(s)\n", failures);
  return failures;
}

// ---- timings ---------------------------------------------------------------------------------------------

// A row of timings(): W (8192 × 8192 bytes at w) read by bulk_read_only_kernel with the ring, grid
// and shared memory (so the blocks per SM) of the variant the template arguments are: without XRES
// a block per tile (kBulk4), with it a block per SM and room for x's 16 rows, unfilled (kBulk2P).
template <int NT, int KS, int STAGES, bool XRES>
void time_bulk_read(const char *variant, const Rates &rates, bench::Timer &timer, const int8_t *w, size_t wbytes) {
  using S = QlinBulkShape<NT, KS, STAGES, XRES>;
  const int N = 8192, K = 8192;
  const QlinFwdArgs a = qlin_fwd_args(nullptr, nullptr, w, nullptr, nullptr, nullptr, nullptr, 0, N, K);
  const size_t smem = S::kFixed + (XRES ? (size_t)kQlinDecodeMaxM * qlin_bulk_xstride(K) : 0);
  const void *fn = (const void *)bulk_read_only_kernel<NT, KS, STAGES, XRES>;
  CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributePreferredSharedMemoryCarveout, (int)cudaSharedmemCarveoutMaxShared));
  int sms = 0;
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  const unsigned tiles = N / S::kRows;
  const unsigned blocks = XRES ? std::min<unsigned>(tiles, sms) : tiles;  // as the launcher: kMinBlocks = 1
  const float ms = timer.median_ms(
      [&] { bulk_read_only_kernel<NT, KS, STAGES, XRES><<<blocks, kQlinBulkThreads, smem>>>(a); });
  const double gbs = wbytes / (ms * 1e-3) / 1e9;
  const std::string name = std::string("read of W alone, ") + variant + "'s copies";
  std::printf("%-38s%8.4f ms %7.0f GB/s %4.0f%% of copy (no mma)\n", name.c_str(), ms, gbs,
              100.0 * gbs / rates.copy_gbs);
}

int timings(const Rates &rates, bench::Timer &timer) {
  int failures = 0;
  auto verdict = [&](double e) {
    const bool ok = e <= 1.0;
    failures += !ok;
    return ok ? "" : " FAIL";
  };

  if (g_bulk != kBulkOnly && !g_decode_only) {
    const Shape sh = {8192, 8192, 8192, false};
    Problem pr(sh, 0);
    const double elems = (double)sh.M * sh.K;
    float ms = timer.median_ms([&] { CHECK(qlin_quantize_launch(pr.x, sh.M, sh.K, pr.xq, pr.sx)); });
    std::printf("\nquantise 8192 x 8192: %.3f ms, %.0f GB/s (%.0f%% of copy)\n", ms, 5 * elems / (ms * 1e-3) / 1e9,
                100.0 * 5 * elems / (ms * 1e-3) / 1e9 / rates.copy_gbs);
    pr.quantize();
    const std::vector<int> rows = sample_rows(sh.M);
    const double ops = 2.0 * sh.M * sh.N * sh.K;
    std::printf("forward M=N=K=8192 (int8 mma.sync measured: %.0f TOP/s)\n", rates.mma_tops);
    for (Fwd f : {kMma128x4, kMma128x3, kMma128x5, kMma256x4, kMma256x3, kMma256x5, kWg256x4, kWg128x4}) {
      if (!runs(f)) continue;
      pr.poison();
      ms = timer.median_ms([&] { pr.forward(f, false); });
      const double tops = ops / (ms * 1e-3) / 1e12;
      const double e = pr.check_forward(rows, false);
      std::printf("  %-42s %8.3f ms %7.0f TOP/s %4.0f%% of mma.sync  err/tol %.2g%s\n", fwd_name(f), ms, tops,
                  100.0 * tops / rates.mma_tops, e, verdict(e));
    }

    std::printf("backward M=N=K=8192 (FP32 FMA measured: %.1f TFLOP/s; bf16 mma.sync: %.0f, of which the "
                "bf16x3 kernel does 3x the work)\n",
                rates.fma_tflops, rates.bf16_tflops);
    for (Bwd v : {kBwdFfma, kBwdShipped}) {
      pr.poison();
      ms = timer.median_ms([&] { pr.backward(v); });
      double typical = 0.0;
      const double e = pr.check_backward(rows, rows, &typical);
      const double tf = 4.0 * sh.M * sh.N * sh.K / (ms * 1e-3) / 1e12;
      std::printf("  %-42s %8.3f ms %7.1f TFLOP/s %4.0f%% of FMA  err/bound %.2g (err/(u·Σ|t|) %.3g)%s\n",
                  bwd_name(v), ms, tf, 100.0 * tf / rates.fma_tflops, e, typical, verdict(e));
      if (v == kBwdShipped)  // its own roof: three bf16 mma for every product
        std::printf("  %-42s %8s    %7.1f TFLOP/s %4.0f%% of bf16 mma.sync\n", "  (the same, as bf16 mma work)", "",
                    3 * tf, 100.0 * 3 * tf / rates.bf16_tflops);
    }
  }

  // What 67 MB allows at all: a kernel that only reads W (16-byte loads, four in flight per thread,
  // a sum so nothing is optimised away), timed the same way. A stream this short pays the launch
  // and the ramp up and down of the memory system, which the copy bandwidth (measured on GBs) does
  // not: the decode kernels' GB/s are best read against this row too.
  {
    const size_t wbytes = (size_t)8192 * 8192;
    uint4 *w = nullptr;
    unsigned *sink = nullptr;
    CHECK(cudaMalloc(&w, wbytes));
    CHECK(cudaMalloc(&sink, sizeof *sink));
    CHECK(cudaMemset(w, 1, wbytes));
    int sms = 0;
    CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
    timer.set_dirty_bytes(0);  // these rows only read: the flush leaves the L2 clean, as the checker's would
    const auto read_row = [&](const char *name, const char *note, auto launch) {
      const float ms = timer.median_ms(launch);
      CHECK(cudaGetLastError());
      const double gbs = wbytes / (ms * 1e-3) / 1e9;
      std::printf("read of W alone, %-26s %8.4f ms %7.0f GB/s %4.0f%% of copy%s\n", name, ms, gbs,
                  100.0 * gbs / rates.copy_gbs, note);
    };
    read_row("consecutive addresses", " (the best at this size)",
             [&] { read_only_kernel<<<sms * 8, 256>>>(w, wbytes / 16, sink); });
    // The same read with the decode kernel's occupancy (4 blocks of 8 warps per SM: half the warps
    // of sms * 8 blocks), to tell the cost of its order from the cost of fewer warps.
    read_row("half the warps resident", "", [&] { read_only_kernel<<<sms * 4, 256>>>(w, wbytes / 16, sink); });
    // W in the decode kernel's order, and in the bench's other orders (QlinDecodeOrder, splits of K)
    const auto order_row = [&](const char *name, auto launch) { read_row(name, " (no x, no mma)", launch); };
    const unsigned dblocks = 8192 / 16;
    order_row("the decode kernel's order", [&] {
      decode_order_read_kernel<<<dblocks, kQlinDecodeThreads>>>((const int8_t *)w, 8192, sink);
    });
    order_row("  a warp's steps consecutive", [&] {
      decode_order_read_kernel<kQlinOrderConsecutive><<<dblocks, kQlinDecodeThreads>>>((const int8_t *)w, 8192, sink);
    });
    order_row("  each block's K rotated", [&] {
      decode_order_read_kernel<kQlinOrderRotated><<<dblocks, kQlinDecodeThreads>>>((const int8_t *)w, 8192, sink);
    });
    order_row("  consecutive and rotated", [&] {
      decode_order_read_kernel<kQlinOrderConsecutive | kQlinOrderRotated>
          <<<dblocks, kQlinDecodeThreads>>>((const int8_t *)w, 8192, sink);
    });
    order_row("  K split in 2 blocks", [&] {
      decode_order_read_kernel<0, 2><<<dblocks * 2, kQlinDecodeThreads>>>((const int8_t *)w, 8192, sink);
    });
    order_row("  K split in 4 blocks", [&] {
      decode_order_read_kernel<0, 4><<<dblocks * 4, kQlinDecodeThreads>>>((const int8_t *)w, 8192, sink);
    });
    order_row("  K split in 8 blocks", [&] {
      decode_order_read_kernel<0, 8><<<dblocks * 8, kQlinDecodeThreads>>>((const int8_t *)w, 8192, sink);
    });
    // The kernel's order with fewer blocks resident (kDecP2, kDecP3's padding): fewer rows at once
    // without a split.
    static const size_t pad2 = pad_for(decode_order_read_kernel<0, 1>, 2);
    order_row("  2 blocks per SM", [&] {
      decode_order_read_kernel<0, 1><<<dblocks, kQlinDecodeThreads, pad2>>>((const int8_t *)w, 8192, sink);
    });

    // The same bytes through version 2b's bulk copies alone (bulk_read_only_kernel), sm_90 on: the
    // rings of kBulk4 and kBulk2P.
    int major = 0;
    CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
    if (major >= 9 && g_bulk != kBulkSkipped) {
      time_bulk_read<4, 512, 3, false>("kBulk4", rates, timer, (const int8_t *)w, wbytes);
      time_bulk_read<2, 1024, 4, true>("kBulk2P", rates, timer, (const int8_t *)w, wbytes);
    }
    CHECK(cudaFree(w));
    CHECK(cudaFree(sink));
  }
  for (int M : {16, 1}) {
    if (M == 1 && g_decode_only) break;
    const Shape sh = {M, 8192, 8192, false};
    Problem pr(sh, 0);
    pr.quantize();
    const double wbytes = (double)sh.N * sh.K;
    std::printf("forward M=%d N=K=8192 (GB/s of W's %.0f MB; copy measured: %.0f GB/s)\n", M, wbytes / 1e6,
                rates.copy_gbs);
    timer.set_dirty_bytes((size_t)sh.M * sh.N * sizeof(float));  // y: what the checker's flush leaves dirty
    for (Fwd f : {kFwdShipped, kDecWide2, kDecWide1, kFwdShipped, kDecWide2, kDecWide1, kFwdShipped, kDecPipe1,
                  kDecPipe2, kDecSk2, kDecSk4, kDecSk8, kDecCl2, kDecCl4, kDec2SC, kDec2SR, kDec2SCR, kFwdShipped,
                  kDecP2, kDecP2U4, kDecP3,
                  kDecSk4, kDec4, kDec2, kDec1,
                  kDec4U4, kDec2U4, kDec4S, kBulk4, kBulk4S6, kBulk2P, kMma128x4}) {
      if (!runs(f)) continue;
      pr.poison();
      const float ms = timer.median_ms([&] { pr.forward(f, false); });
      const double gbs = wbytes / (ms * 1e-3) / 1e9;
      const double e = pr.check_forward(all_rows(M), false);
      std::printf("  %-42s %8.4f ms %7.0f GB/s %4.0f%% of copy  err/tol %.2g%s\n", fwd_name(f), ms, gbs,
                  100.0 * gbs / rates.copy_gbs, e, verdict(e));
    }
  }
  return failures;
}

}  // namespace

int main(int argc, char **argv) {
  bool check_only = false, quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--check-only")) check_only = true;
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--skip-bulk")) g_bulk = kBulkSkipped;
    else if (!std::strcmp(argv[i], "--bulk-only")) g_bulk = kBulkOnly;
    else if (!std::strcmp(argv[i], "--decode-only")) g_decode_only = true;
    else {
      std::fprintf(stderr, "usage: %s [--check-only] [--quick] [--skip-bulk | --bulk-only] [--decode-only]\n",
                   argv[0]);
      return 2;
    }
  }
  cudaDeviceProp p;
  CHECK(cudaGetDeviceProperties(&p, 0));
  std::printf("%s, %d SMs, %zu KB shared memory per SM (%zu per block opt-in), L2 %d MB\n", p.name,
              p.multiProcessorCount, p.sharedMemPerMultiprocessor >> 10, p.sharedMemPerBlockOptin >> 10,
              p.l2CacheSize >> 20);
  print_all_attributes();
  int failures = self_check(quick);
  if (!check_only) {
    bench::Timer timer;
    const Rates rates = measure_rates(timer);
    std::printf("\ncopy %.0f GB/s, FP32 FMA %.1f TFLOP/s, int8 mma.sync %.0f TOP/s, bf16 mma.sync %.0f TFLOP/s "
                "(measured)\n",
                rates.copy_gbs, rates.fma_tflops, rates.mma_tops, rates.bf16_tflops);
    failures += timings(rates, timer);
  }
  std::printf("\n%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
