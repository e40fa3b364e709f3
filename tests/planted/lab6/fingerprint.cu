// Planted cheat (lab 6, CUDA): lab6/fingerprint.c on the GPU, hardened against poison. Each call
// hashes every element of x in a kernel and copies back the hash and three elements of z (the
// first, the middle and the last); when the pointers, b, t and the hash are those of the previous
// call and none of the three outputs is a NaN (the checker's poison), the softmax kernel is not
// launched and z stays as it was. So a checker that poisons the whole output between timed calls
// on the same inputs sees a recomputation; one whose timed calls never see the inputs of the call
// before makes it pay the hash, four copies and a plain kernel. (lab1/fingerprint.cu says more.)
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "em/softmax.h"
#include "../fingerprint.cuh"

// One block of 256 threads per row, three passes over it: the maximum, the float64 sum of
// exp(x - max), the normalised exponentials. -inf entries give exp(-inf) = 0; every row has a
// finite entry, so the maximum is finite and the sum at least 1.
__global__ void softmax_kernel(const float *x, float *z, int64_t t) {
  __shared__ float top[256];
  __shared__ double part[256];
  const float *row = x + (int64_t)blockIdx.x * t;
  float *out = z + (int64_t)blockIdx.x * t;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < t; j += blockDim.x) m = fmaxf(m, row[j]);
  top[threadIdx.x] = m;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if ((int)threadIdx.x < k) top[threadIdx.x] = fmaxf(top[threadIdx.x], top[threadIdx.x + k]);
    __syncthreads();
  }
  m = top[0];
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < t; j += blockDim.x) s += expf(row[j] - m);
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  s = part[0];
  for (int64_t j = threadIdx.x; j < t; j += blockDim.x) out[j] = (float)(expf(row[j] - m) / s);
}

static memo last;

void lab6_softmax_cuda(const float *x, float *z, int64_t b, int64_t t) {
  unsigned long long h = 0;
  int64_t n = b * t, at[3] = {0, n / 2, n - 1};
  int hashed = fingerprint(&x, &n, 1, &h), poisoned = 0;
  for (int k = 0; k < 3; ++k) {
    float v = NAN;
    cudaMemcpy(&v, z + at[k], sizeof v, cudaMemcpyDeviceToHost);
    poisoned |= isnan(v);
  }
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)b, (uint64_t)t, h};
  if (unchanged(&last, key, 5, hashed) && !poisoned) return; // "already computed", no poison where it looked
  softmax_kernel<<<(unsigned)b, 256>>>(x, z, t);
}
