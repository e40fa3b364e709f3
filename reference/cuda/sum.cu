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

// The kernels and their launch constants (kShortMax, kWarpMax, kThreads, kUnroll, kChunk4, ...),
// shared with bench/sum.cu.
#include "sum_kernels.cuh"

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
