// Planted bug (lab 2, CUDA): part (b) reuses part (a)'s launch, one block of 32 x 32 threads, so
// only the top-left 32 x 32 tile of z is written. Part (a) is right, and part (b) too for m, n <= 32.
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
  outer_add_kernel<<<1, dim3(EM_OUTER_ADD_BLOCK, EM_OUTER_ADD_BLOCK)>>>(x, y, z, m, n);
}
