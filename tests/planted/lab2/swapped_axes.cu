// Planted bug (lab 2, CUDA): the axes swapped in the values, z[i][j] = x[i] + y[j], in both parts
// (the launch and the indexing of z are right). When m != n it also reads x and y past their ends:
// the tests run only part (a), where those reads stay within the checker's zeroed guards.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/outer_add.h"

__global__ void outer_add_swapped(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t i = (int64_t)blockIdx.y * blockDim.y + threadIdx.y;
  if (i < m && j < n) z[i * n + j] = x[i] + y[j];
}

void lab2_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add_swapped<<<1, dim3(32, (unsigned)m)>>>(x, y, z, m, n);
}

void lab2_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  dim3 block(32, 8);
  dim3 grid((unsigned)((n + 31) / 32), (unsigned)((m + 7) / 8));
  outer_add_swapped<<<grid, block>>>(x, y, z, m, n);
}
