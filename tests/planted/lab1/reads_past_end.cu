// Planted bug (lab 1, CUDA): each thread adds four elements with one 16-byte load of x, and the
// thread at the tail loads a whole float4 as well: when n is not a multiple of 4 it reads up to
// three floats past the end of x. Its stores are guarded, so every element of z is right and nothing
// is written out of place; the ordinary checker passes it (the read lands in the zeros after x).
// Under `make check SANITIZE=1` x ends where it ends, and compute-sanitizer's memcheck names the
// load: an invalid __global__ read of 16 bytes.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"

__global__ void add_vec4(const float *x, float c, float *z, int64_t n) {
  int64_t i = 4 * ((int64_t)blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  float4 v = *reinterpret_cast<const float4 *>(x + i); // the bug: x[i + 1..3] may be past the end
  z[i] = v.x + c;
  if (i + 1 < n) z[i + 1] = v.y + c;
  if (i + 2 < n) z[i + 2] = v.z + c;
  if (i + 3 < n) z[i + 3] = v.w + c;
}

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  add_vec4<<<1, (unsigned)((n + 3) / 4)>>>(x, c, z, n);
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  add_vec4<<<(unsigned)((n + 1023) / 1024), 256>>>(x, c, z, n);
}
