// Lab 1, CUDA track: z[i] = x[i] + c.   Read README.md in this folder first.
//
// Build and check:   make lab1 && make check TRACK=cuda
// x and z are DEVICE pointers. Launch your kernel on the default stream and return: the checker
// waits for it, checks for CUDA errors and times it with CUDA events.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/add.h"
#include "em/lab.h"

// Part (a): 1 <= n <= 1024 (EM_ADD_BLOCK): exactly one block.
// TODO(lab1a-kernel): each thread i = threadIdx.x writes z[i] = x[i] + c, if i < n.
__global__ void add_a_kernel(const float *x, float c, float *z, int n) {
  (void)x, (void)c, (void)z, (void)n;
}

void lab1_add_a_cuda(const float *x, float c, float *z, int64_t n) {
  // TODO(lab1a-launch): launch add_a_kernel with ONE block of enough threads for n elements,
  // e.g. add_a_kernel<<<1, threads>>>(x, c, z, (int)n); with threads = n rounded up to a multiple
  // of 32 (a warp). Then delete the (void) line and the EM_TODO line.
  (void)x, (void)c, (void)z, (void)n;
  EM_TODO("lab1 part (a): launch add_a_kernel<<<1, threads>>> (one block)");
}

// Part (b): any n >= 1: as many blocks as it takes.
// TODO(lab1b-kernel): i = blockIdx.x * blockDim.x + threadIdx.x (as int64_t: n may exceed 2^31
// in other labs); write z[i] = x[i] + c if i < n.
__global__ void add_b_kernel(const float *x, float c, float *z, int64_t n) {
  (void)x, (void)c, (void)z, (void)n;
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  // TODO(lab1b-launch): 256 threads per block, blocks = ceil(n / 256) so that every element has a
  // thread; launch add_b_kernel<<<blocks, 256>>>. Then make it fast: see README.md.
  (void)x, (void)c, (void)z, (void)n;
  EM_TODO("lab1 part (b): launch add_b_kernel<<<blocks, 256>>> with blocks = ceil(n / 256)");
}
