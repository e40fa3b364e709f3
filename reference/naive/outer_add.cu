// Lab 2 naive baseline, CUDA: the 2-D grid a first attempt writes, with the axes the way the math
// reads them: i (the row) from threadIdx.x, j (the column) from threadIdx.y. Correct, and a lesson:
// a warp is 32 threads of consecutive thread index, threadIdx.x first: with 16 x 16 blocks that is
// 16 values of threadIdx.x (16 rows, n floats apart) times 2 of threadIdx.y, so one store touches
// 16 rows, 8 bytes of each, where 128 contiguous bytes would do. The memory system moves whole
// 32-byte sectors, so most of what it moves is partial; swapping the two axes (threadIdx.x along
// the row) is the first fix.
#include <cuda_runtime.h>
#include <stdint.h>

#include "em/error.h"
#include "em/outer_add.h"

__global__ void outer_add_naive_kernel(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  // Grid-stride loops in both directions: the grid is capped at 65535 blocks a side (the limit of
  // gridDim.y), so a baseline that must handle any m and n covers the rest by looping.
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < m; i += (int64_t)gridDim.x * blockDim.x)
    for (int64_t j = (int64_t)blockIdx.y * blockDim.y + threadIdx.y; j < n; j += (int64_t)gridDim.y * blockDim.y)
      z[i * n + j] = x[j] + y[i];
}

extern "C" int em_outer_add_naive_cuda(const float *x, const float *y, float *z, int64_t m, int64_t n) {
  if (m <= 0 || n <= 0) return EM_OK;
  const int64_t side = 16, cap = 65535;  // 16 x 16 = 256 threads, the usual first choice
  int64_t gx = (m + side - 1) / side, gy = (n + side - 1) / side;
  dim3 grid((unsigned)(gx < cap ? gx : cap), (unsigned)(gy < cap ? gy : cap));
  outer_add_naive_kernel<<<grid, dim3((unsigned)side, (unsigned)side)>>>(x, y, z, m, n);
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? EM_OK : em__fail(EM_ECUDA, "outer_add_naive_kernel: %s", cudaGetErrorString(e));
}
