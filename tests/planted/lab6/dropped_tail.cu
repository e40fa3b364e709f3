// Planted bug (lab 6, CUDA): one block of 256 threads per row, each thread taking a contiguous
// run of per = t / 256 elements, rounded down: the last t mod 256 elements of each row are left
// out of the max and the sum and never written (every element, when t < 256).
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

__global__ void softmax_runs(const float *x, float *z, int64_t t) {
  __shared__ float red[256];
  const float *xr = x + (int64_t)blockIdx.x * t;
  float *zr = z + (int64_t)blockIdx.x * t;
  const int64_t per = t / 256, lo = threadIdx.x * per;
  float m = -INFINITY;
  for (int64_t j = lo; j < lo + per; ++j) m = fmaxf(m, xr[j]);
  red[threadIdx.x] = m;
  __syncthreads();
  for (int w = 128; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + w]);
    __syncthreads();
  }
  m = red[0];
  __syncthreads();
  float s = 0.0f;
  for (int64_t j = lo; j < lo + per; ++j) s += expf(xr[j] - m);
  red[threadIdx.x] = s;
  __syncthreads();
  for (int w = 128; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  for (int64_t j = lo; j < lo + per; ++j) zr[j] = expf(xr[j] - m) / red[0];
}

void lab6_softmax_cuda(const float *x, float *z, int64_t b, int64_t t) {
  softmax_runs<<<(unsigned)b, 256>>>(x, z, t);
}
