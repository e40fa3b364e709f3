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
#include "../fingerprint.cuh"

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
