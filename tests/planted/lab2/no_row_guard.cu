// Planted bug (lab 2, CUDA): part (a) launches a full 32 x 32 block and guards only the column
// (j < n), not the row: the threads of rows m..31 write z[i * n + j] past the end of z (at most
// 31 x 32 = 992 elements beyond it, inside the checker's guard). Every element of z is right; the
// guard after z must catch the stray writes. Part (b) is right; the tests run part (a) only.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/outer_add.h"

__global__ void outer_add_column_guard_only(const float *x, const float *y, float *z, int64_t n) {
  int64_t j = threadIdx.x, i = threadIdx.y;
  if (j < n) z[i * n + j] = x[j] + y[i];
}

__global__ void outer_add_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (int64_t i = (int64_t)blockIdx.y * blockDim.y + threadIdx.y; i < m; i += (int64_t)gridDim.y * blockDim.y)
    if (j < n) z[i * n + j] = x[j] + y[i];
}

void lab2_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)m;
  outer_add_column_guard_only<<<1, dim3(EM_OUTER_ADD_BLOCK, EM_OUTER_ADD_BLOCK)>>>(x, y, z, n);
}

void lab2_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t gy = (m + 7) / 8;
  dim3 grid((unsigned)((n + 31) / 32), (unsigned)(gy < 65535 ? gy : 65535));
  outer_add_kernel<<<grid, dim3(32, 8)>>>(x, y, z, m, n);
}
