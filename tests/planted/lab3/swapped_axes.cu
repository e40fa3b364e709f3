// Planted bug (lab 3, CUDA): z written as n×m, z[j][i] (index j * m + i): right values in the wrong
// places. A row (m = 1) or a column (n = 1) is stored the same either way and passes.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/relu_mul.h"

__global__ void relu_mul_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  for (int64_t i = blockIdx.y; i < m; i += gridDim.y) z[j * m + i] = fmaxf(x[j] * y[i], 0.0f);
}

void lab3_relu_mul_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  dim3 grid((unsigned)((n + 255) / 256), (unsigned)(m < 65535 ? m : 65535));
  relu_mul_kernel<<<grid, 256>>>(x, y, z, m, n);
}
