// Lab 5 reference kernels, CUDA: z[i] = sum_j x[i][j]. Why they are as they are: reference/cuda/sum.cu,
// whose launcher includes this header; bench/sum.cu includes it too, so that the bench times the
// kernels that ship, not copies of them that may have drifted.
// Everything is static or a template: each program that includes the header gets its own copy
// (of em__sum_partials too), and none links against another's. [[maybe_unused]]: the bench
// launches only some of them.
#ifndef EM_REFERENCE_CUDA_SUM_KERNELS_CUH
#define EM_REFERENCE_CUDA_SUM_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

static const int kShortMax = 32;  // t <= 32: a thread per row (32 registers of row)
[[maybe_unused]] static const int kWarpMax = 1024; // t <= 1024: a warp per row (chains of at most 1024/128 = 8)
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

static __device__ float em__sum_partials[EM_SUM_SCRATCH];

static __device__ __forceinline__ float warp_sum(float s) {
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

static __device__ __forceinline__ float4 add4(float4 a, float4 b) {
  return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

// version 1: t <= 32, a thread per row, a pairwise tree in registers.
[[maybe_unused]] static __global__ void __launch_bounds__(kThreads)
    sum_short_kernel(const float *__restrict__ x, float *__restrict__ z, int64_t b, int t) {
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
[[maybe_unused]] static __global__ void __launch_bounds__(kThreads)
    sum_warp_kernel(const float *__restrict__ x, float *__restrict__ z, int64_t b, int t) {
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

// This thread's share of body[lo, hi), summed by a block of T threads: U accumulators, loaded U at a
// time (all loads first: U requests in flight), element lo + threadIdx.x + j·T going to acc[j % U].
// The library's chunk kernel sums with T = kThreads, U = kUnroll; bench/sum.cu's variants with
// others.
template <int T, int U>
__device__ __forceinline__ void sum_span(const float4 *__restrict__ body, int64_t lo, int64_t hi, float4 (&acc)[U]) {
#pragma unroll
  for (int u = 0; u < U; ++u) acc[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  for (int64_t i = lo + threadIdx.x; i < hi; i += T * U) {
    float4 v[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      int64_t k = i + (int64_t)u * T;
      v[u] = k < hi ? body[k] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
#pragma unroll
    for (int u = 0; u < U; ++u) acc[u] = add4(acc[u], v[u]);
  }
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
  sum_span<kThreads, kUnroll>(body, lo, hi, acc);
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
static __global__ void __launch_bounds__(kPassThreads) sum_partials_kernel(float *__restrict__ z, unsigned chunks) {
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

#endif  // EM_REFERENCE_CUDA_SUM_KERNELS_CUH
