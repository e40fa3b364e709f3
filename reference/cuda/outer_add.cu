// Lab 2 reference, CUDA: z[i][j] = x[j] + y[i].
//
// 4 bytes written per element of z for one FLOP; x and y are a rounding error of the traffic
// (n + m floats against m·n). Memory-bound on every GPU, and almost pure writes: fast means the
// stores reach DRAM at the copy bandwidth. The design:
//   - a block owns a tile of rows × columns of z; threadIdx.x runs along a row (the contiguous
//     direction), so a warp's store covers 32 neighbouring float4s, 512 contiguous bytes;
//   - 16-byte stores (float4) when n % 4 == 0 and x and z are 16-byte aligned: then every row starts
//     16-byte aligned too. Otherwise (a row of n % 4 != 0 floats starts at any 4-byte offset) a
//     scalar kernel with the same tiling; a warp still writes 128 contiguous bytes per store;
//   - each thread loads its float4 of x once and writes it to kRows rows, so x is read from L2 once
//     per kRows rows, and the block's y values are broadcast loads (one address per warp);
//   - for narrow rows (n / 4 < 32 float4s) the block is narrower and taller, so a warp still covers
//     whole rows instead of idling most of its lanes (n = 4: 32 rows of 16 bytes, 512 contiguous
//     bytes again);
//   - gridDim.y is at most 65535: when m needs more row tiles than that, the grid steps down z
//     (a grid-stride loop over rows); gridDim.x (up to 2^31 - 1) covers the columns.
// bench/outer_add.cu times the variants side by side: one float4 per thread, 2/4/8 rows per
// thread, streaming stores, other block shapes, the scalar kernel on ragged n, cudaMemset's write
// bandwidth.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/outer_add.h"

// The kernels and their launch constants (kThreads, kRows, kMaxGridY), shared with
// bench/outer_add.cu.
#include "outer_add_kernels.cuh"

static int launch_error(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

extern "C" int em_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return EM_OK;
  if (m > EM_OUTER_ADD_BLOCK || n > EM_OUTER_ADD_BLOCK)
    return em__fail(EM_EINVAL, "em_outer_add_a_cuda: m = %lld, n = %lld is more than one block (%d x %d)",
                    (long long)m, (long long)n, EM_OUTER_ADD_BLOCK, EM_OUTER_ADD_BLOCK);
  // A whole warp along the row (n rounded up to 32), one warp per row: at most 32 x 32 = 1024.
  outer_add_block_kernel<<<dim3(1, 1), dim3(32, (unsigned)m)>>>(x, y, z, (int)m, (int)n);
  return launch_error("outer_add_block_kernel");
}

// Launches the tile kernel over m rows of n elements of T.
template <typename T>
static int launch_tiles(const T *x, const float *y, T *z, int64_t m, int64_t n, const char *name) {
  // The narrowest power of two of columns that covers a row, 32 at most (a warp): rows of 1-31
  // columns then share a warp (they are contiguous in z), instead of idling most of its lanes.
  int bx = 32;
  while (bx > 1 && bx / 2 >= n) bx /= 2;
  int by = kThreads / bx;
  int64_t col_blocks = (n + bx - 1) / bx;
  if (col_blocks > 0x7fffffff)
    return em__fail(EM_EINVAL, "em_outer_add_b_cuda: n = %lld is too long for one grid row", (long long)n);
  int64_t tile_rows = (int64_t)by * kRows;
  int64_t row_blocks = (m + tile_rows - 1) / tile_rows;
  if (row_blocks > kMaxGridY) row_blocks = kMaxGridY;  // the kernel's loop does the rest
  outer_add_tile_kernel<T><<<dim3((unsigned)col_blocks, (unsigned)row_blocks), dim3(bx, by)>>>(x, y, z, m, n);
  return launch_error(name);
}

extern "C" int em_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return EM_OK;
  if (n % 4 == 0 && (((uintptr_t)x | (uintptr_t)z) & 15) == 0)
    return launch_tiles((const float4 *)x, y, (float4 *)z, m, n / 4, "outer_add_tile_kernel<float4>");
  return launch_tiles(x, y, z, m, n, "outer_add_tile_kernel<float>");
}
