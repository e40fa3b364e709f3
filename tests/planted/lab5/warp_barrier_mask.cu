// Planted bug (lab 5, CUDA): a warp barrier whose mask leaves out lanes that call it. Warp 0 ends
// the tree reduction alone, with __syncwarp instead of __syncthreads (right so far), but the mask
// names only the lanes that add at this step, while every lane of the warp reaches the barrier. A
// lane calling __syncwarp(mask) must be in the mask, and every lane named must call it with the
// same mask; anything else is undefined. The lanes left out read nothing, so the sums may well come
// out right, and only a tool finds it: compute-sanitizer's synccheck, "Barrier error detected.
// Invalid arguments", at this file's __syncwarp line (make check SANITIZE=1; on an H100).
//
// A __syncthreads() that some threads of a warp skip (inside `if (tid < s)`) is the older form of
// this bug; on Volta and later, where threads that have exited no longer hold a barrier back,
// synccheck does not report it when the lanes that skip it go on to exit (measured on an H100),
// so the planted file is the warp-barrier form, which it does report.
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
    if (tid < s) sdata[tid] += sdata[tid + s];
    __syncthreads();
  }
  if (tid < 32) {  // warp 0 alone: a warp barrier is enough between its steps
    for (unsigned s = 16; s > 0; s >>= 1) {
      const unsigned adders = __ballot_sync(0xffffffffu, tid < s);
      if (tid < s) sdata[tid] += sdata[tid + s];
      __syncwarp(adders);  // the bug: lanes s..31 reach a barrier whose mask leaves them out
    }
  }
  if (tid == 0) z[blockIdx.x] = sdata[0];
}

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  sum_rows_kernel<<<(unsigned)b, 256>>>(x, z, t);
}
