// Lab 2, CUDA track: z[i][j] = x[j] + y[i].   Read README.md in this folder first.
//
// Build and check:   make lab2 && make check TRACK=cuda
// x, y and z are DEVICE pointers: x has n floats, y has m, z is m x n row-major (z[i][j] is
// z[i * n + j]). Launch your kernels on the default stream and return: the checker waits for them,
// checks for CUDA errors and times them with CUDA events.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/lab.h"
#include "em/outer_add.h"

// Part (a): 1 <= m <= 32 and 1 <= n <= 32 (EM_OUTER_ADD_BLOCK): exactly one 2-D block.
// TODO(lab2a-kernel): thread (threadIdx.x, threadIdx.y) = (j, i) writes z[i * n + j] = x[j] + y[i],
// if i < m and j < n.
__global__ void outer_add_a_kernel(const float *x, const float *y, float *z, int m, int n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
}

void lab2_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  // TODO(lab2a-launch): launch outer_add_a_kernel with ONE 2-D block that has a thread for every
  // element, then delete the (void) line and the EM_TODO line. Stuck? `make hint LAB=2 TRACK=cuda`.
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab2 part (a): launch outer_add_a_kernel<<<1, block>>> (one 2-D block)");
}

// Part (b): any m, n >= 1: a 2-D grid of blocks.
// TODO(lab2b-kernel): each thread writes z[i * n + j] = x[j] + y[i] for its column j and row i,
// worked out from its block and thread index, if i < m and j < n.
__global__ void outer_add_b_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
}

void lab2_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  // TODO(lab2b-launch): launch outer_add_b_kernel on a 2-D grid of 2-D blocks that gives every
  // element of z a thread. Hints, one at a time: `make hint LAB=2 PART=b TRACK=cuda`.
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab2 part (b): launch outer_add_b_kernel on a 2-D grid that covers z");
}
