// Planted bug (lab 3, CUDA): each thread writes four adjacent columns, and its guard
// `if (j + 3 < n)` skips a partial group instead of finishing it: the last n % 4 columns of every
// row are never written (the whole row when n < 4). Shapes with n % 4 == 0 pass.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/relu_mul.h"

__global__ void relu_mul4_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j = 4 * ((int64_t)blockIdx.x * blockDim.x + threadIdx.x);
  if (j + 3 < n)
    for (int64_t i = blockIdx.y; i < m; i += gridDim.y)
      for (int k = 0; k < 4; ++k) z[i * n + j + k] = fmaxf(x[j + k] * y[i], 0.0f);
}

void lab3_relu_mul_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  dim3 grid((unsigned)((n + 1023) / 1024), (unsigned)(m < 65535 ? m : 65535));
  relu_mul4_kernel<<<grid, 256>>>(x, y, z, m, n);
}
