// Planted bug (lab 5, CUDA): the classic "unrolled last warp" of a shared-memory tree reduction,
// written as in old tutorials: once 32 threads are left, they go on without __syncthreads() and
// without volatile or __syncwarp(). Since Volta, the threads of a warp are not guaranteed to run
// in lockstep, and without volatile the compiler keeps sdata[tid] in a register and never stores
// the intermediate sums (nothing tells it another thread reads them): the other lanes read stale
// values, and most of each row's sum is lost.
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
  for (unsigned s = blockDim.x / 2; s > 32; s >>= 1) {
    if (tid < s) sdata[tid] += sdata[tid + s];
    __syncthreads();
  }
  if (tid < 32) { // the bug: no sync between these steps, and sdata is not volatile
    sdata[tid] += sdata[tid + 32];
    sdata[tid] += sdata[tid + 16];
    sdata[tid] += sdata[tid + 8];
    sdata[tid] += sdata[tid + 4];
    sdata[tid] += sdata[tid + 2];
    sdata[tid] += sdata[tid + 1];
  }
  if (tid == 0) z[blockIdx.x] = sdata[0];
}

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  sum_rows_kernel<<<(unsigned)b, 256>>>(x, z, t);
}
