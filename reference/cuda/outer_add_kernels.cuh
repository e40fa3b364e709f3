// Lab 2 reference kernels, CUDA: z[i][j] = x[j] + y[i]. Why they are as they are:
// reference/cuda/outer_add.cu, whose launchers include this header; bench/outer_add.cu includes it
// too, so that the bench times the kernel that ships (and its variants are this kernel with other
// template arguments), not a copy of it that may have drifted.
// Everything is static or a template: each program that includes the header gets its own copy,
// and none links against another's. [[maybe_unused]]: the bench does not launch part (a)'s kernel.
#ifndef EM_REFERENCE_CUDA_OUTER_ADD_KERNELS_CUH
#define EM_REFERENCE_CUDA_OUTER_ADD_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

// version 1: part (a), one block; thread (j, i) = (threadIdx.x, threadIdx.y) writes z[i][j].
[[maybe_unused]] static __global__ void outer_add_block_kernel(const float *__restrict__ x,
                                                               const float *__restrict__ y, float *__restrict__ z,
                                                               int m, int n) {
  int j = threadIdx.x, i = threadIdx.y;
  if (i < m && j < n) z[i * n + j] = x[j] + y[i];
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
// The library launches <T> alone: R = kRows rows per thread, plain stores. The other values are
// there for bench/outer_add.cu, which times them against these: R rows per thread, and H, stores
// with the streaming hint (__stcs, evict-first), which did not pay.
template <typename T, int R = kRows, bool H = false>
__global__ void __launch_bounds__(kThreads) outer_add_tile_kernel(const T *__restrict__ x, const float *__restrict__ y,
                                                                  T *__restrict__ z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  const T xj = x[j];
  const int64_t tile_rows = (int64_t)blockDim.y * R;
  for (int64_t i0 = (int64_t)blockIdx.y * tile_rows + threadIdx.y; i0 < m; i0 += (int64_t)gridDim.y * tile_rows) {
    // All the row loads first, then all the stores: R independent loads in flight at once.
    float yv[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      int64_t i = i0 + (int64_t)r * blockDim.y;
      yv[r] = i < m ? y[i] : 0.0f;
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
      int64_t i = i0 + (int64_t)r * blockDim.y;
      if (i < m) {
        if (H) __stcs(z + i * n + j, add_scalar(xj, yv[r]));
        else z[i * n + j] = add_scalar(xj, yv[r]);
      }
    }
  }
}

#endif  // EM_REFERENCE_CUDA_OUTER_ADD_KERNELS_CUH
