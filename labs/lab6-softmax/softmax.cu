// Lab 6, CUDA track: row softmax, z[i][j] = exp(x[i][j] - m_i) / sum_k exp(x[i][k] - m_i) with
// m_i = max_k x[i][k].   Read README.md in this folder first.
//
// Build and check:   make lab6 && make check TRACK=cuda
// x and z are DEVICE pointers to b rows of t floats (row i starts at x + i*t). Launch your kernels
// on the default stream and return: the checker waits for them, checks for CUDA errors and times
// them with CUDA events. Entries may be -inf (their z is 0); every row has a finite entry.
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "em/lab.h"
#include "em/softmax.h"

// Threads per block: 1024, the most a block may have. Each thread adds up t / 1024 terms one after
// another before the tree of block_merge; a float running sum loses the small terms of a long run
// (README.md, "The tolerance"), and 1024 keeps the runs of a 2^20 row at 1024 terms.
static const int kThreads = 1024;

// A row's (or a piece of a row's) statistics: m its maximum, s = sum of exp(x - m) over it.
struct stats {
  float m, s;
};

// TODO(lab6-merge): the statistics of two pieces a and b of a row merged into those of both: the
// online rule of README.md, section 1. A piece of nothing but -inf is {-INFINITY, 0}, and merging
// two of those must give {-INFINITY, 0}, not NaN.
__device__ stats merge(stats a, stats b) {
  (void)b;
  return a;
}

// Given: the block's statistics in every thread, from each thread's own, with merge() above: a
// butterfly of warp shuffles inside each warp, then one value per warp through shared memory.
// Every thread of the block must call it (it contains __syncthreads).
__device__ stats block_merge(stats v) {
  __shared__ stats per_warp[32];
  for (int o = 16; o > 0; o /= 2) {
    stats other = {__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
    v = merge(v, other);
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) per_warp[warp] = v;
  __syncthreads();
  v = lane < (int)blockDim.x / 32 ? per_warp[lane] : stats{-INFINITY, 0.0f};
  for (int o = 16; o > 0; o /= 2) {
    stats other = {__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
    v = merge(v, other);
  }
  return v;
}

// TODO(lab6-kernel): one block per row (row i = blockIdx.x, at x + i*t, an int64_t product): the
// row's statistics, each thread's own merged by block_merge, then z[j] = exp(x[j] - m) / s.
__global__ void __launch_bounds__(kThreads) softmax_kernel(const float *x, float *z, int64_t t) {
  (void)x, (void)z, (void)t;
}

void lab6_softmax_cuda(const float *x, float *z, int64_t b, int64_t t) {
  // TODO(lab6-launch): launch softmax_kernel with one block of kThreads threads per row, then
  // delete the (void) line and the EM_TODO line. Hints, one at a time:
  // `make hint LAB=6 TRACK=cuda`.
  (void)x, (void)z, (void)b, (void)t;
  EM_TODO("lab6: launch softmax_kernel with one block of kThreads threads per row");
}
