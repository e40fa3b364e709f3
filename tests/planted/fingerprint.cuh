// What the planted CUDA cheats that keep work from call to call share (tests/planted/labN/
// fingerprint.cu, each telling what it does and why it must be caught): a kernel that hashes whole
// inputs into 64 bits, its launcher on the host, and the memo of the previous call's key. Included
// by a relative path ("../fingerprint.cuh") into the one student file each checker is built from,
// so all of it is static: every planted binary holds its own copy. fingerprint.h is the same for
// the CPU ones.
#ifndef EM_PLANTED_FINGERPRINT_CUH
#define EM_PLANTED_FINGERPRINT_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

// ---- the fingerprint --------------------------------------------------------------------------
// 64 bits from every word of the inputs: each element adds mix(its word + mix(its index + salt))
// into one sum modulo 2^64 (an atomicAdd per warp), salt telling the inputs apart. The index in
// the mix makes the sum order-sensitive: exchanging two different elements changes it but by a
// 2^-64 accident.
static __device__ unsigned long long mix(unsigned long long v) {
  v ^= v >> 30;
  v *= 0xbf58476d1ce4e5b9ull;
  v ^= v >> 27;
  v *= 0x94d049bb133111ebull;
  return v ^ (v >> 31);
}

static __global__ void fingerprint_kernel(const uint32_t *w, int64_t n, unsigned long long salt,
                                          unsigned long long *sum) {
  unsigned long long s = 0;
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    s += mix(w[i] + mix((unsigned long long)i + salt));
  for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
  if (threadIdx.x % 32 == 0) atomicAdd(sum, s);
}

// The fingerprint of nin inputs (n[k] floats at in[k], device pointers) into *h, on the host: the
// copy back waits for the kernels. 0 when it cannot be had (then nothing may be skipped).
static inline int fingerprint(const float *const *in, const int64_t *n, int nin, unsigned long long *h) {
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

// ---- the memo ----------------------------------------------------------------------------------
// The key of a call: its pointers, sizes and scalars, then the fingerprint of its inputs, at most
// 8 words.
struct memo {
  uint64_t key[8];
  int valid;
};

// Whether key is the key of the previous call through m (hashed: its fingerprint was had);
// remembers it either way.
static inline int unchanged(memo *m, const uint64_t *key, size_t nkey, int hashed) {
  int same = hashed && m->valid && memcmp(m->key, key, nkey * sizeof *key) == 0;
  memcpy(m->key, key, nkey * sizeof *key);
  m->valid = hashed;
  return same;
}

#endif
