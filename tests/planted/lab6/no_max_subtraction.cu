// Planted bug (lab 6, CUDA): z = exp(x) / sum exp(x), without subtracting the row's maximum: one
// block of 256 threads per row. Right for small logits; the "large logits" rows overflow exp to
// inf and give inf/inf = NaN (and the constant rows of 1e4 and 88.5 too).
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/softmax.h"

__global__ void softmax_no_max(const float *x, float *z, int64_t t) {
  __shared__ float red[256];
  const float *xr = x + (int64_t)blockIdx.x * t;
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < t; j += 256) s += __expf(xr[j]);
  red[threadIdx.x] = s;
  __syncthreads();
  for (int w = 128; w > 0; w /= 2) {
    if (threadIdx.x < w) red[threadIdx.x] += red[threadIdx.x + w];
    __syncthreads();
  }
  for (int64_t j = threadIdx.x; j < t; j += 256) z[(int64_t)blockIdx.x * t + j] = __expf(xr[j]) / red[0];
}

void lab6_softmax_cuda(const float *x, float *z, int64_t b, int64_t t) {
  softmax_no_max<<<(unsigned)b, 256>>>(x, z, t);
}
