// Planted bug (lab 5, CUDA): the __syncthreads() of a tree reduction moved inside `if (tid < s)`,
// so at each step only the warps still adding reach it; the others skip it, drop out of the loop
// and leave the kernel. A barrier that part of the block skips is undefined in CUDA. On this
// hardware it happens to work (a warp that has exited no longer counts at a barrier) and the numbers
// come out right; compute-sanitizer's synccheck reports the divergent barrier (make check SANITIZE=1).
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
  for (unsigned s = blockDim.x / 2; s >= 32; s >>= 1) {
    if (tid < s) {
      sdata[tid] += sdata[tid + s];
      __syncthreads(); // the bug: the warps with tid >= s never get here
    }
  }
  if (tid < 32) { // the last 32 partial sums, in warp 0, by shuffles
    float v = sdata[tid];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (tid == 0) z[blockIdx.x] = v;
  }
}

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  sum_rows_kernel<<<(unsigned)b, 256>>>(x, z, t);
}
