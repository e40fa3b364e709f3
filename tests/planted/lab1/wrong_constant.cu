// Planted bug (lab 1, CUDA): every element written with the wrong value: part (a) adds c twice,
// part (b) adds 1.0f instead of c.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"

__global__ void add_twice_kernel(const float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c + c;
}

__global__ void add_one_kernel(const float *x, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + 1.0f;
}

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  add_twice_kernel<<<1, (unsigned)((n + 31) / 32 * 32)>>>(x, c, z, n);
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  (void)c;
  add_one_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, z, n);
}
