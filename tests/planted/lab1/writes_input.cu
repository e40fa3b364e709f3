// Planted bug (lab 1, CUDA): part (b) updates x in place, then copies it to z: z is right, the
// input is destroyed. Part (a) is right.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"

__global__ void add_kernel(const float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}

__global__ void add_in_place_kernel(float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    x[i] += c;
    z[i] = x[i];
  }
}

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  add_kernel<<<1, (unsigned)((n + 31) / 32 * 32)>>>(x, c, z, n);
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  add_in_place_kernel<<<(unsigned)((n + 255) / 256), 256>>>((float *)x, c, z, n);
}
