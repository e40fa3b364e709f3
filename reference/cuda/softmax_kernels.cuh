// Lab 6 reference kernels, CUDA: row softmax, z = exp(x − max) / Σ exp(x − max). Why they are as
// they are: reference/cuda/softmax.cu, whose launcher includes this header; bench/softmax.cu
// includes it too, so that the bench times the kernels that ship (and some of its variants are
// these kernels with other template arguments), not copies of them that may have drifted.
// Everything is static or a template: each program that includes the header gets its own copy,
// and none links against another's.
#ifndef EM_REFERENCE_CUDA_SOFTMAX_KERNELS_CUH
#define EM_REFERENCE_CUDA_SOFTMAX_KERNELS_CUH

#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

static const int kGroupThreads = 128;   // block size of the group kernel: 4 warps
static const int kValues = 32;          // values per thread held in registers (V)
static const int kChunkThreads = 256;   // 8 warps; with 32 values each, ~50 registers: 4 blocks per SM
static const int kChunk = kChunkThreads * kValues;  // 8192 elements per chunk of a long row

template <int G>
__device__ __forceinline__ float group_max(float v) {
#pragma unroll
  for (int o = G / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o, G));
  return v;
}

template <int G>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int o = G / 2; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o, G);
  return v;
}

// The block's max (sum) in every thread. blockDim.x is a multiple of 32; red is __shared__ float[32],
// one array per reduction of a block (reused, it would need a second __syncthreads).
static __device__ __forceinline__ float block_max(float v, float *red) {
  v = group_max<32>(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < (int)blockDim.x / 32 ? red[lane] : -INFINITY;
  return group_max<32>(v);
}

static __device__ __forceinline__ float block_sum(float v, float *red) {
  v = group_sum<32>(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < (int)blockDim.x / 32 ? red[lane] : 0.0f;
  return group_sum<32>(v);
}

// Values held by one thread: the slots past the row's end (or chunk's) hold −inf, whose exp is 0.
template <int V, bool VEC>
__device__ __forceinline__ void load_values(const float *__restrict__ src, int len, int tid, int nthreads, float (&v)[V]) {
  if (VEC) {
    const float4 *src4 = reinterpret_cast<const float4 *>(src);
#pragma unroll
    for (int q = 0; q < V / 4; ++q) {
      const int i4 = q * nthreads + tid;
      float4 f = i4 * 4 < len ? src4[i4] : make_float4(-INFINITY, -INFINITY, -INFINITY, -INFINITY);
      v[4 * q] = f.x, v[4 * q + 1] = f.y, v[4 * q + 2] = f.z, v[4 * q + 3] = f.w;
    }
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int j = k * nthreads + tid;
      v[k] = j < len ? src[j] : -INFINITY;
    }
  }
}

template <int V, bool VEC>
__device__ __forceinline__ void store_values(float *__restrict__ dst, int len, int tid, int nthreads, const float (&v)[V],
                                             float scale) {
  if (VEC) {
    float4 *dst4 = reinterpret_cast<float4 *>(dst);
#pragma unroll
    for (int q = 0; q < V / 4; ++q) {
      const int i4 = q * nthreads + tid;
      if (i4 * 4 < len)
        dst4[i4] = make_float4(v[4 * q] * scale, v[4 * q + 1] * scale, v[4 * q + 2] * scale, v[4 * q + 3] * scale);
    }
  } else {
#pragma unroll
    for (int k = 0; k < V; ++k) {
      const int j = k * nthreads + tid;
      if (j < len) dst[j] = v[k] * scale;
    }
  }
}

// v ← exp(v − m), and their sum over this thread: 4 interleaved partial sums keep the additions
// a term goes through to V/4 + 2. m is finite (or the caller skips the call).
// FAST: __expf, which ships; false (expf, accurate and slower) is there for bench/softmax.cu.
template <int V, bool FAST = true>
__device__ __forceinline__ float exp_and_sum(float (&v)[V], float m) {
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
  for (int k = 0; k < V; ++k) {
    v[k] = FAST ? __expf(v[k] - m) : expf(v[k] - m);
    acc[k % 4] += v[k];
  }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

template <int V>
__device__ __forceinline__ float thread_max(const float (&v)[V]) {
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < V; ++k) m = fmaxf(m, v[k]);
  return m;
}

// version 1: t ≤ 1024. G lanes per row (a power of 2 ≥ t up to 32), V values per lane: element j
// of a row is lane j % G's value j / G, so a warp's loads are contiguous.
template <int G, int V>
__global__ void __launch_bounds__(kGroupThreads)
    softmax_group_kernel(const float *__restrict__ x, float *__restrict__ z, int64_t b, int t) {
  const int64_t row = ((int64_t)blockIdx.x * kGroupThreads + threadIdx.x) / G;
  const int lane = threadIdx.x % G;
  const bool live = row < b;  // the last block's tail: no early return, every lane must shuffle
  const int len = live ? t : 0;
  float v[V];
  load_values<V, false>(x + (live ? row : 0) * t, len, lane, G, v);
  float m = group_max<G>(thread_max(v));
  if (!live) m = 0.0f;  // all −inf: keep the arithmetic below free of NaN
  float s = group_sum<G>(exp_and_sum(v, m));
  if (live) store_values<V, false>(z + row * t, len, lane, G, v, 1.0f / s);
}

// version 2: 1024 < t ≤ 32768. One block per row, blockDim.x·V ≥ t. The library launches
// <kValues, VEC>; bench/softmax.cu times other V (threads × V = the row) and FAST = false.
template <int V, bool VEC, bool FAST = true>
__global__ void __launch_bounds__(1024) softmax_block_kernel(const float *__restrict__ x, float *__restrict__ z, int t) {
  __shared__ float red_max[32], red_sum[32];
  const int64_t row = blockIdx.x;
  float v[V];
  load_values<V, VEC>(x + row * t, t, threadIdx.x, blockDim.x, v);
  const float m = block_max(thread_max(v), red_max);  // finite: a row is never all −inf
  const float s = block_sum(exp_and_sum<V, FAST>(v, m), red_sum);
  store_values<V, VEC>(z + row * t, t, threadIdx.x, blockDim.x, v, 1.0f / s);
}

// version 3a: t > 32768. Block c of row i reduces chunk c (kChunk elements) to (max, sum of
// exp(x − max)); a chunk of nothing but −inf gives (−inf, 0).
template <bool VEC>
__global__ void __launch_bounds__(kChunkThreads)
    softmax_chunk_stats_kernel(const float *__restrict__ x, float2 *__restrict__ stats, int64_t t, int nchunks) {
  __shared__ float red_max[32], red_sum[32];
  const int64_t blk = blockIdx.x, row = blk / nchunks;
  const int64_t start = (blk % nchunks) * (int64_t)kChunk;
  const int len = (int)(t - start < kChunk ? t - start : kChunk);
  float v[kValues];
  load_values<kValues, VEC>(x + row * t + start, len, threadIdx.x, kChunkThreads, v);
  const float m = block_max(thread_max(v), red_max);
  float s = 0.0f;
  if (m != -INFINITY) s = block_sum(exp_and_sum(v, m), red_sum);  // uniform branch: m is the block's
  if (threadIdx.x == 0) stats[blk] = make_float2(m, s);
}

// version 3b: one warp per row merges its chunks: M = max m_c, S = Σ s_c·exp(m_c − M) in double
// (accurate expf here: a few calls per row). Writes (M, 1/S).
static __global__ void softmax_combine_kernel(const float2 *__restrict__ stats, float2 *__restrict__ rowstat, int64_t b,
                                       int nchunks) {
  const int64_t row = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (row >= b) return;  // the whole warp: row is the same for its 32 lanes
  const float2 *st = stats + row * nchunks;
  float m = -INFINITY;
  for (int c = lane; c < nchunks; c += 32) m = fmaxf(m, st[c].x);
  m = group_max<32>(m);
  double s = 0.0;
  for (int c = lane; c < nchunks; c += 32)
    if (st[c].x != -INFINITY) s += (double)st[c].y * (double)expf(st[c].x - m);
#pragma unroll
  for (int o = 16; o > 0; o /= 2) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) rowstat[row] = make_float2(m, (float)(1.0 / s));
}

// version 3c: z = exp(x − M)·(1/S), a chunk per block, chunks in reverse order of 3a (REV, which
// ships; bench/softmax.cu times the forward order against it).
template <bool VEC, bool REV = true>
__global__ void __launch_bounds__(kChunkThreads)
    softmax_chunk_write_kernel(const float *__restrict__ x, float *__restrict__ z, const float2 *__restrict__ rowstat,
                               int64_t t, int nchunks, int64_t nblocks) {
  const int64_t blk = REV ? nblocks - 1 - blockIdx.x : (int64_t)blockIdx.x, row = blk / nchunks;
  const int64_t start = (blk % nchunks) * (int64_t)kChunk;
  const int len = (int)(t - start < kChunk ? t - start : kChunk);
  const float2 st = rowstat[row];
  float v[kValues];
  load_values<kValues, VEC>(x + row * t + start, len, threadIdx.x, kChunkThreads, v);
#pragma unroll
  for (int k = 0; k < kValues; ++k) v[k] = __expf(v[k] - st.x);
  store_values<kValues, VEC>(z + row * t + start, len, threadIdx.x, kChunkThreads, v, st.y);
}

#endif  // EM_REFERENCE_CUDA_SOFTMAX_KERNELS_CUH
