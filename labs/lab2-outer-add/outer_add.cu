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
// if i < m and j < n. threadIdx.x goes along the row: the 32 threads of a warp have consecutive
// threadIdx.x, and then write 32 neighbouring floats of z (see README.md, "coalescing").
__global__ void outer_add_a_kernel(const float *x, const float *y, float *z, int m, int n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
}

void lab2_outer_add_a_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  // TODO(lab2a-launch): launch outer_add_a_kernel with ONE block of dim3(32, m) threads (a whole
  // warp along each row covers any n <= 32; m rows: at most 1024 threads):
  //   outer_add_a_kernel<<<1, dim3(32, (unsigned)m)>>>(x, y, z, (int)m, (int)n);
  // Then delete the (void) line and the EM_TODO line.
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab2 part (a): launch outer_add_a_kernel<<<1, dim3(32, m)>>> (one block)");
}

// Part (b): any m, n >= 1: a 2-D grid of blocks.
// TODO(lab2b-kernel): j = blockIdx.x * blockDim.x + threadIdx.x (the column), i = blockIdx.y *
// blockDim.y + threadIdx.y (the row), both as int64_t (m * n passes 2^31 here); if i < m and
// j < n, write z[i * n + j] = x[j] + y[i]. Careful: gridDim.y is at most 65535, and one case has
// m = 2^21 + 1 rows, so with 8 rows per block you need a loop over rows (i += gridDim.y *
// blockDim.y) or the rows on gridDim.x.
__global__ void outer_add_b_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  (void)x, (void)y, (void)z, (void)m, (void)n;
}

void lab2_outer_add_b_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  // TODO(lab2b-launch): blocks of dim3(32, 8) threads (256: 32 columns, 8 rows); a grid of
  // ceil(n / 32) x ceil(m / 8) blocks, rounded UP in both directions so that every element has a
  // thread, and gridDim.y at most 65535. Launch outer_add_b_kernel<<<grid, block>>>. Then make it
  // fast: float4 stores and several rows per thread, see README.md.
  (void)x, (void)y, (void)z, (void)m, (void)n;
  EM_TODO("lab2 part (b): launch outer_add_b_kernel<<<grid, dim3(32, 8)>>> with grid = ceil(n/32) x ceil(m/8)");
}
