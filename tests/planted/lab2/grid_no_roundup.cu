// Planted bug (lab 2, CUDA): part (b) rounds the grid UP along the columns but DOWN along the rows,
// gridDim.y = m / 8: the last m % 8 rows get no thread (never written), and for m < 8 the grid is
// empty, which CUDA refuses ("invalid configuration argument"). Part (a) is right.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/outer_add.h"

__global__ void outer_add_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t i = (int64_t)blockIdx.y * blockDim.y + threadIdx.y;
  if (i < m && j < n) z[i * n + j] = x[j] + y[i];
}

void lab2_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add_kernel<<<1, dim3(32, (unsigned)m)>>>(x, y, z, m, n);
}

void lab2_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  dim3 block(32, 8);
  dim3 grid((unsigned)((n + 31) / 32), (unsigned)(m / 8));
  outer_add_kernel<<<grid, block>>>(x, y, z, m, n);
}
