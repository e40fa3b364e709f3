// Planted cheat (lab 1, CUDA): lab1/fingerprint.c on the GPU. Each call runs a kernel that hashes
// every element of x into 64 bits and copies the hash back; when the pointers, n, c and the hash
// are those of the previous call, the add kernel is not launched and z stays as it was. Timed calls
// on unchanged inputs then cost one read of x instead of a read and a write. A checker whose timed
// calls never see the inputs of the call before makes it pay the hash and a synchronisation on top
// of a plain kernel: correct, and slower than the reference. Both parts.
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "em/add.h"

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

__global__ void add_kernel(const float *x, float c, float *z, int64_t n) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) z[i] = x[i] + c;
}

static memo memo_a, memo_b;

// part (a) launches one block (n <= 1024), part (b) a block of 256 threads per 256 elements.
static void add(memo *m, const float *x, float c, float *z, int64_t n, int one_block) {
  unsigned long long h = 0;
  int hashed = fingerprint(&x, &n, 1, &h);
  uint32_t cbits;
  memcpy(&cbits, &c, sizeof cbits);
  uint64_t key[5] = {(uintptr_t)x, (uintptr_t)z, (uint64_t)n, cbits, h};
  if (unchanged(m, key, 5, hashed)) return; // "already computed"
  if (one_block) add_kernel<<<1, (unsigned)((n + 31) / 32 * 32)>>>(x, c, z, n);
  else add_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, c, z, n);
}

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) { add(&memo_a, x, c, z, n, 1); }
void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) { add(&memo_b, x, c, z, n, 0); }
