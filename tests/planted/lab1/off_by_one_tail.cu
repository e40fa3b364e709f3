// Planted bug (lab 1, CUDA): the bounds guard is `i < n - 1`, so the last element of z is never
// written, in both parts (nothing at all for n = 1).
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"

__global__ void add_kernel(const float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n - 1) z[i] = x[i] + c;
}

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  add_kernel<<<1, (unsigned)((n + 31) / 32 * 32)>>>(x, c, z, n);
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  add_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, c, z, n);
}
