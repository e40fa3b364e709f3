// Planted bug (lab 5, CUDA): a shared-memory tree reduction that starts adding the partial sums
// without a __syncthreads() after they are stored: in the first step thread 0 reads sdata[128],
// which thread 128, in another warp, may not have written yet. Warps often run in step closely
// enough that the numbers come out right; compute-sanitizer's racecheck names the read and the
// write it races with either way (make check SANITIZE=1).
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/sum.h"

__global__ void sum_rows_kernel(const float *x, float *z, int64_t t) {
  __shared__ float sdata[256];
  const float *row = x + (int64_t)blockIdx.x * t;
  unsigned tid = threadIdx.x;
  float a = 0.0f;
  for (int64_t j = tid; j < t; j += blockDim.x) a += row[j];
  sdata[tid] = a; // the bug: no __syncthreads() between this store and the reads below
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) sdata[tid] += sdata[tid + s];
    __syncthreads();
  }
  if (tid == 0) z[blockIdx.x] = sdata[0];
}

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  sum_rows_kernel<<<(unsigned)b, 256>>>(x, z, t);
}
