// Planted bug (lab 5, CUDA): the __syncthreads() of a tree reduction moved inside `if (tid < s)`,
// so at each step only the threads still adding reach it and the others go round the loop without
// it: a barrier that part of the block skips, which CUDA leaves undefined. On this hardware it
// mostly works (threads that leave the loop and exit stop counting), and the numbers come out
// right; compute-sanitizer's synccheck reports the divergent barrier (make check SANITIZE=1).
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/sum.h"

__global__ void sum_rows_kernel(const float *x, float *z, int64_t t) {
  __shared__ float sdata[256];
  const float *row = x + (int64_t)blockIdx.x * t;
  unsigned tid = threadIdx.x;
  float a = 0.0f;
  for (int64_t j = tid; j < t; j += blockDim.x) a += row[j];
  sdata[tid] = a;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) {
      sdata[tid] += sdata[tid + s];
      __syncthreads(); // the bug: the threads with tid >= s never get here
    }
  }
  if (tid == 0) z[blockIdx.x] = sdata[0];
}

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  sum_rows_kernel<<<(unsigned)b, 256>>>(x, z, t);
}
