// Planted bug (lab 1, CUDA): part (b) launches n / 256 blocks, rounding down: the last n % 256
// elements get no thread (never written), and for n < 256 the grid is empty, which CUDA refuses
// ("invalid configuration argument"). Part (a) is right.
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
  add_kernel<<<(unsigned)(n / 256), 256>>>(x, c, z, n);
}
