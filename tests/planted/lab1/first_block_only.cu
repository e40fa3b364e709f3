// Planted bug (lab 1, CUDA): part (b) reuses part (a)'s launch, one block of 1024 threads, so only
// the first 1024 elements are written. Part (a) is right, and part (b) too for n <= 1024.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"

__global__ void add_kernel(const float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  add_kernel<<<1, (unsigned)((n + 31) / 32 * 32)>>>(x, c, z, n);
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  add_kernel<<<1, EM_ADD_BLOCK>>>(x, c, z, n);
}
