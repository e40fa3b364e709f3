// Planted bug (lab 5, CUDA): a correct one-block-per-row kernel launched with ONE block, as if for
// one row: z[0] is right, z[1..b) are never written. Every case with b = 1 passes.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/sum.h"

__global__ void sum_rows_kernel(const float *x, float *z, int64_t t) {
  __shared__ float warp_sums[8];
  const float *row = x + (int64_t)blockIdx.x * t;
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < t; j += blockDim.x) s += row[j];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
  if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x < 32) {
    s = threadIdx.x < 8 ? warp_sums[threadIdx.x] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    if (threadIdx.x == 0) z[blockIdx.x] = s;
  }
}

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  (void)b;
  sum_rows_kernel<<<1, 256>>>(x, z, t);
}
