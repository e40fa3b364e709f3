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

// The kernels and their launch constants (kGroupThreads, kValues, kChunkThreads, kChunk), shared
// with bench/softmax.cu.
#include "softmax_kernels.cuh"

namespace {

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
      cudaGetLastError();  // an allocation failure is not sticky: leave no error for the next launch's check
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
