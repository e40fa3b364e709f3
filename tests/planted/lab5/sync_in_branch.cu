// Planted bug (lab 5, CUDA): the __syncthreads() of a tree reduction moved inside `if (tid < s)`,
// so at each step only the threads still adding reach it. A barrier that part of the block skips is
// undefined in CUDA. Since Volta a barrier waits for the block's threads that have not exited, so it
// may well happen to work (the others skip the rest of the loop and exit) with the numbers right.
// Once s < 32 the barrier splits warp 0 itself (threads 0..s-1 reach it, s..31 do not): that is
// what compute-sanitizer's synccheck reports on Volta and later, "divergent thread(s) in warp"
// (make check SANITIZE=1). Skipped by whole warps only (s >= 32), the barrier is not a
// finding there: the tool sees warps that exit, not a warp that splits.
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
