// Planted bug (lab 6, CUDA): one block of 256 threads per row; the max loop strides over the whole
// row, but the sum was written without its loop, one element per thread: the normaliser is the
// sum over the first 256 elements only. Rows of t <= 256 come out right; longer rows too large.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

__global__ void softmax_first_block(const float *x, float *z, int64_t t) {
  __shared__ float red[256];
  const float *xr = x + (int64_t)blockIdx.x * t;
  float *zr = z + (int64_t)blockIdx.x * t;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < t; j += 256) m = fmaxf(m, xr[j]);
  red[threadIdx.x] = m;
  __syncthreads();
  for (int w = 128; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + w]);
    __syncthreads();
  }
  m = red[0];
  __syncthreads();
  red[threadIdx.x] = threadIdx.x < t ? expf(xr[threadIdx.x] - m) : 0.0f;
  __syncthreads();
  for (int w = 128; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  for (int64_t j = threadIdx.x; j < t; j += 256) zr[j] = expf(xr[j] - m) / red[0];
}

void lab6_softmax_cuda(const float *x, float *z, int64_t b, int64_t t) {
  softmax_first_block<<<(unsigned)b, 256>>>(x, z, t);
}
