// Lab 3 reference, CUDA: z[i][j] = max(x[j] * y[i], 0), fused.
//
// 2 FLOPs per 4-byte element of z, and z is nearly all the traffic: a write stream of m*n floats
// (x and y are read once from DRAM, then from the caches). Memory-bound on every GPU, so fast means
// the DRAM is always busy writing, and lab 1's lessons carry over:
//   - 16-byte stores (float4): a warp writes 512 contiguous bytes per instruction;
//   - simple tiles and a grid that covers the output: a block is 256 threads across a row (tx
//     float4 columns, 1024 floats when the row is that long) by kRows rows, so the block scheduler
//     keeps every SM full (8 resident blocks of 256 threads: 64 warps, the SM's maximum);
//   - each thread loads its float4 of x once and writes it, scaled and clipped, into kRows rows:
//     x is re-read from L1/L2 kRows times less, y[i] is one broadcast load per warp and row;
//   - rows of z start 16-byte aligned only when n % 4 == 0 (and x, z are aligned, as cudaMalloc's
//     pointers are): otherwise the same tile kernel runs on floats instead of float4s;
//   - short rows (fewer than 256 columns) get a block of more rows and fewer columns (tx × ty =
//     256, tx the row length rounded up to a power of two): a warp then writes several whole
//     rows, which lie end to end in memory, so its stores stay contiguous;
//   - gridDim.y is at most 65535: the rows go in tiles of ty * kRows, and the kernel loops over
//     the row tiles beyond the grid (from m = 65535 * 4 + 1 for rows of 256 columns or more);
//   - 64-bit indices everywhere: m * n passes 2^31 at 8 GiB of z.
// bench/relu_mul.cu times the alternatives (rows per thread, threads per block, cache hints, a flat
// 1-D grid, one block per row, the ragged path) side by side on one GPU.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/relu_mul.h"

// The kernel and its launch constants (kThreads, kRows, kMaxGridY), shared with
// bench/relu_mul.cu.
#include "relu_mul_kernels.cuh"

static int launch_error(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

template <typename V>
static int launch_tile(const V *x, const float *y, V *z, int64_t m, int64_t cols, const char *what) {
  // Columns across, rounded up to a power of two: a whole row when it is short, so that a warp
  // spans several adjacent rows of z, which are adjacent in memory too (n = 1: a warp writes 32
  // consecutive floats of a column).
  int tx = 1;
  while (tx < kThreads && tx < cols) tx *= 2;
  int ty = kThreads / tx;
  int64_t tile_rows = (int64_t)ty * kRows;
  int64_t row_tiles = (m + tile_rows - 1) / tile_rows;
  int64_t col_blocks = (cols + tx - 1) / tx;
  // 2^31 - 1 blocks of 256 columns: rows of 5 * 10^11 elements, beyond any GPU's memory.
  if (col_blocks > 0x7fffffff)
    return em__fail(EM_EINVAL, "%s: n = %lld columns is more than one grid can cover", what, (long long)cols);
  dim3 grid((unsigned)col_blocks, (unsigned)(row_tiles < kMaxGridY ? row_tiles : kMaxGridY));
  relu_mul_tile<V><<<grid, dim3(tx, ty)>>>(x, y, z, m, cols, row_tiles);
  return launch_error(what);
}

extern "C" int em_relu_mul_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return EM_OK;
  if (n % 4 == 0 && (((uintptr_t)x | (uintptr_t)z) & 15) == 0)
    return launch_tile((const float4 *)x, y, (float4 *)z, m, n / 4, "relu_mul_tile<float4>");
  return launch_tile(x, y, z, m, n, "relu_mul_tile<float>");
}
