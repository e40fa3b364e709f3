// Planted bug (lab 5, CUDA): one thread per row with one float accumulator, the CPU's first loop
// moved to the GPU. Besides being slow (b = 1 is one thread for the whole GPU), it has the single
// accumulator's error: on long rows of positive values it grows like the square root of t, far past
// the tolerance. The mean-zero cases pass.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/sum.h"

__global__ void sum_rows_kernel(const float *x, float *z, int64_t b, int64_t t) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= b) return;
  float s = 0.0f;
  for (int64_t j = 0; j < t; ++j) s += x[i * t + j];
  z[i] = s;
}

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  sum_rows_kernel<<<(unsigned)((b + 255) / 256), 256>>>(x, z, b, t);
}
