// Lab 6 reference, CUDA: row softmax, z = exp(x − max) / Σ exp(x − max).
//
// 8 bytes per element (x read, z written) and a handful of FLOPs: memory-bound, so the goal is to
// read x once and write z once at the DRAM's pace. That is possible while a row fits on chip:
//   - t ≤ 32: a group of t rounded up to a power of 2 lanes per row, several rows per warp;
//   - t ≤ 1024: one warp per row, each lane holding up to 32 values in registers; the max and
//     the sum are warp shuffles, no shared memory, no __syncthreads;
//   - t ≤ 32768 (EM_SOFTMAX_ONCHIP): one block per row, T = t/32 rounded up to a power of 2 threads
//     (64..1024), each holding 32 values in registers, read as float4 where rows are 16-byte
//     aligned. Two block reductions (max, then sum) of a warp shuffle, one __syncthreads and a
//     shuffle each. The exps are computed once, kept in the registers, and scaled by 1/sum.
//   - longer rows do not fit (a 2^20 row is 4 MiB; an SM has 256 KiB of registers and 228 KiB of
//     shared memory), so x is read twice, 12 bytes per element, at best 8/12 = 67% of the copy
//     bandwidth by the lab's 8-byte count: a first kernel reduces chunks of 8192 elements to
//     (max, sum) pairs, a one-warp-per-row kernel merges them per row (online rule), and a third
//     reads x again and writes z. It walks the chunks in reverse, so it starts on those the first
//     kernel read last, which may still be in the 60 MB L2.
// exp is __expf: exp2 of x·log2(e) in one MUFU instruction. Its error grows with |x| (specified as
// 2 + 1.173·|x| ulp), but for softmax that is no worse than the rounding of the argument x − m
// itself, which every float32 implementation has: the checker's tolerance says why
// (harness/specs/softmax.c), and bench/softmax.cu times the alternatives.
// Sums: each thread adds its 32 values in 4 interleaved partial sums (8 deep), then the shuffle
// tree; chunk sums merge in double. Every reduction gives all threads the same bits.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/error.h"
#include "em/softmax.h"

