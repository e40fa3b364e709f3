// Lab 5 reference, CUDA: z[i] = sum_j x[i][j], x is b x t.
//
// 4 bytes read per addition: memory-bound on every GPU, so fast means the DRAM is always busy,
// whatever the shape, and the order of additions is a tree (the tolerance, harness/specs/sum.c).
// One kernel cannot do both for every shape, so the row length picks one of three:
//
//   t <= 32          a thread per row: the row is loaded into 32 registers (zeros past t) and
//                    summed as a pairwise tree in registers. A warp reads 32 consecutive rows, one
//                    contiguous stretch of memory, so b = 2^24 rows of 7 stream at full speed
//                    where a warp per row would idle 25 of its 32 lanes.
//   t <= 1024        a warp per row: lanes stride over the row (coalesced), 4 accumulators per
//                    lane (4 loads in flight, chains of at most 8), then a shuffle tree.
//   t > 1024         blocks of 256 threads over chunks of at most 16 Ki elements (64 KiB) of a
//                    row: float4 loads, 4 in flight per thread, every thread's 4 accumulators
//                    4 deep, a shuffle tree per warp and one over the 8 warps. A row longer than
//                    a chunk is split over several blocks, so b = 1 or 8 rows still fill all 132
//                    SMs; their partial sums go to a scratch array and a second kernel adds each
//                    row's partials (a 1024-thread block per row), in a fixed order. No atomics: the
//                    result is the same bits on every run.
//
// Depth of the summation tree (the tolerance allows ceil(log2 t) + 8): at most 5 for short rows,
// ceil(t/128) + 6 for warp rows, and 16 per 16 Ki chunk plus at most ceil(log2 chunks) + 3 for
// the second pass of split rows: within ceil(log2 t) + 5 everywhere up to rows of 2^28.
//
// Rows start anywhere when t % 4 != 0 (row i at x + i*t), so a row is cut into a scalar head up
// to the first 16-byte boundary, a float4 body, and a scalar tail; the first chunk's block adds
// the head and the tail (at most 3 + 3 elements).
//
// The scratch array is static device memory (1 MiB), not cudaMalloc'd: no allocation, no failure,
// no synchronisation inside a call. It makes em_sum_cuda non-reentrant: two calls running at once
// on different streams would share it. Calls on the default stream, as here, never overlap.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/sum.h"

static const int kShortMax = 32;  // t <= 32: a thread per row (32 registers of row)
static const int kWarpMax = 1024; // t <= 1024: a warp per row (chains of at most 1024/128 = 8)
static const int kThreads = 256;  // 8 warps: up to 8 blocks per SM, 2048 threads, its maximum
static const int kUnroll = 4;     // float4 loads in flight per thread per step
static const int kSteps = 4;      // steps per chunk: accumulator chains of 4
// float4 per block: 256 x 4 x 4 = 4096 float4 = 16 Ki floats = 64 KiB. Small enough that a row
// of 2^25 is 2048 blocks (and b = 1024 rows of 2^18 16384 blocks: many waves, a short tail),
// large enough that the block's start and its final reduction are a few percent of its time.
static const int64_t kChunk4 = (int64_t)kThreads * kUnroll * kSteps;
static const int kPassThreads = 1024; // second pass: 4 x 1024 accumulators over a row's partials
// Partial sums of split rows: 2^18 floats (1 MiB) hold b * chunks for every input up to 2^30 floats
// (4 GiB); beyond, chunks grow so that b * chunks still fits. (-D to test that path with small inputs.)
#ifndef EM_SUM_SCRATCH
#define EM_SUM_SCRATCH (1 << 18)
#endif

__device__ float em__sum_partials[EM_SUM_SCRATCH];

__device__ __forceinline__ float warp_sum(float s) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  return s;
}

// The sum over the block's threads, valid in thread 0. kT is blockDim.x, a multiple of 32.
template <int kT>
__device__ __forceinline__ float block_sum(float s) {
  __shared__ float warp_sums[kT / 32];
  s = warp_sum(s);
  int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) warp_sums[warp] = s;
  __syncthreads();
  s = 0.0f;
  if (warp == 0) s = warp_sum(lane < kT / 32 ? warp_sums[lane] : 0.0f);
  return s;
}

