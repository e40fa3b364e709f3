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

// ---- the fingerprint --------------------------------------------------------------------------
// 64 bits from every word of the inputs: each element adds mix(its word + mix(its index + salt))
// into one sum modulo 2^64 (an atomicAdd per warp), salt telling the inputs apart. The index in
// the mix makes the sum order-sensitive: exchanging two different elements changes it but by a
// 2^-64 accident.
__device__ unsigned long long mix(unsigned long long v) {
  v ^= v >> 30;
  v *= 0xbf58476d1ce4e5b9ull;
  v ^= v >> 27;
  v *= 0x94d049bb133111ebull;
  return v ^ (v >> 31);
}

__global__ void fingerprint_kernel(const uint32_t *w, int64_t n, unsigned long long salt, unsigned long long *sum) {
  unsigned long long s = 0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    s += mix(w[i] + mix((unsigned long long)i + salt));
  for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) atomicAdd(sum, s);
}

// The fingerprint of nin inputs (n[k] floats at in[k], device pointers) into *h, on the host: the
// copy back waits for the kernels. 0 when it cannot be had (then nothing may be skipped).
static int fingerprint(const float *const *in, const int64_t *n, int nin, unsigned long long *h) {
  static unsigned long long *sum;
  if (!sum && cudaMalloc(&sum, sizeof *sum) != cudaSuccess) return 0;
  cudaMemset(sum, 0, sizeof *sum);
  for (int k = 0; k < nin; ++k) {
    int64_t blocks = (n[k] + 255) / 256;
    fingerprint_kernel<<<(unsigned)(blocks < 4096 ? blocks : 4096), 256>>>((const uint32_t *)in[k], n[k],
                                                                            (unsigned long long)k << 40, sum);
  }
  return cudaMemcpy(h, sum, sizeof *h, cudaMemcpyDeviceToHost) == cudaSuccess;
}

// The key of a call: its pointers, sizes and scalars, then the fingerprint of its inputs.
struct memo {
  uint64_t key[8];
  int valid;
};

// Whether key is the key of the previous call through m (hashed: its fingerprint was had);
// remembers it either way.
static int unchanged(memo *m, const uint64_t *key, size_t nkey, int hashed) {
  int same = hashed && m->valid && memcmp(m->key, key, nkey * sizeof *key) == 0;
  memcpy(m->key, key, nkey * sizeof *key);
  m->valid = hashed;
  return same;
}

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