namespace {

const int kGroupThreads = 128;   // block size of the group kernel: 4 warps
const int kValues = 32;          // values per thread held in registers (V)
const int kChunkThreads = 256;   // 8 warps; with 32 values each, ~50 registers: 4 blocks per SM
const int kChunk = kChunkThreads * kValues;  // 8192 elements per chunk of a long row

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
__device__ __forceinline__ float block_max(float v, float *red) {
  v = group_max<32>(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < (int)blockDim.x / 32 ? red[lane] : -INFINITY;
  return group_max<32>(v);
}

__device__ __forceinline__ float block_sum(float v, float *red) {
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
template <int V>
__device__ __forceinline__ float exp_and_sum(float (&v)[V], float m) {
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
  for (int k = 0; k < V; ++k) {
    v[k] = __expf(v[k] - m);
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

// version 2: 1024 < t ≤ 32768. One block per row, blockDim.x·V ≥ t.
template <int V, bool VEC>
__global__ void __launch_bounds__(1024) softmax_block_kernel(const float *__restrict__ x, float *__restrict__ z, int t) {
  __shared__ float red_max[32], red_sum[32];
  const int64_t row = blockIdx.x;
  float v[V];
  load_values<V, VEC>(x + row * t, t, threadIdx.x, blockDim.x, v);
  const float m = block_max(thread_max(v), red_max);  // finite: a row is never all −inf
  const float s = block_sum(exp_and_sum(v, m), red_sum);
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
__global__ void softmax_combine_kernel(const float2 *__restrict__ stats, float2 *__restrict__ rowstat, int64_t b,
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

// version 3c: z = exp(x − M)·(1/S), a chunk per block, chunks in reverse order of 3a.
template <bool VEC>
__global__ void __launch_bounds__(kChunkThreads)
    softmax_chunk_write_kernel(const float *__restrict__ x, float *__restrict__ z, const float2 *__restrict__ rowstat,
                               int64_t t, int nchunks, int64_t nblocks) {
  const int64_t blk = nblocks - 1 - blockIdx.x, row = blk / nchunks;
  const int64_t start = (blk % nchunks) * (int64_t)kChunk;
  const int len = (int)(t - start < kChunk ? t - start : kChunk);
  const float2 st = rowstat[row];
  float v[kValues];
  load_values<kValues, VEC>(x + row * t + start, len, threadIdx.x, kChunkThreads, v);
#pragma unroll
  for (int k = 0; k < kValues; ++k) v[k] = __expf(v[k] - st.x);
  store_values<kValues, VEC>(z + row * t + start, len, threadIdx.x, kChunkThreads, v, st.y);
}

int launch_error(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

// Device scratch for the chunk statistics, kept between calls and grown when a call needs more.
void *g_scratch = nullptr;
size_t g_scratch_bytes = 0;

int scratch(size_t bytes, void **out) {
  if (bytes > g_scratch_bytes) {
    if (g_scratch) cudaFree(g_scratch);  // synchronises: no kernel still uses it
    g_scratch = nullptr;
    g_scratch_bytes = 0;
    cudaError_t e = cudaMalloc(&g_scratch, bytes);
    if (e != cudaSuccess) {
      g_scratch = nullptr;
      return em__fail(EM_ENOMEM, "em_softmax_cuda: cudaMalloc(%zu bytes) for the chunk statistics: %s", bytes,
                      cudaGetErrorString(e));
    }
    g_scratch_bytes = bytes;
  }
  *out = g_scratch;
  return EM_OK;
}

template <int G, int V>
int launch_group(const float *x, float *z, int64_t b, int t) {
  const int64_t blocks = (b * G + kGroupThreads - 1) / kGroupThreads;
  softmax_group_kernel<G, V><<<(unsigned)blocks, kGroupThreads>>>(x, z, b, t);
  return launch_error("softmax_group_kernel");
}

int next_pow2(int64_t n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

}  // namespace

extern "C" int em_softmax_cuda(const float *x, float *z, int64_t b, int64_t t) {
  if (b <= 0 || t <= 0) return EM_OK;
  if (b > INT32_MAX) return em__fail(EM_EINVAL, "em_softmax_cuda: b = %lld rows is more than a grid holds", (long long)b);
  // float4 accesses need every row to start on 16 bytes.
  const bool vec = t % 4 == 0 && (((uintptr_t)x | (uintptr_t)z) & 15) == 0;

  if (t <= 32) {
    switch (next_pow2(t)) {
      case 1: return launch_group<1, 1>(x, z, b, (int)t);
      case 2: return launch_group<2, 1>(x, z, b, (int)t);
      case 4: return launch_group<4, 1>(x, z, b, (int)t);
      case 8: return launch_group<8, 1>(x, z, b, (int)t);
      case 16: return launch_group<16, 1>(x, z, b, (int)t);
      default: return launch_group<32, 1>(x, z, b, (int)t);
    }
  }
  if (t <= 1024) {
    switch (next_pow2((t + 31) / 32)) {
      case 2: return launch_group<32, 2>(x, z, b, (int)t);
      case 4: return launch_group<32, 4>(x, z, b, (int)t);
      case 8: return launch_group<32, 8>(x, z, b, (int)t);
      case 16: return launch_group<32, 16>(x, z, b, (int)t);
      default: return launch_group<32, 32>(x, z, b, (int)t);
    }
  }
  if (t <= EM_SOFTMAX_ONCHIP) {
    int threads = next_pow2((t + kValues - 1) / kValues);
    if (threads < 64) threads = 64;  // 1024 < t: at least 33 values' worth; whole warps
    if (vec) softmax_block_kernel<kValues, true><<<(unsigned)b, threads>>>(x, z, (int)t);
    else softmax_block_kernel<kValues, false><<<(unsigned)b, threads>>>(x, z, (int)t);
    return launch_error("softmax_block_kernel");
  }

  const int64_t nchunks = (t + kChunk - 1) / kChunk;
  const int64_t nblocks = b * nchunks;
  if (nblocks > INT32_MAX)
    return em__fail(EM_EINVAL, "em_softmax_cuda: %lld chunks of %d is more than a grid holds", (long long)nblocks, kChunk);
  void *buf = nullptr;
  int err = scratch((size_t)(nblocks + b) * sizeof(float2), &buf);
  if (err != EM_OK) return err;
  float2 *stats = (float2 *)buf, *rowstat = stats + nblocks;

  if (vec) softmax_chunk_stats_kernel<true><<<(unsigned)nblocks, kChunkThreads>>>(x, stats, t, (int)nchunks);
  else softmax_chunk_stats_kernel<false><<<(unsigned)nblocks, kChunkThreads>>>(x, stats, t, (int)nchunks);
  if ((err = launch_error("softmax_chunk_stats_kernel")) != EM_OK) return err;
  const int warps_per_block = 8;
  softmax_combine_kernel<<<(unsigned)((b + warps_per_block - 1) / warps_per_block), 32 * warps_per_block>>>(
      stats, rowstat, b, (int)nchunks);
  if ((err = launch_error("softmax_combine_kernel")) != EM_OK) return err;
  if (vec) softmax_chunk_write_kernel<true><<<(unsigned)nblocks, kChunkThreads>>>(x, z, rowstat, t, (int)nchunks, nblocks);
  else softmax_chunk_write_kernel<false><<<(unsigned)nblocks, kChunkThreads>>>(x, z, rowstat, t, (int)nchunks, nblocks);
  return launch_error("softmax_chunk_write_kernel");
}
