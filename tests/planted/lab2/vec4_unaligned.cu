// Planted bug (lab 2, CUDA): part (b) writes each row with float4 stores, n / 4 of them plus a
// scalar tail for the last n % 4 columns, but never asks whether the row START is 16-byte aligned.
// Row i starts at z + i * n, which is 16-byte aligned only when n % 4 == 0: for n = 31 the float4
// store of row 1 hits a misaligned address, a CUDA error that leaves the context unusable. Right
// whenever n % 4 == 0 (and for n < 4, where there are no float4s). Part (a) is right.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/outer_add.h"

__global__ void outer_add_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t i = (int64_t)blockIdx.y * blockDim.y + threadIdx.y;
  if (i < m && j < n) z[i * n + j] = x[j] + y[i];
}

// One thread per float4 of a row (j4 < n / 4), and the threads j4 == n / 4 write the tail.
__global__ void outer_add_vec4(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j4 = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (int64_t i = (int64_t)blockIdx.y * blockDim.y + threadIdx.y; i < m; i += (int64_t)gridDim.y * blockDim.y) {
    float yi = y[i];
    float *row = z + i * n;
    if (j4 < n / 4) {
      const float *xs = x + 4 * j4;
      reinterpret_cast<float4 *>(row)[j4] = make_float4(xs[0] + yi, xs[1] + yi, xs[2] + yi, xs[3] + yi);
    } else if (j4 == n / 4) {
      for (int64_t j = 4 * j4; j < n; ++j) row[j] = x[j] + yi;
    }
  }
}

void lab2_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add_kernel<<<1, dim3(32, (unsigned)m)>>>(x, y, z, m, n);
}

void lab2_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t gx = (n / 4 + 1 + 31) / 32, gy = (m + 7) / 8;
  dim3 grid((unsigned)gx, (unsigned)(gy < 65535 ? gy : 65535));
  outer_add_vec4<<<grid, dim3(32, 8)>>>(x, y, z, m, n);
}
