// Planted bug (lab 5, CUDA): one block per row, each thread adding 4 consecutive elements per step
// (`j + 3 < t`), and nothing for the rest: the last t % 4 elements of every row are dropped (all
// of them when t < 4). Rows whose length is a multiple of 4 come out right.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/sum.h"

__global__ void sum_rows_kernel(const float *x, float *z, int64_t t) {
  __shared__ float warp_sums[8];
  const float *row = x + (int64_t)blockIdx.x * t;
  float s = 0.0f;
  for (int64_t j = 4 * (int64_t)threadIdx.x; j + 3 < t; j += 4 * (int64_t)blockDim.x)
    s += (row[j] + row[j + 1]) + (row[j + 2] + row[j + 3]);
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
  sum_rows_kernel<<<(unsigned)b, 256>>>(x, z, t);
}
