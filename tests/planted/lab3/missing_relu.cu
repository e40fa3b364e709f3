// Planted bug (lab 3, CUDA): the ReLU is forgotten, z = x[j] * y[i]: negative products are
// written as they are. The launch itself is right.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/relu_mul.h"

__global__ void mul_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  for (int64_t i = blockIdx.y; i < m; i += gridDim.y) z[i * n + j] = x[j] * y[i];
}

void lab3_relu_mul_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  dim3 grid((unsigned)((n + 255) / 256), (unsigned)(m < 65535 ? m : 65535));
  mul_kernel<<<grid, 256>>>(x, y, z, m, n);
}
