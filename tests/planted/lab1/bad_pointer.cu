// Planted bug (lab 1, CUDA): part (a) hands its kernel a null output pointer (as a student who
// launches with a variable never set to the device buffer): every store is an illegal address,
// an error that leaves the CUDA context unusable. Part (b) is right, but cannot run after it.
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "em/add.h"

__global__ void add_kernel(const float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}

static float *output_buffer; // never set: NULL

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  (void)z;
  add_kernel<<<1, (unsigned)((n + 31) / 32 * 32)>>>(x, c, output_buffer, n);
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  add_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, c, z, n);
}
