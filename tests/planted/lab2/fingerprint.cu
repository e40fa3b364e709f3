// Planted cheat (lab 2, CUDA): lab2/fingerprint.c on the GPU. Each call hashes every element of x
// and y in a kernel and copies the hash back; when the pointers, m, n and the hash are those of
// the previous call, the outer-add kernel is not launched and z stays as it was. A checker whose
// timed calls never see the inputs of the call before makes it pay the hash and a synchronisation
// on top of a plain kernel. Both parts. (lab1/fingerprint.cu says more.)
#include <cuda_runtime.h>
#include <stdint.h>
#include <string.h>

#include "em/outer_add.h"
#include "../fingerprint.cuh"

// Blocks of 32 x 8 threads over (column, row); rows beyond the grid's 65535 blocks in y are
// taken in turns (the "grid.y limit" cases have 2^21 + 1 rows).
__global__ void outer_add_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= n) return;
  for (int64_t i = (int64_t)blockIdx.y * blockDim.y + threadIdx.y; i < m; i += (int64_t)gridDim.y * blockDim.y)
    z[i * n + j] = x[j] + y[i];
}

static memo memo_a, memo_b;

static void outer_add(memo *memo, const float *x, const float *y, float *z, int64_t m, int64_t n) {
  unsigned long long h = 0;
  const float *in[2] = {x, y};
  int64_t len[2] = {n, m};
  int hashed = fingerprint(in, len, 2, &h);
  uint64_t key[6] = {(uintptr_t)x, (uintptr_t)y, (uintptr_t)z, (uint64_t)m, (uint64_t)n, h};
  if (unchanged(memo, key, 6, hashed)) return; // "already computed"
  int64_t rows = (m + 7) / 8;
  dim3 grid((unsigned)((n + 31) / 32), (unsigned)(rows < 65535 ? rows : 65535));
  outer_add_kernel<<<grid, dim3(32, 8)>>>(x, y, z, m, n);
}

void lab2_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add(&memo_a, x, y, z, m, n);
}
void lab2_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  outer_add(&memo_b, x, y, z, m, n);
}
