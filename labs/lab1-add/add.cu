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
  // TODO(lab1a-launch): launch add_a_kernel with ONE block of enough threads for n elements, then
  // delete the (void) line and the EM_TODO line. Stuck? `make hint LAB=1 TRACK=cuda`.
  (void)x, (void)c, (void)z, (void)n;
  EM_TODO("lab1 part (a): launch add_a_kernel<<<1, threads>>> (one block)");
}

// Part (b): any n >= 1: as many blocks as it takes.
// TODO(lab1b-kernel): each thread writes one element z[i] = x[i] + c, its i worked out from its
// block and thread index, if i < n.
__global__ void add_b_kernel(const float *x, float c, float *z, int64_t n) {
  (void)x, (void)c, (void)z, (void)n;
}

void lab1_add_b_cuda(const float *x, float c, float *z, int64_t n) {
  // TODO(lab1b-launch): launch add_b_kernel on enough blocks that every element has a thread.
  // Hints, one at a time: `make hint LAB=1 PART=b TRACK=cuda`.
  (void)x, (void)c, (void)z, (void)n;
  EM_TODO("lab1 part (b): launch add_b_kernel on enough blocks for n elements");
}
