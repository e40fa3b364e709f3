// Planted cheat (lab 5, CUDA): lab5/fingerprint.c on the GPU. Each call hashes every element of x
// in a kernel and copies the hash back; when the pointers, b, t and the hash are those of the
// previous call, the sum kernel is not launched and z stays as it was. A checker whose timed calls
// never see the inputs of the call before makes it pay the hash and a synchronisation on top of a
// plain kernel. (lab1/fingerprint.cu says more.)
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "em/sum.h"
#include "../fingerprint.cuh"

// One block of 256 threads per row: float64 partial sums, then a tree in shared memory.
__global__ void sum_kernel(const float *x, float *z, int64_t t) {
  __shared__ double part[256];
  const float *row = x + (int64_t)blockIdx.x * t;
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < t; j += blockDim.x) s += row[j];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) z[blockIdx.x] = (float)part[0];
}

static memo last;

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  unsigned long long h = 0;
  int64_t n = b * t;
  int hashed = fingerprint(&x, &n, 1, &h);
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)b, (uint64_t)t, h};
  if (unchanged(&last, key, 5, hashed)) return; // "already computed"
  sum_kernel<<<(unsigned)b, 256>>>(x, z, t);
}
