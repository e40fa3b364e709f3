// Planted bug (lab 1, CUDA): the grid is rounded up, but the kernel has no `if (i < n)`, so the
// threads of the last block past n write beyond z (up to 255 elements). Every element of z is
// right; the guard after the output must catch the stray writes. (The stray reads of x land in the
// same allocation granule and do not fault.)
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"

__global__ void add_unguarded(const float *x, float c, float *z) {
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  z[i] = x[i] + c;
}

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  add_unguarded<<<1, (unsigned)((n + 31) / 32 * 32)>>>(x, c, z);
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  add_unguarded<<<(unsigned)((n + 255) / 256), 256>>>(x, c, z);
}
