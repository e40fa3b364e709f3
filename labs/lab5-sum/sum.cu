// Lab 5, CUDA track: z[i] = sum over j of x[i][j], x is b rows of t floats.   Read README.md first.
//
// Build and check:   make lab5 && make check TRACK=cuda
// x and z are DEVICE pointers. Launch your kernels on the default stream and return: the checker
// waits for them, checks for CUDA errors and times them with CUDA events.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/lab.h"
#include "em/sum.h"

// TODO(lab5-kernel): one block per row: block i sums row i (row = x + i * t, in int64_t) and
// writes z[i]. Its threads share the row's elements, then add up their own sums.
__global__ void sum_rows_kernel(const float *x, float *z, int64_t t) {
  (void)x, (void)z, (void)t;
}

void lab5_sum_cuda(const float *x, float *z, int64_t b, int64_t t) {
  // TODO(lab5-launch): launch sum_rows_kernel with one block per row, then delete the (void) line
  // and the EM_TODO line. Hints, one at a time: `make hint LAB=5 TRACK=cuda`.
  (void)x, (void)z, (void)b, (void)t;
  EM_TODO("lab5: launch sum_rows_kernel with one block per row");
}
