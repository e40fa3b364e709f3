// Lab 3 reference kernel, CUDA: z[i][j] = max(x[j] * y[i], 0). Why it is as it is:
// reference/cuda/relu_mul.cu, whose launcher includes this header; bench/relu_mul.cu includes it
// too, so that the bench times the kernel that ships, not a copy of it that may have drifted.
// Everything is static or a template: each program that includes the header gets its own copy,
// and none links against another's.
#ifndef EM_REFERENCE_CUDA_RELU_MUL_KERNELS_CUH
#define EM_REFERENCE_CUDA_RELU_MUL_KERNELS_CUH

#include <cuda_runtime.h>
#include <stdint.h>

static const int kThreads = 256;   // 8 warps: the SM holds 8 such blocks, 64 warps, its maximum
static const int kRows = 4;        // rows per thread: x loaded once per 4 stores
static const int kMaxGridY = 65535;  // CUDA's limit on gridDim.y

static __device__ __forceinline__ float relu_scale(float x, float y) { return fmaxf(x * y, 0.0f); }

static __device__ __forceinline__ float4 relu_scale(float4 x, float y) {
  return make_float4(relu_scale(x.x, y), relu_scale(x.y, y), relu_scale(x.z, y), relu_scale(x.w, y));
}

// A tile: blockDim.x columns (of V: float or float4) by blockDim.y * kRows rows. Thread (tx, ty)
// owns column j of every row i = tile * blockDim.y * kRows + ty + r * blockDim.y, r < kRows: the
// rows of one step of r are adjacent, so a block writes blockDim.y whole row segments at a time.
template <typename V>
__global__ void __launch_bounds__(kThreads)
    relu_mul_tile(const V *__restrict__ x, const float *__restrict__ y, V *__restrict__ z, int64_t m,
                  int64_t cols, int64_t row_tiles) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  V xv = x[j];
  int64_t tile_rows = (int64_t)blockDim.y * kRows;
  for (int64_t tile = blockIdx.y; tile < row_tiles; tile += gridDim.y) {
    int64_t i = tile * tile_rows + threadIdx.y;
#pragma unroll
    for (int r = 0; r < kRows; ++r, i += blockDim.y)
      if (i < m) z[i * cols + j] = relu_scale(xv, y[i]);
  }
}

#endif  // EM_REFERENCE_CUDA_RELU_MUL_KERNELS_CUH
