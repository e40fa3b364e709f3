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

static int launch_error(const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "%s: %s", what, cudaGetErrorString(e));
}

// version 1: part (a), one block; thread (j, i) = (threadIdx.x, threadIdx.y) writes z[i][j].
__global__ void outer_add_block_kernel(const float *__restrict__ x, const float *__restrict__ y,
                                       float *__restrict__ z, int m, int n) {
  int j = threadIdx.x, i = threadIdx.y;
  if (i < m && j < n) z[i * n + j] = x[j] + y[i];
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

// version 2: part (b), a tile of (blockDim.y * kRows) rows x blockDim.x columns per block; each
// thread one column (a float4 of them, or a float) and kRows rows, blockDim.y rows apart, so that
// at each step the block's warps write blockDim.y neighbouring rows.
static const int kThreads = 256;  // 8 warps: the SM holds 8 such blocks, 64 warps, its maximum
static const int kRows = 4;       // rows per thread: x read once per 4 rows; see bench/outer_add.cu
static const int kMaxGridY = 65535;

template <typename T>
__device__ __forceinline__ T add_scalar(T v, float s);
template <>
__device__ __forceinline__ float add_scalar<float>(float v, float s) { return v + s; }
template <>
__device__ __forceinline__ float4 add_scalar<float4>(float4 v, float s) {
  return make_float4(v.x + s, v.y + s, v.z + s, v.w + s);
}

// T = float4: x and z seen as float4 arrays, n = the row length in float4s; T = float: as is.
template <typename T>
__global__ void __launch_bounds__(kThreads) outer_add_tile_kernel(const T *__restrict__ x, const float *__restrict__ y,
                                                                  T *__restrict__ z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  const T xj = x[j];
  const int64_t tile_rows = (int64_t)blockDim.y * kRows;
  for (int64_t i0 = (int64_t)blockIdx.y * tile_rows + threadIdx.y; i0 < m; i0 += (int64_t)gridDim.y * tile_rows) {
    // All the row loads first, then all the stores: kRows independent loads in flight at once.
    float yv[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      int64_t i = i0 + (int64_t)r * blockDim.y;
      yv[r] = i < m ? y[i] : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      int64_t i = i0 + (int64_t)r * blockDim.y;
      if (i < m) z[i * n + j] = add_scalar(xj, yv[r]);
    }
  }
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
