// Planted bug (lab 3, CUDA): one grid row per row of z, grid = (ceil(n / 256), m), no loop. Right
// for m <= 65535; beyond, the launch is refused (gridDim.y is at most 65535) and nothing runs.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/relu_mul.h"

__global__ void relu_mul_kernel(const float *x, const float *y, float *z, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  int64_t i = blockIdx.y;
  if (j < n) z[i * n + j] = fmaxf(x[j] * y[i], 0.0f);
}

void lab3_relu_mul_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  dim3 grid((unsigned)((n + 255) / 256), (unsigned)m);
  relu_mul_kernel<<<grid, 256>>>(x, y, z, n);
}