__device__ __forceinline__ float4 add4(float4 a, float4 b) {
  return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

// version 1: t <= 32, a thread per row, a pairwise tree in registers.
__global__ void __launch_bounds__(kThreads) sum_short_kernel(const float *__restrict__ x, float *__restrict__ z,
                                                             int64_t b, int t) {
  int64_t r = (int64_t)blockIdx.x * kThreads + threadIdx.x;
  if (r >= b) return;
  const float *row = x + r * t;
  float v[kShortMax];
#pragma unroll
  for (int j = 0; j < kShortMax; ++j) v[j] = j < t ? row[j] : 0.0f;
  // The tree, level by level with constant bounds, so that v stays in registers.
  static_assert(kShortMax == 32, "the tree below has 5 levels");
#pragma unroll
  for (int j = 0; j < 16; ++j) v[j] += v[j + 16];
#pragma unroll
  for (int j = 0; j < 8; ++j) v[j] += v[j + 8];
#pragma unroll
  for (int j = 0; j < 4; ++j) v[j] += v[j + 4];
  z[r] = (v[0] + v[2]) + (v[1] + v[3]);
}

// version 2: 32 < t <= 1024, a warp per row.
__global__ void __launch_bounds__(kThreads) sum_warp_kernel(const float *__restrict__ x, float *__restrict__ z,
                                                            int64_t b, int t) {
  int64_t r = (int64_t)blockIdx.x * (kThreads / 32) + (threadIdx.x >> 5);
  if (r >= b) return; // the same r for the whole warp: no lane is left behind in the shuffles
  int lane = threadIdx.x & 31;
  const float *row = x + r * t;
  float a[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int j = lane; j < t; j += 128) {
#pragma unroll
    for (int u = 0; u < 4; ++u)
      if (j + 32 * u < t) a[u] += row[j + 32 * u];
  }
  float s = warp_sum((a[0] + a[2]) + (a[1] + a[3]));
  if (lane == 0) z[r] = s;
}

// version 3: t > 1024, a block per chunk of chunk4 float4 of a row. Block i works on row
// i / chunks, chunk i % chunks; it writes z[row] (one chunk per row) or the row's partial.
template <bool kPartial>
__global__ void __launch_bounds__(kThreads) sum_chunk_kernel(const float *__restrict__ x, float *__restrict__ z,
                                                             int64_t t, unsigned chunks, int64_t chunk4) {
  unsigned r = blockIdx.x / chunks, c = blockIdx.x - r * chunks;
  const float *row = x + (int64_t)r * t;
  int head = (int)(((16u - ((unsigned)(uintptr_t)row & 15u)) & 15u) >> 2); // floats to the 16-byte boundary
  const float4 *body = (const float4 *)(row + head);
  int64_t n4 = (t - head) >> 2;
  int64_t lo = (int64_t)c * chunk4, hi = lo + chunk4 < n4 ? lo + chunk4 : n4;
  float4 acc[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) acc[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  for (int64_t i = lo + threadIdx.x; i < hi; i += kThreads * kUnroll) {
    float4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) { // all loads first: kUnroll requests in flight
      int64_t k = i + (int64_t)u * kThreads;
      v[u] = k < hi ? body[k] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc[u] = add4(acc[u], v[u]);
  }
  float4 p = add4(add4(acc[0], acc[2]), add4(acc[1], acc[3]));
  float s = (p.x + p.z) + (p.y + p.w);
  if (c == 0) { // the row's scalar head (threads 0..2) and tail (threads 4..6)
    int64_t tail = head + 4 * n4;
    int k = (int)threadIdx.x;
    if (k < head) s += row[k];
    else if (k >= 4 && tail + (k - 4) < t) s += row[tail + (k - 4)];
  }
  s = block_sum<kThreads>(s);
  if (threadIdx.x == 0) {
    if constexpr (kPartial) em__sum_partials[blockIdx.x] = s;
    else z[r] = s;
  }
}

// The second pass of split rows: block r adds row r's partials, 4 accumulators per thread.
__global__ void __launch_bounds__(kPassThreads) sum_partials_kernel(float *__restrict__ z, unsigned chunks) {
  const float *p = em__sum_partials + (size_t)blockIdx.x * chunks;
  float a[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (unsigned i = threadIdx.x; i < chunks; i += 4 * kPassThreads) {
#pragma unroll
    for (int u = 0; u < 4; ++u)
      if (i + u * kPassThreads < chunks) a[u] += p[i + u * kPassThreads];
  }
  float s = block_sum<kPassThreads>((a[0] + a[2]) + (a[1] + a[3]));
  if (threadIdx.x == 0) z[blockIdx.x] = s;
}

static int launch_error(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

extern "C" int em_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  if (b <= 0) return EM_OK;
  if (t <= 0) { // empty rows sum to zero
    cudaError_t e = cudaMemsetAsync(z, 0, (size_t)b * sizeof(float));
    return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "cudaMemsetAsync: %s", cudaGetErrorString(e));
  }
  if (b > INT32_MAX) return em__fail(EM_EINVAL, "em_sum_cuda: b = %lld rows is more than 2^31 - 1", (long long)b);
  if (t <= kShortMax) {
    sum_short_kernel<<<(unsigned)((b + kThreads - 1) / kThreads), kThreads>>>(x, z, b, (int)t);
    return launch_error("sum_short_kernel");
  }
  if (t <= kWarpMax) {
    const int rows_per_block = kThreads / 32;
    sum_warp_kernel<<<(unsigned)((b + rows_per_block - 1) / rows_per_block), kThreads>>>(x, z, b, (int)t);
    return launch_error("sum_warp_kernel");
  }
  // Chunks per row from the longest body a row can have (t / 4 float4; a row with a head has one
  // fewer, and its last chunk may then be empty, which adds zero).
  int64_t n4 = t / 4;
  int64_t chunks = (n4 + kChunk4 - 1) / kChunk4, chunk4 = kChunk4;
  if (b * chunks > EM_SUM_SCRATCH) { // more than 4 GiB of input: fewer, longer chunks
    chunks = EM_SUM_SCRATCH / b > 1 ? EM_SUM_SCRATCH / b : 1;
    const int64_t step = (int64_t)kThreads * kUnroll;
    chunk4 = ((n4 + chunks - 1) / chunks + step - 1) / step * step;
  }
  if (b * chunks > INT32_MAX) return em__fail(EM_EINVAL, "em_sum_cuda: %lld blocks are too many", (long long)(b * chunks));
  if (chunks == 1) {
    sum_chunk_kernel<false><<<(unsigned)b, kThreads>>>(x, z, t, 1u, chunk4);
    return launch_error("sum_chunk_kernel");
  }
  sum_chunk_kernel<true><<<(unsigned)(b * chunks), kThreads>>>(x, z, t, (unsigned)chunks, chunk4);
  int err = launch_error("sum_chunk_kernel");
  if (err != EM_OK) return err;
  sum_partials_kernel<<<(unsigned)b, kPassThreads>>>(z, (unsigned)chunks);
  return launch_error("sum_partials_kernel");
}
